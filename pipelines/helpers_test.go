package pipelines_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/concurflow/concurflow/pipelines"
	"github.com/concurflow/concurflow/sandbox"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/concurflow/concurflow/plugin"
)

// erpDir is the fixture exports of testdata/erp, relative to this package.
const erpDir = "../testdata/erp"

// fixture is a sandbox with one company and registered ERP, and the
// environment a pipeline of this directory reads to use it, with every
// folder in a fresh temporary directory.
type fixture struct {
	srv   *sandbox.Server
	co    sandbox.Company
	erpID string
	env   map[string]string
}

func newFixture(t testing.TB, opts ...sandbox.Option) *fixture {
	t.Helper()
	opts = append([]sandbox.Option{sandbox.WithDeliveryBackoff(func(int) time.Duration { return 20 * time.Millisecond })}, opts...)
	srv := sandbox.New(t, append([]sandbox.Option{sandbox.WithProcessingDelay(0)}, opts...)...)
	co, err := srv.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	erpID, err := srv.RegisterERP(co.ID)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &fixture{srv: srv, co: co, erpID: erpID, env: map[string]string{
		"CONCUR_URL":    srv.URL(),
		"COMPANY_ID":    co.ID,
		"ERP_ID":        erpID,
		"CLIENT_ID":     co.ClientID,
		"CLIENT_SECRET": co.ClientSecret,
		"REQUEST_TOKEN": co.RequestToken,
		"TOKEN_STORE":   filepath.Join(dir, "tokens"),
		"DROP_DIR":      filepath.Join(dir, "drop"),
		"DLQ_DIR":       filepath.Join(dir, "dlq"),
		"EVENTS_DIR":    filepath.Join(dir, "events"),
		"SNAPSHOT_DIR":  filepath.Join(dir, "snapshot"),
		"RESYNC_LOG":    filepath.Join(dir, "full_resync.ndjson"),
		"RESYNC_DLQ":    filepath.Join(dir, "dlq", "resync_rejected.ndjson"),
		// Streams of one test run side by side: none serves HTTP.
		"HTTP_ENABLED": "false",
	}}
	for _, d := range []string{"drop", "snapshot"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// listenEvents points the events pipelines at a free loopback port,
// subscribes the company to it and writes the sandbox's signing key where
// ESS_PUBLIC_KEY_FILES names it. It returns the address.
func (f *fixture) listenEvents(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "sandbox.pem")
	if err := os.WriteFile(key, f.srv.PublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := json.Marshal([]string{key})
	if err != nil {
		t.Fatal(err)
	}
	f.env["EVENTS_ADDR"] = addr
	f.env["ESS_PUBLIC_KEY_FILES"] = string(keys)
	f.srv.Subscribe(f.co.ID, "http://"+addr+"/concur/events")
	return addr
}

// drop copies fixture exports into the drop folder.
func (f *fixture) drop(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		copyFile(t, filepath.Join(erpDir, n), filepath.Join(f.env["DROP_DIR"], n))
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildStream builds the named pipeline of this directory (or, when conf is
// not empty, that YAML) with env as its environment; variables env lacks
// take their defaults.
func buildStream(t testing.TB, name, conf string, env map[string]string) *service.Stream {
	t.Helper()
	lookup := func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
	var b *service.StreamBuilder
	if conf == "" {
		var err error
		if b, err = pipelines.NewStreamBuilder(name, lookup); err != nil {
			t.Fatal(err)
		}
	} else {
		b = service.NewStreamBuilder()
		b.SetEnvVarLookupFunc(lookup)
		if err := b.SetYAML(conf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if err := b.SetLoggerYAML("level: warn"); err != nil {
		t.Fatal(err)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// runToEnd runs a bounded pipeline until its input is exhausted.
func runToEnd(t testing.TB, name, conf string, env map[string]string) {
	t.Helper()
	s := buildStream(t, name, conf, env)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("running %s: %v", name, err)
	}
}

// runInBackground starts a long-running pipeline listening on addr and
// stops it when the test ends (or when the returned stop is called).
func runInBackground(t *testing.T, name string, env map[string]string, addr string) (stop func()) {
	t.Helper()
	s := buildStream(t, name, "", env)
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("stopping %s: %v", name, err)
		}
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("%s ended with %v", name, err)
		}
	}
	t.Cleanup(stop)
	waitListening(t, addr, done)
	return stop
}

// waitListening waits until addr accepts connections or the stream ended.
func waitListening(t *testing.T, addr string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case err := <-done:
			t.Fatalf("stream ended before listening on %s: %v", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
	}
}

func waitIdle(t testing.TB, srv *sandbox.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

// readNDJSON decodes one JSON object per non-empty line of a file.
func readNDJSON(t testing.TB, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return decodeLines(t, path, b)
}

func decodeLines(t testing.TB, name string, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: line %q: %v", name, sc.Text(), err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return out
}

// stripNulls removes object members whose value is null, recursively: the
// API leaves out what a GET would show as null.
func stripNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			x[k] = stripNulls(e)
		}
	case []any:
		for i := range x {
			x[i] = stripNulls(x[i])
		}
	}
	return v
}

// assertRecords checks that got (records as the sandbox holds them) are
// exactly want, keyed by key ("id" or "countryCode"), nulls ignored.
func assertRecords(t *testing.T, what string, got []json.RawMessage, want []map[string]any, key string) {
	t.Helper()
	gotBy := map[string]any{}
	for _, r := range got {
		var m map[string]any
		if err := json.Unmarshal(r, &m); err != nil {
			t.Fatal(err)
		}
		id, _ := m[key].(string)
		gotBy[id] = stripNulls(m)
	}
	wantBy := map[string]any{}
	for _, m := range want {
		id, _ := m[key].(string)
		wantBy[id] = stripNulls(m)
	}
	if len(gotBy) != len(wantBy) {
		t.Errorf("%s: sandbox holds %d records, want %d", what, len(gotBy), len(wantBy))
	}
	for id, w := range wantBy {
		g, ok := gotBy[id]
		if !ok {
			t.Errorf("%s: %s missing from the sandbox", what, id)
			continue
		}
		if !reflect.DeepEqual(g, w) {
			gj, _ := json.Marshal(g)
			wj, _ := json.Marshal(w)
			t.Errorf("%s %s:\n got %s\nwant %s", what, id, gj, wj)
		}
	}
	for id := range gotBy {
		if _, ok := wantBy[id]; !ok {
			t.Errorf("%s: unexpected record %s in the sandbox", what, id)
		}
	}
}

// sortedStrings returns the string values of key in ms, sorted.
func sortedStrings(ms []map[string]any, key func(map[string]any) string) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, key(m))
	}
	slices.Sort(out)
	return out
}
