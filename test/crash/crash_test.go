// Package crash proves concurflow's delivery guarantees across process
// boundaries: the concurflow binary runs pipelines/kafka_to_concur.yaml
// against a kfake broker and the sandbox, each a process of its own, is
// killed with SIGKILL at random moments and restarted, and must still leave
// exactly the last value of every record in Concur, apply no request body
// twice and commit its consumer group to the end of the topic. A second run
// takes the API away (connections refused) in the middle and expects the
// pipeline to wait and resume by itself.
//
// The default run is small enough for CI; the full run (300,000 records, 12
// kills, a 30-second outage) needs the crash build tag:
//
//	go test -tags crash ./test/crash -v -timeout 30m
//
// Set CRASH_SEED to replay a run's kill schedule.
package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/concurflow/concurflow/test/harness"
)

const (
	topic     = "erp.changes"
	group     = "concurflow-erp-changes"
	companies = 5
)

// env is the test environment: built binaries, the broker and the sandbox.
type env struct {
	t        *testing.T
	dir      string
	bin      string // concurflow
	brokers  []string
	sandbox  string
	cos      []harness.Company
	pipeline string // path of kafka_to_concur.yaml
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("crash test builds and runs processes; skipped with -short")
	}
	e := &env{t: t, dir: t.TempDir()}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	e.pipeline = filepath.Join(root, "pipelines", "kafka_to_concur.yaml")
	e.bin = e.build(root, "./cmd/concurflow", "concurflow")
	broker := e.build(root, "./internal/cmd/kfakebroker", "kfakebroker")

	out := e.start("kfakebroker", broker, nil, "-topics", topic, "-partitions", "6", "-min-session-timeout", "500ms")
	line := e.waitOutput(out, "KAFKA_BROKERS=", 1)
	_, addrs, _ := strings.Cut(strings.TrimSpace(line), "=")
	e.brokers = strings.Split(addrs, ",")

	out = e.start("sandbox", e.bin, nil, "sandbox", "--seed", strconv.Itoa(companies), "--addr", "127.0.0.1:0", "--processing-delay", "200ms")
	e.waitOutput(out, fmt.Sprintf("export ERP_ID_%d=", companies), 1)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if e.sandbox, e.cos, err = harness.ParseSandboxOutput(f, companies); err != nil {
		t.Fatal(err)
	}
	return e
}

// build compiles a main package into the test's directory.
func (e *env) build(root, pkg, name string) string {
	e.t.Helper()
	out := filepath.Join(e.dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("building %s: %v\n%s", pkg, err, b)
	}
	return out
}

// start runs a process until the test ends (SIGTERM, then SIGKILL after 10
// s) with its output in a file, whose path it returns.
func (e *env) start(name, bin string, extraEnv map[string]string, args ...string) string {
	e.t.Helper()
	cmd, out := e.command(name, bin, extraEnv, args...)
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("starting %s: %v", name, err)
	}
	e.t.Cleanup(func() { stop(cmd) })
	return out
}

// command prepares a process writing its output to a new file in the test
// directory.
func (e *env) command(name, bin string, extraEnv map[string]string, args ...string) (*exec.Cmd, string) {
	e.t.Helper()
	out, err := os.CreateTemp(e.dir, name+"-*.log")
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = e.dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = os.Environ()
	for k, v := range extraEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// The file stays open in the child; the parent's copy is not needed.
	e.t.Cleanup(func() { out.Close() })
	return cmd, out.Name()
}

// stop ends a process gracefully, or kills it after ten seconds.
func stop(cmd *exec.Cmd) {
	if cmd.ProcessState != nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cmd.Wait()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// waitOutput waits until the file holds n lines starting with prefix and
// returns the last of them.
func (e *env) waitOutput(path, prefix string, n int) string {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		var found []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, prefix) {
				found = append(found, l)
			}
		}
		if len(found) >= n {
			return found[n-1]
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s never printed %d lines %q:\n%s", path, n, prefix, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pipelineEnv is the pipeline's environment with the API at apiURL.
func (e *env) pipelineEnv(apiURL string) map[string]string {
	m := harness.PipelineEnv(apiURL, strings.Join(e.brokers, ","), filepath.Join(e.dir, "tokens"), e.cos)
	m["KAFKA_SESSION_TIMEOUT"] = "2s"
	m["DLQ_PATH"] = filepath.Join(e.dir, "dlq.ndjson")
	m["LOG_LEVEL"] = "INFO"
	m["KAFKA_BATCH_COUNT"] = strconv.Itoa(params.batch)
	return m
}

// proc is a started process whose exit is awaited exactly once.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the exit.
func (p *proc) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// stop sends SIGTERM and waits for the exit, killing after ten seconds.
func (p *proc) stop() {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

// runPipeline starts `concurflow run kafka_to_concur.yaml`; it is killed
// when the test ends if still running.
func (e *env) runPipeline(env map[string]string) *proc {
	e.t.Helper()
	cmd, out := e.command("pipeline", e.bin, env, "run", e.pipeline)
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("starting the pipeline: %v", err)
	}
	p := &proc{cmd: cmd, log: out, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = cmd.Wait()
	}()
	e.t.Cleanup(p.kill)
	return p
}

// finished reports nil once the sandbox holds want and the group committed
// every offset.
func (e *env) finished(ctx context.Context, admin harness.Admin, want map[harness.Target]map[string]string) error {
	lag, end, err := harness.GroupLag(ctx, e.brokers, group, topic)
	if err != nil {
		return err
	}
	if lag != 0 {
		return fmt.Errorf("%w: consumer group lag %d of %d", harness.ErrNotYet, lag, end)
	}
	return admin.CheckState(ctx, want)
}

// waitFinished polls finished until it passes, failing the test with the
// last state and the pipeline's log tail at the deadline. The pipeline
// must keep running meanwhile.
func (e *env) waitFinished(ctx context.Context, admin harness.Admin, want map[harness.Target]map[string]string, p *proc) {
	e.t.Helper()
	for {
		err := e.finished(ctx, admin, want)
		if err == nil {
			return
		}
		select {
		case <-p.done:
			e.t.Fatalf("the pipeline exited (%v) before finishing: %v\n%s", p.err, err, tail(p.log))
		case <-ctx.Done():
			// A goroutine dump of the stuck pipeline, kept after the test.
			_ = p.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
			keep := filepath.Join(os.TempDir(), fmt.Sprintf("concurflow-crash-%d.log", time.Now().UnixNano()))
			if b, rerr := os.ReadFile(p.log); rerr == nil {
				_ = os.WriteFile(keep, b, 0o644)
			}
			e.t.Fatalf("not finished: %v\nfull pipeline log with goroutine dump: %s\n%s", err, keep, tail(p.log))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// runParams size a run; params (in params_*_test.go) picks them by build
// tag.
type runParams struct {
	records      int
	batch        int // records per Kafka batch
	kills        int
	minUp, maxUp time.Duration
	outage       time.Duration
	timeout      time.Duration
}

// seed is CRASH_SEED or the clock.
func seed(t *testing.T) uint64 {
	if s := os.Getenv("CRASH_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CRASH_SEED: %v", err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// TestKillNine produces the changes, then runs the pipeline and kills it
// with SIGKILL at random moments, restarting it each time, and finally lets
// it finish.
func TestKillNine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), params.timeout)
	defer cancel()
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 1))
	t.Logf("CRASH_SEED=%d: %d records, %d kills", s, params.records, params.kills)

	changes := harness.Generate(s, e.cos, params.records)
	if err := harness.Produce(ctx, e.brokers, topic, changes); err != nil {
		t.Fatal(err)
	}
	admin := harness.Admin{URL: e.sandbox}
	want := harness.Expected(e.cos, changes)
	env := e.pipelineEnv(e.sandbox)

	start := time.Now()
	for k := range params.kills {
		p := e.runPipeline(env)
		d := params.minUp + time.Duration(rng.Int64N(int64(params.maxUp-params.minUp)))
		time.Sleep(d)
		e.waitGroupStable(ctx)
		p.kill()
		lag, end, _ := harness.GroupLag(ctx, e.brokers, group, topic)
		t.Logf("kill %d after %v: committed %d of %d offsets", k+1, d.Round(time.Millisecond), end-lag, end)
		if lag == 0 && k+1 < params.kills {
			t.Logf("  (all committed before kill %d; log: %s)", k+1, p.log)
		}
	}
	p := e.runPipeline(env)
	e.waitFinished(ctx, admin, want, p)
	p.stop()
	elapsed := time.Since(start)

	if err := admin.WaitIdle(ctx, e.cos); err != nil {
		t.Fatal(err)
	}
	if err := admin.CheckState(ctx, want); err != nil {
		t.Fatal(err)
	}
	st, err := admin.CheckAppliedOnce(ctx, e.cos)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := harness.ReadDLQ(env["DLQ_PATH"])
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 0 {
		t.Errorf("%d records in the DLQ, want none; first: %+v", len(dead), dead[0])
	}
	t.Logf("RESULT kill-9: %d records, %d kills, %v until done; %d requests accepted carrying %d records (%.2f× the records: re-sent after kills), %d re-sent bodies answered 412, none applied twice",
		len(changes), params.kills, elapsed.Round(time.Second), st.Accepted, st.Records, float64(st.Records)/float64(len(changes)), st.Resent412)
}

// waitGroupStable waits, for at most ten seconds, until the consumer group
// is Stable, so that the kill does not land while a member's JoinGroup is
// pending. kfake, the test broker, never expires a member killed mid-join
// (its session timer is started only when the join reply is delivered), so
// that member would keep its partitions for ever; a real broker expires it
// after the session timeout. Kills still land at random moments of the
// pipeline's work: mid-fetch, mid-request, mid-commit.
func (e *env) waitGroupStable(ctx context.Context) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		state, _, err := harness.GroupState(ctx, e.brokers, group)
		if err == nil && state == "Stable" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Logf("group %s not Stable after 10s; killing anyway", group)
}

// TestAPIUnreachable takes the API away for params.outage in the middle of
// a run: the pipeline must keep running, wait, and finish by itself.
func TestAPIUnreachable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), params.timeout)
	defer cancel()
	s := seed(t)
	changes := harness.Generate(s, e.cos, params.records)
	if err := harness.Produce(ctx, e.brokers, topic, changes); err != nil {
		t.Fatal(err)
	}
	proxy, err := harness.NewProxy(e.sandbox, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	admin := harness.Admin{URL: e.sandbox}
	want := harness.Expected(e.cos, changes)

	p := e.runPipeline(e.pipelineEnv(proxy.URL()))
	// Wait for some progress, then cut the API off.
	for {
		lag, end, err := harness.GroupLag(ctx, e.brokers, group, topic)
		if err != nil {
			t.Fatal(err)
		}
		if end-lag > 0 {
			t.Logf("API down after %d of %d offsets committed", end-lag, end)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	proxy.Down()
	lagBefore, _, _ := harness.GroupLag(ctx, e.brokers, group, topic)
	time.Sleep(params.outage)
	lagAfter, end, _ := harness.GroupLag(ctx, e.brokers, group, topic)
	if p.exited() {
		t.Fatalf("the pipeline exited during the outage:\n%s", tail(p.log))
	}
	t.Logf("after %v without the API: lag %d → %d of %d", params.outage, lagBefore, lagAfter, end)
	if err := proxy.Up(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	e.waitFinished(ctx, admin, want, p)
	p.stop()
	t.Logf("RESULT outage: %d records, API unreachable %v, finished %v after it came back", len(changes), params.outage, time.Since(back).Round(time.Second))
	if _, err := admin.CheckAppliedOnce(ctx, e.cos); err != nil {
		t.Fatal(err)
	}
}
