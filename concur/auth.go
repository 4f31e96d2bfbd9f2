package concur

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// TokenPath is the path of Concur's OAuth2 token endpoint.
const TokenPath = "/oauth2/v0/token"

// DefaultRefreshSkew is how long before its expiry an access token is
// replaced.
const DefaultRefreshSkew = 60 * time.Second

// defaultRefreshLifetime is the refresh token lifetime assumed when the
// token answer carries no refresh_expires_in: the "6 month" default of the
// OAuth2 Getting Started page, counted as 180 days.
const defaultRefreshLifetime = 180 * 24 * time.Hour

// Grant types sent to the token endpoint.
const (
	GrantPassword     = "password"
	GrantRefreshToken = "refresh_token"
)

// ErrNoCredentials is returned when a TokenSource has neither a stored or
// configured refresh token nor a request token.
var ErrNoCredentials = errors.New("concur: no refresh token stored or configured and no request token")

// AuthError is an error answer of the token endpoint. Code is Concur's
// numeric code from the Response Codes table of the Authentication page
// (for example 5 incorrect credentials, 108 bad or expired refresh token),
// ErrorCode the OAuth2 error (invalid_grant, invalid_client, …). It never
// carries the credentials that were sent.
type AuthError struct {
	StatusCode    int
	Code          int
	ErrorCode     string
	Description   string
	Grant         string
	CorrelationID string
}

// Error formats the failure without any credential.
func (e *AuthError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "concur oauth2: %s grant: %d %s", e.Grant, e.StatusCode, http.StatusText(e.StatusCode))
	if e.ErrorCode != "" {
		b.WriteString(": " + e.ErrorCode)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " (code %d)", e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	if e.CorrelationID != "" {
		b.WriteString(" [correlation id " + e.CorrelationID + "]")
	}
	return b.String()
}

// InvalidGrant reports whether the credentials themselves were refused (an
// invalid_grant answer): the request token or refresh token is wrong,
// expired or revoked, and repeating the call will not help.
func (e *AuthError) InvalidGrant() bool { return e.ErrorCode == "invalid_grant" }

// Remedy is what mends credentials the token endpoint refused, read from
// the OAuth2 error, Concur's code and the grant of an *AuthError.
type Remedy int

// The remedies, by the token endpoint's answer (see the Response Codes of
// the Authentication and Company Level Authentication pages).
const (
	// RemedyNone: the answer refuses the request, not the credentials
	// (invalid_request and the like); repeating it unchanged will not help,
	// but no new credential will either.
	RemedyNone Remedy = iota
	// RemedyClientCredentials: invalid_client (codes 61, 64) or a 401
	// without an OAuth2 error: the client id or client secret is wrong.
	RemedyClientCredentials
	// RemedyCompanyNotEnabled: invalid_client code 53, the company has not
	// enabled this client: wrong company id or client id, or the company
	// has not connected the app.
	RemedyCompanyNotEnabled
	// RemedyRequestToken: invalid_grant on the password grant: the request
	// token is wrong, older than 24 hours or for another company or app.
	RemedyRequestToken
	// RemedyRefreshToken: invalid_grant on the refresh grant (code 108 bad
	// or expired refresh token): a new request token must be exchanged.
	RemedyRefreshToken
	// RemedySupport: the account is disabled, locked or its logon denied
	// (invalid_grant codes 10–14 and 20), or the client is disabled
	// (access_denied, code 59): only SAP Concur support helps.
	RemedySupport
)

// Remedy says what mends the refusal.
func (e *AuthError) Remedy() Remedy {
	switch {
	case e.ErrorCode == "invalid_client" && e.Code == 53:
		return RemedyCompanyNotEnabled
	case e.ErrorCode == "invalid_client":
		return RemedyClientCredentials
	case e.ErrorCode == "access_denied":
		return RemedySupport
	case e.InvalidGrant():
		switch e.Code {
		case 10, 11, 12, 13, 14, 20:
			return RemedySupport
		}
		if e.Grant == GrantPassword {
			return RemedyRequestToken
		}
		return RemedyRefreshToken
	case e.ErrorCode == "" && e.StatusCode == http.StatusUnauthorized:
		return RemedyClientCredentials
	}
	return RemedyNone
}

// Advice says in a sentence what the refusal means and what to do, or ""
// for RemedyNone. It names no credential.
func (e *AuthError) Advice() string {
	switch e.Remedy() {
	case RemedyClientCredentials:
		return "the client id or client secret is wrong: check them (a new request token will not help)"
	case RemedyCompanyNotEnabled:
		return "the company has not enabled this client: check the company id and the client id, or have the company connect the app in App Center"
	case RemedyRequestToken:
		return "the request token is wrong, expired (it is valid 24 hours) or for another company or app: get a new request token from the company's Concur administrator (App Center)"
	case RemedyRefreshToken:
		return "the stored refresh token is expired or revoked: get a new request token from the company's Concur administrator and run `concurflow auth exchange` with it"
	case RemedySupport:
		return "Concur refuses the account or the app itself: contact SAP Concur support with the correlation id (new tokens will not help)"
	}
	return ""
}

// Refused reports whether the answer refuses the configured credentials
// rather than the request: invalid_grant (request or refresh token wrong,
// expired or revoked), invalid_client (client id or secret wrong), or a
// 401 or 403 status. Only new credentials help.
func (e *AuthError) Refused() bool {
	return e.InvalidGrant() || e.ErrorCode == "invalid_client" ||
		e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
}

// Defaults of the back-off between token requests after the credentials
// were refused.
const (
	DefaultRefusedBackoff    = 5 * time.Second
	DefaultRefusedMaxBackoff = 5 * time.Minute
)

// CredentialsRefusedError is returned by a TokenSource while the company's
// credentials are refused (an *AuthError whose Refused is true) or missing
// (ErrNoCredentials). The source does not call the token endpoint again
// before RetryAt; until then it only re-reads the token store (at most
// once per RefusedBackoff) and tries at once when the store holds a
// refresh token other than the refused one, as `concurflow auth exchange`
// writes. Err is the last refusal; errors.As finds the *AuthError in it.
type CredentialsRefusedError struct {
	CompanyID string
	// Since is when the credentials were first refused.
	Since time.Time
	// RetryAt is when the next token request will be made.
	RetryAt time.Time
	// NextCheck is the earliest time a call may do anything but return
	// this error: re-read the store, or at RetryAt call the endpoint.
	NextCheck time.Time
	// Err is the cause: an *AuthError or ErrNoCredentials.
	Err error
}

// Error names the company, the cause and the fix, never a credential.
func (e *CredentialsRefusedError) Error() string {
	return fmt.Sprintf("credentials of company %s refused since %s (next token request at %s): %v: %s",
		e.CompanyID, e.Since.UTC().Format(time.RFC3339), e.RetryAt.UTC().Format(time.RFC3339), e.Err, e.Advice())
}

// Advice says what mends the refusal, following the token endpoint's
// answer (see AuthError.Advice). A source refused its request token holds
// no usable refresh token either: the new request token is to be
// exchanged into the token store.
func (e *CredentialsRefusedError) Advice() string {
	var authErr *AuthError
	if errors.As(e.Err, &authErr) {
		a := authErr.Advice()
		if authErr.Remedy() == RemedyRequestToken {
			a += " and run `concurflow auth exchange` with it"
		}
		if a != "" {
			return a
		}
	}
	return "store a refresh token with `concurflow auth exchange` and a request token from the company's Concur administrator"
}

// Unwrap returns the cause.
func (e *CredentialsRefusedError) Unwrap() error { return e.Err }

// IsCredentialsRefused reports whether err is (or wraps) a
// *CredentialsRefusedError: no record is at fault, and writes should wait
// for new credentials instead of failing their records.
func IsCredentialsRefused(err error) bool {
	var refused *CredentialsRefusedError
	return errors.As(err, &refused)
}

// refusal is the state of a TokenSource whose credentials were refused.
type refusal struct {
	err     error
	since   time.Time
	retryAt time.Time
	backoff time.Duration
	token   string    // the refresh token that was refused, "" if none
	checked time.Time // when the store was last consulted
}

// RefreshInfo describes one call to the token endpoint, for metrics.
type RefreshInfo struct {
	CompanyID string
	// Grant is GrantPassword or GrantRefreshToken.
	Grant string
	// Err is the failure, nil on success.
	Err error
	// AccessExpiry and RefreshExpiry are set on success.
	AccessExpiry  time.Time
	RefreshExpiry time.Time
	// Rotated reports that a new refresh token was issued (and saved).
	Rotated bool
}

// TokenSourceConfig configures a TokenSource for one company.
type TokenSourceConfig struct {
	// CompanyID is the company UUID (the password grant's username), required.
	CompanyID string
	// ClientID and ClientSecret are the application's credentials, required.
	ClientID     string
	ClientSecret string
	// RequestToken is the company request token from App Center (valid 24 h,
	// reusable within them). Used when no refresh token is stored or
	// configured, or when the refresh token is refused with invalid_grant.
	RequestToken string
	// RefreshToken bootstraps the source when the store has none.
	RefreshToken string
	// AuthURL is the base URL of the token endpoint, for example
	// https://us.api.concursolutions.com, required. Refresh grants go to the
	// token's geolocation once known, as the OAuth2 Getting Started page
	// shows.
	AuthURL string
	// Store persists refresh tokens, required (NewDirStore, or
	// NewMemoryStore for tests).
	Store TokenStore
	// HTTPClient calls the token endpoint; nil means a client with a 30 s
	// timeout.
	HTTPClient *http.Client
	// RefreshSkew: access tokens are replaced this long before they
	// expire (at most a quarter of their lifetime); 0 means
	// DefaultRefreshSkew.
	RefreshSkew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RefusedBackoff is the wait before the first token request after the
	// credentials were refused, doubled after every further refusal up to
	// RefusedMaxBackoff; it is also how often the store is re-read
	// meanwhile. 0 means DefaultRefusedBackoff and DefaultRefusedMaxBackoff.
	RefusedBackoff    time.Duration
	RefusedMaxBackoff time.Duration
	// OnRefresh, when set, is called after every call to the token
	// endpoint, from the goroutine that made it, while other callers wait
	// for the token: it must be quick and must not call the TokenSource.
	OnRefresh func(RefreshInfo)
}

// String describes the configuration without its secrets.
func (c TokenSourceConfig) String() string {
	return fmt.Sprintf("TokenSourceConfig{company %s, client %s, auth url %s, client secret %s, request token %s, refresh token %s}",
		c.CompanyID, c.ClientID, c.AuthURL, redacted(c.ClientSecret), redacted(c.RequestToken), redacted(c.RefreshToken))
}

// GoString is String, so that %#v redacts too.
func (c TokenSourceConfig) GoString() string { return c.String() }

// TokenSource is the oauth2.TokenSource of one company. It bootstraps from
// the stored refresh token, else the configured refresh token, else the
// request token (password grant with credtype=authtoken, see the Company
// Level Authentication page); replaces the access token RefreshSkew before
// it expires; lets one goroutine at a time call the token endpoint while
// the others wait for its result; and saves every new refresh token to the
// store before the access token that came with it is handed out. When its
// refresh token is refused with invalid_grant and the store holds another
// one (a process sharing the store refreshed, and Concur invalidated the
// token it replaced), that one is tried at once. When the credentials are
// refused it remembers it and returns a
// *CredentialsRefusedError without calling the endpoint, which it tries
// again with exponential back-off (RefusedBackoff doubling to
// RefusedMaxBackoff), re-reading the store first; a new refresh token in
// the store is tried at once. It is safe for concurrent use and starts no
// goroutines.
type TokenSource struct {
	cfg  TokenSourceConfig
	http *http.Client

	// sem is held by the goroutine talking to the token endpoint.
	sem chan struct{}

	mu        sync.Mutex
	access    *oauth2.Token
	refreshAt time.Time // when access is replaced: Expiry minus the skew
	stored    StoredToken
	loaded    bool // the store has been consulted
	unsaved   bool // stored holds a refresh token the store does not have yet
	refusal   *refusal

	refreshes atomic.Uint64
}

// NewTokenSource returns a TokenSource for cfg.CompanyID. It makes no call:
// the first token is fetched on first use.
func NewTokenSource(cfg TokenSourceConfig) (*TokenSource, error) {
	switch {
	case cfg.CompanyID == "":
		return nil, errors.New("concur: new token source: company id is required")
	case cfg.ClientID == "" || cfg.ClientSecret == "":
		return nil, fmt.Errorf("concur: new token source for company %s: client id and client secret are required", cfg.CompanyID)
	case cfg.Store == nil:
		return nil, fmt.Errorf("concur: new token source for company %s: a token store is required", cfg.CompanyID)
	}
	if _, err := parseBaseURL(cfg.AuthURL); err != nil {
		return nil, fmt.Errorf("concur: new token source for company %s: auth url: %w", cfg.CompanyID, err)
	}
	if cfg.RefreshSkew <= 0 {
		cfg.RefreshSkew = DefaultRefreshSkew
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RefusedBackoff <= 0 {
		cfg.RefusedBackoff = DefaultRefusedBackoff
	}
	if cfg.RefusedMaxBackoff <= 0 {
		cfg.RefusedMaxBackoff = max(DefaultRefusedMaxBackoff, cfg.RefusedBackoff)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &TokenSource{cfg: cfg, http: hc, sem: make(chan struct{}, 1)}, nil
}

// String describes the source without secrets.
func (ts *TokenSource) String() string {
	return "concur.TokenSource{company " + ts.cfg.CompanyID + "}"
}

// CompanyID returns the company of the source.
func (ts *TokenSource) CompanyID() string { return ts.cfg.CompanyID }

// Token implements oauth2.TokenSource with a background context; prefer
// TokenContext.
func (ts *TokenSource) Token() (*oauth2.Token, error) {
	return ts.TokenContext(context.Background())
}

// TokenContext returns a valid access token, fetching one when the current
// one expires within RefreshSkew. The returned token carries no refresh
// token; its Extra("geolocation") is the company's base URL.
func (ts *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	if tok := ts.current(); tok != nil {
		return tok, nil
	}
	if err := ts.acquire(ctx); err != nil {
		return nil, err
	}
	defer ts.release()
	if tok := ts.current(); tok != nil {
		return tok, nil // another goroutine refreshed while we waited
	}
	return ts.fetch(ctx)
}

// RefreshAfterUnauthorized replaces an access token the API refused with
// 401. When another goroutine has already replaced rejected, the newer
// token is returned without another call.
func (ts *TokenSource) RefreshAfterUnauthorized(ctx context.Context, rejected *oauth2.Token) (*oauth2.Token, error) {
	if err := ts.acquire(ctx); err != nil {
		return nil, err
	}
	defer ts.release()
	ts.mu.Lock()
	if ts.access != nil && rejected != nil && ts.access.AccessToken == rejected.AccessToken {
		ts.access = nil
	}
	ts.mu.Unlock()
	if tok := ts.current(); tok != nil {
		return tok, nil
	}
	return ts.fetch(ctx)
}

// Geolocation returns the company's base URL from the last token answer or
// the store, or "" before the first token.
func (ts *TokenSource) Geolocation() string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.stored.Geolocation
}

// RefreshExpiry returns when the current refresh token expires (from the
// answer's refresh_expires_in, else estimated at 6 months from issue), or
// the zero time before the first token.
func (ts *TokenSource) RefreshExpiry() time.Time {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.stored.RefreshExpiry
}

// Refreshes returns how many tokens the source obtained from the token
// endpoint.
func (ts *TokenSource) Refreshes() uint64 { return ts.refreshes.Load() }

func (ts *TokenSource) acquire(ctx context.Context) error {
	select {
	case ts.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for token of company %s: %w", ts.cfg.CompanyID, ctx.Err())
	}
}

func (ts *TokenSource) release() { <-ts.sem }

// current returns a copy of the access token if it is valid beyond the
// skew and its refresh token is saved.
func (ts *TokenSource) current() *oauth2.Token {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.access == nil || ts.unsaved || !ts.cfg.Now().Before(ts.refreshAt) {
		return nil
	}
	tok := *ts.access
	return &tok
}

// Refused returns the current refusal of the credentials, or nil when
// they were not refused or work again.
func (ts *TokenSource) Refused() *CredentialsRefusedError {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.refusedLocked()
}

func (ts *TokenSource) refusedLocked() *CredentialsRefusedError {
	r := ts.refusal
	if r == nil {
		return nil
	}
	next := r.checked.Add(ts.cfg.RefusedBackoff)
	if r.retryAt.Before(next) {
		next = r.retryAt
	}
	return &CredentialsRefusedError{
		CompanyID: ts.cfg.CompanyID,
		Since:     r.since,
		RetryAt:   r.retryAt,
		NextCheck: next,
		Err:       r.err,
	}
}

// fetch gets a new access token. It must be called with sem held.
func (ts *TokenSource) fetch(ctx context.Context) (*oauth2.Token, error) {
	if err := ts.saveIfNeeded(ctx); err != nil {
		return nil, err
	}
	if tok := ts.current(); tok != nil {
		return tok, nil // the token of a previous call whose save failed
	}
	if err := ts.heldBack(ctx); err != nil {
		return nil, err
	}
	if err := ts.load(ctx); err != nil {
		return nil, err
	}
	tok, err := ts.grants(ctx)
	// grants may have moved to a refresh token another process stored; a
	// refusal is of the last one tried.
	ts.mu.Lock()
	refresh := ts.stored.RefreshToken
	ts.mu.Unlock()
	return tok, ts.settle(err, refresh)
}

// heldBack returns the refusal while the back-off lasts. When it is over,
// or the store holds a refresh token other than the refused one, it lets
// the caller try again with the store re-read. It must be called with sem
// held.
func (ts *TokenSource) heldBack(ctx context.Context) error {
	ts.mu.Lock()
	r := ts.refusal
	ts.mu.Unlock()
	if r == nil {
		return nil
	}
	now := ts.cfg.Now()
	retry := !now.Before(r.retryAt)
	if !retry && now.Sub(r.checked) >= ts.cfg.RefusedBackoff {
		st, err := ts.cfg.Store.Load(ctx, ts.cfg.CompanyID)
		retry = err == nil && st != nil && st.RefreshToken != "" && st.RefreshToken != r.token
		ts.mu.Lock()
		r.checked = now
		ts.mu.Unlock()
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if retry {
		ts.loaded = false // load reads the store again
		return nil
	}
	return ts.refusedLocked()
}

// settle records the outcome of the grants made with the refresh token
// refresh: a refusal starts or extends the back-off and is returned as a
// *CredentialsRefusedError, a success ends it.
func (ts *TokenSource) settle(err error, refresh string) error {
	var authErr *AuthError
	refused := errors.Is(err, ErrNoCredentials) || (errors.As(err, &authErr) && authErr.Refused())
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if err == nil {
		ts.refusal = nil
		return nil
	}
	if !refused {
		return err
	}
	now := ts.cfg.Now()
	r := ts.refusal
	if r == nil {
		r = &refusal{since: now, backoff: ts.cfg.RefusedBackoff}
		ts.refusal = r
	} else {
		r.backoff = min(2*r.backoff, ts.cfg.RefusedMaxBackoff)
	}
	r.err, r.token, r.checked, r.retryAt = err, refresh, now, now.Add(r.backoff)
	return ts.refusedLocked()
}

// grants gets a token with the refresh token, else (or when it is refused)
// the request token. It must be called with sem held.
func (ts *TokenSource) grants(ctx context.Context) (*oauth2.Token, error) {
	ts.mu.Lock()
	refresh, geo := ts.stored.RefreshToken, ts.stored.Geolocation
	ts.mu.Unlock()

	var err error
	if refresh != "" {
		err = ts.refreshGrant(ctx, refresh, geo)
		if invalidGrant(err) {
			// Another process sharing the store may have refreshed, and
			// the token endpoint may have invalidated the token it
			// replaced (the Authentication page: each refresh returns a
			// new refresh token to store). A different stored token is
			// tried once before the request token.
			if st, lerr := ts.cfg.Store.Load(ctx, ts.cfg.CompanyID); lerr == nil && st != nil && st.RefreshToken != "" && st.RefreshToken != refresh {
				ts.mu.Lock()
				ts.stored = *st
				ts.mu.Unlock()
				err = ts.refreshGrant(ctx, st.RefreshToken, st.Geolocation)
			}
		}
		if err == nil || ts.cfg.RequestToken == "" || !invalidGrant(err) {
			return ts.finish(ctx, err)
		}
		// The refresh token was refused: fall back to the request token.
	}
	if ts.cfg.RequestToken == "" {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("getting token for company %s: %w", ts.cfg.CompanyID, ErrNoCredentials)
	}
	return ts.finish(ctx, ts.grant(ctx, ts.cfg.AuthURL, url.Values{
		"grant_type": {GrantPassword},
		"username":   {ts.cfg.CompanyID},
		"password":   {ts.cfg.RequestToken},
		"credtype":   {"authtoken"},
	}))
}

// refreshGrant calls the token endpoint with a refresh token, at the
// token's geolocation when known.
func (ts *TokenSource) refreshGrant(ctx context.Context, refresh, geo string) error {
	authURL := ts.cfg.AuthURL
	if geo != "" {
		authURL = geo
	}
	return ts.grant(ctx, authURL, url.Values{
		"grant_type":    {GrantRefreshToken},
		"refresh_token": {refresh},
	})
}

// invalidGrant reports whether err is the token endpoint refusing the
// credentials themselves (invalid_grant).
func invalidGrant(err error) bool {
	var authErr *AuthError
	return errors.As(err, &authErr) && authErr.InvalidGrant()
}

// finish saves the refresh token of a successful grant and returns the
// access token.
func (ts *TokenSource) finish(ctx context.Context, err error) (*oauth2.Token, error) {
	if err != nil {
		return nil, err
	}
	if err := ts.saveIfNeeded(ctx); err != nil {
		return nil, err
	}
	// The token just issued is handed out even if its lifetime is shorter
	// than the skew; current decides about reusing it.
	ts.mu.Lock()
	defer ts.mu.Unlock()
	tok := *ts.access
	return &tok, nil
}

// load consults the store once, then bootstraps from the configured refresh
// token if the store has none.
func (ts *TokenSource) load(ctx context.Context) error {
	ts.mu.Lock()
	loaded := ts.loaded
	ts.mu.Unlock()
	if loaded {
		return nil
	}
	st, err := ts.cfg.Store.Load(ctx, ts.cfg.CompanyID)
	if err != nil && !errors.Is(err, ErrTokenNotFound) {
		return fmt.Errorf("getting token for company %s: %w", ts.cfg.CompanyID, err)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.loaded = true
	if st != nil && st.RefreshToken != "" {
		ts.stored = *st
	} else if ts.stored.RefreshToken == "" {
		ts.stored = StoredToken{CompanyID: ts.cfg.CompanyID, RefreshToken: ts.cfg.RefreshToken}
	}
	return nil
}

// saveIfNeeded saves a refresh token that is not in the store yet.
func (ts *TokenSource) saveIfNeeded(ctx context.Context) error {
	ts.mu.Lock()
	pending, st := ts.unsaved, ts.stored
	ts.mu.Unlock()
	if !pending {
		return nil
	}
	if err := ts.cfg.Store.Save(ctx, st); err != nil {
		return fmt.Errorf("saving new refresh token for company %s: %w", ts.cfg.CompanyID, err)
	}
	ts.mu.Lock()
	if ts.stored.RefreshToken == st.RefreshToken {
		ts.unsaved = false
	}
	ts.mu.Unlock()
	return nil
}

// tokenAnswer is the success body of the token endpoint (see Access Tokens
// on the Authentication page). expires_in is documented as a string;
// numbers are accepted too.
type tokenAnswer struct {
	AccessToken      string  `json:"access_token"`
	TokenType        string  `json:"token_type"`
	ExpiresIn        flexInt `json:"expires_in"`
	RefreshToken     string  `json:"refresh_token"`
	RefreshExpiresIn flexInt `json:"refresh_expires_in"`
	Scope            string  `json:"scope"`
	Geolocation      string  `json:"geolocation"`
	IDToken          string  `json:"id_token"`
}

// authErrorAnswer is the error body of the token endpoint; code is
// documented both as a number and as a string.
type authErrorAnswer struct {
	Code        flexInt `json:"code"`
	Error       string  `json:"error"`
	Description string  `json:"error_description"`
}

// flexInt is an integer that may be written as a JSON number or string.
type flexInt struct {
	Value int64
	Set   bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if s == "" || s == "null" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return errors.New("not a number")
	}
	f.Value, f.Set = int64(v), true
	return nil
}

// maxTokenAnswer bounds the token endpoint's answer (the documented ones
// are a few KB).
const maxTokenAnswer = 1 << 20

// grant calls the token endpoint with form (plus client credentials) and
// installs the answer. Errors never carry form values.
func (ts *TokenSource) grant(ctx context.Context, authURL string, form url.Values) (err error) {
	grantType := form.Get("grant_type")
	info := RefreshInfo{CompanyID: ts.cfg.CompanyID, Grant: grantType}
	defer func() {
		if err != nil {
			err = fmt.Errorf("getting token for company %s: %w", ts.cfg.CompanyID, err)
		}
		info.Err = err
		if ts.cfg.OnRefresh != nil {
			ts.cfg.OnRefresh(info)
		}
	}()
	base, err := parseBaseURL(authURL)
	if err != nil {
		return err
	}
	form.Set("client_id", ts.cfg.ClientID)
	form.Set("client_secret", ts.cfg.ClientSecret)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.String()+TokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("building token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := ts.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s grant: %w", grantType, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenAnswer))
	if err != nil {
		return fmt.Errorf("%s grant: reading answer: %w", grantType, err)
	}
	if resp.StatusCode != http.StatusOK {
		authErr := &AuthError{StatusCode: resp.StatusCode, Grant: grantType, CorrelationID: resp.Header.Get("Concur-Correlationid")}
		var ans authErrorAnswer
		if json.Unmarshal(body, &ans) == nil {
			authErr.Code, authErr.ErrorCode, authErr.Description = int(ans.Code.Value), ans.Error, ans.Description
		}
		return authErr
	}
	var ans tokenAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		// The decoder's message may quote the body, which holds tokens.
		return fmt.Errorf("%s grant: the answer is not a token (status %d)", grantType, resp.StatusCode)
	}
	if ans.AccessToken == "" {
		return fmt.Errorf("%s grant: the answer carries no access_token", grantType)
	}
	now := ts.cfg.Now()
	ts.refreshes.Add(1)
	info.Rotated, info.AccessExpiry, info.RefreshExpiry = ts.install(ans, now)
	return nil
}

// install records a token answer: the access token in memory, a new
// refresh token as unsaved.
func (ts *TokenSource) install(ans tokenAnswer, now time.Time) (rotated bool, accessExpiry, refreshExpiry time.Time) {
	expiresIn := time.Hour // the documented lifetime, when the answer omits it
	if ans.ExpiresIn.Set {
		expiresIn = time.Duration(ans.ExpiresIn.Value) * time.Second
	}
	tokenType := ans.TokenType
	if tokenType == "" {
		tokenType = "Bearer"
	}
	access := (&oauth2.Token{
		AccessToken: ans.AccessToken,
		TokenType:   tokenType,
		Expiry:      now.Add(expiresIn),
		ExpiresIn:   int64(expiresIn / time.Second),
	}).WithExtra(map[string]any{"geolocation": ans.Geolocation, "scope": ans.Scope})

	// Short-lived tokens (as a test server may issue) are replaced after
	// three quarters of their life rather than never being reused.
	skew := min(ts.cfg.RefreshSkew, expiresIn/4)

	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.access = access
	ts.refreshAt = access.Expiry.Add(-skew)
	st := ts.stored
	st.CompanyID = ts.cfg.CompanyID
	if ans.Geolocation != "" {
		st.Geolocation = strings.TrimRight(ans.Geolocation, "/")
	}
	if ans.RefreshToken != "" && ans.RefreshToken != st.RefreshToken {
		rotated = true
		st.RefreshToken = ans.RefreshToken
		st.RefreshExpiry = now.Add(defaultRefreshLifetime)
	}
	if ans.RefreshExpiresIn.Set {
		st.RefreshExpiry = refreshExpiryFrom(ans.RefreshExpiresIn.Value, now)
	}
	st.UpdatedAt = now
	if rotated || st.Geolocation != ts.stored.Geolocation || !st.RefreshExpiry.Equal(ts.stored.RefreshExpiry) {
		ts.unsaved = true
	}
	ts.stored = st
	return rotated, access.Expiry, st.RefreshExpiry
}

// refreshExpiryFrom reads refresh_expires_in, documented as epoch seconds
// ("This is Epoch time format, convert to UTC"). Values too small to be a
// date after 2001 are taken as seconds from now, as expires_in is.
func refreshExpiryFrom(v int64, now time.Time) time.Time {
	if v >= 1_000_000_000 {
		return time.Unix(v, 0).UTC()
	}
	return now.Add(time.Duration(v) * time.Second).UTC()
}
