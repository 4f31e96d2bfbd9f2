// Package faults runs pipelines/kafka_to_concur.yaml, in process, against a
// kfake broker and the sandbox with faults injected that the component
// tests do not already cover: 429 storms on every endpoint, answers slower
// than the client's timeout, and a revoked refresh token with no usable
// request token. Each test checks that nothing is lost, nothing is applied
// twice, and the stream stays healthy (or, for the revoked token, stops
// sending and says why).
package faults

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/concurflow/concurflow/plugin"
	"github.com/concurflow/concurflow/sandbox"
	"github.com/concurflow/concurflow/test/harness"
)

const (
	topic    = "erp.changes"
	group    = "concurflow-erp-changes"
	pipeline = "../../pipelines/kafka_to_concur.yaml"
)

// env is a sandbox with seeded companies, a kfake broker and the
// pipeline's environment.
type env struct {
	t       *testing.T
	sb      *sandbox.Server
	cos     []harness.Company
	brokers []string
	env     map[string]string
	logs    harness.LockedBuffer
	admin   harness.Admin
}

func newEnv(t *testing.T, companies int, opts ...sandbox.Option) *env {
	t.Helper()
	e := &env{t: t, sb: sandbox.New(t, opts...)}
	e.cos = harness.SeedCompanies(t, e.sb, companies)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	e.brokers = cluster.ListenAddrs()
	e.env = harness.PipelineEnv(e.sb.URL(), strings.Join(e.brokers, ","), filepath.Join(t.TempDir(), "tokens"), e.cos)
	e.env["DLQ_PATH"] = filepath.Join(t.TempDir(), "dlq.ndjson")
	e.env["KAFKA_BATCH_COUNT"] = "100"
	e.env["CONCUR_RETRY_BUDGET"] = "2m"
	e.admin = harness.Admin{URL: e.sb.URL()}
	return e
}

// run produces changes, runs the pipeline until the sandbox holds their
// final state and the group committed everything, and checks that no body
// was applied twice and the DLQ is empty.
func (e *env) run(ctx context.Context, changes []harness.Change) harness.ApplyStats {
	e.t.Helper()
	if err := harness.Produce(ctx, e.brokers, topic, changes); err != nil {
		e.t.Fatal(err)
	}
	stop := harness.RunPipeline(e.t, pipeline, e.env, &e.logs)
	want := harness.Expected(e.cos, changes)
	harness.WaitFor(ctx, e.t, "final state", func() error {
		lag, end, err := harness.GroupLag(ctx, e.brokers, group, topic)
		if err == nil && lag != 0 {
			err = fmt.Errorf("%w: lag %d of %d", harness.ErrNotYet, lag, end)
		}
		if err != nil {
			return err
		}
		return e.admin.CheckState(ctx, want)
	})
	stop()
	st, err := e.admin.CheckAppliedOnce(ctx, e.cos)
	if err != nil {
		e.t.Fatal(err)
	}
	dead, err := harness.ReadDLQ(e.env["DLQ_PATH"])
	if err != nil {
		e.t.Fatal(err)
	}
	if len(dead) > 0 {
		e.t.Fatalf("%d records in the DLQ, first: %+v", len(dead), dead[0])
	}
	return st
}

// statuses counts the sandbox's answers to write requests.
func (e *env) statuses() map[int]int {
	out := map[int]int{}
	for _, l := range e.sb.RequestLog() {
		if l.Method == "PATCH" {
			out[l.Status]++
		}
	}
	return out
}

// Test429Storm: 9 injected rate-limit answers across every write endpoint (on top
// of the sandbox's own 1/s enforcement) only slow the pipeline down.
func Test429Storm(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e := newEnv(t, 2)
	for _, ep := range []sandbox.Endpoint{sandbox.EndpointAccounts, sandbox.EndpointVendors, sandbox.EndpointLists} {
		if err := e.sb.InjectFault(sandbox.Fault{Endpoint: ep, Method: "PATCH", Kind: sandbox.FaultRateLimit, Count: 3}); err != nil {
			t.Fatal(err)
		}
	}
	st := e.run(ctx, harness.Generate(11, e.cos, 800))
	s := e.statuses()
	if s[429] < 9 {
		t.Errorf("the sandbox answered %d × 429, want at least the 9 injected", s[429])
	}
	t.Logf("RESULT 429 storm: %d accepted requests, %d × 429 answered, %d re-sent bodies answered 412", st.Accepted, s[429], st.Resent412)
}

// TestSlowAnswersBeyondTimeout: answers 3 s late while the client gives up
// after 1 s. The late requests may still be accepted by the sandbox; the
// retried bodies are then answered 412, never applied twice.
func TestSlowAnswersBeyondTimeout(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	e := newEnv(t, 1)
	e.env["CONCUR_TIMEOUT"] = "1s"
	for _, ep := range []sandbox.Endpoint{sandbox.EndpointAccounts, sandbox.EndpointVendors} {
		if err := e.sb.InjectFault(sandbox.Fault{Endpoint: ep, Method: "PATCH", Kind: sandbox.FaultSlow, Delay: 3 * time.Second, Count: 2}); err != nil {
			t.Fatal(err)
		}
	}
	st := e.run(ctx, harness.Generate(12, e.cos, 400))
	if !strings.Contains(e.logs.String(), "Client.Timeout") && !strings.Contains(e.logs.String(), "deadline exceeded") {
		t.Errorf("no request timed out; logs:\n%s", e.logs.String())
	}
	t.Logf("RESULT slow answers: %d accepted requests, %d re-sent bodies answered 412", st.Accepted, st.Resent412)
}

// TestRevokedRefreshTokenStops: once the company's tokens are revoked and
// its request token has expired, the pipeline cannot get a token. It must
// say so clearly (invalid_grant, in the log and the DLQ) and must not
// hammer the token endpoint while messages keep failing.
func TestRevokedRefreshTokenStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e := newEnv(t, 1)
	first := harness.Generate(13, e.cos, 200)
	e.run(ctx, first)

	e.sb.RevokeTokens(e.cos[0].ID)
	e.sb.ExpireRequestTokens(e.cos[0].ID)
	more := harness.Generate(14, e.cos, 300)
	if err := harness.Produce(ctx, e.brokers, topic, more); err != nil {
		t.Fatal(err)
	}
	tokenCalls := func() int {
		n := 0
		for _, l := range e.sb.RequestLog() {
			if strings.HasSuffix(l.Path, "/oauth2/v0/token") {
				n++
			}
		}
		return n
	}
	before := tokenCalls()
	e.logs = harness.LockedBuffer{}
	stop := harness.RunPipeline(t, pipeline, e.env, &e.logs)
	harness.WaitFor(ctx, t, "the failure to be reported", func() error {
		if !strings.Contains(e.logs.String(), "invalid_grant") {
			return errors.New("no invalid_grant in the logs yet")
		}
		return nil
	})
	time.Sleep(3 * time.Second)
	stop()
	calls := tokenCalls() - before
	dead, err := harness.ReadDLQ(e.env["DLQ_PATH"])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("RESULT revoked refresh token: %d token requests in ~3 s, %d records dead-lettered", calls, len(dead))
	for _, d := range dead {
		if !strings.Contains(d.Error, "invalid_grant") {
			t.Errorf("dead letter without the reason: %+v", d)
			break
		}
	}
	if len(dead) != len(more) {
		t.Errorf("%d of %d records dead-lettered", len(dead), len(more))
	}
	// Each failed write costs one refresh grant and one password grant per
	// object group (three objects), then its records go to the DLQ: the
	// pipeline does not loop on a refused grant. (It does not stop either;
	// see docs/reliability.md.)
	writes := strings.Count(e.logs.String(), "Failed to send message to concur_accounting")
	if writes == 0 || calls > 2*3*writes {
		t.Errorf("%d token requests for %d failed writes, want at most 6 each", calls, writes)
	}
	t.Logf("  %d failed writes", writes)
}
