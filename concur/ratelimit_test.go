package concur

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock advances only when a waiter sleeps, so tests are deterministic.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return nil
}

func TestRateLimiterSpacing(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	l := NewRateLimiter(RateLimiterConfig{Now: clk.Now, Sleep: clk.Sleep})
	k := RateKey{Endpoint: "accounts", CompanyID: "c", ERPID: "e"}
	var sends []time.Time
	for i := 0; i < 5; i++ {
		if _, err := l.Wait(context.Background(), k); err != nil {
			t.Fatal(err)
		}
		sends = append(sends, clk.Now())
	}
	for i := 1; i < len(sends); i++ {
		if gap := sends[i].Sub(sends[i-1]); gap < time.Second {
			t.Fatalf("send %d only %v after the previous", i, gap)
		}
	}
	// Another key has its own bucket: no wait.
	if d, _ := l.Wait(context.Background(), RateKey{Endpoint: "vendors", CompanyID: "c", ERPID: "e"}); d != 0 {
		t.Fatalf("other endpoint waited %v", d)
	}
}

func TestRateLimiterConcurrentReservations(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)}
	// A sleep that does not advance the clock: all waiters reserve at t=0 and
	// must get distinct slots 0s, 1s, 2s, …
	var mu sync.Mutex
	var waits []time.Duration
	l := NewRateLimiter(RateLimiterConfig{Rate: 2, Now: clk.Now, Sleep: func(ctx context.Context, d time.Duration) error { return nil }})
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := l.Wait(context.Background(), RateKey{})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
		}()
	}
	wg.Wait()
	seen := map[time.Duration]bool{}
	for _, d := range waits {
		if seen[d] {
			t.Fatalf("two waiters got the same slot %v: %v", d, waits)
		}
		seen[d] = true
		if d%(500*time.Millisecond) != 0 || d > 4500*time.Millisecond {
			t.Fatalf("unexpected wait %v", d)
		}
	}
}

func TestRateLimiterHoldAndCancel(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)}
	l := NewRateLimiter(RateLimiterConfig{Now: clk.Now, Sleep: clk.Sleep})
	k := RateKey{Endpoint: "lists"}
	clk.Sleep(context.Background(), 10*time.Second) // idle: bucket full
	l.Hold(k, 5*time.Second)
	d, err := l.Wait(context.Background(), k)
	if err != nil || d != 5*time.Second {
		t.Fatalf("after hold waited %v, %v; want 5s", d, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Wait(ctx, k); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait returned %v", err)
	}
}

func TestRateLimiterRealClock(t *testing.T) {
	l := NewRateLimiter(RateLimiterConfig{Rate: 50})
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	l.Wait(ctx, RateKey{}) // takes the only token
	l.Hold(RateKey{}, time.Hour)
	if _, err := l.Wait(ctx, RateKey{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait past a one-hour hold returned %v", err)
	}
}

// TestRateLimiterTighten: a limiter shared by writers with different
// settings spaces requests by the strictest of them.
func TestRateLimiterTighten(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	l := NewRateLimiter(RateLimiterConfig{Rate: 2, Now: clk.Now, Sleep: clk.Sleep})
	l.Tighten(RateLimiterConfig{Rate: 1, Margin: 10 * time.Millisecond})
	l.Tighten(RateLimiterConfig{Rate: 4}) // looser: changes nothing
	k := RateKey{Endpoint: "accounts", CompanyID: "c", ERPID: "e"}
	var prev time.Time
	for i := range 4 {
		if _, err := l.Wait(context.Background(), k); err != nil {
			t.Fatal(err)
		}
		now := clk.Now()
		if i > 0 && now.Sub(prev) != 1010*time.Millisecond {
			t.Fatalf("request %d spaced %v after the previous, want 1.01s", i, now.Sub(prev))
		}
		prev = now
	}
}

// TestRateLimiterForgetIdle: a bucket is dropped only once it has refilled,
// never while a slot is reserved ahead.
func TestRateLimiterForgetIdle(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	l := NewRateLimiter(RateLimiterConfig{Now: clk.Now, Sleep: clk.Sleep})
	k := RateKey{Endpoint: "vendors", CompanyID: "c", ERPID: "e"}
	if _, err := l.Wait(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	if l.ForgetIdle(k) {
		t.Fatal("forgot a bucket whose next slot is a second away")
	}
	clk.Sleep(context.Background(), time.Second)
	if !l.ForgetIdle(k) {
		t.Fatal("kept a refilled bucket")
	}
	l.mu.Lock()
	n := len(l.buckets)
	l.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d buckets left", n)
	}
}
