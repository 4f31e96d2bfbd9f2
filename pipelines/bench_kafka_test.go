package pipelines_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	concurapi "github.com/concurflow/concurflow/concur"
	"github.com/concurflow/concurflow/sandbox"
	"github.com/concurflow/concurflow/test/harness"
)

// BenchmarkKafkaToConcur runs pipelines/kafka_to_concur.yaml as committed
// over a backlog in a kfake topic (6 partitions) into the in-process
// sandbox with its rate limit on (one write per second per endpoint,
// company and ERP), until the consumer group has committed everything, and
// reports what the sandbox accepted:
//
//	records/s      backlog records ÷ time until the group's lag is 0
//	bytes/req      mean body size of the accepted requests
//	fill%          bytes/req ÷ 4,000,000
//	req/s/endpoint mean over endpoints with two or more requests of
//	               (requests − 1) ÷ (last − first received): the share of
//	               the one-request-per-second quota used while it had work
//	429s           rate-limit answers counted by the output
//
// KAFKA_BENCH_RECORDS sets the backlog (default 300000);
// KAFKA_CHECKPOINT_LIMIT and KAFKA_BATCH_COUNT are passed to the pipeline
// when set. Run it with
// -benchtime=1x: one run per case is minutes of work.
func BenchmarkKafkaToConcur(b *testing.B) {
	records := 300_000
	if s := os.Getenv("KAFKA_BENCH_RECORDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("KAFKA_BENCH_RECORDS: %v", err)
		}
		records = n
	}
	for _, c := range []struct {
		companies int
		delay     time.Duration
	}{
		{3, 0},
		{3, 2 * time.Second},
		{100, 0},
	} {
		b.Run(fmt.Sprintf("companies=%d/processing=%v", c.companies, c.delay), func(b *testing.B) {
			for range b.N {
				benchKafkaToConcur(b, records, c.companies, c.delay)
			}
		})
	}
}

func benchKafkaToConcur(b *testing.B, records, companies int, delay time.Duration) {
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	sb := sandbox.New(b, sandbox.WithProcessingDelay(delay))
	cos := harness.SeedCompanies(b, sb, companies)
	const topic, group = "erp.changes", "concurflow-erp-changes"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, topic), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		b.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	changes := harness.Generate(uint64(records), cos, records)
	if err := harness.Produce(ctx, brokers, topic, changes); err != nil {
		b.Fatal(err)
	}
	// Every company's refresh token in the store, as `concurflow auth
	// exchange` leaves it: the pipeline names only five companies.
	store := filepath.Join(b.TempDir(), "tokens")
	ds, err := concurapi.NewDirStore(store)
	if err != nil {
		b.Fatal(err)
	}
	for _, co := range cos {
		ts, err := concurapi.NewTokenSource(concurapi.TokenSourceConfig{
			CompanyID: co.ID, ClientID: co.ClientID, ClientSecret: co.ClientSecret,
			RequestToken: co.RequestToken, AuthURL: sb.URL(), Store: ds,
		})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ts.TokenContext(ctx); err != nil {
			b.Fatal(err)
		}
	}
	env := harness.PipelineEnv(sb.URL(), strings.Join(brokers, ","), store, cos)
	env["DLQ_PATH"] = filepath.Join(b.TempDir(), "dlq.ndjson")
	env["LOG_LEVEL"] = "WARN"
	for _, k := range []string{"KAFKA_CHECKPOINT_LIMIT", "KAFKA_BATCH_COUNT"} {
		if v := os.Getenv(k); v != "" {
			env[k] = v // to try other settings of the pipeline
		}
	}
	var logs harness.LockedBuffer
	mux := http.NewServeMux()

	b.StartTimer()
	start := time.Now()
	stop := harness.RunPipelineMux(b, "kafka_to_concur.yaml", env, &logs, mux)
	for {
		lag, _, err := harness.GroupLag(ctx, brokers, group, topic)
		if err == nil && lag == 0 {
			break
		}
		if ctx.Err() != nil {
			b.Fatalf("lag %d (%v) at the deadline", lag, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	rateLimited := metricSum(b, mux, "concur_accounting_requests{", `status="429"`)
	stop()

	if err := (harness.Admin{URL: sb.URL()}).CheckState(ctx, harness.Expected(cos, changes)); err != nil {
		b.Fatal(err)
	}
	if dead, err := harness.ReadDLQ(env["DLQ_PATH"]); err != nil || len(dead) != 0 {
		b.Fatalf("DLQ: %d records (%v)", len(dead), err)
	}

	var reqs, bodyBytes, rated int
	var rateSum float64
	for _, co := range cos {
		rs, err := sb.Requests(co.ID, co.ERPID)
		if err != nil {
			b.Fatal(err)
		}
		type span struct {
			n           int
			first, last time.Time
		}
		spans := map[sandbox.Object]*span{}
		for _, r := range rs {
			reqs++
			bodyBytes += r.BodyBytes
			s := spans[r.Object]
			if s == nil {
				s = &span{first: r.Received}
				spans[r.Object] = s
			}
			s.n++
			s.last = r.Received
		}
		for _, s := range spans {
			if d := s.last.Sub(s.first); s.n >= 2 && d > 0 {
				rateSum += float64(s.n-1) / d.Seconds()
				rated++
			}
		}
	}
	perReq := float64(bodyBytes) / float64(max(reqs, 1))
	perEndpoint := rateSum / float64(max(rated, 1))
	b.ReportMetric(float64(records)/elapsed.Seconds(), "records/s")
	b.ReportMetric(perReq, "bytes/req")
	b.ReportMetric(100*perReq/concurapi.MaxBodyBytes, "fill%")
	b.ReportMetric(perEndpoint, "req/s/endpoint")
	b.ReportMetric(rateLimited, "429s")
	b.Logf("%d records, %d companies, processing %v: %v until committed, %d requests (%d endpoints with 2+), load %s",
		records, companies, delay, elapsed.Round(time.Millisecond), reqs, rated, loadAvg())
}

// metricSum adds the values of the stream's JSON metrics whose names start
// with prefix and contain label.
func metricSum(b *testing.B, mux *http.ServeMux, prefix, label string) float64 {
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		b.Fatalf("metrics: %v", err)
	}
	sum := 0.0
	for k, v := range m {
		if strings.HasPrefix(k, prefix) && strings.Contains(k, label) {
			f, _ := v.(float64)
			sum += f
		}
	}
	return sum
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
