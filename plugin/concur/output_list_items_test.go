package concur_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	concurapi "github.com/concurflow/concurflow/concur"
	"github.com/concurflow/concurflow/sandbox"
)

// liStub answers the List Item Bulk v4 calls from a small in-memory store
// (codes per list) and forwards everything else (token endpoint, mappings)
// to the sandbox, pointing the token's geolocation at itself. It lets the
// output's request logic be tested on its own; the end-to-end tests run
// against the sandbox.
type liStub struct {
	sb   *sandbox.Server
	self string

	mu       sync.Mutex
	items    map[string]map[string]*liStubItem // list → long code → item
	reqs     []string                          // "METHOD list n-parts"
	answers  []int                             // statuses to answer next instead (429, 500)
	unnamed  bool                              // answer FAILURE without naming the part
	rejected map[string]string                 // long code → error id of its create
}

type liStubItem struct {
	value   string
	deleted bool
}

func newLIStub(t *testing.T, sb *sandbox.Server) *liStub {
	s := &liStub{sb: sb, items: map[string]map[string]*liStubItem{}, rejected: map[string]string{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.self = srv.URL
	return s
}

func (s *liStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/list/v4/lists/") {
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
	list := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/list/v4/lists/"), "/bulk")
	var body struct {
		Requests []struct {
			Code       string `json:"code"`
			ShortCode  string `json:"shortCode"`
			Value      string `json:"value"`
			ParentCode string `json:"parentCode"`
			Deleted    *bool  `json:"deleted"`
		} `json:"requests"`
	}
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, fmt.Sprintf("%s %s %d", r.Method, list, len(body.Requests)))
	if len(s.answers) > 0 {
		status := s.answers[0]
		s.answers = s.answers[1:]
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"error":{"id":"security.rate.limit.reached","message":"Too many requests"}}`)
		return
	}
	items := s.items[list]
	if items == nil {
		items = map[string]*liStubItem{}
		s.items[list] = items
	}
	type failed struct {
		ID       string `json:"id"`
		Message  string `json:"message"`
		ListItem any    `json:"listItem"`
	}
	var errs []failed
	for i, p := range body.Requests {
		fail := func(id string) { errs = append(errs, failed{id, "stub says " + id, body.Requests[i]}) }
		if r.Method == http.MethodPost {
			code := p.ShortCode
			if p.ParentCode != "" {
				code = p.ParentCode + "-" + p.ShortCode
			}
			switch it, exists := items[code]; {
			case s.rejected[code] != "":
				fail(s.rejected[code])
			case p.ParentCode != "" && (items[p.ParentCode] == nil || items[p.ParentCode].deleted):
				fail("item.parent.not.found")
			case exists || (it != nil):
				fail("item.duplicate.code")
			default:
				items[code] = &liStubItem{value: p.Value}
			}
			continue
		}
		it := items[p.Code]
		switch {
		case it == nil:
			fail("item.not.found")
		case p.Deleted != nil && *p.Deleted:
			if it.deleted {
				fail("item.deleted")
				continue
			}
			for code, child := range items {
				if code == p.Code || strings.HasPrefix(code, p.Code+"-") {
					child.deleted = true
				}
			}
		case it.deleted && (p.Deleted == nil || *p.Deleted):
			fail("item.deleted")
		default:
			it.value, it.deleted = p.Value, false
		}
	}
	status, code := "SUCCESS", http.StatusOK
	if r.Method == http.MethodPost {
		code = http.StatusCreated
	}
	if s.unnamed && len(errs) > 0 {
		errs[0].ListItem = map[string]string{"shortCode": "SOMETHING_ELSE", "value": "?"}
	}
	switch {
	case len(errs) == len(body.Requests):
		status, code = "FAILURE", http.StatusBadRequest
	case len(errs) > 0:
		status, code = "PARTIAL_SUCCESS", http.StatusPartialContent
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "recordsSucceeded": len(body.Requests) - len(errs), "recordsFailed": len(errs), "errors": errs})
}

// held returns code=value of the list's items that are not deleted,
// sorted.
func (s *liStub) held(list string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for code, it := range s.items[list] {
		if !it.deleted {
			out = append(out, code+"="+it.value)
		}
	}
	slices.Sort(out)
	return out
}

func (s *liStub) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// liEnv is a sandbox company with an ERP, the stub in front of it and a
// running stream whose output is concur_list_items, failed messages going
// to a file.
type liEnv struct {
	t          *testing.T
	sb         *sandbox.Server
	co         sandbox.Company
	erpID      string
	stub       *liStub
	send       service.MessageBatchHandlerFunc
	failed     string
	tokenStore string
	metrics    *liMetrics
}

// liMetrics counts the concur_list_items_records counter by its labels,
// e.g. "upsert,created".
type liMetrics struct {
	mu     sync.Mutex
	counts map[string]int64
}

type liMetricFunc func(int64)

func (f liMetricFunc) Incr(n int64) {
	if f != nil {
		f(n)
	}
}
func (f liMetricFunc) Timing(int64)              {}
func (f liMetricFunc) Set(int64)                 {}
func (m *liMetrics) Close(context.Context) error { return nil }

func (m *liMetrics) NewCounterCtor(name string, keys ...string) service.MetricsExporterCounterCtor {
	return func(labels ...string) service.MetricsExporterCounter {
		if name != "concur_list_items_records" {
			return liMetricFunc(nil)
		}
		var own []string
		for i, k := range keys {
			if k != "label" && k != "path" && i < len(labels) {
				own = append(own, labels[i])
			}
		}
		key := strings.Join(own, ",")
		return liMetricFunc(func(n int64) {
			m.mu.Lock()
			m.counts[key] += n
			m.mu.Unlock()
		})
	}
}

func (m *liMetrics) NewTimerCtor(string, ...string) service.MetricsExporterTimerCtor {
	return func(...string) service.MetricsExporterTimer { return liMetricFunc(nil) }
}

func (m *liMetrics) NewGaugeCtor(string, ...string) service.MetricsExporterGaugeCtor {
	return func(...string) service.MetricsExporterGauge { return liMetricFunc(nil) }
}

// records returns the counts of concur_list_items_records by labels.
func (m *liMetrics) records() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int64{}
	for k, v := range m.counts {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func newLIEnv(t *testing.T, extra string) *liEnv {
	return newLIEnvAt(t, extra, true)
}

// newLIEnvAt starts the env with the output sending to the stub, or
// straight to the sandbox when stubbed is false.
func newLIEnvAt(t *testing.T, extra string, stubbed bool) *liEnv {
	t.Helper()
	e := &liEnv{t: t, sb: sandbox.New(t)}
	var err error
	if e.co, err = e.sb.SeedCompany(); err != nil {
		t.Fatal(err)
	}
	if e.erpID, err = e.sb.RegisterERP(e.co.ID); err != nil {
		t.Fatal(err)
	}
	url := e.sb.URL()
	if stubbed {
		e.stub = newLIStub(t, e.sb)
		url = e.stub.self
	}
	e.failed = filepath.Join(t.TempDir(), "failed.ndjson")
	e.tokenStore = filepath.Join(t.TempDir(), "tokens")
	e.metrics = &liMetrics{counts: map[string]int64{}}
	env := service.GlobalEnvironment().Clone()
	if err := env.RegisterMetricsExporter("concur_list_items_test_metrics", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Logger) (service.MetricsExporter, error) { return e.metrics, nil }); err != nil {
		t.Fatal(err)
	}
	b := env.NewStreamBuilder()
	if err := b.SetMetricsYAML("concur_list_items_test_metrics: {}"); err != nil {
		t.Fatal(err)
	}
	if e.send, err = b.AddBatchProducerFunc(); err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf(`
fallback:
  - concur_list_items:
      company_id: %s
      erp_id: %s
      batching: { count: 0, byte_size: 0, period: "" }
      rate_limit: 1000
      backoff: { initial_interval: 1ms, max_interval: 5ms, max_elapsed_time: 10s }
      auth:
        url: %s
        client_id: %s
        client_secret: %s
        request_token: %s
        token_store: %s
%s
  - file:
      path: %s
      codec: lines
    processors:
      - mapping: |
          let j = content().string().parse_json().catch({})
          root.code = if $j.parentCode.or("") != "" { $j.parentCode + "-" + $j.shortCode.or("") } else { $j.shortCode.or(content().string()) }
          root.error = metadata("fallback_error")
`, e.co.ID, e.erpID, url, e.co.ClientID, e.co.ClientSecret, e.co.RequestToken, e.tokenStore,
		indent(extra, "      "), e.failed)
	if err := b.AddOutputYAML(out); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := b.SetLoggerYAML("level: " + acctLogLevel()); err != nil {
		t.Fatal(err)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
		<-done
	})
	return e
}

func indent(s, by string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line != "" {
			b.WriteString(by + line + "\n")
		}
	}
	return b.String()
}

// write sends items (JSON bodies) as one batch and waits for it.
func (e *liEnv) write(bodies ...string) {
	e.t.Helper()
	var batch service.MessageBatch
	for _, b := range bodies {
		batch = append(batch, service.NewMessage([]byte(b)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.send(ctx, batch); err != nil {
		e.t.Fatalf("writing batch: %v", err)
	}
}

// failures returns long code → error of the messages the output failed.
func (e *liEnv) failures() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	b, err := os.ReadFile(e.failed)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		e.t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var f struct{ Code, Error string }
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			e.t.Fatal(err)
		}
		out[f.Code] = f.Error
	}
	return out
}

func (e *liEnv) mapList(erpList, concurList string) {
	e.t.Helper()
	if err := e.sb.MapList(e.co.ID, e.erpID, sandbox.ListMapping{ERPListID: erpList, ConcurListID: concurList}); err != nil {
		e.t.Fatal(err)
	}
}

func TestListItemsUpsertsConvergeOnRetry(t *testing.T) {
	e := newLIEnv(t, "")
	e.mapList("PROJECTS", "L1")
	items := []string{
		`{"erpListId":"PROJECTS","shortCode":"P100","value":"Project 100"}`,
		`{"erpListId":"PROJECTS","shortCode":"P200","value":"Project 200"}`,
		`{"erpListId":"PROJECTS","shortCode":"T1","value":"Task 1","parentCode":"P100"}`,
	}
	e.write(items...)
	e.write(items...) // a redelivery: every create is refused as duplicate, then updated
	e.write(`{"erpListId":"PROJECTS","shortCode":"P200","value":"Project 200 renamed"}`)
	if f := e.failures(); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	want := []string{"P100-T1=Task 1", "P100=Project 100", "P200=Project 200 renamed"}
	if got := e.stub.held("L1"); !slices.Equal(got, want) {
		t.Errorf("list L1 holds %v, want %v", got, want)
	}
	wantReqs := []string{"POST L1 3", "POST L1 3", "PATCH L1 3", "POST L1 1", "PATCH L1 1"}
	if got := e.stub.requests(); !slices.Equal(got, wantReqs) {
		t.Errorf("requests %v, want %v", got, wantReqs)
	}
}

func TestListItemsFailExactlyTheBadItems(t *testing.T) {
	e := newLIEnv(t, "")
	e.mapList("PROJECTS", "L1")
	e.stub.rejected["P300"] = "item.duplicate.item.shared"
	e.write(
		`{"erpListId":"PROJECTS","shortCode":"P100","value":"Project 100"}`,
		`{"erpListId":"PROJECTS","shortCode":"P-1","value":"hyphenated"}`,
		`{"erpListId":"PROJECTS","shortCode":"T1","value":"orphan","parentCode":"NOPE"}`,
		`{"erpListId":"PROJECTS","shortCode":"P300","value":"Project 300"}`,
		`{"erpListId":"PROJECTS","shortCode":"P400"}`,
		`not json`,
		`{"erpListId":"PROJECTS","shortCode":"P500","value":"Project 500"}`,
	)
	f := e.failures()
	for code, want := range map[string]string{
		"P-1":      "hyphen",
		"NOPE-T1":  "item.parent.not.found",
		"P300":     "item.duplicate.item.shared",
		"P400":     "without a value",
		"not json": "not a JSON object",
	} {
		if !strings.Contains(f[code], want) {
			t.Errorf("failure of %s: %q, want it to mention %q", code, f[code], want)
		}
	}
	if len(f) != 5 {
		t.Errorf("failures %v, want 5", f)
	}
	if got, want := e.stub.held("L1"), []string{"P100=Project 100", "P500=Project 500"}; !slices.Equal(got, want) {
		t.Errorf("list L1 holds %v, want %v", got, want)
	}
	if got, want := e.metrics.records(), map[string]int64{"upsert,created": 2, "upsert,invalid": 3, "upsert,failed": 2}; !maps.Equal(got, want) {
		t.Errorf("concur_list_items_records %v, want %v", got, want)
	}
}

func TestListItemsDeletesAreIdempotent(t *testing.T) {
	e := newLIEnv(t, "")
	e.mapList("PROJECTS", "L1")
	e.write(
		`{"erpListId":"PROJECTS","shortCode":"P100","value":"Project 100"}`,
		`{"erpListId":"PROJECTS","shortCode":"T1","value":"Task 1","parentCode":"P100"}`,
		`{"erpListId":"PROJECTS","shortCode":"P200","value":"Project 200"}`,
	)
	del := []string{
		`{"erpListId":"PROJECTS","shortCode":"P100","deleted":true}`,
		`{"erpListId":"PROJECTS","shortCode":"NEVER","deleted":true}`,
	}
	e.write(del...)
	e.write(del...)
	if f := e.failures(); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	if got, want := e.metrics.records(), map[string]int64{"upsert,created": 3, "delete,deleted": 4}; !maps.Equal(got, want) {
		t.Errorf("concur_list_items_records %v, want %v", got, want)
	}
	if got, want := e.stub.held("L1"), []string{"P200=Project 200"}; !slices.Equal(got, want) {
		t.Errorf("list L1 holds %v, want %v", got, want)
	}
	// Deleted and re-sent: the upsert brings it back.
	e.write(`{"erpListId":"PROJECTS","shortCode":"P100","value":"Project 100 again"}`)
	if got, want := e.stub.held("L1"), []string{"P100=Project 100 again", "P200=Project 200"}; !slices.Equal(got, want) {
		t.Errorf("list L1 holds %v, want %v", got, want)
	}
}

func TestListItemsOrderAcrossKindsAndRepeats(t *testing.T) {
	e := newLIEnv(t, "")
	e.mapList("PROJECTS", "L1")
	e.write(
		`{"erpListId":"PROJECTS","shortCode":"P100","value":"v1"}`,
		`{"erpListId":"PROJECTS","shortCode":"P100","value":"v2"}`,
		`{"erpListId":"PROJECTS","shortCode":"P100","deleted":true}`,
		`{"erpListId":"PROJECTS","shortCode":"P200","value":"x"}`,
		`{"erpListId":"PROJECTS","shortCode":"P100","value":"v3"}`,
	)
	if f := e.failures(); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	if got, want := e.stub.held("L1"), []string{"P100=v3", "P200=x"}; !slices.Equal(got, want) {
		t.Errorf("list L1 holds %v, want %v", got, want)
	}
	want := []string{"POST L1 1", "POST L1 1", "PATCH L1 1", "PATCH L1 1", "POST L1 2", "PATCH L1 1"}
	if got := e.stub.requests(); !slices.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
}

func TestListItemsOfUnmappedListsAreSkipped(t *testing.T) {
	e := newLIEnv(t, "mappings_cache_ttl: 1ms")
	e.mapList("PROJECTS", "L1")
	e.write(
		`{"erpListId":"PROJECTS","shortCode":"P100","value":"Project 100"}`,
		`{"erpListId":"DEPARTMENTS","shortCode":"D1","value":"Sales"}`,
	)
	if err := e.sb.UnmapList(e.co.ID, e.erpID, "PROJECTS"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // past the cache TTL
	e.write(`{"erpListId":"PROJECTS","shortCode":"P200","value":"Project 200"}`)
	if f := e.failures(); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	if got, want := e.stub.held("L1"), []string{"P100=Project 100"}; !slices.Equal(got, want) {
		t.Errorf("list L1 holds %v, want %v", got, want)
	}
	if got := e.stub.requests(); !slices.Equal(got, []string{"POST L1 1"}) {
		t.Errorf("requests %v, want only the mapped item's", got)
	}
	if got, want := e.metrics.records(), map[string]int64{"upsert,created": 1, "upsert,unmapped": 2}; !maps.Equal(got, want) {
		t.Errorf("concur_list_items_records %v, want %v", got, want)
	}
}

func TestListItemsRetryRateLimitsAndServerErrors(t *testing.T) {
	e := newLIEnv(t, "")
	e.mapList("PROJECTS", "L1")
	e.stub.answers = []int{http.StatusTooManyRequests, http.StatusInternalServerError}
	e.write(`{"erpListId":"PROJECTS","shortCode":"P100","value":"Project 100"}`)
	if f := e.failures(); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	if got := e.stub.held("L1"); !slices.Equal(got, []string{"P100=Project 100"}) {
		t.Errorf("list L1 holds %v", got)
	}
	if got := e.stub.requests(); len(got) != 3 {
		t.Errorf("requests %v, want two refused and one accepted", got)
	}
}

func TestListItemsUnnamedFailuresFailTheRequest(t *testing.T) {
	e := newLIEnv(t, "")
	e.mapList("PROJECTS", "L1")
	e.stub.unnamed = true
	e.stub.rejected["P200"] = "item.operation.timeout"
	e.write(
		`{"erpListId":"PROJECTS","shortCode":"P100","value":"Project 100"}`,
		`{"erpListId":"PROJECTS","shortCode":"P200","value":"Project 200"}`,
	)
	f := e.failures()
	if len(f) != 2 || !strings.Contains(f["P100"], "does not say") || !strings.Contains(f["P200"], "does not say") {
		t.Errorf("failures %v, want both items failed as unknown", f)
	}
}

// sandboxItems returns code=value of the live items of a sandbox list,
// sorted.
func (e *liEnv) sandboxItems(listID string) []string {
	e.t.Helper()
	items, err := e.sb.ListItems(e.co.ID, listID)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		if !it.IsDeleted {
			out = append(out, it.Code+"="+it.Value)
		}
	}
	slices.Sort(out)
	return out
}

// TestListItemsAgainstSandbox runs the output against the sandbox itself:
// a mapped list receives its items (more than one bulk request), a
// redelivered batch converges, deletes and restores work, bad items fail
// alone and items of an unmapped list are not sent.
func TestListItemsAgainstSandbox(t *testing.T) {
	e := newLIEnvAt(t, "mappings_cache_ttl: 1ms", false)
	const listID = "6a0e0f5c-56c1-4b0e-9d3c-2b1e5a6f7c01"
	e.mapList("PROJECTS", listID)
	var items, want []string
	for i := range 300 {
		items = append(items, fmt.Sprintf(`{"erpListId":"PROJECTS","shortCode":"P%03d","value":"Project %d"}`, i, i))
		want = append(want, fmt.Sprintf("P%03d=Project %d", i, i))
	}
	items = append(items,
		`{"erpListId":"PROJECTS","shortCode":"T1","value":"Task 1","parentCode":"P001"}`,
		`{"erpListId":"PROJECTS","shortCode":"T2","value":"Task 2","parentCode":"MISSING"}`,
		`{"erpListId":"PROJECTS","shortCode":"BAD-CODE","value":"x"}`,
		`{"erpListId":"OTHER","shortCode":"O1","value":"Other"}`,
	)
	want = append(want, "P001-T1=Task 1")
	slices.Sort(want)
	e.write(items...)
	e.write(items...)
	f := e.failures()
	if len(f) != 2 || !strings.Contains(f["MISSING-T2"], "item.parent.not.found") || !strings.Contains(f["BAD-CODE"], "hyphen") {
		t.Errorf("failures %v, want the orphan and the hyphenated code", f)
	}
	if got := e.sandboxItems(listID); !slices.Equal(got, want) {
		t.Errorf("sandbox list holds %d items, want %d", len(got), len(want))
	}

	e.write(`{"erpListId":"PROJECTS","shortCode":"P001","deleted":true}`, `{"erpListId":"PROJECTS","shortCode":"P002","value":"Project 2 renamed"}`)
	e.write(`{"erpListId":"PROJECTS","shortCode":"P001","deleted":true}`)
	got := e.sandboxItems(listID)
	if slices.Contains(got, "P001=Project 1") || slices.Contains(got, "P001-T1=Task 1") || !slices.Contains(got, "P002=Project 2 renamed") {
		t.Errorf("after delete and rename: %v…", got[:3])
	}
	e.write(`{"erpListId":"PROJECTS","shortCode":"P001","value":"Project 1 back"}`)
	if got := e.sandboxItems(listID); !slices.Contains(got, "P001=Project 1 back") {
		t.Errorf("re-sent item not restored: %v…", got[:3])
	}
	if f := e.failures(); len(f) != 2 {
		t.Errorf("failures %v", f)
	}

	if err := e.sb.UnmapList(e.co.ID, e.erpID, "PROJECTS"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // past the cache TTL
	e.write(`{"erpListId":"PROJECTS","shortCode":"P999","value":"After unmapping"}`)
	if got := e.sandboxItems(listID); slices.Contains(got, "P999=After unmapping") {
		t.Error("an item of an unmapped list reached Concur")
	}
}

// TestListItemsWaitForRefusedCredentials: once the company's refresh token
// is revoked and no request token is usable, the next batch neither fails
// nor reaches the fallback; it is written once new credentials are in the
// token store (what `concurflow auth exchange` does).
func TestListItemsWaitForRefusedCredentials(t *testing.T) {
	e := newLIEnvAt(t, "mappings_cache_ttl: 1ms", false)
	const listID = "6a0e0f5c-56c1-4b0e-9d3c-2b1e5a6f7c02"
	e.mapList("PROJECTS", listID)
	e.write(`{"erpListId":"PROJECTS","shortCode":"P100","value":"Project 100"}`)

	e.sb.RevokeTokens(e.co.ID)
	e.sb.ExpireRequestTokens(e.co.ID)
	time.Sleep(5 * time.Millisecond) // past the mappings cache TTL: the next batch asks Concur
	written := make(chan struct{})
	go func() {
		defer close(written)
		e.write(`{"erpListId":"PROJECTS","shortCode":"P200","value":"Project 200"}`)
	}()
	select {
	case <-written:
		t.Fatal("the batch was acknowledged although the credentials are refused")
	case <-time.After(300 * time.Millisecond):
	}

	token, err := e.sb.NewRequestToken(e.co.ID)
	if err != nil {
		t.Fatal(err)
	}
	store, err := concurapi.NewDirStore(e.tokenStore)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := concurapi.NewTokenSource(concurapi.TokenSourceConfig{
		CompanyID: e.co.ID, ClientID: e.co.ClientID, ClientSecret: e.co.ClientSecret,
		RequestToken: token, AuthURL: e.sb.URL(), Store: store,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-written:
	case <-time.After(30 * time.Second):
		t.Fatal("the batch was not written after new credentials were stored")
	}
	if f := e.failures(); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	if got, want := e.sandboxItems(listID), []string{"P100=Project 100", "P200=Project 200"}; !slices.Equal(got, want) {
		t.Errorf("sandbox list holds %v, want %v", got, want)
	}
}

// TestListItemsShareTokenSourceWithMappings runs a concur_mappings
// processor and a concur_list_items output in one stream on one company,
// against a sandbox that rotates refresh tokens and invalidates the old one
// (its default), with access tokens so short-lived that every call of
// either component needs a refresh_token grant. Batches flow concurrently,
// so if the two held token sources of their own, one would present a
// refresh token the other had just replaced and be refused. They share the
// process's token source: every token request is accepted and every item
// arrives.
func TestListItemsShareTokenSourceWithMappings(t *testing.T) {
	// Under a second: the answer's expires_in is "0", so the token source
	// never reuses an access token and every API call refreshes, while the
	// sandbox still accepts each token for the call it was fetched for.
	sb := sandbox.New(t, sandbox.WithTokenLifetime(500*time.Millisecond))
	co, err := sb.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	erpID, err := sb.RegisterERP(co.ID)
	if err != nil {
		t.Fatal(err)
	}
	const listID = "6a0e0f5c-56c1-4b0e-9d3c-2b1e5a6f7c03"
	if err := sb.MapList(co.ID, erpID, sandbox.ListMapping{ERPListID: "PROJECTS", ConcurListID: listID}); err != nil {
		t.Fatal(err)
	}
	failed := filepath.Join(t.TempDir(), "failed.ndjson")
	auth := fmt.Sprintf(`
url: %s
client_id: %s
client_secret: %s
request_token: %s
token_store: %s`, sb.URL(), co.ClientID, co.ClientSecret, co.RequestToken, filepath.Join(t.TempDir(), "tokens"))

	b := service.NewStreamBuilder()
	send, err := b.AddBatchProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	// Each component keeps its own mappings cache for 1ms, so both call
	// the API on nearly every batch.
	if err := b.AddProcessorYAML(fmt.Sprintf(`
concur_mappings:
  company_id: %s
  erp_id: %s
  cache_ttl: 1ms
  target_meta: concur_mappings
  auth:
%s`, co.ID, erpID, indent(auth, "    "))); err != nil {
		t.Fatal(err)
	}
	if err := b.AddOutputYAML(fmt.Sprintf(`
fallback:
  - concur_list_items:
      company_id: %s
      erp_id: %s
      mappings_cache_ttl: 1ms
      max_in_flight: 4
      batching: { count: 0, byte_size: 0, period: "" }
      rate_limit: 1000
      backoff: { initial_interval: 1ms, max_interval: 5ms, max_elapsed_time: 10s }
      auth:
%s  - file:
      path: %s
      codec: lines
    processors:
      - mapping: 'root = content().string() + " " + metadata("fallback_error").or("")'
`, co.ID, erpID, indent(auth, "          "), failed)); err != nil {
		t.Fatal(err)
	}
	if err := b.SetLoggerYAML("level: " + acctLogLevel()); err != nil {
		t.Fatal(err)
	}
	b.SetThreads(2)
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
		<-done
	})

	const writers, batches = 4, 10
	var want []string
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		var bodies [][]byte
		for i := range batches {
			code := fmt.Sprintf("W%dP%02d", w, i)
			bodies = append(bodies, []byte(fmt.Sprintf(`{"erpListId":"PROJECTS","shortCode":%q,"value":"Project %s"}`, code, code)))
			want = append(want, code+"=Project "+code)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for _, body := range bodies {
				if err := send(ctx, service.MessageBatch{service.NewMessage(body)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writing: %v", err)
	}

	if raw, err := os.ReadFile(failed); err == nil && len(raw) > 0 {
		t.Errorf("failed items:\n%s", raw)
	}
	items, err := sb.ListItems(co.ID, listID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		if !it.IsDeleted {
			got = append(got, it.Code+"="+it.Value)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("sandbox list holds %d items, want %d", len(got), len(want))
	}
	var grants, refused int
	for _, e := range sb.RequestLog() {
		if e.Path != "/oauth2/v0/token" {
			continue
		}
		grants++
		if e.Status != http.StatusOK {
			refused++
		}
	}
	// Each batch costs the processor a mappings fetch and the output a
	// fetch and a bulk call, each with its own token request.
	if grants < writers*batches {
		t.Errorf("%d token requests, want at least %d: the test did not make the components refresh", grants, writers*batches)
	}
	if refused != 0 {
		t.Errorf("%d of %d token requests refused: the components raced a refresh-token rotation", refused, grants)
	}
}
