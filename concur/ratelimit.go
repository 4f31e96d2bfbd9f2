package concur

import (
	"context"
	"sync"
	"time"
)

// RateKey names one token bucket: a write endpoint of one company's ERP. The
// Accounts, Vendors, List Names and Tax Data pages each say "this endpoint
// can be called once per second"; the docs do not say whether that is per
// company or per ERP, so buckets are per company+ERP+endpoint and the
// default rate is the documented one.
type RateKey struct {
	Endpoint  string // path segment: accounts, vendors, lists, taxData
	CompanyID string
	ERPID     string
}

// Documented write rate: one request per second, no burst.
const (
	DefaultRate  = 1.0
	DefaultBurst = 1
)

// RateLimiterConfig configures a RateLimiter. Zero values select the
// documented rate; Now and Sleep default to the wall clock.
type RateLimiterConfig struct {
	// Rate is requests per second per key.
	Rate float64
	// Burst is how many requests may go back to back after idling.
	Burst int
	// Now returns the current time (for tests).
	Now func() time.Time
	// Sleep blocks for d or until ctx ends (for tests).
	Sleep func(ctx context.Context, d time.Duration) error
}

// RateLimiter is a set of token buckets, one per RateKey, shared by every
// writer. It starts no goroutines: Wait sleeps in the caller. A bucket is
// created on first use and kept (one small struct per company, ERP and
// endpoint).
type RateLimiter struct {
	rate  float64
	burst float64
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	buckets map[RateKey]*bucket
}

type bucket struct {
	tokens float64   // may go negative: reservations not yet due
	last   time.Time // when tokens was computed
}

// NewRateLimiter returns a limiter for cfg.
func NewRateLimiter(cfg RateLimiterConfig) *RateLimiter {
	l := &RateLimiter{
		rate:    cfg.Rate,
		burst:   float64(cfg.Burst),
		now:     cfg.Now,
		sleep:   cfg.Sleep,
		buckets: map[RateKey]*bucket{},
	}
	if l.rate <= 0 {
		l.rate = DefaultRate
	}
	if l.burst < 1 {
		l.burst = DefaultBurst
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.sleep == nil {
		l.sleep = SleepContext
	}
	return l
}

// Wait blocks until key may send one request, and returns how long it
// waited. Callers are served in the order they call Wait: each takes the
// next free slot. If ctx ends first, ctx's error is returned and the slot
// stays taken: giving it back could let a later caller go out in the same
// slot as one already queued, exceeding the rate.
func (l *RateLimiter) Wait(ctx context.Context, key RateKey) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	now := l.now()
	b := l.bucketLocked(key, now)
	b.tokens--
	var d time.Duration
	if b.tokens < 0 {
		d = time.Duration(-b.tokens / l.rate * float64(time.Second))
	}
	l.mu.Unlock()
	if d <= 0 {
		return 0, nil
	}
	if err := l.sleep(ctx, d); err != nil {
		return 0, err
	}
	return d, nil
}

// Hold makes the next free slot of key no earlier than now+d: used when the
// server answers with retry-after, so every writer sharing the bucket backs
// off, not only the one that was refused. Requests already granted are
// unaffected.
func (l *RateLimiter) Hold(key RateKey, d time.Duration) {
	if d <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(key, l.now())
	// One token must be available exactly at now+d.
	b.tokens = min(b.tokens, 1-d.Seconds()*l.rate)
}

// bucketLocked returns key's bucket with tokens refilled up to now.
func (l *RateLimiter) bucketLocked(key RateKey, now time.Time) *bucket {
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
		return b
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(b.tokens+el.Seconds()*l.rate, l.burst)
		b.last = now
	}
	return b
}

// SleepContext waits for d or until ctx ends, whichever comes first, and
// returns ctx's error in the second case.
func SleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
