package concur_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/concurflow/concurflow/plugin/concur"
	"github.com/concurflow/concurflow/sandbox"
)

// acctEnv is a sandbox with seeded companies and the pieces of an output
// config pointing at it.
type acctEnv struct {
	t     testing.TB
	sb    *sandbox.Server
	cos   []sandbox.Company
	erps  []string
	store string
	dir   string
	url   string // where outputs send, when not the sandbox (a stub in front of it)
}

func newAcctEnv(t testing.TB, companies int, opts ...sandbox.Option) *acctEnv {
	t.Helper()
	// Tests process at once unless they ask otherwise; benchmarks keep the
	// sandbox's Concur-like processing time.
	var base []sandbox.Option
	if _, bench := t.(*testing.B); !bench {
		base = append(base, sandbox.WithProcessingDelay(0))
	}
	e := &acctEnv{t: t, sb: sandbox.New(t, append(base, opts...)...), store: filepath.Join(t.TempDir(), "tokens"), dir: t.TempDir()}
	for range companies {
		co, err := e.sb.SeedCompany()
		if err != nil {
			t.Fatal(err)
		}
		erp, err := e.sb.RegisterERP(co.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.cos = append(e.cos, co)
		e.erps = append(e.erps, erp)
	}
	return e
}

// output returns the concur_accounting config (indented for a fallback
// list item) with company and ERP from metadata and extra fields.
func (e *acctEnv) output(extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `concur_accounting:
  company_id: '${! meta("company") }'
  erp_id: '${! meta("erp") }'
  object: '${! meta("object").or("accounts") }'
  backoff: { initial_interval: 5ms, max_interval: 50ms, max_elapsed_time: 30s }
  auth:
    url: %s
    token_store: %s
    companies:
`, cmp.Or(e.url, e.sb.URL()), e.store)
	for _, co := range e.cos {
		fmt.Fprintf(&b, "      %s: { client_id: %s, client_secret: %s, request_token: %s }\n", co.ID, co.ClientID, co.ClientSecret, co.RequestToken)
	}
	if !strings.Contains(extra, "batching:") {
		extra += "\nbatching: { count: 0, byte_size: 0, period: \"\" }"
	}
	if !strings.Contains(extra, "rate_limit:") {
		extra += "\nrate_limit: 1000"
	}
	for _, line := range strings.Split(strings.TrimSpace(extra), "\n") {
		if line != "" {
			b.WriteString("  " + line + "\n")
		}
	}
	return b.String()
}

// acctStream is a running stream whose input is a batch producer.
type acctStream struct {
	send   service.MessageBatchHandlerFunc
	stream *service.Stream
	done   chan error
	runCtx context.Context // cancelled when Run returns
	runErr error           // set before runCtx is cancelled
	failed string          // path of the fallback file, "" without fallback
}

// start runs a stream writing to the output; with withFallback, messages the
// output fails go to a file with their error.
func (e *acctEnv) start(extra string, withFallback bool) *acctStream {
	e.t.Helper()
	return e.startWith(nil, extra, withFallback)
}

// startWith is start with the output config passed through edit first.
func (e *acctEnv) startWith(edit func(string) string, extra string, withFallback bool) *acctStream {
	e.t.Helper()
	b := service.NewStreamBuilder()
	send, err := b.AddBatchProducerFunc()
	if err != nil {
		e.t.Fatal(err)
	}
	out := e.output(extra)
	if edit != nil {
		out = edit(out)
	}
	s := &acctStream{send: send, done: make(chan error, 1)}
	if withFallback {
		s.failed = filepath.Join(e.dir, fmt.Sprintf("failed-%d.ndjson", time.Now().UnixNano()))
		out = "fallback:\n  - " + strings.ReplaceAll(strings.TrimRight(out, "\n"), "\n", "\n    ") + fmt.Sprintf(`
  - file:
      path: %s
      codec: lines
    processors:
      - mapping: |
          let j = content().string().parse_json().catch(null)
          root.id = if $j == null { content().string() } else { $j.id.or($j.countryCode).or("") }
          root.error = metadata("fallback_error")
`, s.failed)
	}
	if err := b.AddOutputYAML(out); err != nil {
		e.t.Fatalf("output config: %v\n%s", err, out)
	}
	if err := b.SetLoggerYAML("level: " + acctLogLevel()); err != nil {
		e.t.Fatal(err)
	}
	if s.stream, err = b.Build(); err != nil {
		e.t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.runCtx = runCtx
	go func() {
		err := s.stream.Run(context.Background())
		s.runErr = err
		cancel()
		s.done <- err
	}()
	e.t.Cleanup(func() { s.stop(e.t) })
	return s
}

func (s *acctStream) stop(t testing.TB) {
	if s.stream == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if s.runCtx.Err() == nil {
		if err := s.stream.Stop(ctx); err != nil {
			t.Errorf("stopping stream: %v", err)
		}
	}
	<-s.done
	s.stream = nil
}

// failures reads the fallback file: record id → error (the last failure of
// an id when it failed more than once).
func (s *acctStream) failures(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range s.failureList(t) {
		out[f.ID] = f.Error
	}
	return out
}

// msg builds a message for company c of the env.
func (e *acctEnv) msg(c int, object, body string) *service.Message {
	m := service.NewMessage([]byte(body))
	m.MetaSetMut("company", e.cos[c].ID)
	m.MetaSetMut("erp", e.erps[c])
	m.MetaSetMut("object", object)
	return m
}

func (e *acctEnv) accounts(c, n int, from int) service.MessageBatch {
	var b service.MessageBatch
	for i := from; i < from+n; i++ {
		b = append(b, e.msg(c, "accounts", fmt.Sprintf(`{"id":"A%04d","name":"Account %d","type":"EXPENSE"}`, i, i)))
	}
	return b
}

func (e *acctEnv) waitIdle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.sb.WaitIdle(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// ids returns the sorted ids (or country codes) of records in the sandbox.
func (e *acctEnv) ids(c int, obj sandbox.Object) []string {
	e.t.Helper()
	recs, err := e.sb.Records(e.cos[c].ID, e.erps[c], obj)
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		var k struct{ ID, CountryCode string }
		if err := json.Unmarshal(r, &k); err != nil {
			e.t.Fatal(err)
		}
		ids = append(ids, k.ID+k.CountryCode)
	}
	sort.Strings(ids)
	return ids
}

// expectIDs fails the test unless company c's records of obj are want
// (sorted ids formatted with fmt.Sprint).
func (e *acctEnv) expectIDs(c int, obj sandbox.Object, want string) {
	e.t.Helper()
	if got := fmt.Sprint(e.ids(c, obj)); got != want {
		e.t.Fatalf("company %d %s: %s, want %s", c, obj, got, want)
	}
}

// sendConcurrently sends the batches at once and waits for all of them.
func (s *acctStream) sendConcurrently(t *testing.T, batches ...service.MessageBatch) {
	t.Helper()
	var wg sync.WaitGroup
	for _, b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.sendErr(b); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

func rangeIDs(prefix string, from, to int) []string {
	var ids []string
	for i := from; i < to; i++ {
		ids = append(ids, fmt.Sprintf("%s%04d", prefix, i))
	}
	return ids
}

func sendOK(t *testing.T, s *acctStream, b service.MessageBatch) {
	t.Helper()
	if err := s.sendErr(b); err != nil {
		t.Fatal(err)
	}
}

// sendErr sends a batch and waits for its acknowledgement; safe from any
// goroutine.
func (s *acctStream) sendErr(b service.MessageBatch) error {
	ctx, cancel := context.WithTimeout(s.runCtx, 60*time.Second)
	defer cancel()
	if err := s.send(ctx, b); err != nil {
		if s.runCtx.Err() != nil {
			return fmt.Errorf("stream ended: %v", s.runErr)
		}
		return fmt.Errorf("batch failed: %w", err)
	}
	return nil
}

// assertOnce checks that no record was carried by two accepted requests:
// the accepted requests' record counts add up to want.
func (e *acctEnv) assertOnce(c int, want int) {
	e.t.Helper()
	reqs, err := e.sb.Requests(e.cos[c].ID, e.erps[c])
	if err != nil {
		e.t.Fatal(err)
	}
	total := 0
	keys := map[string]bool{}
	for _, r := range reqs {
		total += r.Records
		if keys[r.IfNoneMatch] {
			e.t.Fatalf("two accepted requests share if-none-match %s", r.IfNoneMatch)
		}
		if r.IfNoneMatch == "" {
			e.t.Fatalf("request %s has no if-none-match", r.ID)
		}
		keys[r.IfNoneMatch] = true
	}
	if total != want {
		e.t.Fatalf("accepted requests carried %d records, want %d", total, want)
	}
}

func TestAccountingAllObjectsAndDeletes(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false))
	s := e.start("", false)
	batch := e.accounts(0, 3, 0)
	batch = append(batch,
		e.msg(0, "vendors", `{"id":"V1","type":"ACCOUNTING","currencyCode":"USD","name":"Acme","companyName":"Acme Inc"}`),
		e.msg(0, "vendors", `{"id":"V2","type":"ACCOUNTING","currencyCode":"EUR","name":"Beta","companyName":"Beta SA"}`),
		e.msg(0, "lists", `{"id":"L1","name":"Projects"}`),
		e.msg(0, "tax_data", `{"countryCode":"FR","countryName":"France","stateEntries":[{"stateCode":"FR-IDF","reclaimEntries":[{"reclaimCode":"10%","reclaimDetails":[{"taxCode":"F10R","percentage":10,"validFrom":"2022-01-01"}]}]}]}`),
		e.msg(0, "tax_data", `{"countryCode":"US","stateEntries":[{"stateCode":"US-CA","reclaimEntries":[{"reclaimCode":"7.25%","reclaimDetails":[{"taxCode":"CA7R","percentage":7.25,"validFrom":"2020-01-01"}]}]}]}`),
	)
	sendOK(t, s, batch)
	e.waitIdle()
	e.expectIDs(0, sandbox.ObjectAccount, "[A0000 A0001 A0002]")
	e.expectIDs(0, sandbox.ObjectVendor, "[V1 V2]")
	e.expectIDs(0, sandbox.ObjectList, "[L1]")
	e.expectIDs(0, sandbox.ObjectTaxData, "[FR US]")

	// Deletes: by isDeleted in the record and by metadata.
	del := e.msg(0, "accounts", `{"id":"A0001","name":"whatever","type":"EXPENSE"}`)
	del.MetaSetMut("concur_delete", "true")
	sendOK(t, s, service.MessageBatch{
		e.msg(0, "accounts", `{"id":"A0000","isDeleted":true}`),
		del,
		e.msg(0, "vendors", `{"id":"V2","isDeleted":true}`),
	})
	e.waitIdle()
	e.expectIDs(0, sandbox.ObjectAccount, "[A0002]")
	e.expectIDs(0, sandbox.ObjectVendor, "[V1]")
}

func TestAccountingTwoCompanies(t *testing.T) {
	e := newAcctEnv(t, 2, sandbox.WithRateLimit(false))
	s := e.start("", false)
	var batch service.MessageBatch
	for i := range 10 {
		batch = append(batch, e.accounts(i%2, 1, i)...)
	}
	sendOK(t, s, batch)
	e.waitIdle()
	e.expectIDs(0, sandbox.ObjectAccount, "[A0000 A0002 A0004 A0006 A0008]")
	e.expectIDs(1, sandbox.ObjectAccount, "[A0001 A0003 A0005 A0007 A0009]")
}

func TestAccountingFullSync(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false), sandbox.WithProcessingDelay(200*time.Millisecond))
	old := e.start("", false)
	sendOK(t, old, e.accounts(0, 5, 100))
	old.stop(t)
	e.waitIdle()

	s := e.start("full_sync: true", false)
	// Two batches in flight at once: the second must wait for the first
	// request's deleteAll to finish.
	s.sendConcurrently(t, e.accounts(0, 3, 0), e.accounts(0, 3, 3))
	e.waitIdle()
	e.expectIDs(0, sandbox.ObjectAccount, fmt.Sprint(rangeIDs("A", 0, 6)))
	reqs, err := e.sb.Requests(e.cos[0].ID, e.erps[0])
	if err != nil {
		t.Fatal(err)
	}
	// The two batches may share the deleteAll request (both queued before
	// its slot) or not; whatever follows it was received after it finished.
	if len(reqs) < 2 || len(reqs) > 3 {
		t.Fatalf("%d requests, want 2 or 3", len(reqs))
	}
	if reqs[0].DeleteAll || !reqs[1].DeleteAll {
		t.Fatalf("deleteAll flags %v %v, want only the first of the sync", reqs[0].DeleteAll, reqs[1].DeleteAll)
	}
	for _, r := range reqs[2:] {
		if r.DeleteAll {
			t.Fatal("a second deleteAll in the same run")
		}
		if r.Received.Before(reqs[1].Completed) {
			t.Fatalf("request received %v before the deleteAll completed %v", r.Received, reqs[1].Completed)
		}
	}
}

func TestAccountingTaxDataReplace(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false))
	tax := func(cc string) *service.Message {
		return e.msg(0, "tax_data", fmt.Sprintf(`{"countryCode":"%s","stateEntries":[{"reclaimEntries":[{"reclaimCode":"R","reclaimDetails":[{"taxCode":"T","validFrom":"2024-01-01"}]}]}]}`, cc))
	}
	add := e.start("", false)
	sendOK(t, add, service.MessageBatch{tax("DE"), tax("IT")})
	add.stop(t)

	s := e.start("tax_data_mode: replace", true)
	sendOK(t, s, service.MessageBatch{tax("FR"), e.msg(0, "tax_data", `{"countryCode":"ES","isDeleted":true}`)})
	sendOK(t, s, service.MessageBatch{tax("US")})
	e.waitIdle()
	e.expectIDs(0, sandbox.ObjectTaxData, "[FR US]")
	reqs, _ := e.sb.Requests(e.cos[0].ID, e.erps[0])
	var methods []string
	for _, r := range reqs {
		methods = append(methods, r.Method)
	}
	if fmt.Sprint(methods) != "[POST PUT POST]" {
		t.Fatalf("methods %v", methods)
	}
	if f := s.failures(t); len(f) != 1 || !strings.Contains(f["ES"], "no per-record delete") {
		t.Fatalf("failures %v", f)
	}
}

func TestAccountingFaultsLandOnce(t *testing.T) {
	// Access tokens live 2 s, so they expire and are replaced mid-stream.
	e := newAcctEnv(t, 1, sandbox.WithTokenLifetime(2*time.Second))
	s := e.start("rate_limit: 1", false)
	faults := []sandbox.Fault{
		{Endpoint: sandbox.EndpointAccounts, Kind: sandbox.FaultRateLimit, Count: 4},
		{Endpoint: sandbox.EndpointAccounts, Kind: sandbox.FaultServerError, Count: 2},
		{Endpoint: sandbox.EndpointAccounts, Kind: sandbox.FaultReset, Count: 2},
		{Endpoint: sandbox.EndpointToken, Kind: sandbox.FaultServerError, Count: 1},
	}
	for _, f := range faults {
		if err := e.sb.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	sendOK(t, s, e.accounts(0, 50, 0))
	// Tokens revoked mid-stream: the next call gets 401, the refresh token
	// is refused, and the request token bootstraps again.
	e.sb.RevokeTokens(e.cos[0].ID)
	sendOK(t, s, e.accounts(0, 50, 50))
	sendOK(t, s, e.accounts(0, 50, 100))
	e.waitIdle()
	e.expectIDs(0, sandbox.ObjectAccount, fmt.Sprint(rangeIDs("A", 0, 150)))
	e.assertOnce(0, 150)
	statuses := map[int]int{}
	tokenCalls, unauthorized := 0, 0
	for _, l := range e.sb.RequestLog() {
		if strings.HasSuffix(l.Path, "/accounts") {
			statuses[l.Status]++
		}
		if strings.HasSuffix(l.Path, "/token") && l.Status == 200 {
			tokenCalls++
		}
		if !strings.HasSuffix(l.Path, "/token") && l.Status == 401 {
			unauthorized++ // a PATCH or a status poll of a request
		}
	}
	if statuses[429] < 4 || statuses[500] < 2 || statuses[0] < 2 || unauthorized < 1 {
		t.Fatalf("sandbox answered %v to PATCHes and %d 401s; the faults did not all fire", statuses, unauthorized)
	}
	if tokenCalls < 3 {
		t.Fatalf("%d successful token calls: the access token was not replaced mid-stream", tokenCalls)
	}
}

func TestAccountingRateLimit400Form(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimitForm(sandbox.RateLimit400))
	// 20 req/s against a sandbox allowing 1/s: the sandbox refuses most
	// requests with its 400 rate-limit answer, which must be retried.
	// Batches are sent one after another: sent together they would share
	// one request.
	// Polling often: a small request waits while the previous one processes.
	s := e.start("rate_limit: 20\nawait_poll_interval: 10ms", false)
	for i := range 3 {
		sendOK(t, s, e.accounts(0, 2, 2*i))
	}
	e.waitIdle()
	if got := e.ids(0, sandbox.ObjectAccount); len(got) != 6 {
		t.Fatalf("accounts %v", got)
	}
	e.assertOnce(0, 6)
	statuses := map[int]int{}
	for _, l := range e.sb.RequestLog() {
		if strings.HasSuffix(l.Path, "/accounts") {
			statuses[l.Status]++
		}
	}
	if statuses[202] != 3 || statuses[400] == 0 {
		t.Fatalf("sandbox answered %v, want three 202s after some 400s", statuses)
	}
}

// TestAccountingRedeliveredAfterRestartKeepsLastValue: after a restart the
// input redelivers from its last commit, so a new run can write an older
// value of an id again before the newest. The newest must then be applied
// again too, even when it is packed exactly as the previous run packed it:
// were that body answered 412 (already accepted, in the previous run,
// before the older value now re-sent), Concur would keep the older value.
func TestAccountingRedeliveredAfterRestartKeepsLastValue(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false))
	value := func(name string, off int) service.MessageBatch {
		b := e.kafkaAccounts(0, 0, 1, name, off)
		return b
	}
	first := e.start("", false)
	sendOK(t, first, value("v2", 10)) // written, then the process dies before committing
	first.stop(t)
	e.waitIdle()

	second := e.start("", false)
	sendOK(t, second, value("v1", 5)) // redelivered from the last commit
	e.waitIdle()
	sendOK(t, second, value("v2", 10)) // the same body as the first run's
	e.waitIdle()
	if got := e.acctNames(0)["A0000"]; got != "v2 A0000" {
		t.Fatalf("A0000 is %q after the redelivery, want the last value", got)
	}
	for _, l := range e.sb.RequestLog() {
		if l.Status == 412 {
			t.Fatal("a body of the new run was answered 412 and not applied")
		}
	}
}

func TestAccountingAwaitFinalFailsExactlyRejected(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false), sandbox.WithProcessingDelay(50*time.Millisecond))
	// validate: false, or the sink itself would reject BAD1 and BAD2.
	s := e.start("validate: false\nawait: final\nawait_poll_interval: 20ms", true)
	batch := e.accounts(0, 4, 0)
	batch = append(batch,
		e.msg(0, "accounts", `{"id":"BAD1","name":"No type"}`),
		e.msg(0, "accounts", `{"id":"BAD2","name":"Bad type","type":"NOT_A_TYPE"}`),
	)
	batch = append(batch, e.accounts(0, 2, 4)...)
	sendOK(t, s, batch)
	s.stop(t)
	f := s.failures(t)
	if len(f) != 2 || f["BAD1"] == "" || f["BAD2"] == "" {
		t.Fatalf("failures %v, want exactly BAD1 and BAD2", f)
	}
	for id, msg := range f {
		if !strings.Contains(msg, "type") {
			t.Errorf("%s failed without Concur's error text: %s", id, msg)
		}
	}
	e.expectIDs(0, sandbox.ObjectAccount, fmt.Sprint(rangeIDs("A", 0, 6)))
}

func TestAccountingBadRecordsFailAlone(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false))
	s := e.start("", true)
	big := `{"id":"BIG","name":"` + strings.Repeat("x", 200_001) + `","type":"EXPENSE"}`
	batch := service.MessageBatch{
		e.msg(0, "accounts", `{"id":"A0000","name":"ok","type":"EXPENSE"}`),
		e.msg(0, "accounts", `this is not json`),
		e.msg(0, "accounts", `{"name":"no id","type":"EXPENSE"}`),
		e.msg(0, "accounts", big),
		e.msg(0, "nonsense", `{"id":"X","name":"bad object","type":"EXPENSE"}`),
		e.msg(0, "accounts", `{"id":"A0001","name":"ok","type":"EXPENSE"}`),
	}
	sendOK(t, s, batch)
	e.waitIdle()
	s.stop(t)
	f := s.failures(t)
	want := map[string]string{
		"this is not json": "not a JSON object",
		"":                 `"id"`,
		"BIG":              "record limit",
		"X":                "unknown object",
	}
	if len(f) != len(want) {
		t.Fatalf("failures %v", f)
	}
	for id, frag := range want {
		if !strings.Contains(f[id], frag) {
			t.Errorf("failure of %q = %q, want it to mention %q", id, f[id], frag)
		}
	}
	e.expectIDs(0, sandbox.ObjectAccount, "[A0000 A0001]")
}

func TestAccountingClientErrorNotRetried(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false))
	s := e.start("", true)
	m := e.msg(0, "accounts", `{"id":"A0000","name":"x","type":"EXPENSE"}`)
	m.MetaSetMut("erp", "00000000-0000-4000-8000-000000000000") // unknown ERP: 404
	sendOK(t, s, service.MessageBatch{m})
	s.stop(t)
	f := s.failures(t)
	if !strings.Contains(f["A0000"], "not retried") || !strings.Contains(f["A0000"], "404") {
		t.Fatalf("failure %q", f["A0000"])
	}
	n := 0
	for _, l := range e.sb.RequestLog() {
		if strings.HasSuffix(l.Path, "/accounts") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d PATCH attempts, want 1", n)
	}
}

func TestAccountingBudgetSpentNacks(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false))
	if err := e.sb.InjectFault(sandbox.Fault{Endpoint: sandbox.EndpointAccounts, Kind: sandbox.FaultServerError, Count: 1000}); err != nil {
		t.Fatal(err)
	}
	s := e.start("max_retries: 2", false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.send(ctx, e.accounts(0, 3, 0))
	if err == nil || !strings.Contains(err.Error(), "retry budget spent") {
		t.Fatalf("send returned %v, want the retry budget error", err)
	}
	e.sb.ClearFaults()
	sendOK(t, s, e.accounts(0, 3, 0)) // the redelivery
	e.waitIdle()
	if got := e.ids(0, sandbox.ObjectAccount); len(got) != 3 {
		t.Fatalf("accounts %v", got)
	}
}

func TestAccountingConfigErrors(t *testing.T) {
	for name, conf := range map[string]string{
		"bad object":   "concur_accounting: { company_id: c, erp_id: e, object: invoices }",
		"no bound":     "concur_accounting: { company_id: c, erp_id: e, object: accounts, max_retries: 0, backoff: { max_elapsed_time: 0s } }",
		"bad await":    "concur_accounting: { company_id: c, erp_id: e, object: accounts, await: never }",
		"zero rate":    "concur_accounting: { company_id: c, erp_id: e, object: accounts, rate_limit: 0 }",
		"neg margin":   "concur_accounting: { company_id: c, erp_id: e, object: accounts, rate_limit_margin: -1s }",
		"missing comp": "concur_accounting: { erp_id: e, object: accounts }",
	} {
		t.Run(name, func(t *testing.T) {
			b := service.NewStreamBuilder()
			if _, err := b.AddProducerFunc(); err != nil {
				t.Fatal(err)
			}
			at := strings.LastIndex(conf, "}")
			err := b.AddOutputYAML(conf[:at] + ", auth: { token_store: " + t.TempDir() + " } }")
			if err == nil {
				var st *service.Stream
				if st, err = b.Build(); err == nil {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					err = st.Run(ctx) // fails while creating the output
				}
			}
			if err == nil || err == context.DeadlineExceeded {
				t.Fatalf("config accepted (%v)", err)
			}
			t.Log(err)
		})
	}
}

func acctLogLevel() string {
	if l := os.Getenv("ACCT_TEST_LOG"); l != "" {
		return l
	}
	return "off" // the tests provoke failures on purpose; ACCT_TEST_LOG=warn shows them
}

// TestAccountingStopsItsGoroutines: once the stream and sandbox are stopped,
// no goroutine of the output (or of the clients it created) remains.
func TestAccountingStopsItsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		e := newAcctEnv(t, 1, sandbox.WithRateLimit(false))
		s := e.start("await: final\nawait_poll_interval: 10ms", false)
		sendOK(t, s, e.accounts(0, 10, 0))
		s.stop(t)
		e.sb.Close()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left running (was %d):\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
