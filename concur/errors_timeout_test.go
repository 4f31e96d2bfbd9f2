package concur

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A request that outlives the http.Client's Timeout is retryable: the
// reliability fault tests (test/faults) found such records dead-lettered
// as "not retried". Cancellation is not retryable, nor is a context that
// expired outside an HTTP request.
func TestIsRetryableClientTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	for range 5 {
		_, err := (&http.Client{Timeout: 20 * time.Millisecond}).Get(srv.URL)
		if err == nil || !IsRetryable(fmt.Errorf("patching: %w", err)) {
			t.Fatalf("client timeout %v: IsRetryable = false, want true", err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if _, err := http.DefaultClient.Do(req); err == nil || IsRetryable(err) {
		t.Errorf("cancelled request %v: IsRetryable = true, want false", err)
	}
	if IsRetryable(fmt.Errorf("waiting for the rate limit: %w", context.DeadlineExceeded)) {
		t.Error("an expired context outside a request is retryable")
	}
}
