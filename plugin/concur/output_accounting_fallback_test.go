package concur_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/concurflow/concurflow/sandbox"
)

// TestAccountingBatchingUnderFallback pins down what the output's
// description says about batching inside a fallback: three input batches
// of three records, one record invalid, sent at once.
//
//   - the output's own batching merges the input batches: the whole input
//     batch holding the bad record reaches the fallback, good records
//     included (they were applied too);
//   - no output batching (batches come from the input): only the bad record;
//   - batching in a broker around the fallback: only the bad record.
func TestAccountingBatchingUnderFallback(t *testing.T) {
	t.Parallel()
	const merge = "batching: { count: 9, period: 2s }"
	cases := []struct {
		name      string
		extra     string // concur_accounting fields
		broker    bool   // batch in a broker around the fallback
		wantFails []string
	}{
		{"output batching", merge, false, []string{"A0003", "A0004", "X0005"}},
		{"input batches", "", false, []string{"X0005"}},
		{"broker around the fallback", "", true, []string{"X0005"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newAcctEnv(t, 1, sandbox.WithRateLimit(false))
			failed := filepath.Join(t.TempDir(), "failed.ndjson")
			out := fallbackYAML(e.output(c.extra), fmt.Sprintf(`file: { path: %s, codec: lines }
processors:
  - mapping: 'root = content().string().parse_json().id'
`, failed))
			if c.broker {
				out = "broker:\n  pattern: fan_out\n  " + merge + "\n  outputs:\n    - " + indentYAML(out, "      ") + "\n"
			}
			send, stream, done := runOutputStream(t, out, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			for i := range 3 {
				batch := e.accounts(0, 3, 3*i)
				if i == 1 {
					batch[2] = e.msg(0, "accounts", `{"id":"X0005","name":"bad","type":"NOT_A_TYPE"}`)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := send(ctx, batch); err != nil {
						t.Errorf("batch %d: %v", i, err)
					}
				}()
			}
			wg.Wait()
			if err := stream.StopWithin(10 * time.Second); err != nil {
				t.Fatal(err)
			}
			<-done
			got := strings.Fields(readFile(t, failed))
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(c.wantFails) {
				t.Errorf("fallback got %v, want %v", got, c.wantFails)
			}
			// Acknowledged at 202: processing may still be under way.
			e.waitIdle()
			e.expectIDs(0, sandbox.ObjectAccount, "[A0000 A0001 A0002 A0003 A0004 A0006 A0007 A0008]")
		})
	}
}

// readFile returns a file's content, "" when it does not exist.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

// fallbackYAML is a fallback output trying first, then next (both YAML
// objects at column 0).
func fallbackYAML(first, next string) string {
	return "fallback:\n  - " + indentYAML(first, "    ") + "\n  - " + indentYAML(next, "    ") + "\n"
}

// indentYAML indents every line of y but the first by prefix.
func indentYAML(y, prefix string) string {
	return strings.ReplaceAll(strings.TrimRight(y, "\n"), "\n", "\n"+prefix)
}

// runOutputStream runs a stream writing batches from the returned producer
// to the output out, logging nothing; with mux, its metrics are served
// there as json_api. done receives Run's result.
func runOutputStream(t *testing.T, out string, mux *http.ServeMux) (send service.MessageBatchHandlerFunc, stream *service.Stream, done chan error) {
	t.Helper()
	b := service.NewStreamBuilder()
	send, err := b.AddBatchProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddOutputYAML(out); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if mux != nil {
		if err := b.SetMetricsYAML("json_api: {}"); err != nil {
			t.Fatal(err)
		}
		b.SetHTTPMux(mux)
	}
	if err := b.SetLoggerYAML("level: none"); err != nil {
		t.Fatal(err)
	}
	if stream, err = b.Build(); err != nil {
		t.Fatal(err)
	}
	done = make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	return send, stream, done
}
