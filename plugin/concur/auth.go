// Package concur holds the Benthos components for SAP Concur: the
// concur_accounting output (ERP master data into the Accounting Integration
// v4 API), the concur_events input (ESS webhooks) and the processors built on
// the concur client package. Importing it registers them all.
//
// Every component authenticates with the same auth field group (this file):
// company-level OAuth2 as the Company Level Authentication page describes it.
// Clients are created per company on first use, since company ids are
// interpolated per message, and shared by every component of the process
// (shared.go), so one token source per company refreshes its tokens; refresh tokens are kept in a directory store and
// every rotated one is saved before it is used, access tokens only in
// memory. Where the docs are silent: one application normally serves every
// company, but credentials can be set per company (auth.companies) for
// setups with one application per company or region.
//
// Refused credentials (a revoked or expired refresh token with no usable
// request token, or a wrong client secret) are not the records' fault:
// writers wait for new credentials (see authClients.waitForCredentials)
// instead of failing messages, log one ERROR per company naming the fix
// and a reminder every authReminder, and set the gauge concur_auth_failed.
// The token source re-reads the token store meanwhile, so `concurflow auth
// exchange` heals a running stream.
package concur

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	concurapi "github.com/concurflow/concurflow/concur"
)

// Field names of the auth group shared by every Concur component.
const (
	authField             = "auth"
	authFieldClientID     = "client_id"
	authFieldClientSecret = "client_secret"
	authFieldRequestToken = "request_token"
	authFieldCompanies    = "companies"
	authFieldRefreshToken = "refresh_token"
	authFieldTokenStore   = "token_store"
	authFieldURL          = "url"
	authFieldTimeout      = "timeout"
)

// authReminder is how often the ERROR about a company's refused credentials
// is repeated while writes wait.
const authReminder = 5 * time.Minute

// authMinWait bounds how often a waiting writer asks the token source again.
const authMinWait = 100 * time.Millisecond

// authDefaultURL is the North America data centre, where the Accounting
// Integration API is available (see its Getting Started page).
const authDefaultURL = "https://us.api.concursolutions.com"

// authFieldSpec is the auth field group: company-level OAuth2 credentials
// (see the Company Level Authentication page) and where refresh tokens are
// kept.
func authFieldSpec() *service.ConfigField {
	return service.NewObjectField(authField,
		service.NewStringField(authFieldClientID).
			Description("The application's OAuth2 client id.").
			Default("").
			Example("${CONCUR_CLIENT_ID}"),
		service.NewStringField(authFieldClientSecret).
			Description("The application's OAuth2 client secret.").
			Default("").
			Example("${CONCUR_CLIENT_SECRET}").
			Secret(),
		service.NewStringField(authFieldRequestToken).
			Description("A company request token from App Center (valid 24 hours), exchanged for a refresh token when the token store holds none for the company. A request token belongs to one company: with several companies use `"+authFieldCompanies+"` or bootstrap the token store beforehand.").
			Default("").
			Example("${CONCUR_REQUEST_TOKEN}").
			Secret(),
		service.NewStringField(authFieldRefreshToken).
			Description("A refresh token used when the token store holds none for the company.").
			Default("").
			Example("${CONCUR_REFRESH_TOKEN}").
			Secret().
			Advanced(),
		service.NewObjectMapField(authFieldCompanies,
			service.NewStringField(authFieldClientID).Description("Client id for this company.").Default(""),
			service.NewStringField(authFieldClientSecret).Description("Client secret for this company.").Default("").Secret(),
			service.NewStringField(authFieldRequestToken).Description("Request token of this company.").Default("").Secret(),
			service.NewStringField(authFieldRefreshToken).Description("Refresh token of this company.").Default("").Secret(),
		).
			Description("Credentials by company id, for streams writing to several companies. Each value set here overrides the one above for that company; values left empty fall back to them.").
			Default(map[string]any{}).
			Example(map[string]any{"09ac834c-46d6-49ff-9653-551d69072d56": map[string]any{"request_token": "${CONCUR_REQUEST_TOKEN_ACME}"}}).
			Advanced(),
		service.NewStringField(authFieldTokenStore).
			Description("Directory of per-company refresh token files (mode 0600, replaced atomically). Every rotated refresh token is saved here before it is used, so keep the directory across restarts.").
			Default("./.concurflow/tokens").
			Example("/var/lib/concurflow/tokens"),
		service.NewURLField(authFieldURL).
			Description("Base URL of the token endpoint, and of the API until the token's geolocation is known. Set it to the sandbox's URL in tests.").
			Default(authDefaultURL).
			Example("http://127.0.0.1:8089"),
		service.NewDurationField(authFieldTimeout).
			Description("Time limit of one HTTP request to Concur.").
			Default("2m").
			Example("30s").
			Advanced(),
	).Description("Company-level OAuth2 credentials. Access tokens live in memory only; refresh tokens in the token store.")
}

// authClients hands out one *concurapi.Client per company, created on first
// use (company ids are interpolated per message) and shared afterwards.
type authClients struct {
	defaults  authCreds
	companies map[string]authCreds
	url       string
	http      *http.Client
	store     concurapi.TokenStore
	storeDir  string
	log       *service.Logger

	refreshes *service.MetricCounter // company, result
	expiry    *service.MetricGauge   // company
	failed    *service.MetricGauge   // company: 1 while credentials are refused

	// shared holds the clients, one per company for the whole process
	// (see procShared), and the companies whose credentials are refused.
	shared *procShared
}

// authFailure is a company whose writers wait for new credentials.
type authFailure struct {
	since   time.Time
	lastLog time.Time
}

// authCreds are the credentials of one company; empty values fall back to
// the group's.
type authCreds struct {
	clientID, clientSecret, requestToken, refreshToken string
}

func authCredsFromParsed(conf *service.ParsedConfig) (c authCreds, err error) {
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{authFieldClientID, &c.clientID},
		{authFieldClientSecret, &c.clientSecret},
		{authFieldRequestToken, &c.requestToken},
		{authFieldRefreshToken, &c.refreshToken},
	} {
		if *f.dst, err = conf.FieldString(f.name); err != nil {
			return c, err
		}
	}
	return c, nil
}

// or returns c with empty values taken from d.
func (c authCreds) or(d authCreds) authCreds {
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	return authCreds{
		clientID:     pick(c.clientID, d.clientID),
		clientSecret: pick(c.clientSecret, d.clientSecret),
		requestToken: pick(c.requestToken, d.requestToken),
		refreshToken: pick(c.refreshToken, d.refreshToken),
	}
}

type authClient struct {
	client *concurapi.Client
	tokens *concurapi.TokenSource
}

// authFromParsed builds the client factory from the auth field group
// (conf must be the group's namespace).
func authFromParsed(conf *service.ParsedConfig, mgr *service.Resources) (*authClients, error) {
	a := &authClients{
		log:       mgr.Logger(),
		refreshes: mgr.Metrics().NewCounter("concur_token_refreshes", "company", "result"),
		expiry:    mgr.Metrics().NewGauge("concur_refresh_token_expiry_seconds", "company"),
		failed:    mgr.Metrics().NewGauge("concur_auth_failed", "company"),
		shared:    sharedState(mgr),
	}
	var err error
	if a.defaults, err = authCredsFromParsed(conf); err != nil {
		return nil, err
	}
	companies, err := conf.FieldObjectMap(authFieldCompanies)
	if err != nil {
		return nil, err
	}
	a.companies = make(map[string]authCreds, len(companies))
	for id, c := range companies {
		if a.companies[id], err = authCredsFromParsed(c); err != nil {
			return nil, fmt.Errorf("field %s.%s.%s: %w", authField, authFieldCompanies, id, err)
		}
	}
	u, err := conf.FieldURL(authFieldURL)
	if err != nil {
		return nil, err
	}
	a.url = u.String()
	timeout, err := conf.FieldDuration(authFieldTimeout)
	if err != nil {
		return nil, err
	}
	a.http = &http.Client{Timeout: timeout, Transport: a.shared.transport}
	dir, err := conf.FieldString(authFieldTokenStore)
	if err != nil {
		return nil, err
	}
	if a.store, err = concurapi.NewDirStore(dir); err != nil {
		return nil, fmt.Errorf("field %s.%s: %w", authField, authFieldTokenStore, err)
	}
	a.storeDir = dir
	return a, nil
}

// Client returns the API client of a company: the one every component of
// the process shares for this company, token store and URL.
func (a *authClients) Client(ctx context.Context, companyID string) (*concurapi.Client, error) {
	c, err := a.sharedClient(companyID)
	if err != nil {
		return nil, err
	}
	a.reportExpiry(companyID, c.tokens)
	return c.client, nil
}

func (a *authClients) sharedClient(companyID string) (*sharedClient, error) {
	return a.shared.client(sharedClientKey{url: a.url, storeDir: a.storeDir, companyID: companyID}, func() (authClient, error) {
		return a.newClient(companyID)
	})
}

// neverHadCredentials reports whether companyID, whose credentials were
// just refused, never had working ones: no token was ever obtained for it
// and the token store holds no refresh token. Its records then fail (no
// wait can heal a company nobody set up), whereas a company whose
// credentials worked before waits for new ones.
func (a *authClients) neverHadCredentials(ctx context.Context, companyID string) bool {
	c, err := a.sharedClient(companyID)
	if err != nil {
		return true
	}
	a.shared.mu.Lock()
	had := c.hadCredentials
	a.shared.mu.Unlock()
	if had {
		return false
	}
	if c.tokens.Refreshes() > 0 {
		had = true
	} else if st, err := a.store.Load(ctx, companyID); err == nil && st != nil && st.RefreshToken != "" {
		had = true
	} else if err != nil && !errors.Is(err, concurapi.ErrTokenNotFound) {
		had = true // the store could not be read: assume the usual wait
	}
	if had {
		a.shared.mu.Lock()
		c.hadCredentials = true
		a.shared.mu.Unlock()
	}
	return !had
}

// newClient creates the API client of a company.
func (a *authClients) newClient(companyID string) (authClient, error) {
	creds := a.companies[companyID].or(a.defaults)
	ts, err := concurapi.NewTokenSource(concurapi.TokenSourceConfig{
		CompanyID:    companyID,
		ClientID:     creds.clientID,
		ClientSecret: creds.clientSecret,
		RequestToken: creds.requestToken,
		RefreshToken: creds.refreshToken,
		AuthURL:      a.url,
		Store:        a.store,
		HTTPClient:   a.http,
		OnRefresh:    a.onRefresh,
	})
	if err != nil {
		return authClient{}, fmt.Errorf("setting up OAuth2 for company %s: %w", companyID, err)
	}
	client, err := concurapi.NewClient(concurapi.ClientConfig{
		CompanyID:   companyID,
		TokenSource: ts,
		HTTPClient:  a.http,
		BaseURL:     a.url,
	})
	if err != nil {
		return authClient{}, fmt.Errorf("setting up the API client for company %s: %w", companyID, err)
	}
	return authClient{client: client, tokens: ts}, nil
}

func (a *authClients) onRefresh(info concurapi.RefreshInfo) {
	log := a.log.With("companyId", info.CompanyID, "grant", info.Grant)
	if info.Err != nil {
		a.refreshes.Incr(1, info.CompanyID, "failed")
		var authErr *concurapi.AuthError
		if errors.As(info.Err, &authErr) && authErr.Refused() {
			// A refused refresh token falls back to the request token; if
			// both are refused, waitForCredentials reports it once.
			log.Warnf("Concur token request refused: %v", info.Err)
			return
		}
		log.Errorf("Concur token request failed: %v", info.Err)
		return
	}
	a.refreshes.Incr(1, info.CompanyID, "ok")
	if !info.RefreshExpiry.IsZero() {
		a.expiry.Set(int64(time.Until(info.RefreshExpiry).Seconds()), info.CompanyID)
	}
	a.shared.failMu.Lock()
	f := a.shared.failing[info.CompanyID]
	delete(a.shared.failing, info.CompanyID)
	a.shared.failMu.Unlock()
	a.failed.Set(0, info.CompanyID)
	if f != nil {
		log.Infof("Concur accepted the credentials of company %s again after %v refused; writes resume", info.CompanyID, time.Since(f.since).Round(time.Second))
	}
}

// waitForCredentials is what a writer does with an error that refuses a
// company's credentials (concurapi.IsCredentialsRefused): no record is at
// fault, so instead of failing messages it waits until the token source
// will try again (the next token store check or token request), reporting
// the failure, and returns nil for the caller to retry. It returns err
// unchanged when err is no refusal, and a wrapped ctx error when ctx ends
// first.
func (a *authClients) waitForCredentials(ctx context.Context, err error) error {
	var refused *concurapi.CredentialsRefusedError
	if !errors.As(err, &refused) {
		return err
	}
	a.reportRefused(refused, "Its messages wait (they are neither failed nor dead-lettered) and are written once a token request succeeds")
	wait := max(time.Until(refused.NextCheck), authMinWait)
	if err := concurapi.SleepContext(ctx, wait); err != nil {
		return fmt.Errorf("waiting for new credentials of company %s: %w", refused.CompanyID, err)
	}
	return nil
}

// reportRefused logs a company's refused credentials once, then at most
// every authReminder, and sets its concur_auth_failed gauge; consequence
// says what happens to the messages meanwhile.
func (a *authClients) reportRefused(refused *concurapi.CredentialsRefusedError, consequence string) {
	now := time.Now()
	a.shared.failMu.Lock()
	f, known := a.shared.failing[refused.CompanyID]
	if !known {
		f = &authFailure{since: refused.Since}
		a.shared.failing[refused.CompanyID] = f
	}
	remind := !known || now.Sub(f.lastLog) >= authReminder
	if remind {
		f.lastLog = now
	}
	a.shared.failMu.Unlock()
	a.failed.Set(1, refused.CompanyID)
	if !remind {
		return
	}
	state := "refused"
	if known {
		state = "still refused"
	}
	a.log.With("companyId", refused.CompanyID).Errorf("Concur %s the credentials of company %s: %v. %s; to fix: %s",
		state, refused.CompanyID, refused.Err, consequence, a.fix(refused))
}

// fix is the advice for refused credentials. It follows the token
// endpoint's answer: a wrong client id or secret is not mended by a new
// request token, so only the other answers name this pipeline's exchange.
func (a *authClients) fix(refused *concurapi.CredentialsRefusedError) string {
	fix := refused.Advice()
	var authErr *concurapi.AuthError
	if !errors.As(refused.Err, &authErr) || authErr.Remedy() == concurapi.RemedyRequestToken || authErr.Remedy() == concurapi.RemedyRefreshToken {
		fix = fmt.Sprintf("%s; the exchange for this pipeline: `concurflow auth exchange --company-id %s --token-store %s`", fix, refused.CompanyID, a.storeDir)
	}
	return fix
}

// neverWorkedError is the error that fails the records of companyID, whose
// credentials were refused (err) and never worked: it says whether the
// company has credentials in the configuration at all, and what to do.
func (a *authClients) neverWorkedError(companyID string, err error) error {
	creds := a.companies[companyID].or(a.defaults)
	var refused *concurapi.CredentialsRefusedError
	if (creds.requestToken != "" || creds.refreshToken != "") && errors.As(err, &refused) {
		return fmt.Errorf("Concur refused the credentials of company %s, which never worked (no token was obtained and the token store %s holds no refresh token), so its records fail instead of waiting; to fix: %s: %w",
			companyID, a.storeDir, a.fix(refused), err)
	}
	return fmt.Errorf("company %s has no credentials (none configured in %s.%s or for all companies that Concur accepted, and no refresh token in the token store %s); "+
		"add it to %s.%s or store its refresh token with `concurflow auth exchange`: %w",
		companyID, authField, authFieldCompanies, a.storeDir, authField, authFieldCompanies, err)
}

func (a *authClients) reportExpiry(companyID string, ts *concurapi.TokenSource) {
	if exp := ts.RefreshExpiry(); !exp.IsZero() {
		a.expiry.Set(int64(time.Until(exp).Seconds()), companyID)
	}
}

// Close releases idle connections. Clients hold no goroutines.
func (a *authClients) Close() {
	a.http.CloseIdleConnections()
}
