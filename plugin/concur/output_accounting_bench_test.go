package concur_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/concurflow/concurflow/sandbox"
)

// acctAccount150 is an account record of about 150 bytes.
func acctAccount150(i int) []byte {
	return fmt.Appendf(nil, `{"id":"ACC-%09d","name":"Operating expenses account number %09d","number":"6%09d","type":"EXPENSE","description":"bench"}`, i, i, i)
}

// staticOutput is an output section writing accounts to company 0 of the
// env, with the company, ERP and credentials written out, plus extra fields.
func (e *acctEnv) staticOutput(extra string) string {
	co := e.cos[0]
	return fmt.Sprintf(`output:
  concur_accounting:
    company_id: %s
    erp_id: %s
    object: accounts
    %s
    auth:
      url: %s
      token_store: %s
      client_id: %s
      client_secret: %s
      request_token: %s`, co.ID, e.erps[0], extra, e.sb.URL(), e.store, co.ClientID, co.ClientSecret, co.RequestToken)
}

// BenchmarkAccountingQuota measures how much of the documented write quota
// (one PATCH per second of at most 4 MB, so 4,000,000 bytes/s) the output
// uses with an unbounded backlog of ~150-byte accounts, against the sandbox
// enforcing one PATCH per second. The window defaults to 10 s; set
// ACCT_QUOTA_SECONDS=60 for a longer run. Run with -benchtime=1x.
func BenchmarkAccountingQuota(b *testing.B) {
	window := 10 * time.Second
	if v, err := strconv.Atoi(os.Getenv("ACCT_QUOTA_SECONDS")); err == nil && v > 0 {
		window = time.Duration(v) * time.Second
	}
	for range b.N {
		e := newAcctEnv(b, 1)
		co, erp := e.cos[0], e.erps[0]

		// A generate input keeps an unbounded backlog in front of the
		// output; batching, rate limit and max_in_flight are the defaults.
		builder := service.NewStreamBuilder()
		yaml := fmt.Sprintf(`
input:
  generate:
    interval: ""
    batch_size: 1000
    mapping: |
      let i = counter()
      root = {"id": "ACC-%%09d".format($i), "name": "Operating expenses account number %%09d".format($i), "number": "6%%09d".format($i), "type": "EXPENSE", "description": "bench"}
%s
logger:
  level: %s
`, e.staticOutput(""), acctLogLevel())
		if err := builder.SetYAML(yaml); err != nil {
			b.Fatal(err)
		}
		stream, err := builder.Build()
		if err != nil {
			b.Fatal(err)
		}
		runDone := make(chan error, 1)
		start := time.Now()
		go func() { runDone <- stream.Run(context.Background()) }()
		time.Sleep(window)
		end := time.Now()
		stopCtx, stopCancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = stream.Stop(stopCtx)
		stopCancel()
		<-runDone

		reqs, err := e.sb.Requests(co.ID, erp)
		if err != nil {
			b.Fatal(err)
		}
		var bytes, n, records int
		var first, last time.Time
		var steadyBytes int
		for _, r := range reqs {
			if os.Getenv("ACCT_TEST_LOG") != "" {
				b.Logf("request at %v: %d bytes, %d records", r.Received.Sub(start), r.BodyBytes, r.Records)
			}
			if r.Received.Before(start) || r.Received.After(end) {
				continue
			}
			bytes += r.BodyBytes
			records += r.Records
			n++
			if first.IsZero() {
				first = r.Received
			} else {
				steadyBytes += r.BodyBytes
			}
			last = r.Received
		}
		secs := end.Sub(start).Seconds()
		b.ReportMetric(float64(bytes)/secs, "bytes/s")
		b.ReportMetric(100*float64(bytes)/secs/4_000_000, "%quota")
		if n > 1 {
			// From the first request on: without start-up (token, first batch).
			b.ReportMetric(100*float64(steadyBytes)/last.Sub(first).Seconds()/4_000_000, "%quota-steady")
		}
		b.ReportMetric(float64(n)/secs, "PATCH/s")
		b.ReportMetric(float64(records)/secs, "records/s")
		b.ReportMetric(float64(bytes)/float64(max(n, 1)), "bytes/PATCH")
		e.sb.Close()
	}
}

// BenchmarkAccountingNDJSON measures unthrottled throughput: b.N ~150-byte
// accounts from an NDJSON file (file input, lines scanner) through the
// output into the sandbox with rate limiting off, until every request was
// processed. ns/op is per record; allocs/op counts every allocation in the
// process, the in-process sandbox's included.
func BenchmarkAccountingNDJSON(b *testing.B) {
	n := max(b.N, 1000)
	path := filepath.Join(b.TempDir(), "accounts.ndjson")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	size := 0
	for i := range n {
		line := acctAccount150(i)
		size += len(line) + 1
		w.Write(line)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()

	e := newAcctEnv(b, 1, sandbox.WithRateLimit(false))
	sbx, co, erp := e.sb, e.cos[0], e.erps[0]
	builder := service.NewStreamBuilder()
	yaml := fmt.Sprintf(`
input:
  file:
    paths: [ %s ]
    scanner:
      lines:
        max_buffer_size: 1000000
%s
logger:
  level: error
`, path, e.staticOutput("rate_limit: 1000000"))
	if err := builder.SetYAML(yaml); err != nil {
		b.Fatal(err)
	}
	stream, err := builder.Build()
	if err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.SetBytes(int64(size / n))
	b.ResetTimer()
	start := time.Now()
	if err := stream.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	accepted := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := sbx.WaitIdle(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(n)/accepted.Seconds(), "records/s-accepted")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s-landed")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n), "allocs/record")
	recs, err := sbx.Accounts(co.ID, erp)
	if err != nil || len(recs) != n {
		b.Fatalf("sandbox holds %d accounts, want %d (%v)", len(recs), n, err)
	}
}
