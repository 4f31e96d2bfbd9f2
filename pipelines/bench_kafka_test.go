package pipelines_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

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
//	cpu-cores      CPU time of the whole process (kfake, pipeline,
//	               sandbox) ÷ the time above
//	peak-heap-MB   the largest heap seen (sampled every 100 ms; the whole
//	               process: kfake's copy of the backlog and the sandbox's
//	               records included)
//
// KAFKA_BENCH_RECORDS sets the backlog (default 300000);
// KAFKA_BENCH_PARTITIONS the topic's partitions (default 6; records are keyed
// by company, so 3 companies use 1 to 3 of them, by their random ids);
// KAFKA_BENCH_KEY=object keys them by company and object instead, the
// company in the company_id header;
// KAFKA_BENCH_SCALE=n runs Concur n times slower: one write per n seconds
// per endpoint (sandbox.WithWriteInterval), the pipeline's
// CONCUR_RATE_LIMIT at 1/n and the processing time n times longer, so that
// a machine too small to feed the real quota (about 265,000 records/s for
// nine endpoints) can show whether the writer uses the quota it is given;
// req/s/endpoint is then reported in units of the scaled quota
// (requests per n seconds);
// KAFKA_BENCH_TIMELINE=file writes every request the sandbox accepted to
// file (received and completed, seconds from the start; records; bytes);
// KAFKA_BENCH_LOG=file writes the pipeline's log (WARN and above: the
// retries, 429s included) to file;
// KAFKA_CHECKPOINT_LIMIT and KAFKA_BATCH_COUNT are passed to the pipeline
// when set. Run it with
// -benchtime=1x: one run per case is minutes of work.
func BenchmarkKafkaToConcur(b *testing.B) {
	records := benchEnvInt(b, "KAFKA_BENCH_RECORDS", 300_000)
	scale := benchEnvInt(b, "KAFKA_BENCH_SCALE", 1)
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
				benchKafkaToConcur(b, records, c.companies, c.delay, scale)
			}
		})
	}
}

// benchEnvInt reads a positive integer from the environment variable name,
// or returns def when it is unset.
func benchEnvInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

func benchKafkaToConcur(b *testing.B, records, companies int, delay time.Duration, scale int) {
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	sb := sandbox.New(b, sandbox.WithProcessingDelay(delay*time.Duration(scale)),
		sandbox.WithWriteInterval(time.Duration(scale)*time.Second))
	cos := harness.SeedCompanies(b, sb, companies)
	const topic, group = "erp.changes", "concurflow-erp-changes"
	partitions := benchEnvInt(b, "KAFKA_BENCH_PARTITIONS", 6)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(partitions), topic), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		b.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	changes := harness.Generate(uint64(records), cos, records)
	byObject := os.Getenv("KAFKA_BENCH_KEY") == "object"
	if byObject {
		// Keyed by company and object, the company in the company_id
		// header: each object's records have a partition of their own.
		recs := make([]*kgo.Record, len(changes))
		for i, c := range changes {
			r := harness.Record(topic, c)
			r.Key = []byte(c.CompanyID + "/" + c.Object)
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: "company_id", Value: []byte(c.CompanyID)})
			recs[i] = r
		}
		err = harness.Produce(ctx, brokers, topic, nil, recs...)
	} else {
		err = harness.Produce(ctx, brokers, topic, changes)
	}
	if err != nil {
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
	env["CONCUR_RATE_LIMIT"] = strconv.FormatFloat(1/float64(scale), 'g', -1, 64)
	for _, k := range []string{"KAFKA_CHECKPOINT_LIMIT", "KAFKA_BATCH_COUNT"} {
		if v := os.Getenv(k); v != "" {
			env[k] = v // to try other settings of the pipeline
		}
	}
	var logs harness.LockedBuffer
	mux := http.NewServeMux()

	b.StartTimer()
	start := time.Now()
	cpuStart := cpuTime(b)
	stop := harness.RunPipelineMux(b, "kafka_to_concur.yaml", env, &logs, mux)
	var readAll time.Duration // until the input had read the whole backlog
	var readCPU time.Duration
	var reads []string // the input's progress, a line a second, for the timeline
	nextRead := time.Second
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peakHeap uint64 // live and not yet swept heap objects, the whole process
	for {
		metrics.Read(heap)
		peakHeap = max(peakHeap, heap[0].Value.Uint64())
		received := metricSum(b, mux, "kafka_go_input_received{", "")
		if readAll == 0 && received >= float64(records) {
			readAll, readCPU = time.Since(start), cpuTime(b)-cpuStart
		}
		if el := time.Since(start); el >= nextRead {
			reads = append(reads, fmt.Sprintf("%6.2f input has read %.0f records\n", el.Seconds(), received))
			nextRead += time.Second
		}
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
	cpu := cpuTime(b) - cpuStart
	b.StopTimer()
	rateLimited := metricSum(b, mux, "concur_accounting_requests{", `status="429"`)
	stop()
	if path := os.Getenv("KAFKA_BENCH_LOG"); path != "" {
		if err := os.WriteFile(path, []byte(logs.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}

	if err := (harness.Admin{URL: sb.URL()}).CheckState(ctx, harness.Expected(cos, changes)); err != nil {
		b.Fatal(err)
	}
	if dead, err := harness.ReadDLQ(env["DLQ_PATH"]); err != nil || len(dead) != 0 {
		b.Fatalf("DLQ: %d records (%v)", len(dead), err)
	}

	var timeline *os.File
	if path := os.Getenv("KAFKA_BENCH_TIMELINE"); path != "" {
		if timeline, err = os.Create(path); err != nil {
			b.Fatal(err)
		}
		defer timeline.Close()
		for _, l := range reads {
			fmt.Fprint(timeline, l)
		}
	}
	var reqs, bodyBytes, rated int
	var rateSum float64
	var lastReq time.Time
	// Per object: the data's mix decides which endpoint is the bottleneck
	// (see benchObjectStats).
	objStats := map[sandbox.Object]*benchObjectStats{}
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
			if timeline != nil {
				fmt.Fprintf(timeline, "%6.2f %6.2f %s %-8s %5d records %8d bytes\n",
					r.Received.Sub(start).Seconds(), r.Completed.Sub(start).Seconds(),
					co.ID[:8], r.Object, r.Records, r.BodyBytes)
			}
			reqs++
			bodyBytes += r.BodyBytes
			s := spans[r.Object]
			if s == nil {
				s = &span{first: r.Received}
				spans[r.Object] = s
			}
			s.n++
			s.last = r.Received
			if r.Received.After(lastReq) {
				lastReq = r.Received
			}
		}
		for _, s := range spans {
			if d := s.last.Sub(s.first); s.n >= 2 && d > 0 {
				rateSum += float64(s.n-1) / d.Seconds()
				rated++
			}
		}
		for obj, s := range spans {
			st := objStats[obj]
			if st == nil {
				st = &benchObjectStats{}
				objStats[obj] = st
			}
			st.add(rs, obj, s.first, s.last, scale)
		}
	}
	for _, obj := range []sandbox.Object{sandbox.ObjectAccount, sandbox.ObjectVendor, sandbox.ObjectList} {
		if st := objStats[obj]; st != nil {
			b.Logf("%-8s %s", obj, st)
		}
	}
	perReq := float64(bodyBytes) / float64(max(reqs, 1))
	perEndpoint := rateSum / float64(max(rated, 1)) * float64(scale)
	b.ReportMetric(float64(records)/elapsed.Seconds(), "records/s")
	b.ReportMetric(perReq, "bytes/req")
	b.ReportMetric(100*perReq/concurapi.MaxBodyBytes, "fill%")
	b.ReportMetric(perEndpoint, "req/s/endpoint")
	b.ReportMetric(rateLimited, "429s")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cpu-cores")
	b.ReportMetric(float64(peakHeap)/1e6, "peak-heap-MB")
	// Records are keyed by company: with few companies, how they fall on
	// the partitions (their ids are random) decides how many partition
	// consumers, and checkpoint limits, share the work.
	perPartition := make([]int, partitions)
	part := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	for _, co := range cos {
		if !byObject {
			perPartition[part.Partition(&kgo.Record{Key: []byte(co.ID)}, partitions)]++
			continue
		}
		for _, obj := range []string{harness.ObjectAccounts, harness.ObjectVendors, harness.ObjectLists} {
			perPartition[part.Partition(&kgo.Record{Key: []byte(co.ID + "/" + obj)}, partitions)]++
		}
	}
	if companies <= 10 {
		b.Logf("keys per partition: %v", perPartition)
	}
	if scale > 1 {
		b.Logf("Concur %d times slower: one write per %d s per endpoint, processing %v", scale, scale, delay*time.Duration(scale))
	}
	b.Logf("%d records, %d companies, processing %v: %v until committed, %d requests (%d endpoints with 2+), %v CPU (%.2f of %d cores), load %s",
		records, companies, delay, elapsed.Round(time.Millisecond), reqs, rated,
		cpu.Round(time.Millisecond), cpu.Seconds()/elapsed.Seconds(), runtime.NumCPU(), loadAvg())
	if readAll > 0 {
		b.Logf("input read everything after %v (%.0f records/s, %.2f cores); last request received at %v; all committed at %v",
			readAll.Round(100*time.Millisecond), float64(records)/readAll.Seconds(),
			readCPU.Seconds()/readAll.Seconds(), lastReq.Sub(start).Round(100*time.Millisecond),
			elapsed.Round(100*time.Millisecond))
	}
}

// benchObjectStats sums up the requests of one object over its endpoints.
// With a bounded number of records in flight (KAFKA_CHECKPOINT_LIMIT), a
// Kafka partition moves on at the pace of its slowest endpoint, as a batch
// is acknowledged only once all its records are: the object with the most
// bytes per record (vendors, in harness.Generate's mix of equal counts)
// fills its bodies first, and the others' bodies carry as many records as
// it lets through. "Middle" requests leave out each endpoint's first and
// last, so start-up and the tail do not count.
type benchObjectStats struct {
	endpoints, requests, full int
	middle, middleBytes       int
	rateSum                   float64
	rated                     int
}

// add counts the requests of obj among rs (one endpoint), first and last
// received as given.
func (st *benchObjectStats) add(rs []sandbox.Request, obj sandbox.Object, first, last time.Time, scale int) {
	st.endpoints++
	n := 0
	for _, r := range rs {
		if r.Object != obj {
			continue
		}
		n++
		st.requests++
		if r.BodyBytes >= concurapi.MaxBodyBytes*9/10 {
			st.full++
		}
		if !r.Received.Equal(first) && !r.Received.Equal(last) {
			st.middle++
			st.middleBytes += r.BodyBytes
		}
	}
	if d := last.Sub(first); n >= 2 && d > 0 {
		st.rateSum += float64(n-1) / d.Seconds() * float64(scale)
		st.rated++
	}
}

func (st *benchObjectStats) String() string {
	fill := 0.0
	if st.middle > 0 {
		fill = 100 * float64(st.middleBytes) / float64(st.middle) / concurapi.MaxBodyBytes
	}
	return fmt.Sprintf("%d endpoints, %d requests (%d ≥ 90 %% full), %.2f req/s per endpoint, middle requests %.1f %% full on average",
		st.endpoints, st.requests, st.full, st.rateSum/float64(max(st.rated, 1)), fill)
}

// metricSum adds the values of the stream's metrics (the Prometheus text
// format of concur_prometheus) whose names start with prefix and contain
// label.
func metricSum(b *testing.B, mux *http.ServeMux, prefix, label string) float64 {
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("metrics: status %d", rec.Code)
	}
	sum := 0.0
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if !strings.HasPrefix(line, prefix) || !strings.Contains(line, label) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		f, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			b.Fatalf("metrics: %q: %v", line, err)
		}
		sum += f
	}
	return sum
}

// cpuTime is the CPU time (user and system) the test process used so far:
// everything of the run is in this process (kfake, the pipeline, the
// sandbox), so over the timed part it says how busy the run kept the
// cores, which a one-minute load average of a 10-second run cannot.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
