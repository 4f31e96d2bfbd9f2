package harness

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
)

// Proxy is a loopback HTTP reverse proxy in front of a sandbox that can be
// taken down (connections refused, open ones cut) and brought back on the
// same port. Token responses name the proxy as the geolocation, so the
// client's API calls go through it too.
type Proxy struct {
	target  *url.URL
	addr    string
	onToken func(body []byte)

	mu  sync.Mutex
	srv *http.Server
	lis net.Listener
	end chan struct{}
}

// NewProxy starts a proxy to target on a free loopback port. onToken, when
// not nil, is given every token endpoint answer (as the sandbox sent it).
func NewProxy(target string, onToken func(body []byte)) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("proxy target: %w", err)
	}
	p := &Proxy{target: u, addr: "127.0.0.1:0", onToken: onToken}
	if err := p.Up(); err != nil {
		return nil, err
	}
	return p, nil
}

// URL is the proxy's base URL.
func (p *Proxy) URL() string { return "http://" + p.addr }

// Up starts serving (again) on the proxy's port.
func (p *Proxy) Up() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		return nil
	}
	lis, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("proxy listening on %s: %w", p.addr, err)
	}
	p.addr = lis.Addr().String()
	rp := httputil.NewSingleHostReverseProxy(p.target)
	rp.ModifyResponse = p.rewriteGeolocation
	p.srv = &http.Server{Handler: rp}
	p.lis = lis
	p.end = make(chan struct{})
	go func(srv *http.Server, end chan struct{}) {
		defer close(end)
		_ = srv.Serve(lis)
	}(p.srv, p.end)
	return nil
}

// Down closes the listener and every open connection, and waits for the
// server goroutine.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv == nil {
		return
	}
	_ = p.srv.Close()
	<-p.end
	p.srv = nil
}

// Close takes the proxy down for good.
func (p *Proxy) Close() { p.Down() }

// rewriteGeolocation replaces the sandbox's URL by the proxy's in token
// responses.
func (p *Proxy) rewriteGeolocation(resp *http.Response) error {
	if resp.Request.URL.Path != "/oauth2/v0/token" {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if p.onToken != nil {
		p.onToken(body)
	}
	body = bytes.ReplaceAll(body, []byte(`"`+p.target.String()+`"`), []byte(`"`+p.URL()+`"`))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}
