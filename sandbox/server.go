package sandbox

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
)

// TB is the part of testing.TB that New needs, so this package does not
// import testing.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Server is a running sandbox: the OAuth2 token endpoint, the Accounting
// Integration v4 API, the sandbox admin API and ESS delivery, all served from
// one base URL.
type Server struct {
	cfg     config
	handler http.Handler
	events  publisher

	// Set by Start; nil when the server is used only through Handler.
	listener net.Listener
	httpSrv  *http.Server
	serveErr chan error
	baseURL  string

	stop     chan struct{} // closed by Close: workers and slow faults give up
	workers  sync.WaitGroup
	closeMu  sync.Mutex
	isClosed bool

	mu    sync.Mutex // guards everything below
	state state
	idle  chan struct{} // closed while no request is queued or processing
	log   requestLog
	fault faults
}

// newServer builds a Server without a listener.
func newServer(opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:  cfg,
		stop: make(chan struct{}),
		idle: make(chan struct{}),
	}
	close(s.idle)
	s.state = newState()
	app := cfg.partnerApp
	if app.ClientID == "" {
		app = App{ClientID: uuid.NewString(), ClientSecret: uuid.NewString()}
	}
	_ = s.addAppLocked(app) // the first app cannot collide
	s.state.defaultApp = app.ClientID
	s.log.limit = cfg.logLimit
	pub, err := newPublisher(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting ESS delivery: %w", err)
	}
	s.events = pub
	s.handler = s.routes()
	return s, nil
}

// Start starts a sandbox listening on 127.0.0.1 (an ephemeral port unless
// WithAddr says otherwise). Close it when done.
func Start(opts ...Option) (*Server, error) {
	s, err := newServer(opts...)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", s.cfg.addr)
	if err != nil {
		s.events.Close()
		return nil, fmt.Errorf("listening on %s: %w", s.cfg.addr, err)
	}
	s.listener = ln
	s.baseURL = "http://" + ln.Addr().String()
	s.httpSrv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
	}
	s.serveErr = make(chan error, 1)
	go func() { s.serveErr <- s.httpSrv.Serve(ln) }()
	return s, nil
}

// New starts a sandbox for a test and closes it when the test ends. It
// fails the test if the sandbox cannot start.
func New(t TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatalf("starting sandbox: %v", err)
		return nil
	}
	t.Cleanup(s.Close)
	return s
}

// URL is the base URL of the sandbox, e.g. http://127.0.0.1:41234. It is
// empty when the server was not started with Start or New.
func (s *Server) URL() string { return s.baseURL }

// Handler is the sandbox's whole HTTP surface, for mounting in another
// server (token responses keep naming URL as the geolocation).
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the listener, every processing worker and ESS delivery, and
// waits for all of them. Requests still queued are abandoned. Close is safe
// to call more than once.
func (s *Server) Close() {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.isClosed {
		return
	}
	s.isClosed = true
	// Under s.mu, so no handler starts a worker after workers.Wait begins.
	s.mu.Lock()
	close(s.stop)
	s.mu.Unlock()
	if s.httpSrv != nil {
		_ = s.httpSrv.Close()
		<-s.serveErr // always http.ErrServerClosed after Close
	}
	s.workers.Wait()
	s.events.Close()
}

// WaitIdle blocks until no accepted request is waiting or being processed
// and every ESS delivery has finished (delivered, given up or expired), or
// ctx is done.
func (s *Server) WaitIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		idle := s.idle
		s.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("waiting for request processing: %w", ctx.Err())
		}
		if err := s.events.WaitIdle(ctx); err != nil {
			return fmt.Errorf("waiting for ESS deliveries: %w", err)
		}
		s.mu.Lock()
		done := s.state.pending == 0
		s.mu.Unlock()
		if done {
			return nil
		}
	}
}

// now reads the configured clock.
func (s *Server) now() time.Time { return s.cfg.now() }

// base is the absolute base URL used as the token geolocation.
func (s *Server) base(r *http.Request) string {
	if s.baseURL != "" {
		return s.baseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
