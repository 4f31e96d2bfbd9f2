package concur_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
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
// env at url (the sandbox's, or a stub's in front of it), with the company,
// ERP and credentials written out, plus extra fields.
func (e *acctEnv) staticOutput(url, extra string) string {
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
      request_token: %s`, co.ID, e.erps[0], extra, url, e.store, co.ClientID, co.ClientSecret, co.RequestToken)
}

// BenchmarkAccountingQuota measures how much of the documented write quota
// (one PATCH per second of at most 4 MB, so 4,000,000 bytes/s) the output
// uses with a backlog of ~150-byte accounts larger than the window can
// take, against the sandbox enforcing one PATCH per second. The window defaults to 10 s; set
// ACCT_QUOTA_SECONDS=60 for a longer run, ACCT_BENCH_MARGIN=0s (any
// duration) to replace the default rate_limit_margin. Run with -benchtime=1x.
func BenchmarkAccountingQuota(b *testing.B) {
	window := 10 * time.Second
	if v, err := strconv.Atoi(os.Getenv("ACCT_QUOTA_SECONDS")); err == nil && v > 0 {
		window = time.Duration(v) * time.Second
	}
	for range b.N {
		e := newAcctEnv(b, 1)
		co, erp := e.cos[0], e.erps[0]

		// The backlog is an NDJSON file read whole: 32,000 records per
		// second of window, more than the quota takes (~29,000/s), and read
		// at ~300,000 records/s, so the output never waits for input. (A
		// generate input with a bloblang mapping made only ~25,000
		// records/s on a loaded 2-core machine and left requests
		// part-filled.) One transaction holds the file: Benthos never
		// splits it, so the output packs it into full 4,000,000-byte
		// bodies; rate limit and margin are the defaults.
		path, _ := acctNDJSON(b, int(window.Seconds())*32_000)
		extra := ""
		if m := os.Getenv("ACCT_BENCH_MARGIN"); m != "" {
			extra = "rate_limit_margin: " + m
		}
		yaml := fmt.Sprintf(acctInputWhole, path) + "\n" + e.staticOutput(e.sb.URL(), extra) + `
logger:
  level: ` + acctLogLevel() + "\n"
		start, end := acctRunFor(b, yaml, window)

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

// acctNDJSON writes n ~150-byte accounts, one per line, and returns the
// file's path and size.
func acctNDJSON(b *testing.B, n int) (string, int) {
	path := filepath.Join(b.TempDir(), "accounts.ndjson")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	size := 0
	for i := range n {
		if i > 0 {
			// Between lines only: unarchive's lines format would make a
			// final newline an empty record.
			w.WriteByte('\n')
			size++
		}
		line := acctAccount150(i)
		size += len(line)
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path, size
}

// Input sections reading the NDJSON file at %[1]s.
const (
	// One message per line: what most users write.
	acctInputLines = `
input:
  file:
    paths: [ %[1]s ]
    scanner:
      lines:
        max_buffer_size: 1000000`
	// The same lines, grouped into batches of 1,000 before the pipeline.
	acctInputBatched = `
input:
  batched:
    child:
      file:
        paths: [ %[1]s ]
        scanner:
          lines:
            max_buffer_size: 1000000
    policy:
      count: 1000
      period: 100ms`
	// The whole file as one message, split into one batch of lines: one
	// transaction, the whole file in memory.
	acctInputWhole = `
input:
  file:
    paths: [ %[1]s ]
    scanner:
      to_the_end: {}
  processors:
    - unarchive:
        format: lines`
)

// acctStubSink answers write requests with a fixed 202 and forwards
// everything else (the token endpoint) to the sandbox, pointing the token's
// geolocation at itself: the ceiling of the pipeline without the sandbox's
// ingestion.
type acctStubSink struct {
	sb      *sandbox.Server
	self    string
	records atomic.Int64
}

var acctStub202 = []byte(`{"status":"PROCESSING","requestId":"00000000-0000-0000-0000-000000000000"}`)

func (s *acctStubSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPatch {
		rec := httptest.NewRecorder()
		s.sb.Handler().ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(bytes.ReplaceAll(rec.Body.Bytes(), []byte(s.sb.URL()), []byte(s.self)))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.records.Add(int64(bytes.Count(body, []byte(`{"id":`))))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(acctStub202)
}

// BenchmarkAccountingNDJSON measures unthrottled throughput: b.N ~150-byte
// accounts from an NDJSON file through the output until every record landed,
// with rate limiting off. ns/op is per record; allocs/record counts every
// allocation in the process, the in-process sandbox's included.
// Sub-benchmarks:
//
//   - lines/sandbox: one message per line into the sandbox;
//   - batched/sandbox: the same lines in input batches of 1,000;
//   - whole/sandbox: the whole file read as one message and split into
//     one batch of lines (one transaction; the file is held in memory);
//   - */stub: into a loopback stub answering 202 without reading the
//     records (the pipeline's ceiling);
//   - baseline/sandbox: what a user would write with core components:
//     http_client with byte_size batching, archive and mapping processors
//     and oauth2's refresh-token grant.
func BenchmarkAccountingNDJSON(b *testing.B) {
	for _, c := range []struct {
		name  string
		input string
		stub  bool
	}{
		{"lines/sandbox", acctInputLines, false},
		{"batched/sandbox", acctInputBatched, false},
		{"lines/stub", acctInputLines, true},
		{"batched/stub", acctInputBatched, true},
		{"whole/sandbox", acctInputWhole, false},
		{"whole/stub", acctInputWhole, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			acctBenchNDJSON(b, c.input, c.stub, false)
		})
	}
	// Only with one message per line: Benthos's output batching never splits
	// an incoming batch, so the whole-file input makes the baseline send the
	// file as one body, which is refused (413).
	b.Run("baseline/sandbox", func(b *testing.B) {
		acctBenchNDJSON(b, acctInputLines, false, true)
	})
}

// acctBenchNDJSON runs one variant of BenchmarkAccountingNDJSON.
func acctBenchNDJSON(b *testing.B, input string, stub, baseline bool) {
	n := max(b.N, 1000)
	path, size := acctNDJSON(b, n)

	// Processing at once: records/s-landed measures the pipeline and the
	// sandbox's ingest, not the emulated processing latency.
	e := newAcctEnv(b, 1, sandbox.WithRateLimit(false), sandbox.WithProcessingDelay(0))
	sbx, co, erp := e.sb, e.cos[0], e.erps[0]
	var sink *acctStubSink
	url := sbx.URL()
	if stub {
		sink = &acctStubSink{sb: sbx}
		srv := httptest.NewServer(sink)
		b.Cleanup(srv.Close)
		sink.self, url = srv.URL, srv.URL
	}
	output := e.staticOutput(url, "rate_limit: 1000000")
	if baseline {
		output = e.baselineOutput(b)
	}
	builder := service.NewStreamBuilder()
	yaml := fmt.Sprintf(input, path) + "\n" + output + `
logger:
  level: error
`
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
	if stub {
		if got := sink.records.Load(); got != int64(n) {
			b.Fatalf("stub received %d accounts, want %d", got, n)
		}
		return
	}
	recs, err := sbx.Accounts(co.ID, erp)
	if err != nil || len(recs) != n {
		b.Fatalf("sandbox holds %d accounts, want %d (%v)", len(recs), n, err)
	}
}

// baselineOutput is the output a Benthos user would write without this
// project: core http_client PATCHing byte_size batches wrapped by archive and
// mapping processors, authenticated with oauth2's refresh-token grant
// (bootstrapped with a refresh token from the company's request token). It
// has no idempotency key, no per-record failure, no rate-limit handling
// beyond retries, and its 3,900,000-byte batches can exceed 4 MB once
// re-encoded.
func (e *acctEnv) baselineOutput(b *testing.B) string {
	co, erp := e.cos[0], e.erps[0]
	form := neturl.Values{
		"grant_type": {"password"}, "client_id": {co.ClientID}, "client_secret": {co.ClientSecret},
		"username": {co.ID}, "password": {co.RequestToken}, "credtype": {"authtoken"},
	}
	resp, err := http.PostForm(e.sb.URL()+"/oauth2/v0/token", form)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.RefreshToken == "" {
		b.Fatalf("getting a refresh token: status %d, %v", resp.StatusCode, err)
	}
	return fmt.Sprintf(`output:
  http_client:
    url: %[1]s/accountingintegration/v4/companies/%[2]s/erps/%[3]s/accounts
    verb: PATCH
    headers:
      Content-Type: application/json
    max_in_flight: 8
    oauth2:
      enabled: true
      client_key: %[4]s
      client_secret: %[5]s
      token_url: %[1]s/oauth2/v0/token
      endpoint_params:
        grant_type: [ refresh_token ]
        refresh_token: [ %[6]s ]
    batching:
      byte_size: 3900000
      period: 1s
      processors:
        - archive:
            format: json_array
        - mapping: 'root = {"data": this}'`, e.sb.URL(), co.ID, erp, co.ClientID, co.ClientSecret, tok.RefreshToken)
}

// BenchmarkAccounting100Companies measures how close one stream writing for
// 100 companies comes to each company's documented one write per second,
// against the sandbox enforcing it: a generate input spreads ~150-byte
// accounts evenly over the companies (30,000 records/s in all), the output
// runs with rate_limit 1 and its default margin (ACCT_BENCH_MARGIN
// overrides it) and batching. The window defaults to 15 s
// (ACCT_COMPANIES_SECONDS overrides it). Run with
// -benchtime=1x.
func BenchmarkAccounting100Companies(b *testing.B) {
	const companies = 100
	window := 15 * time.Second
	if v, err := strconv.Atoi(os.Getenv("ACCT_COMPANIES_SECONDS")); err == nil && v > 0 {
		window = time.Duration(v) * time.Second
	}
	for range b.N {
		e := newAcctEnv(b, companies)
		ids := make([]string, companies)
		for i, co := range e.cos {
			ids[i] = co.ID
		}
		coList, _ := json.Marshal(ids)
		erpList, _ := json.Marshal(e.erps)
		extra := "rate_limit: 1\nbatching: { byte_size: 3900000, period: 1s }"
		if m := os.Getenv("ACCT_BENCH_MARGIN"); m != "" {
			extra += "\nrate_limit_margin: " + m
		}
		output := e.output(extra)
		yaml := fmt.Sprintf(`
input:
  generate:
    interval: 10ms
    batch_size: 300
    mapping: |
      let i = counter()
      let c = $i %% %d
      meta company = %s.index($c)
      meta erp = %s.index($c)
      root = {"id": "ACC-%%09d".format($i), "name": "Operating expenses account number %%09d".format($i), "number": "6%%09d".format($i), "type": "EXPENSE", "description": "bench"}
output:
  %s
logger:
  level: %s
`, companies, coList, erpList, strings.ReplaceAll(strings.TrimSpace(output), "\n", "\n  "), acctLogLevel())
		start, end := acctRunFor(b, yaml, window)

		var total int
		var steady float64
		for i, co := range e.cos {
			reqs, err := e.sb.Requests(co.ID, e.erps[i])
			if err != nil {
				b.Fatal(err)
			}
			var n int
			var first, last time.Time
			for _, r := range reqs {
				if r.Received.Before(start) || r.Received.After(end) {
					continue
				}
				if n == 0 {
					first = r.Received
				}
				last = r.Received
				n++
			}
			total += n
			if n > 1 {
				steady += float64(n-1) / last.Sub(first).Seconds()
			}
		}
		limited := 0
		for _, l := range e.sb.RequestLog() {
			if l.Status == http.StatusTooManyRequests {
				limited++
			}
		}
		secs := end.Sub(start).Seconds()
		b.ReportMetric(float64(total)/secs, "req/s")
		b.ReportMetric(float64(total)/secs/companies, "req/s/company")
		b.ReportMetric(steady/companies, "req/s/company-steady")
		b.ReportMetric(float64(limited), "429s")
		e.sb.Close()
	}
}

// acctRunFor runs a stream of yaml for window, stops it and returns when the
// window started and ended.
func acctRunFor(b *testing.B, yaml string, window time.Duration) (start, end time.Time) {
	builder := service.NewStreamBuilder()
	if err := builder.SetYAML(yaml); err != nil {
		b.Fatal(err)
	}
	stream, err := builder.Build()
	if err != nil {
		b.Fatal(err)
	}
	runDone := make(chan error, 1)
	start = time.Now()
	go func() { runDone <- stream.Run(context.Background()) }()
	time.Sleep(window)
	end = time.Now()
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer stopCancel()
	_ = stream.Stop(stopCtx)
	<-runDone
	return start, end
}
