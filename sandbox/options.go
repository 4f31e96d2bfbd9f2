package sandbox

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/concurflow/concurflow/concur/ess"
)

// RefreshRotation says what the token endpoint does with refresh tokens on a
// refresh_token grant.
type RefreshRotation int

const (
	// RefreshKeep returns the same refresh token.
	RefreshKeep RefreshRotation = iota
	// RefreshRotate issues a new refresh token; the old one stays valid.
	RefreshRotate
	// RefreshRotateInvalidate issues a new refresh token and invalidates the
	// one that was presented (the default): the Authentication page says a
	// refresh returns a new refresh token that clients must store, and this
	// is the reading under which a client that does not is caught.
	RefreshRotateInvalidate
)

// RateLimitForm says how a call over a documented rate limit is answered.
// Every form carries Retry-After.
type RateLimitForm int

const (
	// RateLimit429 answers 429 Too Many Requests with the gateway's body
	// {"timestamp","httpStatus":"429 - Too Many Requests","error":{"id":
	// "security.rate.limit.reached","message":"Too many requests"},"path"},
	// the "Rate Limit Error" the List Item Bulk page shows (the default).
	RateLimit429 RateLimitForm = iota
	// RateLimit400 answers 400 Bad Request with the same gateway body
	// ("httpStatus":"400 - Bad Request"), for clients that must also
	// recognise a rate limit answered as 400; not documented for this API.
	RateLimit400
	// RateLimit429ErrorMessage answers 429 with an ErrorMessage body
	// (errorCode "security.rate.limit.reached"), the schema the swagger
	// lists for the 429 of the write endpoints.
	RateLimit429ErrorMessage
)

// Option configures a sandbox.
type Option func(*config)

type config struct {
	addr                string
	processingDelay     time.Duration
	processingPerRecord time.Duration
	tokenLifetime       time.Duration
	refreshLifetime     time.Duration
	requestTokenTTL     time.Duration
	rotation            RefreshRotation
	rateLimit           bool
	rateLimitForm       RateLimitForm
	pageSize            int
	maxBody             int64
	maxRecord           int
	now                 func() time.Time
	signingKey          *rsa.PrivateKey
	signingScheme       ess.Scheme
	retention           time.Duration
	deliveryClient      *http.Client
	backoff             func(attempt int) time.Duration
	logLimit            int
	registerEvery       time.Duration
	patchEvery          time.Duration
	vendorTTL           time.Duration
	partnerApp          App
}

func defaultConfig() config {
	return config{
		addr:                "127.0.0.1:0",
		processingDelay:     DefaultProcessingDelay,
		processingPerRecord: DefaultProcessingPerRecord,
		tokenLifetime:       time.Hour,
		refreshLifetime:     180 * 24 * time.Hour,
		requestTokenTTL:     24 * time.Hour,
		rotation:            RefreshRotateInvalidate,
		rateLimit:           true,
		pageSize:            1 << 20,
		// The pages say "4 MB" and "200 KB" without a unit base; the
		// stricter decimal reading catches more client mistakes.
		maxBody:       4_000_000,
		maxRecord:     200_000,
		now:           time.Now,
		retention:     72 * time.Hour,
		logLimit:      10000,
		registerEvery: time.Minute,
		patchEvery:    time.Second,
		vendorTTL:     150 * 24 * time.Hour,
	}
}

func (c config) validate() error {
	switch {
	case c.tokenLifetime <= 0:
		return errors.New("access-token lifetime must be positive")
	case c.pageSize < 1024:
		return errors.New("page size must be at least 1024 bytes")
	case c.processingDelay < 0 || c.processingPerRecord < 0:
		return errors.New("processing time must not be negative")
	case c.patchEvery <= 0:
		return errors.New("write interval must be positive")
	case c.now == nil:
		return errors.New("clock must not be nil")
	case (c.partnerApp.ClientID == "") != (c.partnerApp.ClientSecret == ""):
		return errors.New("partner app needs both a client id and a client secret")
	}
	host, _, err := net.SplitHostPort(c.addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", c.addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("listen address %q is not loopback: the sandbox serves its admin API without authentication", c.addr)
	}
	return nil
}

// WithAddr sets the listen address of Start (default 127.0.0.1:0). It must
// be a loopback address.
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// WithPartnerApp sets the client id and secret of the default partner app,
// the one SeedCompany connects companies to (default: generated per
// server).
func WithPartnerApp(clientID, clientSecret string) Option {
	return func(c *config) { c.partnerApp = App{ClientID: clientID, ClientSecret: clientSecret} }
}

// Defaults of the processing time of an accepted write request: a fixed
// part plus a part per record (WithProcessingTime). The reference pages
// give no figures; these are assumptions, chosen so that a status read
// right after the 202 sees PROCESSING, as it does against Concur, and a
// full 4 MB request (some 20,000 accounts) takes about 1.5 s.
const (
	DefaultProcessingDelay     = 500 * time.Millisecond
	DefaultProcessingPerRecord = 50 * time.Microsecond
)

// WithProcessingTime sets how long after its acceptance a write request is
// processed: fixed plus perRecord for each record of its data (default
// DefaultProcessingDelay plus DefaultProcessingPerRecord per record). The
// time is wall-clock time, not WithClock's. Requests of one company+ERP
// are still processed in arrival order, so one is never finished before an
// earlier one; their waits overlap.
func WithProcessingTime(fixed, perRecord time.Duration) Option {
	return func(c *config) { c.processingDelay, c.processingPerRecord = fixed, perRecord }
}

// WithProcessingDelay processes every accepted write request d after its
// acceptance, whatever its size: WithProcessingTime(d, 0). Tests that do
// not look at PROCESSING use WithProcessingDelay(0) to have requests
// processed at once.
func WithProcessingDelay(d time.Duration) Option {
	return WithProcessingTime(d, 0)
}

// WithTokenLifetime sets the access-token lifetime (default 3600 s).
func WithTokenLifetime(d time.Duration) Option {
	return func(c *config) { c.tokenLifetime = d }
}

// WithRefreshRotation sets what a refresh_token grant does with the refresh
// token (default RefreshRotateInvalidate).
func WithRefreshRotation(r RefreshRotation) Option {
	return func(c *config) { c.rotation = r }
}

// WithRateLimit switches the documented per-endpoint limits (one PATCH per
// second per endpoint per company and ERP, one registration per minute per
// company) on or off (default on).
func WithRateLimit(on bool) Option { return func(c *config) { c.rateLimit = on } }

// WithWriteInterval sets how often each write endpoint may be called per
// company and ERP when the rate limit is on (default one second, as the
// docs say). A longer interval is Concur at a slower pace: a benchmark on a
// machine too small to feed the real quota can scale the API's capacity
// down (and the client's rate_limit with it) to see whether a client uses
// the quota it is given.
func WithWriteInterval(d time.Duration) Option { return func(c *config) { c.patchEvery = d } }

// WithRateLimitForm selects how rate-limited requests are answered (default
// RateLimit429).
func WithRateLimitForm(f RateLimitForm) Option {
	return func(c *config) { c.rateLimitForm = f }
}

// WithPageSize sets the maximum size in bytes of the data of one GET page
// (default 1 MB, as the docs state).
func WithPageSize(n int) Option { return func(c *config) { c.pageSize = n } }

// WithClock injects the clock used for token expiry, rate limits, request
// timestamps, event timestamps and employee-vendor expiry (default
// time.Now). It must be safe for concurrent use.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithSigningKey sets the RSA key ESS deliveries are signed with (default: a
// fresh 2048-bit key per server).
func WithSigningKey(k *rsa.PrivateKey) Option { return func(c *config) { c.signingKey = k } }

// WithSigningScheme selects the ESS signature scheme (default
// ess.PKCS1v15).
func WithSigningScheme(sch ess.Scheme) Option {
	return func(c *config) { c.signingScheme = sch }
}

// WithRetention sets how long ESS keeps retrying an undelivered event
// (default 72 h).
func WithRetention(d time.Duration) Option { return func(c *config) { c.retention = d } }

// WithDeliveryClient sets the HTTP client ESS deliveries are made with, e.g.
// one carrying a client certificate for mutual TLS.
func WithDeliveryClient(cl *http.Client) Option {
	return func(c *config) { c.deliveryClient = cl }
}

// WithDeliveryBackoff sets the wait before ESS retries failed delivery
// attempt number attempt (default 1 s doubling up to 10 min).
func WithDeliveryBackoff(backoff func(attempt int) time.Duration) Option {
	return func(c *config) { c.backoff = backoff }
}
