package concur

import (
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	concurapi "github.com/concurflow/concurflow/concur"
)

// sharedIdle is how long a company's shared API client stays unused before
// it is dropped (its refresh token stays in the token store; a later use
// creates a new client that reads it). It is longer than any sensible
// await_timeout, so no request still polling with the old client can race a
// new one's refresh-token rotation.
const sharedIdle = time.Hour

// sharedSweepEvery bounds how often the idle clients are looked for.
const sharedSweepEvery = time.Minute

// procShared is the state every concur_* component of one process (one
// stream's resources, as `concurflow run` has) shares, found through
// service.Resources' generic store:
//
//   - one rate limiter per API base URL and API (Accounting Integration,
//     List Item), so that several outputs writing to the same company, ERP
//     and endpoint together stay within its one request per second, and
//     one API's rate setting never slows the other's calls;
//   - one API client, and so one token source, per company, token store and
//     URL, so that two components never both refresh a company's token and
//     race its refresh-token rotation (the loser would present a refresh
//     token the other had just replaced);
//   - which companies' credentials are currently refused, for the log and
//     the concur_auth_failed gauge;
//   - one HTTP transport, whose pool keeps a connection per concurrent
//     sender (see sharedMaxIdlePerHost).
//
// Maps keyed by company ids (which come from messages) drop entries idle
// for sharedIdle.
type procShared struct {
	mu        sync.Mutex
	limiters  map[sharedLimiterKey]*concurapi.RateLimiter
	clients   map[sharedClientKey]*sharedClient
	lastSweep time.Time

	failMu  sync.Mutex
	failing map[string]*authFailure // companies whose credentials are refused

	transport *http.Transport
}

// sharedMaxIdlePerHost is how many idle connections the shared transport
// keeps to one host. Every company's API calls go to the same host (the
// base URL of the company's geolocation), one sender per company, ERP and
// object, each also polling its requests' status: Go's default of 2 idle
// connections per host made every sender beyond the second open a new
// connection for each request, which with 100 companies meant hundreds of
// handshakes a second and, through the jitter they add, 429s. Idle
// connections still close after the transport's IdleConnTimeout (90 s).
const sharedMaxIdlePerHost = 1024

// newSharedTransport is http.DefaultTransport with a pool sized for many
// concurrent senders to one host.
func newSharedTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = sharedMaxIdlePerHost
	t.MaxIdleConnsPerHost = sharedMaxIdlePerHost
	return t
}

// The APIs with a limiter of their own: their calls are counted apart
// (the List Item pages document no rate, the Accounting Integration pages
// one request per second per endpoint), so their buckets and rate settings
// are kept apart too.
const (
	sharedAPIAccounting = "accounting"
	sharedAPIListItems  = "listItems"
)

// sharedLimiterKey names one shared limiter: an API at a base URL.
type sharedLimiterKey struct {
	url, api string
}

// sharedClientKey names the credentials of one company: the same company
// with another token store or API is another client.
type sharedClientKey struct {
	url, storeDir, companyID string
}

// sharedClient is a company's API client with its token source.
type sharedClient struct {
	authClient
	lastUsed time.Time
	// hadCredentials is set once the company is known to have had working
	// credentials: a token was obtained, or the store holds a refresh
	// token.
	hadCredentials bool
}

// procSharedKey is the generic-store key of the process's procShared.
type procSharedKey struct{}

// sharedState returns the process's shared state, creating it on first use.
func sharedState(mgr *service.Resources) *procShared {
	v, _ := mgr.GetOrSetGeneric(procSharedKey{}, &procShared{
		limiters: map[sharedLimiterKey]*concurapi.RateLimiter{},
		clients:  map[sharedClientKey]*sharedClient{},
		failing:  map[string]*authFailure{},
		// Made here, not lazily: the value is used only if this call
		// stores it, and an unused transport holds nothing.
		transport: newSharedTransport(),
	})
	return v.(*procShared)
}

// limiter returns the process's rate limiter for the Accounting
// Integration API at url, made at least as strict as cfg.
func (p *procShared) limiter(url string, cfg concurapi.RateLimiterConfig) *concurapi.RateLimiter {
	return p.apiLimiter(url, sharedAPIAccounting, cfg)
}

// apiLimiter returns the process's rate limiter for api (sharedAPI*) at
// url, made at least as strict as cfg. Each API has its own limiter, so
// the strictest rate of one API's components never applies to the other's.
func (p *procShared) apiLimiter(url, api string, cfg concurapi.RateLimiterConfig) *concurapi.RateLimiter {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := sharedLimiterKey{url: url, api: api}
	if l, ok := p.limiters[key]; ok {
		l.Tighten(cfg)
		return l
	}
	l := concurapi.NewRateLimiter(cfg)
	p.limiters[key] = l
	return l
}

// client returns the shared client of key, creating it with create when
// there is none, and drops clients idle for sharedIdle.
func (p *procShared) client(key sharedClientKey, create func() (authClient, error)) (*sharedClient, error) {
	key.storeDir = absPath(key.storeDir)
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.lastSweep) >= sharedSweepEvery {
		p.lastSweep = now
		for k, c := range p.clients {
			if now.Sub(c.lastUsed) >= sharedIdle {
				delete(p.clients, k)
			}
		}
	}
	if c, ok := p.clients[key]; ok {
		c.lastUsed = now
		return c, nil
	}
	ac, err := create()
	if err != nil {
		return nil, err
	}
	c := &sharedClient{authClient: ac, lastUsed: now}
	p.clients[key] = c
	return c, nil
}

func absPath(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}
