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
