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
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// apiRoot is the path of the Accounting Integration v4 API under the base
// URL. Hrefs in answers may omit its first segment (they start at /v4/).
const (
	apiPrefix = "/accountingintegration"
	apiRoot   = apiPrefix + "/v4"
)

// DefaultMaxResponseBytes bounds how much of a success answer is read. GET
// pages are about 1 MB (see the Accounts page), so 32 MiB leaves room.
const DefaultMaxResponseBytes = 32 << 20

// ClientConfig configures a Client bound to one company.
type ClientConfig struct {
	// CompanyID is the company UUID, required.
	CompanyID string
	// TokenSource gives the company's access tokens, required. A
	// *TokenSource also provides the base URL (its geolocation) and one
	// forced refresh and retry after a 401; any oauth2.TokenSource works,
	// with a Context-aware TokenContext method used when present.
	TokenSource oauth2.TokenSource
	// HTTPClient carries the requests; nil means a client with no timeout
	// of its own (requests are bounded by their context). It is not
	// modified: the Client copies it and wraps its Transport.
	HTTPClient *http.Client
	// BaseURL is the API base (for example https://us.api.concursolutions.com)
	// used while the token source reports no geolocation. The token's
	// geolocation wins when known, as the OAuth2 Getting Started page asks.
	BaseURL string
	// MaxResponseBytes bounds a success answer; 0 means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// Now is the clock, for Retry-After dates and durations; nil means
	// time.Now.
	Now func() time.Time
	// OnResponse, when set, is called after every API call with what logs
	// and metrics need (request latency, status, correlation id).
	OnResponse func(ResponseInfo)
}

// ResponseInfo describes one API call for logs and metrics.
type ResponseInfo struct {
	Method string
	// Path is the URL path, without host or query.
	Path string
	// StatusCode is 0 when no answer arrived.
	StatusCode int
	Duration   time.Duration
	// CorrelationID is the answer's Concur-Correlationid header.
	CorrelationID string
	// Err is the failure to get an answer (connection, token), nil when
	// an answer arrived, whatever its status.
	Err error
}

// Client calls the Accounting Integration v4 API for one company. It is safe
// for concurrent use.
type Client struct {
	companyID string
	tokens    oauth2.TokenSource
	http      *http.Client
	baseURL   string
	maxBody   int64
	now       func() time.Time
	onResp    func(ResponseInfo)
}

// geolocator is implemented by token sources that know the company's base
// URL from the token answer.
type geolocator interface {
	Geolocation() string
}

// NewClient returns a Client for cfg.CompanyID.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.CompanyID == "" {
		return nil, errors.New("concur: new client: company id is required")
	}
	if cfg.TokenSource == nil {
		return nil, fmt.Errorf("concur: new client for company %s: token source is required", cfg.CompanyID)
	}
	if cfg.BaseURL != "" {
		if _, err := parseBaseURL(cfg.BaseURL); err != nil {
			return nil, fmt.Errorf("concur: new client for company %s: %w", cfg.CompanyID, err)
		}
	}
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		*hc = *cfg.HTTPClient
	}
	hc.Transport = &Transport{Source: cfg.TokenSource, Base: hc.Transport}
	if hc.CheckRedirect == nil {
		// The API does not redirect; never carry the bearer token elsewhere.
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	c := &Client{
		companyID: cfg.CompanyID,
		tokens:    cfg.TokenSource,
		http:      hc,
		baseURL:   cfg.BaseURL,
		maxBody:   cfg.MaxResponseBytes,
		now:       cfg.Now,
		onResp:    cfg.OnResponse,
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxResponseBytes
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// CompanyID returns the company the client is bound to.
func (c *Client) CompanyID() string { return c.companyID }

func parseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("parsing base url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base url %q: want http(s)://host", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// base returns the base URL: the token's geolocation when known (fetching a
// token first if needed: every request needs one anyway), else the
// configured one.
func (c *Client) base(ctx context.Context) (*url.URL, error) {
	g, ok := c.tokens.(geolocator)
	if ok && g.Geolocation() == "" {
		if _, err := tokenContext(ctx, c.tokens); err != nil {
			return nil, fmt.Errorf("getting access token: %w", err)
		}
	}
	if ok {
		if geo := g.Geolocation(); geo != "" {
			return parseBaseURL(geo)
		}
	}
	if c.baseURL == "" {
		return nil, errors.New("no base url: the token has no geolocation and none is configured")
	}
	return parseBaseURL(c.baseURL)
}

// resolve turns an API path or href into an absolute URL. Hrefs starting at
// /v4/ (as the Schema page's examples show them) get the /accountingintegration
// prefix; absolute hrefs must point at the base URL's host.
func (c *Client) resolve(ctx context.Context, href string) (*url.URL, error) {
	base, err := c.base(ctx)
	if err != nil {
		return nil, err
	}
	ref, err := url.Parse(href)
	if err != nil {
		return nil, fmt.Errorf("parsing href %q: %w", href, err)
	}
	if ref.IsAbs() || ref.Host != "" {
		if ref.Host != base.Host {
			return nil, fmt.Errorf("href %q points away from %s", href, base.Host)
		}
		if ref.Scheme == "" {
			ref.Scheme = base.Scheme
		}
		return ref, nil
	}
	p := ref.Path
	if strings.HasPrefix(p, "/v4/") {
		p = apiPrefix + p
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("href %q is not an absolute path", href)
	}
	u := *base
	u.Path = base.Path + p
	u.RawPath = ""
	u.RawQuery = ref.RawQuery
	return &u, nil
}

// companyPath returns the API path of the company's ERPs followed by the
// escaped segments, refusing empty ids (which would address another
// endpoint).
func (c *Client) companyPath(segments ...string) (string, error) {
	var b strings.Builder
	b.WriteString(apiRoot + "/companies/" + url.PathEscape(c.companyID) + "/erps")
	for _, s := range segments {
		if s == "" {
			return "", errors.New("empty erp or request id")
		}
		b.WriteString("/" + url.PathEscape(s))
	}
	return b.String(), nil
}

// call is one API request, to href or, when href is empty, to the
// company path of segments.
type call struct {
	method      string
	href        string
	segments    []string
	body        []byte
	ifNoneMatch string
	out         any // decoded from a 2xx body when non-nil
}

// do sends the call and decodes a 2xx answer into call.out. Any other status
// becomes an *APIError. It returns the Concur-Correlationid header.
func (c *Client) do(ctx context.Context, cl call) (string, error) {
	href := cl.href
	if href == "" {
		p, err := c.companyPath(cl.segments...)
		if err != nil {
			return "", err
		}
		href = p
	}
	u, err := c.resolve(ctx, href)
	if err != nil {
		return "", err
	}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), body)
	if err != nil {
		return "", fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.ifNoneMatch != "" {
		req.Header.Set("If-None-Match", cl.ifNoneMatch)
	}
	start := c.now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.report(ResponseInfo{Method: cl.method, Path: u.Path, Duration: c.now().Sub(start), Err: err})
		return "", err
	}
	defer resp.Body.Close()
	corr := resp.Header.Get("Concur-Correlationid")
	c.report(ResponseInfo{Method: cl.method, Path: u.Path, StatusCode: resp.StatusCode, Duration: c.now().Sub(start), CorrelationID: corr})
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return corr, newAPIError(resp, c.now())
	}
	if cl.out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, c.maxBody))
		return corr, nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return corr, fmt.Errorf("reading answer: %w", err)
	}
	if int64(len(data)) > c.maxBody {
		return corr, fmt.Errorf("answer larger than %d bytes", c.maxBody)
	}
	if err := json.Unmarshal(data, cl.out); err != nil {
		return corr, fmt.Errorf("decoding answer (status %d): %w", resp.StatusCode, err)
	}
	return corr, nil
}

func (c *Client) report(info ResponseInfo) {
	if c.onResp != nil {
		c.onResp(info)
	}
}
