package concur_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/concurflow/concurflow/sandbox"
)

// TestAccountingRefusedCredentialsNackOnStop: while a company's credentials
// are refused the write waits, with concur_auth_failed set, and a stream
// stopped meanwhile nacks the messages instead of handing them to the
// fallback.
func TestAccountingRefusedCredentialsNackOnStop(t *testing.T) {
	t.Parallel()
	e := newAcctEnv(t, 1)
	mux := http.NewServeMux()
	send, stream, done := runOutputStream(t, fallbackYAML(e.output(""), `reject: 'reached the fallback: ${! metadata("fallback_error") }'`), mux)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := send(ctx, e.accounts(0, 3, 0)); err != nil {
		t.Fatal(err)
	}

	e.sb.RevokeTokens(e.cos[0].ID)
	e.sb.ExpireRequestTokens(e.cos[0].ID)
	acked := make(chan error, 1)
	go func() { acked <- send(ctx, e.accounts(0, 3, 3)) }()
	metrics := func() string {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		return rec.Body.String()
	}
	authFailed := func() float64 {
		var m map[string]any
		if err := json.Unmarshal([]byte(metrics()), &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range m {
			if strings.HasPrefix(k, `concur_auth_failed{company="`+e.cos[0].ID+`"`) {
				f, _ := v.(float64)
				return f
			}
		}
		return -1
	}
	for authFailed() != 1 {
		select {
		case err := <-acked:
			t.Fatalf("the write ended (%v) instead of waiting for credentials", err)
		case <-ctx.Done():
			t.Fatalf("concur_auth_failed not set: %s", metrics())
		case <-time.After(50 * time.Millisecond):
		}
	}
	select {
	case err := <-acked:
		t.Fatalf("the write ended (%v) instead of waiting for credentials", err)
	case <-time.After(300 * time.Millisecond):
	}

	stopCtx, stopCancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer stopCancel()
	_ = stream.Stop(stopCtx) // the blocked write makes the stop ungraceful
	<-done
	select {
	case err := <-acked:
		t.Logf("the waiting batch was nacked: %v", err)
		if err == nil {
			t.Fatal("the waiting batch was acknowledged although nothing was written")
		}
		if strings.Contains(err.Error(), "reached the fallback") {
			t.Fatalf("the waiting batch went to the fallback: %v", err)
		}
	case <-time.After(time.Second):
		// Never acknowledged either way: the input redelivers it.
	}
	e.expectIDs(0, sandbox.ObjectAccount, "[A0000 A0001 A0002]")
}
