// Package security checks, on a real run of pipelines/kafka_to_concur.yaml,
// that credentials never leave the process except towards the token
// endpoint: not in logs (debug level), metrics, dead letters or `concurflow
// echo` output; and that the token store keeps refresh tokens in 0600 files
// replaced atomically. The webhook's body limit and signature checks are
// proven by plugin/concur's TestEventsBadRequests, TestEventsSignatureFailures
// and TestEventsBasicAuthAndUnsigned.
package security

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kfake"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/concurflow/concurflow/plugin"
	"github.com/concurflow/concurflow/sandbox"
	"github.com/concurflow/concurflow/test/harness"
)

const (
	topic    = "erp.changes"
	pipeline = "../../pipelines/kafka_to_concur.yaml"
	cliEnv   = "CONCURFLOW_SECURITY_TEST_CLI"
)

// TestMain lets the test binary act as the concurflow CLI for the echo
// check.
func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) == "1" {
		code, err := service.RunCLIToCode(context.Background(), service.CLIOptSetBinaryName("concurflow"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// secrets collects every credential seen during a run.
type secrets struct {
	mu   sync.Mutex
	vals map[string]string // value → what it is
}

func (s *secrets) add(what, v string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vals[v] = what
}

// tokenAnswer records the tokens of a token endpoint answer.
func (s *secrets) tokenAnswer(body []byte) {
	var a struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
		ID      string `json:"id_token"`
	}
	if json.Unmarshal(body, &a) == nil {
		s.add("access token", a.Access)
		s.add("refresh token", a.Refresh)
		s.add("id token", a.ID)
	}
}

// check fails the test for every secret found in text.
func (s *secrets) check(t *testing.T, where, text string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for v, what := range s.vals {
		if strings.Contains(text, v) {
			t.Errorf("%s contains a %s", where, what)
		}
	}
}

// TestSecretsNeverLeak runs the pipeline through token rotation, access
// token expiry, revocation recovered by the request token, and finally a
// refused grant (whose records wait rather than being dead-lettered), then
// searches its logs, metrics and dead letters for every credential that was
// configured or issued.
func TestSecretsNeverLeak(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sb := sandbox.New(t, sandbox.WithTokenLifetime(2*time.Second), sandbox.WithProcessingDelay(0))
	sec := &secrets{vals: map[string]string{}}
	cos := harness.SeedCompanies(t, sb, 2)
	for _, co := range cos {
		sec.add("client secret", co.ClientSecret)
		sec.add("request token", co.RequestToken)
	}
	proxy, err := harness.NewProxy(sb.URL(), sec.tokenAnswer)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	store := filepath.Join(t.TempDir(), "tokens")
	env := harness.PipelineEnv(proxy.URL(), strings.Join(brokers, ","), store, cos)
	env["DLQ_PATH"] = filepath.Join(t.TempDir(), "dlq.ndjson")
	env["KAFKA_BATCH_COUNT"] = "100"
	var logs harness.LockedBuffer
	mux := http.NewServeMux()
	stop := harness.RunPipelineMux(t, pipeline, env, &logs, mux)
	admin := harness.Admin{URL: sb.URL()}

	// Phase 1: normal run across several access token lifetimes.
	first := harness.Generate(21, cos, 300)
	if err := harness.Produce(ctx, brokers, topic, first); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(ctx, t, "phase 1", func() error { return admin.CheckState(ctx, harness.Expected(cos, first)) })
	time.Sleep(2500 * time.Millisecond) // access tokens expire
	// Phase 2: revoked tokens, recovered with the request token.
	sb.RevokeTokens(cos[0].ID)
	second := harness.Generate(22, cos, 300)
	if err := harness.Produce(ctx, brokers, topic, second); err != nil {
		t.Fatal(err)
	}
	all := append(append([]harness.Change{}, first...), second...)
	harness.WaitFor(ctx, t, "phase 2", func() error { return admin.CheckState(ctx, harness.Expected(cos, all)) })
	// Phase 3: a refused grant (revoked, request token expired).
	sb.RevokeTokens(cos[1].ID)
	sb.ExpireRequestTokens(cos[1].ID)
	third := harness.Generate(23, cos[1:], 50)
	if err := harness.Produce(ctx, brokers, topic, third); err != nil {
		t.Fatal(err)
	}
	// Its records wait for new credentials (none is dead-lettered); the
	// refusal is logged once with its cause.
	harness.WaitFor(ctx, t, "the refused grant", func() error {
		if !strings.Contains(logs.String(), "refused the credentials of company "+cos[1].ID) {
			return errors.New("no refusal logged yet")
		}
		return nil
	})

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	metrics := rec.Body.Bytes()
	stop()

	// Refresh tokens in the store count as secrets too.
	var files int
	err = filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if perm := info.Mode().Perm(); perm&0o077 != 0 {
				t.Errorf("token store directory %s has mode %v, want no group or other access", p, perm)
			}
			return nil
		}
		files++
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("token file %s has mode %v, want 0600", p, perm)
		}
		if strings.Contains(d.Name(), ".tmp") {
			t.Errorf("temporary file %s left in the token store", p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var stored struct {
			RefreshToken string `json:"refresh_token"`
		}
		if json.Unmarshal(b, &stored) == nil {
			sec.add("stored refresh token", stored.RefreshToken)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Error("the token store holds no file")
	}
	sec.mu.Lock()
	n := len(sec.vals)
	sec.mu.Unlock()
	if n < 8 {
		t.Fatalf("only %d secrets collected; the run did not rotate tokens", n)
	}
	if !strings.Contains(logs.String(), "invalid_grant") || !strings.Contains(string(metrics), "concur_token_refreshes") {
		t.Fatalf("the run did not reach the refused grant, or metrics are missing:\n%.3000s", metrics)
	}
	dlq, err := os.ReadFile(env["DLQ_PATH"])
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	sec.check(t, "the logs", logs.String())
	sec.check(t, "the metrics", string(metrics))
	sec.check(t, "the DLQ", string(dlq))
	t.Logf("RESULT secrets: %d secrets (client secrets, request tokens, issued access and refresh tokens) searched in %d bytes of debug logs, %d bytes of metrics, %d bytes of dead letters: none found; %d token files, all 0600", n, len(logs.String()), len(metrics), len(dlq), files)

	// concurflow echo prints the configuration: no secret either.
	cmd := exec.Command(os.Args[0], "echo", pipeline)
	cmd.Env = append(os.Environ(), cliEnv+"=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("concurflow echo: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "concur_accounting") {
		t.Fatalf("concurflow echo printed no configuration:\n%s", out)
	}
	sec.check(t, "concurflow echo", string(out))
	t.Logf("echo prints client_secret as: %s", strings.TrimSpace(grepLine(string(out), "client_secret")))
}

// grepLine returns the first line of s containing sub.
func grepLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
