package sandbox_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concurflow/concurflow/concur/ess"
	"github.com/concurflow/concurflow/sandbox"
)

// One signing key for every test server: RSA key generation under -race
// would dominate the run time.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// fakeClock is an injectable clock that only moves when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 18, 23, 11, 51, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is a sandbox with one seeded company, its token and a registered ERP.
type env struct {
	t     testing.TB
	srv   *sandbox.Server
	co    sandbox.Company
	erp   string
	token string
	rt    string
	clock *fakeClock
}

// newServer starts a sandbox that processes requests at once (tests of the
// processing time pass their own WithProcessingTime, which wins).
func newServer(t testing.TB, opts ...sandbox.Option) *sandbox.Server {
	t.Helper()
	return sandbox.New(t, append([]sandbox.Option{sandbox.WithSigningKey(testKey()), sandbox.WithProcessingDelay(0)}, opts...)...)
}

// newEnv starts a sandbox on a fake clock with a company, token and ERP.
func newEnv(t testing.TB, opts ...sandbox.Option) *env {
	t.Helper()
	clock := newFakeClock()
	srv := newServer(t, append([]sandbox.Option{sandbox.WithClock(clock.Now)}, opts...)...)
	co, err := srv.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	erp, err := srv.RegisterERP(co.ID)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, co: co, erp: erp, clock: clock}
	tb := e.passwordGrant(co)
	e.token, e.rt = tb.AccessToken, tb.RefreshToken
	return e
}

// renew gets a fresh access token with a new request token, as after the
// clock has moved past every token's lifetime.
func (e *env) renew() {
	e.t.Helper()
	rt, err := e.srv.NewRequestToken(e.co.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	co := e.co
	co.RequestToken = rt
	tb := e.passwordGrant(co)
	e.token, e.rt = tb.AccessToken, tb.RefreshToken
}

type tokenBody struct {
	ExpiresIn        string `json:"expires_in"`
	Scope            string `json:"scope"`
	TokenType        string `json:"token_type"`
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int64  `json:"refresh_expires_in"`
	Geolocation      string `json:"geolocation"`
	Code             int    `json:"code"`
	Error            string `json:"error"`
}

// tokenRequest posts a form to the token endpoint.
func (e *env) tokenRequest(form url.Values) (int, tokenBody) {
	e.t.Helper()
	resp, err := http.PostForm(e.srv.URL()+"/oauth2/v0/token", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tb tokenBody
	if err := json.NewDecoder(resp.Body).Decode(&tb); err != nil {
		e.t.Fatalf("decoding token response: %v", err)
	}
	return resp.StatusCode, tb
}

func passwordForm(co sandbox.Company) url.Values {
	return url.Values{
		"client_id": {co.ClientID}, "client_secret": {co.ClientSecret}, "grant_type": {"password"},
		"username": {co.ID}, "password": {co.RequestToken}, "credtype": {"authtoken"},
	}
}

func (e *env) passwordGrant(co sandbox.Company) tokenBody {
	e.t.Helper()
	status, tb := e.tokenRequest(passwordForm(co))
	if status != http.StatusOK {
		e.t.Fatalf("password grant: %d %+v", status, tb)
	}
	return tb
}

// api is the URL of an API path below the company's ERP ("" = the ERP).
func (e *env) api(path string) string {
	return e.srv.URL() + "/accountingintegration/v4/companies/" + e.co.ID + "/erps/" + e.erp + path
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

// do sends a request with the env's token and a JSON body.
func (e *env) do(method, u string, body any, hdr ...string) response {
	e.t.Helper()
	return doRequest(e.t, method, u, e.token, body, hdr...)
}

func doRequest(t testing.TB, method, u, token string, body any, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// expect fails unless the response has the wanted status.
func expect(t testing.TB, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
}

// expectError checks an ErrorMessage answer.
func expectError(t *testing.T, r response, status int) map[string]any {
	t.Helper()
	expect(t, r, status)
	m := r.json(t)
	for _, k := range []string{"timestamp", "httpStatus", "errorCode", "errorMessage", "path", "validationErrors"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("ErrorMessage lacks %q: %s", k, r.body)
		}
	}
	if hs, _ := m["httpStatus"].(string); !strings.HasPrefix(hs, strconv.Itoa(status)+" - ") {
		t.Fatalf("httpStatus %q does not name %d", m["httpStatus"], status)
	}
	return m
}

// patch sends a PATCH and returns the accepted request id.
func (e *env) patch(object string, body any, hdr ...string) string {
	e.t.Helper()
	r := e.do(http.MethodPatch, e.api("/"+object), body, hdr...)
	expect(e.t, r, http.StatusAccepted)
	return r.json(e.t)["requestId"].(string)
}

// settle advances the clock past the rate limit and waits for processing.
func (e *env) settle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.srv.WaitIdle(ctx); err != nil {
		e.t.Fatal(err)
	}
	e.clock.Advance(time.Second)
}

// status reads a request's status over HTTP.
func (e *env) status(id string) string {
	e.t.Helper()
	r := e.do(http.MethodGet, e.api("/requests/"+id), nil)
	expect(e.t, r, http.StatusOK)
	return r.json(e.t)["status"].(string)
}

// getAll follows links.next from a GET and returns every record.
func (e *env) getAll(object string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	u := e.api("/" + object)
	for u != "" {
		r := e.do(http.MethodGet, u, nil)
		expect(e.t, r, http.StatusOK)
		var page struct {
			Data  []map[string]any `json:"data"`
			Links *struct {
				Next struct {
					Href string `json:"href"`
				} `json:"next"`
			} `json:"links"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, page.Data...)
		u = ""
		if page.Links != nil {
			u = e.srv.URL() + page.Links.Next.Href
		}
	}
	return out
}

func ids(recs []map[string]any) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i], _ = r["id"].(string)
	}
	return out
}

// receiver is a webhook endpoint that verifies and keeps events.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	keys   []*rsa.PublicKey
	mu     sync.Mutex
	events []*ess.Event
	raw    [][]byte
}

func newReceiver(t *testing.T, s *sandbox.Server) *receiver {
	t.Helper()
	keys, err := ess.ParsePublicKeysPEM(s.PublicKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{t: t, keys: keys}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := ess.Verify(rc.keys, body, r.Header.Get(ess.HeaderSignature)); err != nil {
			t.Errorf("delivery signature: %v", err)
		}
		ev, err := ess.Parse(body)
		if err != nil {
			t.Errorf("delivered event: %v", err)
			return
		}
		rc.mu.Lock()
		rc.events = append(rc.events, ev)
		rc.raw = append(rc.raw, body)
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// bodies returns the raw delivered bodies.
func (rc *receiver) bodies() [][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.raw...)
}

func (rc *receiver) byType(eventType string) []*ess.Event {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []*ess.Event
	for _, ev := range rc.events {
		if ev.EventType == eventType {
			out = append(out, ev)
		}
	}
	return out
}

// docExample reads the n-th JSON code block of a reference page, or skips.
func docExample(t testing.TB, page string, n int) []byte {
	t.Helper()
	path := filepath.Join("..", "..", "shared", "reference", "concur", "accounting-integration", page)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("reference page not available: %v", err)
	}
	parts := strings.Split(string(b), "```json")
	if n+1 >= len(parts) {
		t.Fatalf("%s has no JSON example %d", page, n)
	}
	block := parts[n+1]
	return []byte(block[:strings.Index(block, "```")])
}
