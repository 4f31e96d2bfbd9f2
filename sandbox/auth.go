package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Scopes of the Accounting Integration API (see the Getting Started page).
const (
	ScopeRead  = "spend.accountingintegration.read"
	ScopeWrite = "spend.accountingintegration.write"
)

// Company is a seeded company and the credentials of the partner app it
// was connected to. Other companies connected to the same app share
// ClientID and ClientSecret.
type Company struct {
	ID           string `json:"companyId"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	// RequestToken is the App Center auth token: valid 24 h, reusable within
	// them, and only for this company and app.
	RequestToken string    `json:"requestToken"`
	RequestUntil time.Time `json:"requestTokenExpires"`
	Scopes       []string  `json:"scopes"`
	Edition      string    `json:"companyEdition"`
}

// CompanyOption configures a seeded company.
type CompanyOption func(*companySeed)

type companySeed struct {
	scopes   []string
	edition  string
	clientID string
}

// WithScopes sets the scopes the company's tokens carry (default: the
// Accounting Integration read and write scopes and the three List Item
// scopes).
func WithScopes(scopes ...string) CompanyOption {
	return func(c *companySeed) { c.scopes = scopes }
}

// WithEdition sets the company edition reported by the Mappings API:
// "STANDARD" or "PROFESSIONAL" (default).
func WithEdition(edition string) CompanyOption {
	return func(c *companySeed) { c.edition = edition }
}

// WithApp connects the company to the registered partner app with this
// client id instead of the default app (see RegisterApp).
func WithApp(clientID string) CompanyOption {
	return func(c *companySeed) { c.clientID = clientID }
}

// SeedCompany creates a company connected to a partner app (DefaultApp
// unless WithApp) with a fresh request token for that app.
func (s *Server) SeedCompany(opts ...CompanyOption) (Company, error) {
	seed := companySeed{scopes: defaultScopes(), edition: "PROFESSIONAL"}
	for _, o := range opts {
		o(&seed)
	}
	if seed.edition != "STANDARD" && seed.edition != "PROFESSIONAL" {
		return Company{}, fmt.Errorf("seeding company: edition %q is neither STANDARD nor PROFESSIONAL", seed.edition)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if seed.clientID == "" {
		seed.clientID = s.state.defaultApp
	}
	app, ok := s.state.apps[seed.clientID]
	if !ok {
		return Company{}, fmt.Errorf("seeding company: %w", errUnknownApp(seed.clientID))
	}
	c := &company{
		id:            uuid.NewString(),
		clientID:      app.ClientID,
		scopes:        append([]string(nil), seed.scopes...),
		edition:       seed.edition,
		requestTokens: map[string]requestToken{},
		erps:          map[string]*erp{},
	}
	token := s.issueRequestTokenLocked(c, app.ClientID)
	s.state.companies[c.id] = c
	s.state.companyOrder = append(s.state.companyOrder, c.id)
	return Company{
		ID: c.id, ClientID: app.ClientID, ClientSecret: app.ClientSecret,
		RequestToken: token, RequestUntil: c.requestTokens[token].until,
		Scopes: append([]string(nil), c.scopes...), Edition: c.edition,
	}, nil
}

// NewRequestToken issues another 24-hour request token for the company and
// the app it was seeded with, as App Center does when an administrator
// connects the app again. ConnectApp does the same for another app.
func (s *Server) NewRequestToken(companyID string) (string, error) {
	s.mu.Lock()
	c, ok := s.state.companies[companyID]
	s.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("issuing request token: %w", errUnknownCompany(companyID))
	}
	return s.ConnectApp(companyID, c.clientID)
}

// RevokeTokens invalidates every access and refresh token issued for the
// company. Request tokens stay valid until they expire.
func (s *Server) RevokeTokens(companyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.state.access {
		if t.companyID == companyID {
			delete(s.state.access, k)
		}
	}
	for k, t := range s.state.refresh {
		if t.companyID == companyID {
			delete(s.state.refresh, k)
		}
	}
}

// ExpireRequestTokens makes every request token of the company invalid, as
// if 24 hours had passed.
func (s *Server) ExpireRequestTokens(companyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.state.companies[companyID]; ok {
		clear(c.requestTokens)
	}
}

// oauthError is the token endpoint's 4xx body.
type oauthError struct {
	Code        int    `json:"code"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// The documented /token error codes the sandbox uses (see the Authentication
// page's Response Codes).
var (
	errIncorrectCredentials = oauthError{5, "invalid_grant", "Incorrect Credentials. Please Retry"} // as the sample failure body spells it
	errNoUsername           = oauthError{51, "invalid_request", "username was not supplied"}
	errNoPassword           = oauthError{52, "invalid_request", "password was not supplied"}
	errCompanyNotEnabled    = oauthError{53, "invalid_client", "company is not enabled for this client"}
	errScopeExceeded        = oauthError{54, "invalid_scope", "requested scope exceeds granted scope"}
	errBadGrant             = oauthError{60, "invalid_grant", "these are not the grants you are looking for"}
	errClientNotFound       = oauthError{61, "invalid_client", "client not found"}
	errNoClientID           = oauthError{62, "invalid_request", "client_id was not supplied"}
	errNoClientSecret       = oauthError{63, "invalid_request", "client_secret was not supplied"}
	errClientCredentials    = oauthError{64, "invalid_client", "Incorrect credentials. Please Retry"}
	errNoGrantType          = oauthError{65, "invalid_request", "grant_type was not supplied"}
	errNoRefreshToken       = oauthError{106, "invalid_request", "refresh_token was not supplied"}
	errBadRefreshToken      = oauthError{108, "invalid_grant", "bad or expired refresh token"}
	errBadCredtype          = oauthError{120, "invalid_request", "credtype is invalid"}
	errRequestFormat        = oauthError{135, "invalid_request", "unsupported request format"}
)

func writeOAuthError(w http.ResponseWriter, e oauthError) {
	status := http.StatusBadRequest
	if e.Error == "invalid_client" {
		status = http.StatusUnauthorized
	}
	writeJSON(w, status, e)
}

// tokenResponse is the success body of POST /oauth2/v0/token (see the
// Company Level Authentication page).
type tokenResponse struct {
	ExpiresIn        string `json:"expires_in"`
	Scope            string `json:"scope"`
	TokenType        string `json:"token_type"`
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int64  `json:"refresh_expires_in"`
	Geolocation      string `json:"geolocation"`
}

// handleToken serves POST /oauth2/v0/token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		writeOAuthError(w, errRequestFormat)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, errRequestFormat)
		return
	}
	f := r.PostForm
	switch {
	case f.Get("client_id") == "":
		writeOAuthError(w, errNoClientID)
		return
	case f.Get("client_secret") == "":
		writeOAuthError(w, errNoClientSecret)
		return
	case f.Get("grant_type") == "":
		writeOAuthError(w, errNoGrantType)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	app, ok := s.state.apps[f.Get("client_id")]
	if !ok {
		writeOAuthError(w, errClientNotFound)
		return
	}
	if app.ClientSecret != f.Get("client_secret") {
		writeOAuthError(w, errClientCredentials)
		return
	}
	now := s.now()
	var companyID string
	var scopes []string
	var oldRefresh string
	switch f.Get("grant_type") {
	case "password":
		switch {
		case f.Get("username") == "":
			writeOAuthError(w, errNoUsername)
			return
		case f.Get("password") == "":
			writeOAuthError(w, errNoPassword)
			return
		case f.Get("credtype") != "authtoken":
			// Only company (App Center) credentials exist in the sandbox.
			writeOAuthError(w, errBadCredtype)
			return
		}
		c, ok := s.state.companies[strings.ToLower(f.Get("username"))]
		if !ok || !slices.Contains(c.apps, app.ClientID) {
			writeOAuthError(w, errCompanyNotEnabled)
			return
		}
		// A request token is good only for the company and app it was
		// issued to.
		rt, ok := c.requestTokens[f.Get("password")]
		if !ok || rt.clientID != app.ClientID || !now.Before(rt.until) {
			writeOAuthError(w, errIncorrectCredentials)
			return
		}
		companyID, scopes = c.id, c.scopes
	case "refresh_token":
		rt := f.Get("refresh_token")
		if rt == "" {
			writeOAuthError(w, errNoRefreshToken)
			return
		}
		t, ok := s.state.refresh[rt]
		if !ok || !now.Before(t.expires) || t.clientID != app.ClientID {
			writeOAuthError(w, errBadRefreshToken)
			return
		}
		companyID, scopes = t.companyID, t.scopes
		oldRefresh = rt
	default:
		writeOAuthError(w, errBadGrant)
		return
	}
	if req := strings.Fields(f.Get("scope")); len(req) > 0 {
		for _, sc := range req {
			if !slices.Contains(scopes, sc) {
				writeOAuthError(w, errScopeExceeded)
				return
			}
		}
		scopes = req
	}

	access := randomToken()
	s.state.access[access] = &accessToken{companyID: companyID, clientID: app.ClientID, scopes: scopes, expires: now.Add(s.cfg.tokenLifetime)}
	refresh := oldRefresh
	if refresh == "" || s.cfg.rotation != RefreshKeep {
		refresh = randomToken()
		s.state.refresh[refresh] = &refreshToken{companyID: companyID, clientID: app.ClientID, scopes: scopes, expires: now.Add(s.cfg.refreshLifetime)}
		if oldRefresh != "" && s.cfg.rotation == RefreshRotateInvalidate {
			delete(s.state.refresh, oldRefresh)
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenResponse{
		ExpiresIn:        strconv.Itoa(int(s.cfg.tokenLifetime / time.Second)),
		Scope:            strings.Join(scopes, " "),
		TokenType:        "Bearer",
		AccessToken:      access,
		RefreshToken:     refresh,
		RefreshExpiresIn: s.state.refresh[refresh].expires.Unix(),
		Geolocation:      s.base(r),
	})
}

// authorize checks the bearer token of an API request against the company
// in the path and the scope the method needs. It answers the request and
// returns false when the check fails; otherwise it returns the client id of
// the app the token was issued to.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, companyID string) (string, bool) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		token, ok = strings.CutPrefix(h, "bearer ")
	}
	if !ok || token == "" {
		s.writeError(w, r, http.StatusUnauthorized, codeUnauthorized, "Missing bearer token in the Authorization header")
		return "", false
	}
	s.mu.Lock()
	t, found := s.state.access[token]
	var tok accessToken
	if found {
		tok = *t
	}
	s.mu.Unlock()
	if !found {
		s.writeError(w, r, http.StatusUnauthorized, codeUnauthorized, "Invalid or revoked access token")
		return "", false
	}
	if !s.now().Before(tok.expires) {
		s.writeError(w, r, http.StatusUnauthorized, codeUnauthorized, "Access token expired")
		return "", false
	}
	if _, err := uuid.Parse(companyID); err != nil {
		s.writeError(w, r, http.StatusBadRequest, codeInvalidUUID, fmt.Sprintf("companyId %q is not a UUID", companyID))
		return "", false
	}
	if !strings.EqualFold(tok.companyID, companyID) {
		s.writeError(w, r, http.StatusForbidden, codeForbidden, "The access token was not issued for company "+companyID)
		return "", false
	}
	need := ScopeRead
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		need = ScopeWrite
	}
	if !slices.Contains(tok.scopes, need) {
		s.writeError(w, r, http.StatusForbidden, codeForbidden, "The access token lacks the scope "+need)
		return "", false
	}
	return tok.clientID, true
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
