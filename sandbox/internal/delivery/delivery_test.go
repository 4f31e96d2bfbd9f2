package delivery

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concurflow/concurflow/concur/ess"
)

// testSigningKey is shared by the tests: generating 2048-bit keys is slow
// under -race. Tests never mutate it.
var testSigningKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func fastBackoff(int) time.Duration { return time.Millisecond }

func newDispatcher(t *testing.T, cfg Config) *Dispatcher {
	t.Helper()
	if cfg.Key == nil {
		cfg.Key = testSigningKey()
	}
	if cfg.Backoff == nil {
		cfg.Backoff = fastBackoff
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Close()
		assertNoDispatcherGoroutines(t)
	})
	return d
}

// assertNoDispatcherGoroutines fails when a goroutine still runs code of
// this package after Close. A worker that has signalled its WaitGroup may
// need a moment to exit, so the check is repeated for up to 5 s.
func assertNoDispatcherGoroutines(t *testing.T) {
	t.Helper()
	var left string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if left = dispatcherGoroutines(); left == "" {
			return
		}
	}
	t.Errorf("goroutines left after Close:\n%s", left)
}

func dispatcherGoroutines() string {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	var left []string
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "sandbox/internal/delivery.(*Dispatcher)") {
			left = append(left, g)
		}
	}
	return strings.Join(left, "\n\n")
}

func waitIdle(t *testing.T, d *Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

func event(id, company string) ess.Event {
	return ess.Event{
		ID: id, CorrelationID: "corr-" + id, Topic: ess.Topic, EventType: ess.EventMappingUpdated,
		TimeStamp: "2022-10-03T21:25:28.913Z",
		Facts:     ess.Facts{CompanyID: company, ErpID: "erp", PartnerID: "partner"},
	}
}

// received is what a test receiver saw.
type received struct {
	header http.Header
	body   []byte
}

// recorder is a receiver answering with the statuses of script in turn (then
// 200) and recording every request it read.
type recorder struct {
	mu     sync.Mutex
	got    []received
	script []int
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.got = append(r.got, received{req.Header.Clone(), body})
	status := http.StatusOK
	if len(r.script) > 0 {
		status, r.script = r.script[0], r.script[1:]
	}
	r.mu.Unlock()
	if status == -1 { // reset the connection without answering
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			conn.Close()
		}
		return
	}
	w.WriteHeader(status)
}

func (r *recorder) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func TestDeliversSignedEvent(t *testing.T) {
	for _, scheme := range []ess.Scheme{ess.PKCS1v15, ess.PSS} {
		t.Run(scheme.String(), func(t *testing.T) {
			rec := &recorder{}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			d := newDispatcher(t, Config{Scheme: scheme})
			d.Subscribe("", srv.URL)
			d.Publish(event("e1", "c1"))
			waitIdle(t, d)

			got := rec.requests()
			if len(got) != 1 {
				t.Fatalf("got %d requests, want 1", len(got))
			}
			keys, err := ess.ParsePublicKeysPEM(d.PublicKeyPEM())
			if err != nil {
				t.Fatal(err)
			}
			if err := ess.Verify(keys, got[0].body, got[0].header.Get(ess.HeaderSignature)); err != nil {
				t.Errorf("signature does not verify: %v", err)
			}
			if err := ess.Verify(ess.PublishedKeys(), got[0].body, got[0].header.Get(ess.HeaderSignature)); !errors.Is(err, ess.ErrSignatureMismatch) {
				t.Errorf("verified against Concur's published keys: %v", err)
			}
			if ct := got[0].header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if c := got[0].header.Get(ess.HeaderCorrelationID); c != "corr-e1" {
				t.Errorf("correlation header = %q", c)
			}
			ev, err := ess.Parse(got[0].body)
			if err != nil || ev.ID != "e1" || ev.Facts.CompanyID != "c1" {
				t.Errorf("body = %s (%v)", got[0].body, err)
			}
			a := d.Attempts()
			if len(a) != 1 || a[0].StatusCode != 200 || a[0].WillRetry || a[0].Number != 1 || a[0].EventID != "e1" {
				t.Errorf("attempts = %+v", a)
			}
		})
	}
}

func TestPublishRawDeliversDocumentBytes(t *testing.T) {
	page := filepath.Join("..", "..", "..", "..", "shared", "reference", "concur", "events", "event-subscription-topic-accountingintegration.markdown")
	b, err := os.ReadFile(page)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s not present", page)
	}
	if err != nil {
		t.Fatal(err)
	}
	_, sample, _ := strings.Cut(string(b), `<a name="dataResetRequestedExample"></a>`)
	_, sample, _ = strings.Cut(sample, "```json")
	sample, _, _ = strings.Cut(sample, "```")

	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	d := newDispatcher(t, Config{})
	d.Subscribe("4045cab7-532d-45ba-801d-937688a89ddf", srv.URL)
	if err := d.PublishRaw([]byte(sample)); err != nil {
		t.Fatal(err)
	}
	if err := d.PublishRaw([]byte(`{"not":"an event"}`)); !errors.Is(err, ess.ErrInvalidEvent) {
		t.Errorf("PublishRaw of a non-event: err = %v", err)
	}
	waitIdle(t, d)
	got := rec.requests()
	if len(got) != 1 || string(got[0].body) != sample {
		t.Fatalf("delivered %d requests; body differs from the document: %v", len(got), len(got) == 1 && string(got[0].body) != sample)
	}
	if got[0].header.Get(ess.HeaderCorrelationID) != "e27f2040-6280-4550-b9dc-ae41dfd58b62" {
		t.Errorf("correlation = %q", got[0].header.Get(ess.HeaderCorrelationID))
	}
}

func TestSubscriptionsFilterByCompany(t *testing.T) {
	recA, recAll := &recorder{}, &recorder{}
	srvA, srvAll := httptest.NewServer(recA), httptest.NewServer(recAll)
	defer srvA.Close()
	defer srvAll.Close()
	d := newDispatcher(t, Config{})
	idA := d.Subscribe("A", srvA.URL)
	idAll := d.Subscribe("", srvAll.URL)
	if subs := d.Subscriptions(); len(subs) != 2 || subs[0] != (Subscription{ID: idA, CompanyID: "A", URL: srvA.URL}) || subs[1].ID != idAll {
		t.Fatalf("subscriptions = %+v", subs)
	}
	d.Publish(event("1", "A"))
	d.Publish(event("2", "B"))
	waitIdle(t, d)
	if n := len(recA.requests()); n != 1 {
		t.Errorf("company A subscriber got %d, want 1", n)
	}
	if n := len(recAll.requests()); n != 2 {
		t.Errorf("all-company subscriber got %d, want 2", n)
	}
	d.Unsubscribe(idA)
	d.Publish(event("3", "A"))
	waitIdle(t, d)
	if n := len(recA.requests()); n != 1 {
		t.Errorf("after Unsubscribe company A subscriber got %d, want 1", n)
	}
	if subs := d.Subscriptions(); len(subs) != 1 || subs[0].ID != idAll {
		t.Errorf("subscriptions after Unsubscribe = %+v", subs)
	}
}

func TestRetries(t *testing.T) {
	cases := []struct {
		name     string
		script   []int
		wantReqs int
	}{
		{"500 then ok", []int{500, 200}, 2},
		{"503 twice then ok", []int{503, 503, 200}, 3},
		{"429 then ok", []int{429, 200}, 2},
		{"401 and 403 then ok", []int{401, 403, 200}, 3},
		{"connection reset then ok", []int{-1, 200}, 2},
		{"302 then ok", []int{302, 200}, 2},
		{"400 not retried", []int{400, 200}, 1},
		{"404 not retried", []int{404, 200}, 1},
		{"202 accepted", []int{202, 200}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{script: append([]int(nil), c.script...)}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			d := newDispatcher(t, Config{})
			d.Subscribe("", srv.URL)
			d.Publish(event("e", "c"))
			waitIdle(t, d)
			if n := len(rec.requests()); n != c.wantReqs {
				t.Fatalf("receiver got %d requests, want %d", n, c.wantReqs)
			}
			a := d.Attempts()
			if len(a) != c.wantReqs {
				t.Fatalf("recorded %d attempts, want %d", len(a), c.wantReqs)
			}
			for i, at := range a {
				if at.Number != i+1 || at.WillRetry != (i < len(a)-1) {
					t.Errorf("attempt %d = %+v", i, at)
				}
			}
			if c.script[0] == -1 && a[0].Err == nil {
				t.Errorf("reset connection should record an error, got status %d", a[0].StatusCode)
			}
		})
	}
}

func TestConnectionRefusedIsRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: connection refused

	var calls atomic.Int32
	d := newDispatcher(t, Config{Backoff: func(int) time.Duration {
		calls.Add(1)
		return time.Millisecond
	}, Retention: time.Hour})
	d.Subscribe("", "http://"+addr+"/hook")
	d.Publish(event("e", "c"))
	deadline := time.Now().Add(10 * time.Second)
	for len(d.Attempts()) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	a := d.Attempts()
	if len(a) < 3 || a[0].Err == nil || !a[0].WillRetry {
		t.Fatalf("attempts = %+v", a)
	}
	if calls.Load() < 2 {
		t.Errorf("backoff consulted %d times", calls.Load())
	}
}

// fakeClock is a settable Config.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestRetentionExpiryStopsRetries(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 3 {
			clock.Advance(72 * time.Hour) // the third attempt fails at the end of retention
		} else {
			clock.Advance(time.Hour)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	d := newDispatcher(t, Config{Now: clock.Now})
	d.Subscribe("", srv.URL)
	d.Publish(event("e", "c"))
	waitIdle(t, d)
	a := d.Attempts()
	if n.Load() != 3 || len(a) != 3 {
		t.Fatalf("got %d requests, %d attempts; want 3", n.Load(), len(a))
	}
	if !a[1].WillRetry || a[2].WillRetry {
		t.Errorf("WillRetry = %v, %v; want true, false", a[1].WillRetry, a[2].WillRetry)
	}
	if !a[2].Time.Equal(clock.now.Add(-73*time.Hour)) && !a[2].Time.After(a[0].Time) {
		t.Errorf("attempt times not taken from Config.Now: %v", a[2].Time)
	}
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	release := make(chan struct{})
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if n.Add(1) == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	defer close(release)
	d := newDispatcher(t, Config{AttemptTimeout: 50 * time.Millisecond})
	d.Subscribe("", srv.URL)
	d.Publish(event("e", "c"))
	waitIdle(t, d)
	a := d.Attempts()
	if len(a) != 2 || !errors.Is(a[0].Err, context.DeadlineExceeded) || a[1].StatusCode != 200 {
		t.Fatalf("attempts = %+v", a)
	}
}

func TestConcurrencyBound(t *testing.T) {
	const limit, events = 3, 12
	var inFlight, peak, total atomic.Int32
	gate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := inFlight.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		<-gate
		inFlight.Add(-1)
		total.Add(1)
	}))
	defer srv.Close()
	d := newDispatcher(t, Config{MaxConcurrent: limit})
	d.Subscribe("", srv.URL)
	for i := range events {
		d.Publish(event(string(rune('a'+i)), "c"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for inFlight.Load() < limit && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := inFlight.Load(); got != limit {
		t.Fatalf("in flight = %d, want %d", got, limit)
	}
	close(gate)
	waitIdle(t, d)
	if p := peak.Load(); p != limit {
		t.Errorf("peak concurrency %d, want %d", p, limit)
	}
	if total.Load() != events {
		t.Errorf("delivered %d, want %d", total.Load(), events)
	}
}

func TestCloseStopsInFlightAndWaitingDeliveries(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // lets the server notice the client hanging up
		if hits.Add(1) == 1 {
			w.WriteHeader(500) // this one waits for a long retry
			return
		}
		select { // this one stays in flight
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	d, err := New(Config{Key: testSigningKey(), MaxConcurrent: 2, Backoff: func(int) time.Duration { return time.Hour }})
	if err != nil {
		t.Fatal(err)
	}
	d.Subscribe("", srv.URL)
	d.Publish(event("retrying", "c"))
	d.Publish(event("hanging", "c"))
	deadline := time.Now().Add(10 * time.Second)
	for hits.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	done := make(chan struct{})
	go func() { d.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	assertNoDispatcherGoroutines(t)
	if err := d.WaitIdle(context.Background()); err != nil {
		t.Errorf("WaitIdle after Close: %v", err)
	}
	d.Publish(event("late", "c"))
	d.Close() // idempotent
	if hits.Load() != 2 {
		t.Errorf("receiver hit %d times, want 2", hits.Load())
	}
}

func TestWaitIdleHonoursContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer srv.Close()
	d := newDispatcher(t, Config{Backoff: func(int) time.Duration { return time.Hour }})
	d.Subscribe("", srv.URL)
	d.Publish(event("e", "c"))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := d.WaitIdle(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitIdle = %v, want deadline exceeded", err)
	}
}

func TestAttemptLogKeepsMostRecent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	d := newDispatcher(t, Config{AttemptLog: 3, MaxConcurrent: 1})
	d.Subscribe("", srv.URL)
	for _, id := range []string{"1", "2", "3", "4", "5"} {
		d.Publish(event(id, "c"))
		waitIdle(t, d)
	}
	var ids []string
	for _, a := range d.Attempts() {
		ids = append(ids, a.EventID)
	}
	if strings.Join(ids, ",") != "3,4,5" {
		t.Errorf("kept attempts %v, want 3,4,5", ids)
	}
}

func TestPublishRecordsUnencodableEvent(t *testing.T) {
	d := newDispatcher(t, Config{})
	d.Subscribe("", "http://127.0.0.1:1/")
	ev := event("bad", "c")
	ev.Data = json.RawMessage(`{not json`)
	d.Publish(ev)
	waitIdle(t, d)
	a := d.Attempts()
	if len(a) != 1 || a[0].Err == nil || a[0].SubscriptionID != "" || a[0].WillRetry {
		t.Errorf("attempts = %+v", a)
	}
}

func TestNewDefaults(t *testing.T) {
	if _, err := New(Config{Key: testSigningKey(), Scheme: ess.Scheme(9)}); err == nil {
		t.Error("unknown scheme accepted")
	}
	d, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.cfg.Retention != 72*time.Hour || d.cfg.MaxConcurrent != 24 || d.cfg.AttemptTimeout != time.Minute || d.PublicKey().Size() != 256 {
		t.Errorf("defaults = %+v", d.cfg)
	}
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 11: 10 * time.Minute, 100: 10 * time.Minute} {
		if got := DefaultBackoff(attempt); got != want {
			t.Errorf("DefaultBackoff(%d) = %v, want %v", attempt, got, want)
		}
	}
}

func TestUnsubscribeStopsRetries(t *testing.T) {
	var d *Dispatcher
	var subID string
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		d.Unsubscribe(subID)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	d = newDispatcher(t, Config{})
	subID = d.Subscribe("", srv.URL)
	d.Publish(event("e", "c"))
	waitIdle(t, d)
	a := d.Attempts()
	if hits.Load() != 1 || len(a) != 1 || a[0].WillRetry {
		t.Errorf("hits %d, attempts %+v; want one attempt that is not retried", hits.Load(), a)
	}
}

func TestUnsignableEventIsNotRetried(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	broken := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: big.NewInt(15), E: 3}, D: big.NewInt(3)}
	d := newDispatcher(t, Config{Key: broken})
	d.Subscribe("", srv.URL)
	d.Publish(event("e", "c"))
	waitIdle(t, d)
	a := d.Attempts()
	if len(a) != 1 || a[0].Err == nil || a[0].WillRetry || len(rec.requests()) != 0 {
		t.Errorf("attempts %+v, receiver got %d", a, len(rec.requests()))
	}
}
