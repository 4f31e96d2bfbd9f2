// Package delivery is the sandbox's emulation of ESS webhook delivery: it
// signs events, POSTs them to subscriber endpoints and retries the way the
// Event Subscription Service v4 page describes.
//
// Behaviour (see the ESS Behavior and Endpoint Requirements sections):
//   - Each event is POSTed as JSON with Content-Type application/json and the
//     Concur-Signature and Concur-Correlationid headers, once per matching
//     subscription. Delivery is at least once.
//   - 2xx ends delivery. 401, 403, 429, every 5xx and every I/O error
//     (connection refused or reset, timeout, ...) are retried. Any other 4xx
//     ends delivery without retry. The page is silent on 1xx and 3xx; they are
//     retried, since only 2xx counts as delivered. Redirects are not followed
//     by the default client.
//   - Retries back off exponentially (Config.Backoff; by default 1 s doubling
//     up to 10 min) until the retention period (72 h by default) after
//     publication has passed; an attempt that fails after that is the last.
//   - Each attempt times out after 60 s (Config.AttemptTimeout).
//   - At most Config.MaxConcurrent attempts run at once, on a fixed pool of
//     workers owned by the Dispatcher, so events are not delivered in order.
//     Waiting retries hold no worker.
//
// Choices where the pages are silent: each event is signed once, by the
// worker that first delivers it (Publish only queues), with RSASSA-PKCS1-v1_5
// (or PSS, Config.Scheme) over SHA-256 of the body, base64-encoded; the
// backoff schedule above; retention is measured with Config.Now while backoff
// waits use real timers, so tests can expire retention without waiting.
//
// Mutual TLS: ESS connects with the webhook.api.concursolutions.com client
// certificate. To act like that, pass a Config.Client whose Transport has a
// tls.Config with Certificates set (and RootCAs trusting the receiver).
package delivery

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/concurflow/concurflow/concur/ess"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultRetention      = 72 * time.Hour
	DefaultMaxConcurrent  = 24
	DefaultAttemptTimeout = 60 * time.Second
	DefaultAttemptLog     = 10000
	maxDefaultBackoff     = 10 * time.Minute
)

// Config configures a Dispatcher. Zero fields take the defaults.
type Config struct {
	// Key signs every delivery; New generates a 2048-bit key when nil.
	Key *rsa.PrivateKey
	// Scheme is the signature scheme (PKCS #1 v1.5 by default).
	Scheme ess.Scheme
	// Retention is how long after publication an event is retried (72 h).
	Retention time.Duration
	// MaxConcurrent bounds the attempts in flight at once (24).
	MaxConcurrent int
	// AttemptTimeout bounds one POST, including reading the response (60 s).
	AttemptTimeout time.Duration
	// AttemptLog is how many of the most recent attempts Attempts keeps (10000).
	AttemptLog int
	// Now is the clock for timestamps and retention (time.Now).
	Now func() time.Time
	// Client sends the POSTs. The default does not follow redirects; supply
	// one with a client certificate to emulate ESS's mutual TLS.
	Client *http.Client
	// Backoff is the wait after failed attempt number attempt (1-based)
	// before the next; by default 1 s doubling per attempt, at most 10 min.
	Backoff func(attempt int) time.Duration
}

// Subscription is a webhook endpoint receiving events of one company, or of
// every company when CompanyID is empty.
type Subscription struct {
	ID        string
	CompanyID string
	URL       string
}

// Attempt records one delivery attempt.
type Attempt struct {
	EventID        string
	SubscriptionID string
	URL            string
	// Number is 1 for the first attempt of this event to this subscription.
	Number int
	Time   time.Time
	// StatusCode is the HTTP status, or 0 when Err is set.
	StatusCode int
	Err        error
	Duration   time.Duration
	// WillRetry reports whether another attempt is scheduled.
	WillRetry bool
}

// Dispatcher delivers published events to subscriptions. It is safe for
// concurrent use; Close stops it.
type Dispatcher struct {
	cfg       Config
	ownClient bool
	ctx       context.Context
	cancel    context.CancelFunc
	workers   sync.WaitGroup
	timers    sync.WaitGroup

	mu       sync.Mutex
	ready    *sync.Cond
	closed   bool
	queue    []*job
	waiting  map[*job]*time.Timer
	pending  int
	idle     chan struct{}
	subs     []Subscription
	attempts []Attempt // ring of at most cfg.AttemptLog, oldest at head
	head     int
}

// payload is one published event, shared by its deliveries. It is signed
// once, by the first worker that needs it, so Publish stays cheap.
type payload struct {
	eventID     string
	correlation string
	body        []byte
	published   time.Time

	signOnce  sync.Once
	signature string
	signErr   error
}

func (p *payload) sign(key *rsa.PrivateKey, scheme ess.Scheme) (string, error) {
	p.signOnce.Do(func() {
		p.signature, p.signErr = ess.Sign(key, scheme, p.body)
		if p.signErr != nil {
			p.signErr = fmt.Errorf("signing event %s: %w", p.eventID, p.signErr)
		}
	})
	return p.signature, p.signErr
}

// job is the delivery of one event to one subscription.
type job struct {
	*payload
	sub     Subscription
	attempt int
}

// New starts a Dispatcher with its worker pool.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Key == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generating ESS signing key: %w", err)
		}
		cfg.Key = k
	}
	if cfg.Scheme != ess.PKCS1v15 && cfg.Scheme != ess.PSS {
		return nil, fmt.Errorf("creating ESS dispatcher: unknown signature scheme %v", cfg.Scheme)
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	if cfg.AttemptLog <= 0 {
		cfg.AttemptLog = DefaultAttemptLog
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	d := &Dispatcher{cfg: cfg, waiting: map[*job]*time.Timer{}}
	if d.cfg.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = cfg.MaxConcurrent
		tr.Proxy = nil // deliver straight to the subscriber, never via a proxy
		d.cfg.Client = &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		d.ownClient = true
	}
	d.ready = sync.NewCond(&d.mu)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.workers.Add(cfg.MaxConcurrent)
	for range cfg.MaxConcurrent {
		go d.work()
	}
	return d, nil
}

// DefaultBackoff waits 1 s after the first failed attempt, doubling after
// each further one, at most 10 min.
func DefaultBackoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 10 {
		return maxDefaultBackoff
	}
	return min(time.Second<<(attempt-1), maxDefaultBackoff)
}

// PublicKeyPEM returns the PEM "PUBLIC KEY" block receivers verify the
// Concur-Signature with.
func (d *Dispatcher) PublicKeyPEM() []byte {
	b, err := ess.PublicKeyPEM(&d.cfg.Key.PublicKey)
	if err != nil {
		// An RSA public key always marshals; this is unreachable.
		panic(err)
	}
	return b
}

// PublicKey returns the public half of the signing key.
func (d *Dispatcher) PublicKey() *rsa.PublicKey { return &d.cfg.Key.PublicKey }

// Subscribe adds a subscription delivering events of companyID (every
// company when empty) to url and returns its id.
func (d *Dispatcher) Subscribe(companyID, url string) string {
	id := newID()
	d.mu.Lock()
	d.subs = append(d.subs, Subscription{ID: id, CompanyID: companyID, URL: url})
	d.mu.Unlock()
	return id
}

// Unsubscribe removes a subscription; its deliveries not yet attempted or
// waiting for a retry are dropped.
func (d *Dispatcher) Unsubscribe(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, s := range d.subs {
		if s.ID == id {
			d.subs = append(d.subs[:i:i], d.subs[i+1:]...)
			return
		}
	}
}

// Subscriptions returns the current subscriptions in creation order.
func (d *Dispatcher) Subscriptions() []Subscription {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Subscription(nil), d.subs...)
}

// Publish queues ev for delivery to every subscription of its company. It
// does not block; the event is signed by the worker that first delivers it.
// Events published after Close, and events no subscription matches, are
// dropped. An event that cannot be encoded (invalid json.RawMessage) is not
// delivered; the failure is recorded as an Attempt with an empty
// SubscriptionID.
func (d *Dispatcher) Publish(ev ess.Event) {
	body, err := json.Marshal(ev)
	if err != nil {
		d.fail(ev.ID, fmt.Errorf("encoding event %s: %w", ev.ID, err))
		return
	}
	d.enqueue(ev.ID, ev.CorrelationID, ev.Facts.CompanyID, body)
}

// PublishRaw queues body, which must be an ESS event, for delivery exactly as
// given, so conformance tests can deliver the documentation's bytes.
func (d *Dispatcher) PublishRaw(body []byte) error {
	ev, err := ess.Parse(body)
	if err != nil {
		return fmt.Errorf("publishing raw ESS event: %w", err)
	}
	d.enqueue(ev.ID, ev.CorrelationID, ev.Facts.CompanyID, append([]byte(nil), body...))
	return nil
}

func (d *Dispatcher) enqueue(eventID, correlation, companyID string, body []byte) {
	p := &payload{eventID: eventID, correlation: correlation, body: body, published: d.cfg.Now()}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	for _, s := range d.subs {
		if s.CompanyID != "" && s.CompanyID != companyID {
			continue
		}
		d.addPendingLocked()
		d.queue = append(d.queue, &job{payload: p, sub: s})
		d.ready.Signal()
	}
}

// fail records an event that could not be prepared for delivery.
func (d *Dispatcher) fail(eventID string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recordLocked(Attempt{EventID: eventID, Time: d.cfg.Now(), Err: err})
}

func (d *Dispatcher) addPendingLocked() {
	if d.pending == 0 {
		d.idle = make(chan struct{})
	}
	d.pending++
}

func (d *Dispatcher) donePendingLocked() {
	d.pending--
	if d.pending == 0 {
		close(d.idle)
	}
}

// Attempts returns the recorded attempts, oldest first (the most recent
// Config.AttemptLog of them).
func (d *Dispatcher) Attempts() []Attempt {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Attempt, 0, len(d.attempts))
	out = append(out, d.attempts[d.head:]...)
	return append(out, d.attempts[:d.head]...)
}

// WaitIdle blocks until no delivery is queued, in flight or waiting for a
// retry, or ctx is done.
func (d *Dispatcher) WaitIdle(ctx context.Context) error {
	d.mu.Lock()
	if d.pending == 0 {
		d.mu.Unlock()
		return nil
	}
	idle := d.idle
	d.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for ESS deliveries: %w", ctx.Err())
	}
}

// Close cancels attempts in flight, drops queued and waiting deliveries and
// waits for every goroutine of the Dispatcher to finish. It is idempotent.
func (d *Dispatcher) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	for j, t := range d.waiting {
		if t.Stop() {
			d.timers.Done()
		}
		delete(d.waiting, j)
	}
	d.ready.Broadcast()
	d.mu.Unlock()
	d.cancel()
	d.workers.Wait()
	d.timers.Wait()
	d.mu.Lock()
	d.queue = nil
	if d.pending > 0 {
		d.pending = 0
		close(d.idle)
	}
	d.mu.Unlock()
	if d.ownClient {
		d.cfg.Client.CloseIdleConnections()
	}
}

func (d *Dispatcher) work() {
	defer d.workers.Done()
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.closed {
			d.ready.Wait()
		}
		if d.closed {
			d.mu.Unlock()
			return
		}
		j := d.queue[0]
		d.queue[0] = nil
		d.queue = d.queue[1:]
		subscribed := d.subscribedLocked(j.sub.ID)
		if !subscribed {
			d.donePendingLocked()
		}
		d.mu.Unlock()
		if subscribed {
			d.attempt(j)
		}
	}
}

func (d *Dispatcher) subscribedLocked(id string) bool {
	for _, s := range d.subs {
		if s.ID == id {
			return true
		}
	}
	return false
}

// attempt POSTs j once and records the outcome, scheduling a retry when the
// outcome and the retention period allow.
func (d *Dispatcher) attempt(j *job) {
	j.attempt++
	start := d.cfg.Now()
	realStart := time.Now()
	sig, err := j.sign(d.cfg.Key, d.cfg.Scheme)
	if err != nil { // permanent: recorded, never retried
		d.mu.Lock()
		defer d.mu.Unlock()
		d.recordLocked(Attempt{EventID: j.eventID, SubscriptionID: j.sub.ID, URL: j.sub.URL, Number: j.attempt, Time: start, Err: err})
		d.donePendingLocked()
		return
	}
	status, err := d.post(j, sig)
	a := Attempt{
		EventID: j.eventID, SubscriptionID: j.sub.ID, URL: j.sub.URL, Number: j.attempt,
		Time: start, StatusCode: status, Err: err, Duration: time.Since(realStart),
	}
	retryable := err != nil || shouldRetry(status)
	expired := d.cfg.Now().Sub(j.published) >= d.cfg.Retention

	d.mu.Lock()
	defer d.mu.Unlock()
	a.WillRetry = retryable && !expired && !d.closed && d.subscribedLocked(j.sub.ID)
	d.recordLocked(a)
	if !a.WillRetry {
		d.donePendingLocked()
		return
	}
	d.timers.Add(1)
	var t *time.Timer
	t = time.AfterFunc(d.cfg.Backoff(j.attempt), func() {
		defer d.timers.Done()
		d.mu.Lock()
		defer d.mu.Unlock()
		if _, ok := d.waiting[j]; !ok {
			return // Close took it.
		}
		delete(d.waiting, j)
		d.queue = append(d.queue, j)
		d.ready.Signal()
	})
	d.waiting[j] = t
}

func (d *Dispatcher) recordLocked(a Attempt) {
	if len(d.attempts) < d.cfg.AttemptLog {
		d.attempts = append(d.attempts, a)
		return
	}
	d.attempts[d.head] = a
	d.head = (d.head + 1) % len(d.attempts)
}

// shouldRetry classifies an HTTP status per the ESS Behavior section.
func shouldRetry(status int) bool {
	switch {
	case status >= 200 && status < 300:
		return false
	case status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusTooManyRequests:
		return true
	case status >= 400 && status < 500:
		return false
	default:
		return true
	}
}

// post sends one attempt and returns the status code, or an error for any
// I/O failure including one while reading the response body.
func (d *Dispatcher) post(j *job, sig string) (int, error) {
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.sub.URL, bytes.NewReader(j.body))
	if err != nil {
		return 0, fmt.Errorf("building delivery of event %s to %s: %w", j.eventID, j.sub.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ess.HeaderSignature, sig)
	if j.correlation != "" {
		req.Header.Set(ess.HeaderCorrelationID, j.correlation)
	}
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("delivering event %s to %s: %w", j.eventID, j.sub.URL, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)); err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("reading response to event %s from %s: %w", j.eventID, j.sub.URL, err)
	}
	return resp.StatusCode, nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
