package concur

import (
	"context"
	"testing"
	"time"
)

// sendGaps sends n requests of k through l on clk and returns the gaps
// between them.
func sendGaps(t *testing.T, l *RateLimiter, clk *fakeClock, k RateKey, n int) []time.Duration {
	t.Helper()
	var gaps []time.Duration
	prev := clk.Now()
	for i := 0; i < n; i++ {
		if _, err := l.Wait(context.Background(), k); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			gaps = append(gaps, clk.Now().Sub(prev))
		}
		prev = clk.Now()
	}
	return gaps
}

func TestRateLimiterMarginSpacing(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	l := NewRateLimiter(RateLimiterConfig{Margin: 10 * time.Millisecond, MaxMargin: 250 * time.Millisecond, Now: clk.Now, Sleep: clk.Sleep})
	k := RateKey{Endpoint: "accounts", CompanyID: "c", ERPID: "e"}
	for i, g := range sendGaps(t, l, clk, k, 4) {
		if g != 1010*time.Millisecond {
			t.Fatalf("gap %d is %v, want 1.01s", i, g)
		}
	}
}

func TestRateLimiterMarginGrowsOn429AndCaps(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	l := NewRateLimiter(RateLimiterConfig{Margin: 10 * time.Millisecond, MaxMargin: 100 * time.Millisecond, Now: clk.Now, Sleep: clk.Sleep})
	k := RateKey{Endpoint: "vendors", CompanyID: "c", ERPID: "e"}
	want := []time.Duration{35, 60, 85, 100, 100}
	for i, w := range want {
		l.RateLimited(k)
		if got := l.Margin(k); got != w*time.Millisecond {
			t.Fatalf("after %d 429s margin is %v, want %vms", i+1, got, w)
		}
	}
	for i, g := range sendGaps(t, l, clk, k, 3) {
		if g != 1100*time.Millisecond {
			t.Fatalf("gap %d is %v, want 1.1s", i, g)
		}
	}
}

func TestRateLimiterMarginDecaysToFloor(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	l := NewRateLimiter(RateLimiterConfig{Margin: 10 * time.Millisecond, MaxMargin: 250 * time.Millisecond, MarginDecay: time.Millisecond, Now: clk.Now, Sleep: clk.Sleep})
	k := RateKey{Endpoint: "lists", CompanyID: "c", ERPID: "e"}
	l.RateLimited(k) // 35 ms
	for i := 0; i < 5; i++ {
		l.Accepted(k)
	}
	if got := l.Margin(k); got != 30*time.Millisecond {
		t.Fatalf("margin after 5 accepted is %v, want 30ms", got)
	}
	for i := 0; i < 100; i++ {
		l.Accepted(k)
	}
	if got := l.Margin(k); got != 10*time.Millisecond {
		t.Fatalf("margin went to %v, want the 10ms floor", got)
	}
}

func TestRateLimiterMarginDefaultsDecaySlowly(t *testing.T) {
	l := NewRateLimiter(RateLimiterConfig{MaxMargin: time.Second})
	k := RateKey{Endpoint: "accounts"}
	l.RateLimited(k)
	if got := l.Margin(k); got != DefaultMarginStep {
		t.Fatalf("margin after a 429 is %v, want %v", got, DefaultMarginStep)
	}
	l.Accepted(k)
	if got := l.Margin(k); got != DefaultMarginStep-DefaultMarginDecay {
		t.Fatalf("margin after a 202 is %v, want %v", got, DefaultMarginStep-DefaultMarginDecay)
	}
}

func TestRateLimiterMarginOwnAndShared(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	l := NewRateLimiter(RateLimiterConfig{Margin: 10 * time.Millisecond, MaxMargin: 250 * time.Millisecond, Now: clk.Now, Sleep: clk.Sleep})
	a := RateKey{Endpoint: "accounts", CompanyID: "a", ERPID: "e"}
	b := RateKey{Endpoint: "accounts", CompanyID: "b", ERPID: "e"}
	v := RateKey{Endpoint: "vendors", CompanyID: "a", ERPID: "e"}
	l.RateLimited(a)
	l.RateLimited(a)
	// The floor is shared: keys that never saw a 429 start above it too.
	for _, k := range []RateKey{a, b, v} {
		if got := l.Margin(k); got != 60*time.Millisecond {
			t.Fatalf("margin of %v after two 429s of a is %v, want 60ms", k, got)
		}
	}
	for i, g := range sendGaps(t, l, clk, v, 3) {
		if g != 1060*time.Millisecond {
			t.Fatalf("gap %d of v is %v, want 1.06s", i, g)
		}
	}
	// b's accepted requests bring the floor down; a keeps what it learnt
	// from its own 429s.
	for range 200 {
		l.Accepted(b)
	}
	if got := l.Margin(a); got != 60*time.Millisecond {
		t.Fatalf("margin of a is %v, want its own 60ms", got)
	}
	for _, k := range []RateKey{b, v} {
		if got := l.Margin(k); got != 10*time.Millisecond {
			t.Fatalf("margin of %v is %v, want 10ms", k, got)
		}
	}
	for i, g := range sendGaps(t, l, clk, b, 3) {
		if g != 1010*time.Millisecond {
			t.Fatalf("gap %d of b is %v, want 1.01s", i, g)
		}
	}
}

func TestRateLimiterFixedMargin(t *testing.T) {
	// MaxMargin not above Margin: the margin never moves.
	l := NewRateLimiter(RateLimiterConfig{Margin: 50 * time.Millisecond})
	k := RateKey{Endpoint: "accounts"}
	l.RateLimited(k)
	if got := l.Margin(k); got != 50*time.Millisecond {
		t.Fatalf("fixed margin grew to %v", got)
	}
	l.Accepted(k)
	if got := l.Margin(k); got != 50*time.Millisecond {
		t.Fatalf("fixed margin shrank to %v", got)
	}
}

func TestRateLimiterMarginChangeKeepsGrantedSlots(t *testing.T) {
	// A sleep that does not advance the clock: three waiters reserve slots
	// 0, 1.01 s and 2.02 s; after a 429 the next comes one grown interval
	// after the last granted slot.
	clk := &fakeClock{now: time.Unix(0, 0)}
	l := NewRateLimiter(RateLimiterConfig{Margin: 10 * time.Millisecond, MaxMargin: 250 * time.Millisecond, Now: clk.Now, Sleep: func(ctx context.Context, d time.Duration) error { return nil }})
	k := RateKey{Endpoint: "accounts"}
	var waits []time.Duration
	for i := 0; i < 3; i++ {
		d, err := l.Wait(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, d)
	}
	l.RateLimited(k)
	d, err := l.Wait(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	if want := waits[2] + 1035*time.Millisecond; absDur(d-want) > time.Microsecond {
		t.Fatalf("waits %v then %v, want %v", waits, d, want)
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func TestRateLimiterRefusedSlotGivenBack(t *testing.T) {
	// Four seconds between writes: a request refused one second too early
	// is retried after the server's retry-after, not a whole interval
	// after its own slot.
	clk := &fakeClock{now: time.Unix(1000, 0)}
	l := NewRateLimiter(RateLimiterConfig{Rate: 0.25, Margin: 10 * time.Millisecond, MaxMargin: 250 * time.Millisecond, Now: clk.Now, Sleep: clk.Sleep})
	k := RateKey{Endpoint: "vendors"}
	start := clk.Now()
	for range 2 {
		if _, err := l.Wait(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	refusedAt := clk.Now() // the second slot, 4.01 s in
	l.RateLimited(k)
	l.Hold(k, time.Second)
	if _, err := l.Wait(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	if got := clk.Now().Sub(refusedAt); absDur(got-time.Second) > time.Millisecond {
		t.Fatalf("retry %v after the 429, want the 1 s retry-after", got)
	}
	retry := clk.Now()
	if _, err := l.Wait(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	if got, want := clk.Now().Sub(retry), 4035*time.Millisecond; absDur(got-want) > time.Millisecond {
		t.Fatalf("next request %v after the accepted retry (%v in), want one interval with the grown margin, %v", got, retry.Sub(start), want)
	}
}

func TestRateLimiterRefusedSlotKeptBehindLaterGrant(t *testing.T) {
	// Another caller was granted the next slot before the 429 came back:
	// that slot stays taken, and the retry goes after it.
	clk := &fakeClock{now: time.Unix(1000, 0)}
	l := NewRateLimiter(RateLimiterConfig{Margin: 10 * time.Millisecond, MaxMargin: 250 * time.Millisecond, Now: clk.Now, Sleep: func(ctx context.Context, d time.Duration) error { return nil }})
	k := RateKey{Endpoint: "accounts"}
	var waits []time.Duration
	for range 2 { // slots 0 and 1.01 s; the clock stays at 0
		d, err := l.Wait(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, d)
	}
	l.RateLimited(k) // the first was refused
	d, err := l.Wait(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	if d <= waits[1] {
		t.Fatalf("retry granted after %v, not after the later caller's slot at %v", d, waits[1])
	}
}

func TestRateLimiterDeparted(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	l := NewRateLimiter(RateLimiterConfig{Margin: 10 * time.Millisecond, Now: clk.Now, Sleep: clk.Sleep})
	k := RateKey{Endpoint: "accounts"}
	if _, err := l.Wait(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	slot := clk.Now()
	// A new connection: the headers left 300 ms after the slot.
	clk.now = clk.now.Add(300 * time.Millisecond)
	l.Departed(k, clk.Now())
	if _, err := l.Wait(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	if got, want := clk.Now().Sub(slot), 1310*time.Millisecond; absDur(got-want) > time.Millisecond {
		t.Fatalf("next slot %v after the late one, want %v (one interval after it left)", got, want)
	}
	// On time: nothing moves.
	second := clk.Now()
	l.Departed(k, second)
	if _, err := l.Wait(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	if got := clk.Now().Sub(second); absDur(got-1010*time.Millisecond) > time.Millisecond {
		t.Fatalf("next slot %v after one that left on time, want 1.01s", got)
	}
}

func TestRateLimiterDepartedBeforeLaterSlot(t *testing.T) {
	// Two callers: the first one's late departure is before the second's
	// slot, which keeps its place.
	clk := &fakeClock{now: time.Unix(1000, 0)}
	l := NewRateLimiter(RateLimiterConfig{Margin: 10 * time.Millisecond, Now: clk.Now, Sleep: func(ctx context.Context, d time.Duration) error { return nil }})
	k := RateKey{Endpoint: "accounts"}
	for range 2 { // slots 0 and 1.01 s; the clock stays at 0
		if _, err := l.Wait(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	l.Departed(k, clk.Now().Add(300*time.Millisecond))
	d, err := l.Wait(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2020 * time.Millisecond; absDur(d-want) > time.Millisecond {
		t.Fatalf("third slot after %v, want %v", d, want)
	}
}

func TestRateLimiterDepartedUsualDelayCancelsOut(t *testing.T) {
	// Every request leaves 25 ms after its slot (packing, hashing): after
	// the first, slots stay one interval apart, and so do departures.
	clk := &fakeClock{now: time.Unix(1000, 0)}
	l := NewRateLimiter(RateLimiterConfig{Margin: 10 * time.Millisecond, Now: clk.Now, Sleep: clk.Sleep})
	k := RateKey{Endpoint: "accounts"}
	var departures []time.Time
	for range 5 {
		if _, err := l.Wait(context.Background(), k); err != nil {
			t.Fatal(err)
		}
		clk.now = clk.now.Add(25 * time.Millisecond)
		l.Departed(k, clk.Now())
		departures = append(departures, clk.Now())
	}
	if got, want := departures[1].Sub(departures[0]), 1035*time.Millisecond; absDur(got-want) > time.Millisecond {
		t.Fatalf("second departure %v after the first, want %v (the first delay moves the schedule once)", got, want)
	}
	for i := 2; i < len(departures); i++ {
		if got := departures[i].Sub(departures[i-1]); absDur(got-1010*time.Millisecond) > time.Millisecond {
			t.Fatalf("departure %d is %v after the one before, want the 1.01 s interval: a usual delay must not add up", i, got)
		}
	}
	// One request leaves 300 ms late: the next one moves by the 275 ms
	// more than usual.
	if _, err := l.Wait(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	clk.now = clk.now.Add(300 * time.Millisecond)
	late := clk.Now()
	l.Departed(k, late)
	if _, err := l.Wait(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	clk.now = clk.now.Add(25 * time.Millisecond)
	if got := clk.Now().Sub(late); absDur(got-1010*time.Millisecond) > time.Millisecond {
		t.Fatalf("request after the late one leaves %v after it, want 1.01s", got)
	}
}
