package promtext_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/concurflow/concurflow/plugin/promtext"
)

// TestExposition checks the text format of each kind: label escaping, name
// sanitising, timers as sum and count, sorted output.
func TestExposition(t *testing.T) {
	e := promtext.NewExporter()
	e.NewCounterCtor("concur_accounting_records", "object", "status")("accounts", "accepted").Incr(3)
	e.NewCounterCtor("concur_accounting_records", "object", "status")("accounts", "accepted").Incr(2)
	e.NewGaugeCtor("concur_auth_failed", "company")(`a"b\c`).Set(1)
	tm := e.NewTimerCtor("output-latency.ns")()
	tm.Timing(100)
	tm.Timing(50)
	var b strings.Builder
	if err := e.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := `# TYPE concur_accounting_records counter
concur_accounting_records{object="accounts",status="accepted"} 5
# TYPE concur_auth_failed gauge
concur_auth_failed{company="a\"b\\c"} 1
# TYPE output_latency_ns summary
output_latency_ns_sum 150
output_latency_ns_count 2
`
	if b.String() != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestServedByStream runs a stream with metrics: concur_prometheus and
// scrapes its HTTP server's /metrics.
func TestServedByStream(t *testing.T) {
	b := service.NewStreamBuilder()
	if err := b.SetYAML(`
input:
  generate:
    count: 7
    interval: ""
    mapping: 'root = "x"'
output:
  drop: {}
metrics:
  concur_prometheus: {}
`); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	b.SetHTTPMux(mux)
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q, want the text exposition format", ct)
	}
	for _, want := range []string{
		"# TYPE input_received counter\n",
		`input_received{label="",path="root.input"} 7` + "\n",
		"# TYPE output_latency_ns summary\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}

// TestSeriesLookupCheap checks that asking again for a series already seen
// allocates nothing but the caller's slice of values (a call through a
// function value puts it on the heap): Benthos asks for it on every Incr of a labelled
// metric, once per message for kafka_go_input_received. Building a
// strings.Replacer per lookup made this a sixth of kafka_to_concur's CPU.
func TestSeriesLookupCheap(t *testing.T) {
	e := promtext.NewExporter()
	ctor := e.NewCounterCtor("kafka_go_input_received", "label", "path")
	ctor("in", "root.input").Incr(1)
	allocs := testing.AllocsPerRun(100, func() { ctor("in", "root.input").Incr(1) })
	if allocs > 1 {
		t.Errorf("%v allocations per lookup of a known series, want at most 1", allocs)
	}
	// Values that would share a cache key still get their own series.
	ctor("a\xffb").Incr(5)
	ctor("a", "b").Incr(7)
	var b strings.Builder
	if err := e.Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`kafka_go_input_received{label="in",path="root.input"} 102`, // 1 + a warm-up + 100 runs
		"kafka_go_input_received{label=\"a\xffb\",path=\"\"} 5",
		`kafka_go_input_received{label="a",path="b"} 7`,
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("exposition lacks %q:\n%s", want, b.String())
		}
	}
}
