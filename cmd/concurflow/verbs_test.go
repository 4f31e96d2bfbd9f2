package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/concurflow/concurflow/concur"
	"github.com/concurflow/concurflow/sandbox"
)

// verbEnv is a sandbox company and a token store, with the CLI run
// in-process against them.
type verbEnv struct {
	t     testing.TB
	srv   *sandbox.Server
	co    sandbox.Company
	store string
	// secrets must never appear in any output.
	secrets []string
}

func newVerbEnv(t testing.TB, opts ...sandbox.Option) *verbEnv {
	t.Helper()
	// Flags the tests leave out must not come from the environment. Unset,
	// not empty: an empty variable hides the ones after it.
	for _, names := range [][]string{envCompanyID, envClientID, envClientSecret, envURL, envTokenStore, envERPID, envRequestToken} {
		for _, name := range names {
			t.Setenv(name, "") // restored after the test
			if err := os.Unsetenv(name); err != nil {
				t.Fatal(err)
			}
		}
	}
	srv := sandbox.New(t, append([]sandbox.Option{sandbox.WithRateLimit(false), sandbox.WithProcessingDelay(0)}, opts...)...)
	co, err := srv.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	return &verbEnv{t: t, srv: srv, co: co, store: filepath.Join(t.TempDir(), "tokens"),
		secrets: []string{co.ClientSecret, co.RequestToken}}
}

// result is what one CLI run printed and its exit code.
type result struct {
	out, err string
	code     int
}

// run runs `concurflow args…` with stdin and checks that no secret, the
// stored refresh token included, was printed.
func (e *verbEnv) run(stdin string, args ...string) result {
	e.t.Helper()
	var out bytes.Buffer
	return e.runTo(&out, stdin, args...)
}

// runTo is run with standard output going to out.
func (e *verbEnv) runTo(out interface {
	io.Writer
	String() string
}, stdin string, args ...string) result {
	e.t.Helper()
	var errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, append([]string{"concurflow"}, args...), streams{in: strings.NewReader(stdin), out: out, errOut: &errOut})
	r := result{out: out.String(), err: errOut.String(), code: code}
	for _, s := range append(e.secrets, e.refreshToken()) {
		if s != "" && (strings.Contains(r.out, s) || strings.Contains(r.err, s)) {
			e.t.Fatalf("concurflow %s printed a secret:\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.out, r.err)
		}
	}
	return r
}

// ok runs the CLI and fails the test unless it exits 0.
func (e *verbEnv) ok(stdin string, args ...string) string {
	e.t.Helper()
	r := e.run(stdin, args...)
	if r.code != 0 {
		e.t.Fatalf("concurflow %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r.out
}

// fails runs the CLI and checks that it exits with code and that stderr
// holds every one of want.
func (e *verbEnv) fails(code int, want []string, args ...string) result {
	e.t.Helper()
	r := e.run("", args...)
	if r.code != code {
		e.t.Fatalf("concurflow %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.out, r.err)
	}
	for _, w := range want {
		if !strings.Contains(r.err, w) {
			e.t.Errorf("concurflow %s: stderr %q does not contain %q", strings.Join(args, " "), r.err, w)
		}
	}
	return r
}

// refreshToken returns the refresh token in the store, or "".
func (e *verbEnv) refreshToken() string {
	data, err := os.ReadFile(filepath.Join(e.store, e.co.ID+".json"))
	if err != nil {
		return ""
	}
	var tok concur.StoredToken
	_ = json.Unmarshal(data, &tok)
	return tok.RefreshToken
}

// storeArgs are the token store flags.
func (e *verbEnv) storeArgs() []string {
	return []string{"--company-id", e.co.ID, "--token-store", e.store}
}

// clientArgs are the flags of every verb that calls the sandbox.
func (e *verbEnv) clientArgs() []string {
	return append(e.storeArgs(), "--client-id", e.co.ClientID, "--client-secret", e.co.ClientSecret, "--url", e.srv.URL())
}

// verb returns the words of a verb followed by the client flags and more.
func (e *verbEnv) verb(words string, more ...string) []string {
	return append(append(strings.Fields(words), e.clientArgs()...), more...)
}

// exchange runs `auth exchange` with the request token on standard input.
func (e *verbEnv) exchange() string {
	e.t.Helper()
	return e.ok(e.co.RequestToken+"\n", e.verb("auth exchange", "--request-token-file", "-")...)
}

// client is a concur client over the same token store, for writes the CLI
// has no verb for.
func (e *verbEnv) client() *concur.Client {
	e.t.Helper()
	store, err := concur.NewDirStore(e.store)
	if err != nil {
		e.t.Fatal(err)
	}
	ts, err := concur.NewTokenSource(concur.TokenSourceConfig{
		CompanyID: e.co.ID, ClientID: e.co.ClientID, ClientSecret: e.co.ClientSecret,
		AuthURL: e.srv.URL(), Store: store,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	cl, err := concur.NewClient(concur.ClientConfig{CompanyID: e.co.ID, TokenSource: ts})
	if err != nil {
		e.t.Fatal(err)
	}
	return cl
}

// lines decodes JSON lines into maps.
func lines(t testing.TB, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", l, err)
		}
		recs = append(recs, m)
	}
	return recs
}

const registrationJSON = `{
  "partnerAppName": "SomePartnerName",
  "erpName": "SomeErpName",
  "externalErpId": "SomeErpId",
  "features": ["SUPPORTS_RECEIPT_POSTING"]
}`

func TestVerbsWalkThrough(t *testing.T) {
	e := newVerbEnv(t, sandbox.WithPageSize(1024))

	out := e.exchange()
	for _, want := range []string{e.co.ID, "geolocation:   " + e.srv.URL(), "refresh token: expires", "days left"} {
		if !strings.Contains(out, want) {
			t.Errorf("exchange printed %q, missing %q", out, want)
		}
	}
	fi, err := os.Stat(filepath.Join(e.store, e.co.ID+".json"))
	if err != nil || fi.Mode().Perm() != 0o600 || e.refreshToken() == "" {
		t.Fatalf("token file: %v, %v, stored token set: %v", fi, err, e.refreshToken() != "")
	}
	if out := e.ok("", append([]string{"auth", "status"}, e.storeArgs()...)...); !strings.Contains(out, "days left") {
		t.Errorf("status printed %q", out)
	}

	erpFile := filepath.Join(t.TempDir(), "erp.json")
	if err := os.WriteFile(erpFile, []byte(registrationJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	var registered concur.ErpPackage
	if err := json.Unmarshal([]byte(e.ok("", e.verb("erp register", "--file", erpFile)...)), &registered); err != nil || registered.ErpID == "" || registered.ErpName != "SomeErpName" {
		t.Fatalf("registered %+v, %v", registered, err)
	}
	erpID := registered.ErpID

	listed := lines(t, e.ok("", e.verb("erp list")...))
	if len(listed) != 1 || listed[0]["erpId"] != erpID {
		t.Fatalf("erp list: %v", listed)
	}
	var got concur.ErpPackage
	if err := json.Unmarshal([]byte(e.ok("", e.verb("erp get", erpID)...)), &got); err != nil || got.ErpID != erpID {
		t.Fatalf("erp get: %+v, %v", got, err)
	}
	update := `{"features":["SUPPORTS_RECEIPT_POSTING","ENABLE_TAX_INTEGRATION"]}`
	if err := json.Unmarshal([]byte(e.ok(update, e.verb("erp update", "--erp-id", erpID, "--file", "-")...)), &got); err != nil ||
		!slices.Equal(got.Features, []concur.ErpFeature{concur.FeatureSupportsReceiptPosting, concur.FeatureEnableTaxIntegration}) {
		t.Fatalf("erp update: %+v, %v", got, err)
	}
	if pkg, _ := e.client().GetERP(context.Background(), erpID); len(pkg.Features) != 2 {
		t.Fatalf("the update did not reach the sandbox: %+v", pkg)
	}

	// 40 accounts (several 1 KB pages) and 2 the sandbox rejects.
	var accounts []concur.Account
	for i := range 40 {
		accounts = append(accounts, concur.Account{ID: fmt.Sprintf("acc-%03d", i), Name: fmt.Sprintf("Account %d", i), Type: concur.AccountType("ACCOUNTS_PAYABLE")})
	}
	accounts = append(accounts,
		concur.Account{ID: "bad-1", Name: "Bad type", Type: "NOT_A_TYPE"},
		concur.Account{ID: "bad-2", Name: "Bad type too", Type: "NOT_A_TYPE"})
	st, err := e.client().PatchAccounts(context.Background(), erpID, accounts, concur.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}

	var status concur.RequestStatus
	out = e.ok("", e.verb("request status", "--erp-id", erpID, "--wait", "--poll-interval", "10ms", st.RequestID)...)
	if err := json.Unmarshal([]byte(out), &status); err != nil || status.RequestID != st.RequestID || status.Status != concur.StatusPartial {
		t.Fatalf("request status: %s (%v)", out, err)
	}
	errs := lines(t, e.ok("", e.verb("request errors", "--erp-id", erpID, st.RequestID)...))
	if len(errs) != 2 {
		t.Fatalf("request errors: %v", errs)
	}
	for _, pe := range errs {
		if pe["requestId"] != st.RequestID || pe["errorCode"] == "" || !strings.Contains(fmt.Sprint(pe["values"]), "bad-") {
			t.Errorf("request error %v", pe)
		}
	}

	logged := len(e.srv.RequestLog())
	recs := lines(t, e.ok("", e.verb("data get", "--erp-id", erpID, "accounts")...))
	stored, err := e.srv.Accounts(e.co.ID, erpID)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 40 || len(stored) != 40 {
		t.Fatalf("data get accounts printed %d records, the sandbox holds %d", len(recs), len(stored))
	}
	ids := map[any]bool{}
	for _, r := range recs {
		ids[r["id"]] = true
	}
	for i := range stored {
		if !ids[fmt.Sprintf("acc-%03d", i)] {
			t.Errorf("account acc-%03d missing from %v", i, ids)
		}
	}
	pages := 0
	for _, l := range e.srv.RequestLog()[logged:] {
		if l.Method == http.MethodGet && strings.HasSuffix(l.Path, "/accounts") && l.Status == http.StatusOK {
			pages++
		}
	}
	if pages < 3 {
		t.Fatalf("data get read %d pages of 1 KB, want several", pages)
	}
	for _, obj := range []string{"vendors", "lists"} {
		if out := e.ok("", e.verb("data get", "--erp-id", erpID, obj)...); out != "" {
			t.Errorf("data get %s printed %q for no data", obj, out)
		}
	}
	// Tax data, one country a line, under the API's name (and the old one).
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "erp", "tax_data_body.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client().AddTaxData(context.Background(), erpID, bytes.TrimSpace(body), ""); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []string{"taxData", "tax-data"} {
		if countries := lines(t, e.ok("", e.verb("data get", "--erp-id", erpID, obj)...)); len(countries) != 10 || countries[0]["countryCode"] == nil {
			t.Errorf("data get %s printed %d countries, want the 10 sent: %v", obj, len(countries), countries)
		}
	}

	r := e.run("", e.verb("erp unregister", erpID)...)
	if r.code != 0 || !strings.Contains(r.err, "unregistered erp "+erpID) {
		t.Fatalf("unregister: %+v", r)
	}
	e.fails(1, []string{"404", "not registered", "correlation id"}, e.verb("erp get", erpID)...)
	if listed := e.ok("", e.verb("erp list")...); listed != "" {
		t.Fatalf("erp list after unregister: %q", listed)
	}
}

func TestVerbsFromSandboxEnvironment(t *testing.T) {
	e := newVerbEnv(t)
	erpID, err := e.srv.RegisterERP(e.co.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The names `concurflow sandbox` prints in its export lines.
	for k, v := range map[string]string{
		"CONCUR_URL": e.srv.URL(), "COMPANY_ID": e.co.ID, "CLIENT_ID": e.co.ClientID,
		"CLIENT_SECRET": e.co.ClientSecret, "REQUEST_TOKEN": e.co.RequestToken, "ERP_ID": erpID,
		"CONCUR_TOKEN_STORE": e.store,
	} {
		t.Setenv(k, v)
	}
	e.ok("", "auth", "exchange")
	e.ok("", "auth", "status")
	var got concur.ErpPackage
	if err := json.Unmarshal([]byte(e.ok("", "erp", "get")), &got); err != nil || got.ErpID != erpID {
		t.Fatalf("erp get: %+v, %v", got, err)
	}
	// The prefixed names win over the sandbox's.
	t.Setenv("CONCUR_ERP_ID", "6a1c5e5e-0000-4000-8000-000000000000")
	e.fails(1, []string{"404"}, "erp", "get")
	// Unregister never takes the ERP id from the environment.
	e.fails(1, []string{"exactly one argument"}, "erp", "unregister")
	if _, err := e.client().GetERP(context.Background(), erpID); err != nil {
		t.Fatal(err)
	}
}

func TestVerbErrors(t *testing.T) {
	e := newVerbEnv(t)
	erpID, err := e.srv.RegisterERP(e.co.ID)
	if err != nil {
		t.Fatal(err)
	}

	// Nothing stored yet.
	e.fails(1, []string{"no refresh token stored", "auth exchange"}, append([]string{"auth", "status"}, e.storeArgs()...)...)
	e.fails(1, []string{"auth exchange"}, e.verb("erp list")...)

	// Wrong secret: neither it nor the right one is printed.
	wrong := "wrong-" + e.co.ClientSecret[:8]
	e.secrets = append(e.secrets, wrong)
	args := append(e.storeArgs(), "--client-id", e.co.ClientID, "--client-secret", wrong, "--url", e.srv.URL())
	e.fails(1, []string{"invalid_client", "401", "client id or client secret is wrong"},
		append([]string{"auth", "exchange", "--request-token", e.co.RequestToken}, args...)...)
	if e.refreshToken() != "" {
		t.Fatal("a refused exchange stored a token")
	}

	// Missing and malformed request tokens.
	e.fails(1, []string{"request token is required"}, e.verb("auth exchange")...)
	e.fails(1, []string{"request token is wrong, expired"}, e.verb("auth exchange", "--request-token", "6a1c5e5e-0000-4000-8000-000000000000")...)
	e.fails(1, []string{"reading request token", "no-such-file"}, e.verb("auth exchange", "--request-token-file", filepath.Join(t.TempDir(), "no-such-file"))...)

	e.exchange()

	// Unknown ERP and request.
	e.fails(1, []string{"404", "correlation id"}, e.verb("data get", "--erp-id", "6a1c5e5e-0000-4000-8000-000000000000", "accounts")...)
	e.fails(1, []string{"404"}, e.verb("request status", "--erp-id", erpID, "6a1c5e5e-0000-4000-8000-000000000001")...)
	e.fails(1, []string{"unknown object \"bogus\": want accounts, vendors, lists or taxData"}, e.verb("data get", "--erp-id", erpID, "bogus")...)
	e.fails(1, []string{"want no arguments, got 1"}, e.verb("erp list", "extra")...)
	e.fails(1, []string{"--erp-id is required", "$CONCUR_ERP_ID"}, e.verb("data get", "accounts")...)
	e.fails(1, []string{"flag --erp-id comes after the argument \"accounts\""}, append(e.verb("data get", "accounts"), "--erp-id", erpID)...)

	// Bad ERP packages are refused before anything is sent.
	bad := filepath.Join(t.TempDir(), "bad.json")
	for _, body := range []string{`{"erpNme":"typo"}`, `{"erpName":`, `{"erpName":"a"} {"erpName":"b"}`} {
		if err := os.WriteFile(bad, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		e.fails(1, []string{"reading ErpPackage from " + bad}, e.verb("erp register", "--file", bad)...)
	}
	// A package the API refuses: its validation message reaches the user.
	r := e.run(`{"features":["NOT_A_FEATURE"]}`, e.verb("erp register", "--file", "-")...)
	if r.code != 1 || !strings.Contains(r.err, "400") || !strings.Contains(r.err, "correlation id") {
		t.Fatalf("refused registration: %+v", r)
	}
	if erps, err := e.client().ListERPs(context.Background()); err != nil || len(erps) != 1 {
		t.Fatalf("ERPs after refused registrations: %v, %v", erps, err)
	}

	// Revoked tokens: the stored refresh token is refused.
	e.srv.RevokeTokens(e.co.ID)
	e.fails(1, []string{"invalid_grant", "expired or revoked", "auth exchange"}, e.verb("erp list")...)
	// A new exchange mends it.
	e.exchange()
	e.ok("", e.verb("erp list")...)
}

// TestAuthAdvice checks that the advice on a refused token request follows
// the token endpoint's OAuth2 error: a wrong client id or secret is not
// mended by a new request token, a refused request token not by running
// the exchange that refused it, a revoked refresh token by a new exchange.
func TestAuthAdvice(t *testing.T) {
	e := newVerbEnv(t)
	wrong := "wrong-" + e.co.ClientSecret[:8]
	e.secrets = append(e.secrets, wrong)
	// withFlags is the verb with the client flags, flags overriding them.
	withFlags := func(words string, flags ...string) []string {
		a := append(strings.Fields(words), "--company-id", e.co.ID, "--token-store", e.store,
			"--client-id", e.co.ClientID, "--client-secret", e.co.ClientSecret, "--url", e.srv.URL())
		for i := 0; i+1 < len(flags); i += 2 {
			if j := slices.Index(a, flags[i]); j >= 0 {
				a[j+1] = flags[i+1]
				continue
			}
			a = append(a, flags[i], flags[i+1])
		}
		return a
	}
	exchange := func(flags ...string) []string {
		return withFlags("auth exchange", append([]string{"--request-token", e.co.RequestToken}, flags...)...)
	}
	clientAdvice := []string{"client id or client secret is wrong: check them"}
	noRequestToken := []string{"get a new request token", "auth exchange", "refused since"}
	for _, c := range []struct {
		name      string
		args      []string
		want, not []string
	}{
		{"exchange, wrong secret", exchange("--client-secret", wrong),
			append([]string{"invalid_client", "code 64"}, clientAdvice...), noRequestToken},
		{"exchange, unknown client", exchange("--client-id", "6a1c5e5e-0000-4000-8000-00000000c11d"),
			append([]string{"invalid_client", "code 61"}, clientAdvice...), noRequestToken},
		{"exchange, company without the app", withFlags("auth exchange", "--request-token", e.co.RequestToken, "--company-id", "6a1c5e5e-0000-4000-8000-00000000c0de"),
			[]string{"invalid_client", "code 53", "company has not enabled this client"}, noRequestToken},
		{"exchange, bad request token", exchange("--request-token", "6a1c5e5e-0000-4000-8000-000000000000"),
			[]string{"invalid_grant", "code 5)", "request token is wrong, expired", "get a new request token from the company's Concur administrator"},
			[]string{"auth exchange", "client secret", "refresh token", "refused since"}},
	} {
		r := e.fails(1, c.want, c.args...)
		for _, n := range c.not {
			if strings.Contains(r.err, n) {
				t.Errorf("%s: stderr %q says %q", c.name, r.err, n)
			}
		}
	}
	if e.refreshToken() != "" {
		t.Fatal("a refused exchange stored a token")
	}

	e.exchange()
	// A stored refresh token with the wrong secret: still the client's fault.
	r := e.fails(1, append([]string{"refresh_token grant", "invalid_client"}, clientAdvice...), withFlags("erp list", "--client-secret", wrong)...)
	for _, n := range noRequestToken {
		if strings.Contains(r.err, n) {
			t.Errorf("stderr %q says %q", r.err, n)
		}
	}
	// A revoked refresh token: a new request token and an exchange.
	e.srv.RevokeTokens(e.co.ID)
	e.fails(1, []string{"invalid_grant", "code 108", "refresh token is expired or revoked", "new request token", "run `concurflow auth exchange`"}, e.verb("erp list")...)
}

// hookWriter calls hook before its first write.
type hookWriter struct {
	bytes.Buffer
	hook func()
}

func (h *hookWriter) Write(p []byte) (int, error) {
	if h.hook != nil {
		h.hook()
		h.hook = nil
	}
	return h.Buffer.Write(p)
}

func TestDataGetKeepsRecordsBeforeAFailedPage(t *testing.T) {
	e := newVerbEnv(t, sandbox.WithPageSize(1024))
	erpID, err := e.srv.RegisterERP(e.co.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.exchange()
	var accounts []concur.Account
	for i := range 120 {
		accounts = append(accounts, concur.Account{ID: fmt.Sprintf("acc-%03d", i), Name: fmt.Sprintf("Account %d", i), Type: "ACCOUNTS_PAYABLE"})
	}
	if _, err := e.client().PatchAccounts(context.Background(), erpID, accounts, concur.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The first output (a full buffer, a few pages in) arms a server error
	// for the next page.
	out := &hookWriter{hook: func() {
		if err := e.srv.InjectFault(sandbox.Fault{Endpoint: sandbox.EndpointAccounts, Method: http.MethodGet, Kind: sandbox.FaultServerError}); err != nil {
			t.Error(err)
		}
	}}
	r := e.runTo(out, "", e.verb("data get", "--erp-id", erpID, "accounts")...)
	recs := lines(t, r.out)
	if r.code != 1 || len(recs) == 0 || len(recs) >= 120 {
		t.Fatalf("exit %d with %d records; stderr %s", r.code, len(recs), r.err)
	}
	want := fmt.Sprintf("(after %d records printed)", len(recs))
	if !strings.Contains(r.err, "500") || !strings.Contains(r.err, want) {
		t.Fatalf("stderr %q, want a 500 and %q", r.err, want)
	}
	for i, rec := range recs {
		if rec["id"] != fmt.Sprintf("acc-%03d", i) {
			t.Fatalf("record %d is %v", i, rec)
		}
	}
}

func TestAuthStatusExpiry(t *testing.T) {
	var offset atomic.Int64 // sandbox clock minus real time
	e := newVerbEnv(t, sandbox.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	status := append([]string{"auth", "status"}, e.storeArgs()...)

	// Issued 170 days ago: expires in about 10 days.
	offset.Store(int64(-170 * 24 * time.Hour))
	e.exchange()
	e.ok("", append(status, "--warn-days", "5")...)
	r := e.fails(exitExpiresSoon, []string{"within 30 days"}, append(status, "--warn-days", "30")...)
	if !strings.Contains(r.out, "days left") {
		t.Errorf("status printed %q", r.out)
	}

	// Issued 181 days ago: expired.
	offset.Store(int64(-181 * 24 * time.Hour))
	e.exchange()
	offset.Store(0)
	e.fails(1, []string{"expired at", "auth exchange"}, status...)
	e.fails(1, []string{"bad or expired refresh token", "auth exchange"}, e.verb("erp list")...)
}

func TestVerbsLeaveNoGoroutines(t *testing.T) {
	e := newVerbEnv(t)
	if _, err := e.srv.RegisterERP(e.co.ID); err != nil {
		t.Fatal(err)
	}
	// The first signal.Notify starts the runtime's signal loop for good.
	e.run("", append([]string{"auth", "status"}, e.storeArgs()...)...)
	before := runtime.NumGoroutine()
	e.exchange()
	e.ok("", e.verb("erp list")...)
	// The sandbox is still serving: only the CLI closing its connections
	// ends the goroutines of both ends.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after the verbs, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestVerbHelpShowsNoSecrets(t *testing.T) {
	e := newVerbEnv(t)
	t.Setenv("CONCUR_CLIENT_SECRET", e.co.ClientSecret)
	t.Setenv("CONCUR_REQUEST_TOKEN", e.co.RequestToken)
	s := streams{in: strings.NewReader(""), out: io.Discard, errOut: io.Discard}
	for _, words := range []string{"auth", "auth exchange", "auth status", "erp", "erp register", "erp list", "erp get",
		"erp update", "erp unregister", "request", "request status", "request errors", "data", "data get"} {
		// Help goes to the app's writer, which the Benthos CLI leaves at
		// os.Stdout: run the same commands in an app writing to a buffer.
		var help bytes.Buffer
		app := &cli.App{Name: "concurflow", Writer: &help, ErrWriter: &help,
			Commands: []*cli.Command{authCommand(s), erpCommand(s), requestCommand(s), dataCommand(s)}}
		if err := app.Run(append(append([]string{"concurflow"}, strings.Fields(words)...), "--help")); err != nil {
			t.Fatalf("%s --help: %v", words, err)
		}
		if !strings.Contains(help.String(), "USAGE") {
			t.Errorf("%s --help printed %q", words, help.String())
		}
		for _, secret := range e.secrets {
			if strings.Contains(help.String(), secret) {
				t.Fatalf("%s --help shows a secret:\n%s", words, help.String())
			}
		}
		if strings.HasPrefix(words, "auth exchange") && !strings.Contains(help.String(), "$CONCUR_CLIENT_SECRET") {
			t.Errorf("help does not name the secret's environment variable:\n%s", help.String())
		}
	}
}

// verbApp is an app with the verbs writing to out: the Benthos CLI leaves
// the app's writer at os.Stdout.
func verbApp(out io.Writer) *cli.App {
	s := streams{in: strings.NewReader(""), out: io.Discard, errOut: io.Discard}
	return &cli.App{Name: "concurflow", Writer: out, ErrWriter: out,
		Commands: []*cli.Command{authCommand(s), erpCommand(s), requestCommand(s), dataCommand(s), sandboxCommand()}}
}

// help runs the words of a verb in a fresh app and returns what it printed.
func help(t *testing.T, words ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := verbApp(&out).Run(append([]string{"concurflow"}, words...)); err != nil {
		t.Fatalf("concurflow %s: %v\n%s", strings.Join(words, " "), err, out.String())
	}
	return out.String()
}

// TestVerbHelpAfterArgument: --help or -h after an argument shows the
// verb's help, the same as before it, and runs nothing (the verb would
// fail: no flag or environment variable names a company).
func TestVerbHelpAfterArgument(t *testing.T) {
	newVerbEnv(t) // clears the environment
	for _, words := range []string{"data get accounts", "erp get 6a1c5e5e-0000-4000-8000-000000000000",
		"erp unregister 6a1c5e5e-0000-4000-8000-000000000000", "request status r-1", "request errors r-1", "auth exchange extra"} {
		w := strings.Fields(words)
		before := help(t, append(w[:2:2], "--help")...)
		if !strings.Contains(before, "USAGE") {
			t.Fatalf("%s --help printed %q", w[:2], before)
		}
		for _, flag := range []string{"--help", "-h"} {
			if after := help(t, append(slices.Clone(w), flag)...); after != before {
				t.Errorf("%s %s printed\n%s\nwant\n%s", words, flag, after, before)
			}
		}
	}
}

// TestVerbFlagPlaceholders: urfave/cli takes a back-quoted word of a flag's
// usage as the placeholder of its value, which garbled `--erp-id` into
// "--erp-id erp register" in every verb's help.
func TestVerbFlagPlaceholders(t *testing.T) {
	var walk func(path []string, cmds []*cli.Command)
	walk = func(path []string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := append(slices.Clone(path), c.Name)
			walk(p, c.Subcommands)
			for _, f := range c.Flags {
				df, ok := f.(cli.DocGenerationFlag)
				if !ok || !df.TakesValue() {
					continue
				}
				if strings.Count(df.GetUsage(), "`") >= 2 {
					t.Errorf("%s --%s: the back-quotes of usage %q make a placeholder", strings.Join(p, " "), f.Names()[0], df.GetUsage())
				}
			}
			if len(c.Subcommands) == 0 {
				h := help(t, append(p, "--help")...)
				for _, f := range c.Flags {
					if df, ok := f.(cli.DocGenerationFlag); ok && df.TakesValue() && !strings.Contains(h, "--"+f.Names()[0]+" value") {
						t.Errorf("%s --help lacks \"--%s value\":\n%s", strings.Join(p, " "), f.Names()[0], h)
					}
				}
			}
		}
	}
	walk(nil, verbApp(io.Discard).Commands)
}

// TestLintObject: `concurflow lint` refuses a concur_accounting output whose
// object is none of the four.
func TestLintObject(t *testing.T) {
	dir := t.TempDir()
	for object, want := range map[string]int{"account": 1, "accounts": 0, "taxData": 0, `'${! meta("object") }'`: 0} {
		path := filepath.Join(dir, "p.yaml")
		conf := "input:\n  stdin: {}\noutput:\n  concur_accounting:\n    company_id: c\n    erp_id: e\n    object: " + object +
			"\n    auth:\n      client_id: id\n      client_secret: secret\n"
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"concurflow", "lint", path}, streams{in: strings.NewReader(""), out: &out, errOut: &errOut}); code != want {
			t.Errorf("lint with object %s: exit %d, want %d", object, code, want)
		}
	}
}
