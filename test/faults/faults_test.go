// Package faults runs pipelines/kafka_to_concur.yaml, in process, against a
// kfake broker and the sandbox with faults injected that the component
// tests do not already cover: 429 storms on every endpoint, answers slower
// than the client's timeout, and a revoked refresh token with no usable
// request token. Each test checks that nothing is lost, nothing is applied
// twice, and the stream stays healthy (or, for the revoked token, waits
// without dead-lettering, says why, and resumes after `auth exchange`).
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

	"github.com/concurflow/concurflow/concur"
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
	e := &env{t: t, sb: sandbox.New(t, append([]sandbox.Option{sandbox.WithProcessingDelay(0)}, opts...)...)}
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

// run produces changes, runs the pipeline and finishes it.
func (e *env) run(ctx context.Context, changes []harness.Change) harness.ApplyStats {
	e.t.Helper()
	if err := harness.Produce(ctx, e.brokers, topic, changes); err != nil {
		e.t.Fatal(err)
	}
	return e.finish(ctx, harness.RunPipeline(e.t, pipeline, e.env, &e.logs), changes)
}

// finish waits until the sandbox holds the final state of changes (every
// change produced so far) and the group committed everything, stops the
// running pipeline, and checks that no body was applied twice and the DLQ
// is empty.
func (e *env) finish(ctx context.Context, stop func(), changes []harness.Change) harness.ApplyStats {
	e.t.Helper()
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

// TestRevokedRefreshTokenWaits: once the company's tokens are revoked and
// its request token has expired, the pipeline cannot get a token. The
// records are not at fault: none may reach the DLQ. The pipeline must say
// so clearly (one ERROR naming the company and `concurflow auth exchange`),
// must not hammer the token endpoint, and must resume by itself once an
// operator stores a new refresh token, writing everything exactly once.
func TestRevokedRefreshTokenWaits(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e := newEnv(t, 1)
	co := e.cos[0]
	first := harness.Generate(13, e.cos, 200)
	e.run(ctx, first)

	e.sb.RevokeTokens(co.ID)
	e.sb.ExpireRequestTokens(co.ID)
	more := harness.Generate(14, e.cos, 300)
	if err := harness.Produce(ctx, e.brokers, topic, more); err != nil {
		t.Fatal(err)
	}
	tokenCalls := func() int {
		n := 0
		for _, l := range e.sb.RequestLog() {
			if strings.HasSuffix(l.Path, concur.TokenPath) {
				n++
			}
		}
		return n
	}
	before := tokenCalls()
	e.logs = harness.LockedBuffer{}
	stop := harness.RunPipeline(t, pipeline, e.env, &e.logs)
	harness.WaitFor(ctx, t, "the refusal to be reported", func() error {
		if !strings.Contains(e.logs.String(), "concurflow auth exchange --company-id "+co.ID) {
			return errors.New("no refusal naming the fix in the logs yet")
		}
		return nil
	})
	// Long enough for the token source's first back-off (5 s) to end.
	time.Sleep(7 * time.Second)
	calls := tokenCalls() - before
	dead, err := harness.ReadDLQ(e.env["DLQ_PATH"])
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) > 0 {
		t.Fatalf("%d records dead-lettered while the credentials were refused, first: %+v", len(dead), dead[0])
	}
	// One refresh and one password grant when the access token is
	// refused, and the same again when the 5 s back-off ends: whatever the
	// number of writes waiting.
	if calls > 4 {
		t.Errorf("%d token requests in ~%v of refused credentials, want at most 4", calls, 7*time.Second)
	}
	if lines := errorLines(e.logs.String(), "refused the credentials of company "+co.ID); len(lines) != 1 {
		t.Errorf("%d ERROR lines about the refusal, want exactly 1:\n%s", len(lines), e.logs.String())
	} else {
		t.Logf("the refusal is logged as: %s", lines[0])
	}
	if !strings.Contains(e.logs.String(), "invalid_grant") {
		t.Error("the refusal's cause (invalid_grant) is not logged")
	}

	// The operator connects the app again in App Center and runs
	// `concurflow auth exchange`: a new refresh token in the token store.
	requestToken, err := e.sb.NewRequestToken(co.ID)
	if err != nil {
		t.Fatal(err)
	}
	exchange(ctx, t, e.env["CONCUR_TOKEN_STORE"], e.sb.URL(), co, requestToken)
	exchanged := tokenCalls()

	// The running pipeline resumes by itself.
	st := e.finish(ctx, stop, append(append([]harness.Change{}, first...), more...))
	if !strings.Contains(e.logs.String(), "writes resume") {
		t.Error("the recovery is not logged")
	}
	t.Logf("RESULT revoked refresh token: %d token requests in ~7 s of refused credentials, 1 ERROR, no dead letter; after the exchange %d more token requests, %d accepted requests in all, %d re-sent bodies answered 412",
		calls, tokenCalls()-exchanged, st.Accepted, st.Resent412)
}

// errorLines returns the ERROR-level log lines containing text.
func errorLines(logs, text string) []string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "level=ERROR") && strings.Contains(l, text) {
			out = append(out, l)
		}
	}
	return out
}

// exchange does what `concurflow auth exchange` does: a password grant
// with the request token, ignoring what is stored, and the refresh token
// saved into the token store directory.
func exchange(ctx context.Context, t *testing.T, dir, url string, co harness.Company, requestToken string) {
	t.Helper()
	store, err := concur.NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := concur.NewTokenSource(concur.TokenSourceConfig{
		CompanyID: co.ID, ClientID: co.ClientID, ClientSecret: co.ClientSecret,
		RequestToken: requestToken, AuthURL: url, Store: ignoreStored{store},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.TokenContext(ctx); err != nil {
		t.Fatalf("exchanging the new request token: %v", err)
	}
}

// ignoreStored hides the stored refresh token so that the request token is
// used; new refresh tokens are saved.
type ignoreStored struct{ concur.TokenStore }

func (ignoreStored) Load(context.Context, string) (*concur.StoredToken, error) {
	return nil, concur.ErrTokenNotFound
}
