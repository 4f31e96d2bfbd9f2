package concur_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	concurapi "github.com/concurflow/concurflow/concur"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRefusedCredentialsAdvice: the error reported when a company's
// credentials are refused says what the token endpoint's answer calls for:
// a wrong client secret is not mended by a new request token and an
// exchange, a revoked refresh token and expired request token are. A
// company whose credentials worked before waits and logs the refusal; one
// whose credentials never worked fails its records with the same advice
// (issue 10).
func TestRefusedCredentialsAdvice(t *testing.T) {
	t.Parallel()
	wrongSecret := func(e *acctEnv) string { return "wrong-secret" }
	revoked := func(e *acctEnv) string {
		e.sb.RevokeTokens(e.cos[0].ID)
		e.sb.ExpireRequestTokens(e.cos[0].ID)
		return e.cos[0].ClientSecret
	}
	secretAdvice := []string{"invalid_client", "client id or client secret is wrong"}
	exchangeAdvice := []string{"invalid_grant", "get a new request token from the company's Concur administrator", "`concurflow auth exchange --company-id "}
	for _, c := range []struct {
		name      string
		worked    bool                    // a refresh token is stored before the break
		breakIt   func(e *acctEnv) string // returns the client secret to configure
		want, not []string
	}{
		{"wrong client secret", true, wrongSecret, secretAdvice, []string{"auth exchange", "get a new request token"}},
		{"revoked", true, revoked, exchangeAdvice, []string{"client secret is wrong"}},
		{"wrong client secret, never worked", false, wrongSecret, secretAdvice, []string{"auth exchange", "get a new request token"}},
		{"revoked, never worked", false, revoked, exchangeAdvice, []string{"client secret is wrong"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newAcctEnv(t, 1)
			if c.worked {
				e.exchange(t, 0)
			}
			secret := c.breakIt(e)
			co := e.cos[0]
			out := fmt.Sprintf(`concur_accounting:
  company_id: %s
  erp_id: %s
  object: accounts
  batching: { count: 0, byte_size: 0, period: "" }
  auth:
    url: %s
    token_store: %s
    companies:
      %s: { client_id: %s, client_secret: %s, request_token: %s }
`, co.ID, e.erps[0], e.sb.URL(), e.store, co.ID, co.ClientID, secret, co.RequestToken)
			b := service.NewStreamBuilder()
			send, err := b.AddBatchProducerFunc()
			if err != nil {
				t.Fatal(err)
			}
			if err := b.AddOutputYAML(out); err != nil {
				t.Fatal(err)
			}
			var logs syncBuffer
			b.SetLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelError})))
			stream, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- stream.Run(ctx) }()
			sent := make(chan error, 1)
			go func() { sent <- send(ctx, e.accounts(0, 1, 0)) }() // waits for credentials if they worked before
			var line string
			for line == "" {
				select {
				case err := <-sent:
					if c.worked || err == nil {
						t.Fatalf("records of a company whose credentials worked before: send returned %v, want it to wait", err)
					}
					line = err.Error()
					continue
				default:
				}
				for l := range strings.SplitSeq(logs.String(), "\n") {
					if strings.Contains(l, "refused the credentials of company "+co.ID) {
						line = l
					}
				}
				select {
				case <-ctx.Done():
					t.Fatalf("no refusal logged or returned:\n%s", logs.String())
				case <-time.After(20 * time.Millisecond):
				}
			}
			for _, w := range c.want {
				if !strings.Contains(line, w) {
					t.Errorf("refusal %q lacks %q", line, w)
				}
			}
			for _, n := range c.not {
				if strings.Contains(line, n) {
					t.Errorf("refusal %q says %q", line, n)
				}
			}
			stopCtx, stopCancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer stopCancel()
			_ = stream.Stop(stopCtx)
			<-done
		})
	}
}

// exchange stores company c's refresh token in the env's token store, as
// `concurflow auth exchange` does: from then on its credentials have worked.
func (e *acctEnv) exchange(t *testing.T, c int) {
	t.Helper()
	co := e.cos[c]
	store, err := concurapi.NewDirStore(e.store)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := concurapi.NewTokenSource(concurapi.TokenSourceConfig{
		CompanyID: co.ID, ClientID: co.ClientID, ClientSecret: co.ClientSecret,
		RequestToken: co.RequestToken, AuthURL: e.sb.URL(), Store: store,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}
}
