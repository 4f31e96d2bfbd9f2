package concur

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// refusedSource is a source whose configured refresh token and request
// token are both refused by auth.
func refusedSource(t *testing.T, auth *fakeAuth, store TokenStore, clock *testClock) *TokenSource {
	t.Helper()
	auth.setValidRefresh("not-the-configured-one")
	cfg := testSourceConfig(auth, store, clock)
	cfg.RefreshToken = secretRefresh
	cfg.RequestToken = "expired-request-token"
	return mustSource(t, cfg)
}

// wantRefused checks that err is a refusal of the company wrapping an
// invalid_grant answer.
func wantRefused(t *testing.T, err error) *CredentialsRefusedError {
	t.Helper()
	var refused *CredentialsRefusedError
	var authErr *AuthError
	if !errors.As(err, &refused) || !errors.As(err, &authErr) || !authErr.InvalidGrant() || refused.CompanyID != testCompany {
		t.Fatalf("want a refusal wrapping invalid_grant, got %v", err)
	}
	return refused
}

func TestRefusedCredentialsBackOffAndHealFromStore(t *testing.T) {
	auth := newFakeAuth(t)
	clock := newTestClock()
	store := NewMemoryStore()
	ts := refusedSource(t, auth, store, clock)
	ctx := context.Background()

	_, err := ts.TokenContext(ctx)
	r := wantRefused(t, err)
	if n := len(auth.calls()); n != 2 {
		t.Fatalf("first attempt made %d token calls, want refresh + password", n)
	}
	if want := clock.Now().Add(DefaultRefusedBackoff); !r.RetryAt.Equal(want) || !r.NextCheck.Equal(want) {
		t.Errorf("retry at %v, next check %v, want both %v", r.RetryAt, r.NextCheck, want)
	}

	// Within the back-off nothing is sent, whoever asks.
	for range 5 {
		if _, err := ts.TokenContext(ctx); !IsCredentialsRefused(err) {
			t.Fatalf("within back-off: %v", err)
		}
		if _, err := ts.RefreshAfterUnauthorized(ctx, nil); !IsCredentialsRefused(err) {
			t.Fatalf("within back-off after 401: %v", err)
		}
	}
	clock.Advance(DefaultRefusedBackoff - time.Millisecond)
	_, _ = ts.TokenContext(ctx)
	if n := len(auth.calls()); n != 2 {
		t.Fatalf("%d token calls before the back-off ended", n)
	}

	// The back-off doubles: 5 s, 10 s, 20 s, …; the store, re-read every
	// 5 s meanwhile, still holds nothing new.
	clock.Advance(time.Millisecond)
	_, err = ts.TokenContext(ctx)
	r = wantRefused(t, err)
	if n := len(auth.calls()); n != 4 {
		t.Fatalf("%d token calls after the first back-off, want 4", n)
	}
	if got := r.RetryAt.Sub(clock.Now()); got != 2*DefaultRefusedBackoff {
		t.Errorf("second back-off %v, want %v", got, 2*DefaultRefusedBackoff)
	}
	clock.Advance(DefaultRefusedBackoff)
	_, err = ts.TokenContext(ctx)
	wantRefused(t, err)
	if n := len(auth.calls()); n != 4 {
		t.Fatalf("a store re-read without a new token called the endpoint (%d calls)", n)
	}

	// An operator stores a new refresh token (as `auth exchange` does): it
	// is tried at the next store check, before the back-off ends.
	if err := store.Save(ctx, StoredToken{CompanyID: testCompany, RefreshToken: "rt-operator"}); err != nil {
		t.Fatal(err)
	}
	auth.setValidRefresh("rt-operator")
	clock.Advance(DefaultRefusedBackoff)
	tok, err := ts.TokenContext(ctx)
	if err != nil {
		t.Fatalf("after a new refresh token was stored: %v", err)
	}
	calls := auth.calls()
	if len(calls) != 5 || calls[4].Get("refresh_token") != "rt-operator" || tok.AccessToken == "" {
		t.Fatalf("healing: %d calls, last %v", len(calls), calls[len(calls)-1].Get("grant_type"))
	}
	if ts.Refused() != nil {
		t.Errorf("still refused after success: %v", ts.Refused())
	}
}

func TestRefusedBackoffIsCapped(t *testing.T) {
	auth := newFakeAuth(t)
	clock := newTestClock()
	auth.setValidRefresh("not-the-configured-one")
	cfg := testSourceConfig(auth, NewMemoryStore(), clock)
	cfg.RefreshToken = secretRefresh
	cfg.RequestToken = ""
	cfg.RefusedBackoff = time.Second
	cfg.RefusedMaxBackoff = 4 * time.Second
	ts := mustSource(t, cfg)
	var waits []time.Duration
	for range 5 {
		_, err := ts.TokenContext(context.Background())
		r := wantRefused(t, err)
		waits = append(waits, r.RetryAt.Sub(clock.Now()))
		clock.Advance(r.RetryAt.Sub(clock.Now()))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("back-offs %v, want %v", waits, want)
		}
	}
	if n := len(auth.calls()); n != 5 {
		t.Errorf("%d token calls for 5 attempts (no request token), want 5", n)
	}
}

func TestMissingCredentialsHealFromStore(t *testing.T) {
	auth := newFakeAuth(t)
	clock := newTestClock()
	store := NewMemoryStore()
	cfg := testSourceConfig(auth, store, clock)
	cfg.RequestToken = ""
	ts := mustSource(t, cfg)
	_, err := ts.TokenContext(context.Background())
	if !IsCredentialsRefused(err) || !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("no credentials: %v", err)
	}
	if err := store.Save(context.Background(), StoredToken{CompanyID: testCompany, RefreshToken: "rt-new"}); err != nil {
		t.Fatal(err)
	}
	auth.setValidRefresh("rt-new")
	clock.Advance(DefaultRefusedBackoff)
	if _, err := ts.TokenContext(context.Background()); err != nil {
		t.Fatalf("after a refresh token was stored: %v", err)
	}
}

func TestTransientTokenErrorsAreNotSticky(t *testing.T) {
	auth := newFakeAuth(t)
	failures := 1
	auth.fail = func(url.Values) (int, string, bool) {
		if failures == 0 {
			return 0, "", false
		}
		failures--
		return http.StatusServiceUnavailable, `{"error":"server_error"}`, true
	}
	ts := mustSource(t, testSourceConfig(auth, NewMemoryStore(), newTestClock()))
	_, err := ts.TokenContext(context.Background())
	if err == nil || IsCredentialsRefused(err) || !IsRetryable(err) {
		t.Fatalf("503 from the token endpoint: %v", err)
	}
	if _, err := ts.TokenContext(context.Background()); err != nil {
		t.Fatalf("retry right after a 503: %v", err)
	}
}

func TestInvalidClientIsRefused(t *testing.T) {
	auth := newFakeAuth(t)
	cfg := testSourceConfig(auth, NewMemoryStore(), newTestClock())
	cfg.ClientSecret = "wrong-secret"
	ts := mustSource(t, cfg)
	_, err := ts.TokenContext(context.Background())
	var authErr *AuthError
	if !IsCredentialsRefused(err) || !errors.As(err, &authErr) || authErr.ErrorCode != "invalid_client" {
		t.Fatalf("wrong client secret: %v", err)
	}
	if _, err := ts.TokenContext(context.Background()); !IsCredentialsRefused(err) || len(auth.calls()) != 1 {
		t.Fatalf("second call: %v after %d token calls", err, len(auth.calls()))
	}
}
