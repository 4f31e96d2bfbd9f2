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

// Defaults of the adaptive margin. The docs are silent on how precisely
// Concur measures the one-second interval; these steps let the margin climb
// quickly past the jitter that causes a 429 (each costs at least its
// one-second retry-after) and come down slowly enough that only about one
// request in a hundred is refused once it has settled (step/decay = 100).
const (
	DefaultMarginStep  = 25 * time.Millisecond
	DefaultMarginDecay = 250 * time.Microsecond
)

// RateLimiterConfig configures a RateLimiter. Zero values select the
// documented rate; Now and Sleep default to the wall clock.
type RateLimiterConfig struct {
	// Rate is requests per second per key.
	Rate float64
	// Burst is how many requests may go back to back after idling.
	Burst int
	// Margin is the extra spacing added to every interval of Rate, per key:
	// each key starts at Margin and never goes below it.
	Margin time.Duration
	// MaxMargin caps a key's margin. When it is not above Margin the margin
	// is fixed at Margin and RateLimited and Accepted change nothing.
	MaxMargin time.Duration
	// MarginStep is added to a key's margin on every RateLimited;
	// zero selects DefaultMarginStep.
	MarginStep time.Duration
	// MarginDecay is taken off a key's margin on every Accepted;
	// zero selects DefaultMarginDecay.
	MarginDecay time.Duration
	// Now returns the current time (for tests).
	Now func() time.Time
	// Sleep blocks for d or until ctx ends (for tests).
	Sleep func(ctx context.Context, d time.Duration) error
}

// RateLimiter is a set of token buckets, one per RateKey, shared by every
// writer. It starts no goroutines: Wait sleeps in the caller. A bucket is
// created on first use and kept (one small struct per company, ERP and
// endpoint).
//
// Each key's interval is 1/Rate plus that key's margin. The margin adapts
// when MaxMargin is above Margin: RateLimited (a 429 for the key) adds
// MarginStep, up to MaxMargin; Accepted takes off MarginDecay, down to
// Margin. A 429 means the server saw two requests closer than its interval,
// which the client cannot see beforehand (upload and ingest time vary), so
// the margin settles just above that jitter rather than at a fixed guess.
//
// A key's margin is the larger of its own, learnt from its own answers, and
// a floor shared by every key of the limiter, learnt the same way from all
// their answers. Much of the jitter belongs to the path, not to a key (a
// busy client CPU, the network, the gateway), and a key that sends a few
// requests a minute would never learn it alone: with a hundred companies a
// key's first requests were refused as often as not, each 429 costing its
// whole retry-after, until the floor was shared. With one key the floor and
// its own margin move together.
type RateLimiter struct {
	base      time.Duration // 1/rate
	burst     float64
	minMargin time.Duration
	maxMargin time.Duration
	step      time.Duration
	decay     time.Duration
	now       func() time.Time
	sleep     func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	buckets map[RateKey]*bucket
	floor   time.Duration // shared part of every key's margin
}

type bucket struct {
	tokens float64   // may go negative: reservations not yet due
	last   time.Time // when tokens was computed
	slot   time.Time // the latest slot granted
	// delayRef is the usual delay from a slot to the request's departure
	// (falls at once to a smaller delay, rises by an eighth of the way to
	// a larger one); delaySeen is false until the first departure.
	delayRef  time.Duration
	delaySeen bool
	margin    time.Duration // added to the base interval: max(own, floor)
	own       time.Duration // learnt from this key's answers
}

// NewRateLimiter returns a limiter for cfg.
func NewRateLimiter(cfg RateLimiterConfig) *RateLimiter {
	rate := cfg.Rate
	if rate <= 0 {
		rate = DefaultRate
	}
	l := &RateLimiter{
		base:      time.Duration(float64(time.Second) / rate),
		burst:     float64(cfg.Burst),
		minMargin: max(cfg.Margin, 0),
		maxMargin: cfg.MaxMargin,
		step:      cfg.MarginStep,
		decay:     cfg.MarginDecay,
		now:       cfg.Now,
		sleep:     cfg.Sleep,
		buckets:   map[RateKey]*bucket{},
	}
	l.maxMargin = max(l.maxMargin, l.minMargin)
	l.floor = l.minMargin
	if l.step <= 0 {
		l.step = DefaultMarginStep
	}
	if l.decay <= 0 {
		l.decay = DefaultMarginDecay
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
		d = time.Duration(-b.tokens * float64(l.base+b.margin))
	}
	b.slot = now.Add(d)
	l.mu.Unlock()
	if d <= 0 {
		return 0, nil
	}
	if err := l.sleep(ctx, d); err != nil {
		return 0, err
	}
	return d, nil
}

// Departed records when the request of key's latest slot really left: its
// headers were written to the connection at t. A gateway counts a call when
// it reads the call's headers, so what it measures is the time between two
// departures, not between two slots. The time from slot to departure (the
// body to pack, an idempotency key to hash, a token to fetch, a connection
// to open, a busy CPU) is mostly the same from one request to the next and
// then cancels out; a request that left later than usual (a new connection,
// a token refresh) moves the next slot by the difference, instead of
// leaving the next request closer to it than the interval and refused
// with a 429. The first departure of a key moves it by its whole delay.
// When a later slot was granted meanwhile (another caller of the key), t
// is before it and nothing moves.
func (l *RateLimiter) Departed(key RateKey, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(key, l.now())
	late := t.Sub(b.slot)
	if b.slot.IsZero() || late < 0 {
		return
	}
	shift := late
	if b.delaySeen {
		shift -= b.delayRef
	}
	switch {
	case !b.delaySeen || late < b.delayRef:
		b.delayRef = late
	default:
		b.delayRef += (late - b.delayRef) / 8
	}
	b.delaySeen = true
	if shift <= 0 {
		return
	}
	b.tokens -= float64(shift) / float64(l.base+b.margin)
	b.slot = b.slot.Add(shift)
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
	b.tokens = min(b.tokens, 1-float64(d)/float64(l.base+b.margin))
}

// RateLimited records that the server refused a request of key for its rate
// (a 429): key's own margin and the shared floor grow by one step, up to the
// maximum. Requests already granted keep their slots; later ones are spaced
// by the new interval.
//
// A call refused by the limit does not count against it (the sandbox's
// reading of the gateway), so the refused request's slot is given back when
// no later slot was granted meanwhile: its retry then waits for the
// server's retry-after (Hold), not for a whole further interval. With a
// rate below one request a second (rate_limit lowered because others share
// the quota) a 429 would otherwise cost up to 1/rate seconds instead of the
// one second the server asked for.
func (l *RateLimiter) RateLimited(key RateKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(key, l.now())
	if b.tokens >= 0 {
		// Only the refused slot was outstanding (a later one would have
		// left tokens below zero until its time).
		b.tokens = min(b.tokens+1, l.burst)
	}
	b.own = min(b.own+l.step, l.maxMargin)
	l.floor = min(l.floor+l.step, l.maxMargin)
	b.setMargin(l.base, max(b.own, l.floor))
}

// Accepted records that the server accepted a request of key: key's own
// margin and the shared floor shrink by one decay step, down to the
// minimum.
func (l *RateLimiter) Accepted(key RateKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(key, l.now())
	b.own = max(b.own-l.decay, l.minMargin)
	l.floor = max(l.floor-l.decay, l.minMargin)
	b.setMargin(l.base, max(b.own, l.floor))
}

// setMargin changes b's margin. Below one token, tokens measure the time
// from the last granted slot in intervals; rescaling them keeps that slot
// where it is, so the next one is a new interval after it.
func (b *bucket) setMargin(base, margin time.Duration) {
	if b.tokens < 1 {
		b.tokens *= float64(base+b.margin) / float64(base+margin)
	}
	b.margin = margin
}

// Tighten makes l at least as strict as cfg: the longer of the two
// intervals and the larger margins. Several writers sharing one limiter
// (one per process and API) configured with different rates thus never
// exceed the strictest of them together.
func (l *RateLimiter) Tighten(cfg RateLimiterConfig) {
	rate := cfg.Rate
	if rate <= 0 {
		rate = DefaultRate
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.base = max(l.base, time.Duration(float64(time.Second)/rate))
	l.minMargin = max(l.minMargin, cfg.Margin)
	l.maxMargin = max(l.maxMargin, cfg.MaxMargin, l.minMargin)
	l.floor = min(max(l.floor, l.minMargin), l.maxMargin)
	for _, b := range l.buckets {
		b.own = min(max(b.own, l.minMargin), l.maxMargin)
		b.margin = max(b.own, l.floor)
	}
}

// ForgetIdle drops key's bucket when it has refilled (no slot is reserved
// ahead), so that a limiter keyed by ids taken from messages does not grow
// for ever. A later Wait starts a fresh bucket at the minimum margin. It
// reports whether the bucket is gone.
func (l *RateLimiter) ForgetIdle(key RateKey) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return true
	}
	now := l.now()
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(b.tokens+float64(el)/float64(l.base+b.margin), l.burst)
		b.last = now
	}
	if b.tokens < l.burst {
		return false
	}
	delete(l.buckets, key)
	return true
}

// Margin returns key's current margin: the extra spacing added to the
// interval of the configured rate (the larger of the key's own and the
// shared floor).
func (l *RateLimiter) Margin(key RateKey) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		return max(b.own, l.floor)
	}
	return l.floor
}

// bucketLocked returns key's bucket with tokens refilled up to now.
func (l *RateLimiter) bucketLocked(key RateKey, now time.Time) *bucket {
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now, margin: l.floor, own: l.minMargin}
		l.buckets[key] = b
		return b
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(b.tokens+float64(el)/float64(l.base+b.margin), l.burst)
		b.last = now
	}
	// The floor moved since: the next slot follows the new interval.
	if m := max(b.own, l.floor); m != b.margin {
		b.setMargin(l.base, m)
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
