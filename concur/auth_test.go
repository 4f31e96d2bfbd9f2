package concur

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// Secrets used by the auth tests; none may appear in an error or a log line.
const (
	secretClient  = "client-secret-5f1e"
	secretRequest = "request-token-9c2b"
	secretRefresh = "configured-refresh-77aa"
)

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeAuth is a token endpoint that issues at-N / rt-N pairs and rotates
// refresh tokens: only the latest refresh token is accepted.
type fakeAuth struct {
	*httptest.Server
	t           *testing.T
	mu          sync.Mutex
	forms       []url.Values
	issued      int
	validRT     string
	geolocation string // answered geolocation; the server URL when empty
	expiresIn   string
	fail        func(form url.Values) (status int, body string, ok bool)
	release     chan struct{} // when set, answers wait for it
}

func newFakeAuth(t *testing.T) *fakeAuth {
	t.Helper()
	f := &fakeAuth{t: t, expiresIn: "3600"}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAuth) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != TokenPath || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		http.Error(w, "bad token request", http.StatusBadRequest)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form := r.PostForm
	f.mu.Lock()
	f.forms = append(f.forms, form)
	release, fail := f.release, f.fail
	f.mu.Unlock()
	if release != nil {
		<-release
	}
	if fail != nil {
		if status, body, ok := fail(form); ok {
			w.Header().Set("Concur-Correlationid", "auth-corr")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if form.Get("client_id") != "client-id" || form.Get("client_secret") != secretClient {
		writeJSON(w, http.StatusUnauthorized, `{"error":"invalid_client","error_description":"Incorrect credentials. Please Retry","code":64}`)
		return
	}
	switch form.Get("grant_type") {
	case GrantPassword:
		if form.Get("username") != testCompany || form.Get("password") != secretRequest || form.Get("credtype") != "authtoken" {
			writeJSON(w, http.StatusBadRequest, `{"error":"invalid_grant","error_description":"Incorrect Credentials. Please Retry","code":5}`)
			return
		}
	case GrantRefreshToken:
		if form.Get("refresh_token") != f.validRT {
			writeJSON(w, http.StatusBadRequest, `{"error":"invalid_grant","error_description":"bad or expired refresh token","code":"108"}`)
			return
		}
	default:
		writeJSON(w, http.StatusBadRequest, `{"error":"invalid_request","error_description":"grant_type was not supplied","code":65}`)
		return
	}
	f.issued++
	f.validRT = fmt.Sprintf("rt-%d", f.issued)
	geo := f.geolocation
	if geo == "" {
		geo = f.URL
	}
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"expires_in":%q,"scope":"spend.accountingintegration.read spend.accountingintegration.write","token_type":"Bearer","access_token":"at-%d","refresh_token":%q,"refresh_expires_in":1798000000,"geolocation":%q}`,
		f.expiresIn, f.issued, f.validRT, geo))
}

func (f *fakeAuth) calls() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.forms...)
}

func (f *fakeAuth) setValidRefresh(rt string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.validRT = rt
}

func testSourceConfig(f *fakeAuth, store TokenStore, clock *testClock) TokenSourceConfig {
	return TokenSourceConfig{
		CompanyID:    testCompany,
		ClientID:     "client-id",
		ClientSecret: secretClient,
		RequestToken: secretRequest,
		AuthURL:      f.URL,
		Store:        store,
		Now:          clock.Now,
	}
}

func mustSource(t *testing.T, cfg TokenSourceConfig) *TokenSource {
	t.Helper()
	ts, err := NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestBootstrapFromRequestToken(t *testing.T) {
	auth := newFakeAuth(t)
	clock := newTestClock()
	store, err := NewDirStore(filepath.Join(t.TempDir(), "tokens"))
	if err != nil {
		t.Fatal(err)
	}
	var infos []RefreshInfo
	cfg := testSourceConfig(auth, store, clock)
	cfg.OnRefresh = func(i RefreshInfo) { infos = append(infos, i) }
	ts := mustSource(t, cfg)

	tok, err := ts.TokenContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "at-1" || tok.RefreshToken != "" || !tok.Expiry.Equal(clock.Now().Add(time.Hour)) || tok.Extra("geolocation") != auth.URL {
		t.Errorf("token %+v", tok)
	}
	forms := auth.calls()
	if len(forms) != 1 {
		t.Fatalf("%d token calls", len(forms))
	}
	want := url.Values{"grant_type": {"password"}, "username": {testCompany}, "password": {secretRequest}, "credtype": {"authtoken"}, "client_id": {"client-id"}, "client_secret": {secretClient}}
	if fmt.Sprint(forms[0]) != fmt.Sprint(want) {
		t.Errorf("form %v, want %v", forms[0], want)
	}
	if ts.Geolocation() != auth.URL || !ts.RefreshExpiry().Equal(time.Unix(1798000000, 0)) || ts.Refreshes() != 1 {
		t.Errorf("geolocation %q, refresh expiry %v, refreshes %d", ts.Geolocation(), ts.RefreshExpiry(), ts.Refreshes())
	}
	if len(infos) != 1 || infos[0].Grant != GrantPassword || !infos[0].Rotated || infos[0].Err != nil {
		t.Errorf("refresh infos %+v", infos)
	}

	stored, err := store.Load(context.Background(), testCompany)
	if err != nil || stored.RefreshToken != "rt-1" || stored.Geolocation != auth.URL {
		t.Fatalf("stored %v, %v", stored, err)
	}
	fi, err := os.Stat(filepath.Join(store.Dir(), testCompany+".json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, %v", fi.Mode(), err)
	}

	// A valid token is reused without a call.
	if again, err := ts.TokenContext(context.Background()); err != nil || again.AccessToken != "at-1" || len(auth.calls()) != 1 {
		t.Errorf("reuse: %v %v, %d calls", again, err, len(auth.calls()))
	}
}

func TestRefreshBeforeExpiryUsesGeolocation(t *testing.T) {
	geo := newFakeAuth(t) // the company's data centre
	auth := newFakeAuth(t)
	auth.geolocation = geo.URL
	clock := newTestClock()
	ts := mustSource(t, testSourceConfig(auth, NewMemoryStore(), clock))
	if _, err := ts.TokenContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	geo.setValidRefresh("rt-1")

	clock.Advance(time.Hour - DefaultRefreshSkew - time.Second)
	if tok, err := ts.TokenContext(context.Background()); err != nil || tok.AccessToken != "at-1" {
		t.Fatalf("before the skew: %v %v", tok, err)
	}
	clock.Advance(2 * time.Second) // now within the skew
	tok, err := ts.TokenContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if calls := geo.calls(); len(calls) != 1 || calls[0].Get("grant_type") != GrantRefreshToken || calls[0].Get("refresh_token") != "rt-1" {
		t.Fatalf("refresh calls at the geolocation: %v", calls)
	}
	if tok.AccessToken != "at-1" || len(auth.calls()) != 1 {
		// geo issues its own at-1; the original endpoint saw only the bootstrap
		t.Errorf("token %v, %d calls to the auth url", tok, len(auth.calls()))
	}
	if ts.Refreshes() != 2 {
		t.Errorf("refreshes %d", ts.Refreshes())
	}
}

func TestRotationSurvivesRestart(t *testing.T) {
	auth := newFakeAuth(t)
	clock := newTestClock()
	dir := t.TempDir()
	store, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	first := mustSource(t, testSourceConfig(auth, store, clock))
	if _, err := first.TokenContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if tok, err := first.TokenContext(context.Background()); err != nil || tok.AccessToken != "at-2" {
		t.Fatalf("rotation: %v %v", tok, err)
	}

	// A restart: a new store on the same directory, no request token; the
	// fake accepts only rt-2 now.
	store2, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testSourceConfig(auth, store2, clock)
	cfg.RequestToken = ""
	second := mustSource(t, cfg)
	tok, err := second.TokenContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	calls := auth.calls()
	if tok.AccessToken != "at-3" || calls[len(calls)-1].Get("refresh_token") != "rt-2" {
		t.Errorf("after restart: %v, last form %v", tok, calls[len(calls)-1])
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("store directory holds %d entries, want the token file only", len(entries))
	}
}

func TestConfiguredRefreshTokenAndFallback(t *testing.T) {
	auth := newFakeAuth(t)
	auth.setValidRefresh(secretRefresh)
	clock := newTestClock()
	cfg := testSourceConfig(auth, NewMemoryStore(), clock)
	cfg.RefreshToken = secretRefresh
	ts := mustSource(t, cfg)
	if _, err := ts.TokenContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls := auth.calls(); len(calls) != 1 || calls[0].Get("grant_type") != GrantRefreshToken {
		t.Fatalf("configured refresh token not used: %v", calls)
	}

	// The refresh token is revoked: the request token takes over.
	auth.setValidRefresh("something-else")
	clock.Advance(time.Hour)
	tok, err := ts.TokenContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	calls := auth.calls()
	if len(calls) != 3 || calls[1].Get("grant_type") != GrantRefreshToken || calls[2].Get("grant_type") != GrantPassword || tok.AccessToken != "at-2" {
		t.Errorf("fallback: %v, calls %v", tok, calls)
	}

	// Without a request token the refusal is returned.
	auth.setValidRefresh("revoked-again")
	clock.Advance(time.Hour)
	cfg.RequestToken = ""
	ts2 := mustSource(t, cfg)
	_, err = ts2.TokenContext(context.Background())
	var authErr *AuthError
	if !errors.As(err, &authErr) || authErr.Code != 108 || !authErr.InvalidGrant() || authErr.Grant != GrantRefreshToken {
		t.Errorf("revoked refresh token: %v", err)
	}
}

// flakyStore fails Save while failing is set.
type flakyStore struct {
	*MemoryStore
	mu      sync.Mutex
	failing bool
	saves   int
}

func (s *flakyStore) Save(ctx context.Context, tok StoredToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	if s.failing {
		return errors.New("disk full")
	}
	return s.MemoryStore.Save(ctx, tok)
}

func TestRefreshTokenSavedBeforeUse(t *testing.T) {
	auth := newFakeAuth(t)
	store := &flakyStore{MemoryStore: NewMemoryStore(), failing: true}
	ts := mustSource(t, testSourceConfig(auth, store, newTestClock()))

	if tok, err := ts.TokenContext(context.Background()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("unsaved refresh token: token %v, err %v", tok, err)
	}
	store.mu.Lock()
	store.failing = false
	store.mu.Unlock()
	tok, err := ts.TokenContext(context.Background())
	if err != nil || tok.AccessToken != "at-1" {
		t.Fatalf("after the store recovered: %v %v", tok, err)
	}
	if n := len(auth.calls()); n != 1 {
		t.Errorf("%d token calls, want 1: the first answer must be kept, not fetched again", n)
	}
	if st, err := store.Load(context.Background(), testCompany); err != nil || st.RefreshToken != "rt-1" {
		t.Errorf("stored %v %v", st, err)
	}
}

func TestSingleFlightRefresh(t *testing.T) {
	auth := newFakeAuth(t)
	clock := newTestClock()
	ts := mustSource(t, testSourceConfig(auth, NewMemoryStore(), clock))

	const n = 50
	run := func(get func() (*oauth2.Token, error)) []string {
		var wg sync.WaitGroup
		start := make(chan struct{})
		got := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				tok, err := get()
				errs[i] = err
				if tok != nil {
					got[i] = tok.AccessToken
				}
			}()
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		return got
	}
	for _, tok := range run(func() (*oauth2.Token, error) { return ts.TokenContext(context.Background()) }) {
		if tok != "at-1" {
			t.Fatalf("got %q", tok)
		}
	}
	if c := len(auth.calls()); c != 1 {
		t.Fatalf("%d goroutines made %d token calls, want 1", n, c)
	}

	// 50 requests refused with the same token: one refresh between them.
	rejected := &oauth2.Token{AccessToken: "at-1"}
	for _, tok := range run(func() (*oauth2.Token, error) { return ts.RefreshAfterUnauthorized(context.Background(), rejected) }) {
		if tok != "at-2" {
			t.Fatalf("after 401: got %q", tok)
		}
	}
	if c := len(auth.calls()); c != 2 {
		t.Fatalf("%d token calls after concurrent 401s, want 2", c)
	}
}

func TestWaitingForTokenHonoursContext(t *testing.T) {
	auth := newFakeAuth(t)
	auth.release = make(chan struct{})
	ts := mustSource(t, testSourceConfig(auth, NewMemoryStore(), newTestClock()))
	done := make(chan error, 1)
	go func() {
		_, err := ts.TokenContext(context.Background())
		done <- err
	}()
	// Wait until the first caller is inside the token call.
	for len(auth.calls()) == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ts.TokenContext(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("waiting caller: %v", err)
	}
	close(auth.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestTransportRetriesOnceAfter401(t *testing.T) {
	auth := newFakeAuth(t)
	var mu sync.Mutex
	var bodies []string
	accept := "at-2"
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == TokenPath { // the geolocation serves the token endpoint too
			auth.serve(w, r)
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		ok := r.Header.Get("Authorization") == "Bearer "+accept
		mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusUnauthorized, `{"errorCode":"unauthorized","errorMessage":"Invalid or revoked access token"}`)
			return
		}
		writeJSON(w, http.StatusAccepted, statusAnswer)
	})
	auth.geolocation = api.URL
	ts := mustSource(t, testSourceConfig(auth, NewMemoryStore(), newTestClock()))
	c, err := NewClient(ClientConfig{CompanyID: testCompany, TokenSource: ts})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"data":[{"id":"1","name":"n","type":"BANK"}]}`
	st, err := c.Patch(context.Background(), testERP, ObjectAccounts, []byte(body), "k")
	if err != nil || st.RequestID != testRequest {
		t.Fatalf("patch after a revoked token: %v %v", st, err)
	}
	mu.Lock()
	if len(bodies) != 2 || bodies[0] != body || bodies[1] != body {
		t.Errorf("bodies %q", bodies)
	}
	accept = "never"
	bodies = nil
	mu.Unlock()
	if len(auth.calls()) != 2 {
		t.Errorf("%d token calls", len(auth.calls()))
	}

	// A second 401 after the refresh is returned, with one refresh only.
	_, err = c.Patch(context.Background(), testERP, ObjectAccounts, []byte(body), "k")
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("persistent 401: %v", err)
	}
	if len(auth.calls()) != 3 {
		t.Errorf("%d token calls, want one more", len(auth.calls()))
	}

	// A body without GetBody is buffered and replayed too.
	mu.Lock()
	accept = "at-4"
	bodies = nil
	mu.Unlock()
	req, err := http.NewRequest(http.MethodPost, api.URL+"/x", io.NopCloser(strings.NewReader("stream")))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: &Transport{Source: ts}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != http.StatusAccepted || len(bodies) != 2 || bodies[1] != "stream" {
		t.Errorf("streamed body: status %d, bodies %q", resp.StatusCode, bodies)
	}
}

func TestClientTakesBaseURLFromGeolocation(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, `{"erpId":"x"}`) })
	auth := newFakeAuth(t)
	auth.geolocation = api.URL + "/"
	ts := mustSource(t, testSourceConfig(auth, NewMemoryStore(), newTestClock()))
	c, err := NewClient(ClientConfig{CompanyID: testCompany, TokenSource: ts, BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	// The geolocation of the first token wins over the configured base.
	if _, err := c.GetERP(context.Background(), testERP); err != nil {
		t.Fatal(err)
	}
	if got := api.last(t); got.Path != erpPath || got.Auth != "Bearer at-1" {
		t.Errorf("request %+v", got)
	}
}

func TestAuthErrorsNeverLeakSecrets(t *testing.T) {
	secrets := []string{secretClient, secretRequest, secretRefresh, "at-secret-access", "rt-secret-refresh"}
	var texts []string
	record := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: want an error", what)
			return
		}
		texts = append(texts, what+": "+err.Error(), fmt.Sprintf("%s: %+v %#v", what, err, err))
	}
	leakyBody := `{"access_token":` + `"at-secret-access","refresh_token":"rt-secret-refresh",` + "\n" + `broken ` + secretClient
	cases := []struct {
		name   string
		status int
		body   string
		check  func(error)
	}{
		{"invalid grant with numeric code", 400, `{"error":"invalid_grant","error_description":"Incorrect Credentials. Please Retry","code":5}`, func(err error) {
			var ae *AuthError
			if !errors.As(err, &ae) || ae.Code != 5 || ae.ErrorCode != "invalid_grant" || ae.CorrelationID != "auth-corr" || IsRetryable(err) {
				t.Errorf("numeric code: %v", err)
			}
		}},
		{"string code", 401, `{"code":"64","error":"invalid_client","error_description":"Incorrect credentials. Please Retry"}`, func(err error) {
			var ae *AuthError
			if !errors.As(err, &ae) || ae.Code != 64 || ae.StatusCode != 401 {
				t.Errorf("string code: %v", err)
			}
		}},
		{"server error", 503, `Server Timed Out ` + secretClient, func(err error) {
			var ae *AuthError
			if !errors.As(err, &ae) || ae.StatusCode != 503 || !IsRetryable(err) {
				t.Errorf("503: %v", err)
			}
		}},
		{"broken success body", 200, leakyBody, nil},
		{"no access token", 200, `{"refresh_token":"rt-secret-refresh"}`, nil},
	}
	for _, tc := range cases {
		auth := newFakeAuth(t)
		auth.fail = func(url.Values) (int, string, bool) { return tc.status, tc.body, true }
		cfg := testSourceConfig(auth, NewMemoryStore(), newTestClock())
		cfg.RefreshToken = secretRefresh
		ts := mustSource(t, cfg)
		_, err := ts.TokenContext(context.Background())
		record(tc.name, err)
		if tc.check != nil {
			tc.check(err)
		}
		// Through the client and transport too.
		c, cerr := NewClient(ClientConfig{CompanyID: testCompany, TokenSource: ts, BaseURL: auth.URL})
		if cerr != nil {
			t.Fatal(cerr)
		}
		_, err = c.GetERP(context.Background(), testERP)
		record(tc.name+" via client", err)
	}

	// No credentials at all.
	auth := newFakeAuth(t)
	cfg := testSourceConfig(auth, NewMemoryStore(), newTestClock())
	cfg.RequestToken = ""
	_, err := mustSource(t, cfg).TokenContext(context.Background())
	if !errors.Is(err, ErrNoCredentials) || IsRetryable(err) {
		t.Errorf("no credentials: %v", err)
	}
	// Through the transport (an *url.Error around it) it stays not retryable.
	c, err := NewClient(ClientConfig{CompanyID: testCompany, TokenSource: mustSource(t, cfg), BaseURL: auth.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Patch(context.Background(), testERP, ObjectAccounts, []byte(`{}`), "")
	if !errors.Is(err, ErrNoCredentials) || IsRetryable(err) {
		t.Errorf("no credentials via the client: %v (retryable %v)", err, IsRetryable(err))
	}
	record("no credentials", err)

	// Unreachable token endpoint.
	cfg = testSourceConfig(auth, NewMemoryStore(), newTestClock())
	cfg.AuthURL = "http://127.0.0.1:1"
	_, err = mustSource(t, cfg).TokenContext(context.Background())
	record("unreachable", err)
	if !IsRetryable(err) {
		t.Errorf("unreachable token endpoint not retryable: %v", err)
	}

	// Store failures, corrupt token files and bad configs.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, testCompany+".json"), []byte(`{"refreshToken":"`+secretRefresh+`",`), 0o600); err != nil {
		t.Fatal(err)
	}
	store, _ := NewDirStore(dir)
	cfg = testSourceConfig(auth, store, newTestClock())
	_, err = mustSource(t, cfg).TokenContext(context.Background())
	record("corrupt store", err)
	cfg = testSourceConfig(auth, &flakyStore{MemoryStore: NewMemoryStore(), failing: true}, newTestClock())
	_, err = mustSource(t, cfg).TokenContext(context.Background())
	record("failing store", err)
	for name, bad := range map[string]func(*TokenSourceConfig){
		"no company": func(c *TokenSourceConfig) { c.CompanyID = "" },
		"no secret":  func(c *TokenSourceConfig) { c.ClientSecret = "" },
		"no store":   func(c *TokenSourceConfig) { c.Store = nil },
		"bad url":    func(c *TokenSourceConfig) { c.AuthURL = "not a url" },
	} {
		cfg := testSourceConfig(auth, NewMemoryStore(), newTestClock())
		cfg.RefreshToken = secretRefresh
		bad(&cfg)
		_, err := NewTokenSource(cfg)
		record(name, err)
	}

	// Printing the configuration, the stored token and the source.
	cfg = testSourceConfig(auth, NewMemoryStore(), newTestClock())
	cfg.RefreshToken = secretRefresh
	ts := mustSource(t, cfg)
	st := StoredToken{CompanyID: testCompany, RefreshToken: secretRefresh}
	texts = append(texts, fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg), fmt.Sprintf("%v %+v %#v", st, st, st), fmt.Sprintf("%v %+v %s", ts, ts, ts))

	for _, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("secret %q leaked in %q", s, text)
			}
		}
	}
}

func TestShortLivedTokensAreReused(t *testing.T) {
	auth := newFakeAuth(t)
	auth.expiresIn = "8" // shorter than the 60 s skew: replaced after 6 s
	clock := newTestClock()
	ts := mustSource(t, testSourceConfig(auth, NewMemoryStore(), clock))
	for _, step := range []struct {
		advance time.Duration
		want    string
	}{{0, "at-1"}, {5 * time.Second, "at-1"}, {2 * time.Second, "at-2"}} {
		clock.Advance(step.advance)
		tok, err := ts.TokenContext(context.Background())
		if err != nil || tok.AccessToken != step.want {
			t.Fatalf("after %v: %v %v, want %s", step.advance, tok, err, step.want)
		}
	}

	auth.expiresIn = "0" // an already expired token is still handed out once
	clock.Advance(time.Hour)
	if tok, err := ts.TokenContext(context.Background()); err != nil || tok.AccessToken != "at-3" {
		t.Fatalf("zero lifetime: %v %v", tok, err)
	}
}
