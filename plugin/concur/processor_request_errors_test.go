package concur_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	concurapi "github.com/concurflow/concurflow/concur"
	"github.com/concurflow/concurflow/sandbox"
)

// reqerrEnv is a sandbox with one company and ERP, an API client for it,
// and an ESS receiver keeping every delivered event body.
type reqerrEnv struct {
	t      *testing.T
	sb     *sandbox.Server
	co     sandbox.Company
	erp    string
	client *concurapi.Client
	store  string

	mu     sync.Mutex
	events [][]byte
}

func newReqerrEnv(t *testing.T, opts ...sandbox.Option) *reqerrEnv {
	t.Helper()
	e := &reqerrEnv{t: t, sb: sandbox.New(t, append([]sandbox.Option{sandbox.WithRateLimit(false), sandbox.WithProcessingDelay(0)}, opts...)...), store: filepath.Join(t.TempDir(), "tokens")}
	var err error
	if e.co, err = e.sb.SeedCompany(); err != nil {
		t.Fatal(err)
	}
	if e.erp, err = e.sb.RegisterERP(e.co.ID); err != nil {
		t.Fatal(err)
	}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		e.mu.Lock()
		e.events = append(e.events, body)
		e.mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	e.sb.Subscribe(e.co.ID, recv.URL)
	tokens, err := concurapi.NewTokenSource(concurapi.TokenSourceConfig{
		CompanyID: e.co.ID, ClientID: e.co.ClientID, ClientSecret: e.co.ClientSecret,
		RequestToken: e.co.RequestToken, AuthURL: e.sb.URL(), Store: concurapi.NewMemoryStore(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.client, err = concurapi.NewClient(concurapi.ClientConfig{CompanyID: e.co.ID, TokenSource: tokens}); err != nil {
		t.Fatal(err)
	}
	return e
}

// auth is the processors' auth field group pointing at the sandbox.
func (e *reqerrEnv) auth() string {
	return fmt.Sprintf(`auth:
  url: %s
  token_store: %s
  client_id: %s
  client_secret: %s
  request_token: %s
`, e.sb.URL(), e.store, e.co.ClientID, e.co.ClientSecret, e.co.RequestToken)
}

// patchVendors sends a vendors PATCH and waits until it was processed and
// its event delivered; it returns the request id.
func (e *reqerrEnv) patchVendors(vendors ...string) string {
	e.t.Helper()
	st, err := e.client.Patch(context.Background(), e.erp, concurapi.ObjectVendors, []byte(`{"data":[`+strings.Join(vendors, ",")+`]}`), "")
	if err != nil {
		e.t.Fatal(err)
	}
	e.waitIdle()
	return st.RequestID
}

func (e *reqerrEnv) waitIdle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.sb.WaitIdle(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// event returns the delivered event of the type whose facts.data matches
// match (nil matches any), failing the test when there is none.
func (e *reqerrEnv) event(eventType string, match func(data json.RawMessage) bool) []byte {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, body := range e.events {
		var ev struct {
			EventType string `json:"eventType"`
			Facts     struct {
				Data json.RawMessage `json:"data"`
			} `json:"facts"`
		}
		if json.Unmarshal(body, &ev) == nil && ev.EventType == eventType && (match == nil || match(ev.Facts.Data)) {
			return body
		}
	}
	e.t.Fatalf("no %s event among %d delivered", eventType, len(e.events))
	return nil
}

// statusEvent returns the data.statusUpdated event of a request.
func (e *reqerrEnv) statusEvent(requestID string) []byte {
	return e.event("data.statusUpdated", func(data json.RawMessage) bool {
		var d struct {
			RequestID string `json:"requestId"`
		}
		return json.Unmarshal(data, &d) == nil && d.RequestID == requestID
	})
}

// apiCalls counts the API requests whose path contains part.
func (e *reqerrEnv) apiCalls(method, part string) int {
	n := 0
	for _, l := range e.sb.RequestLog() {
		if l.Method == method && strings.Contains(l.Path, part) {
			n++
		}
	}
	return n
}

// reqerrRun runs a stream of the processors over the messages, one at a
// time, and returns what reached the output (errored messages included).
func reqerrRun(t *testing.T, processors string, in ...*service.Message) []*service.Message {
	t.Helper()
	return reqerrRunWith(t, processors, "", in...)
}

// reqerrRunWith is reqerrRun with a cache resource (YAML, "" for none).
func reqerrRunWith(t *testing.T, processors, cache string, in ...*service.Message) []*service.Message {
	t.Helper()
	s := reqerrStart(t, processors, cache)
	for _, m := range in {
		s.send(m)
	}
	return s.stop()
}

// reqerrStream is a running stream fed one message at a time.
type reqerrStream struct {
	t      *testing.T
	ctx    context.Context
	prod   func(context.Context, *service.Message) error
	stream *service.Stream
	done   chan error

	mu  sync.Mutex
	out []*service.Message
}

func reqerrStart(t *testing.T, processors, cache string) *reqerrStream {
	t.Helper()
	b := service.NewStreamBuilder()
	prod, err := b.AddProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	s := reqerrBuild(t, b, processors, cache)
	s.prod = prod
	return s
}

// startEvents runs the processors behind a concur_events input that
// the sandbox delivers the company's events to.
func (e *reqerrEnv) startEvents(processors string) *reqerrStream {
	e.t.Helper()
	keyFile := filepath.Join(e.t.TempDir(), "sandbox.pem")
	if err := os.WriteFile(keyFile, e.sb.PublicKeyPEM(), 0o600); err != nil {
		e.t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	b := service.NewStreamBuilder()
	if err := b.AddInputYAML(fmt.Sprintf("concur_events:\n  address: %s\n  public_key_files: [ %q ]\n", addr, keyFile)); err != nil {
		e.t.Fatal(err)
	}
	s := reqerrBuild(e.t, b, processors, "")
	e.sb.Subscribe(e.co.ID, "http://"+addr+"/concur/events")
	return s
}

// reqerrBuild adds the processors, an optional cache resource and a
// collecting output to b and runs the stream.
func reqerrBuild(t *testing.T, b *service.StreamBuilder, processors, cache string) *reqerrStream {
	t.Helper()
	s := &reqerrStream{t: t, done: make(chan error, 1)}
	var err error
	if cache != "" {
		if err := b.AddCacheYAML(cache); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.AddProcessorYAML(processors); err != nil {
		t.Fatalf("processor config: %v\n%s", err, processors)
	}
	if err := b.AddConsumerFunc(func(_ context.Context, m *service.Message) error {
		s.mu.Lock()
		s.out = append(s.out, m)
		s.mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetLoggerYAML("level: " + acctLogLevel()); err != nil {
		t.Fatal(err)
	}
	if s.stream, err = b.Build(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	s.ctx = ctx
	go func() { s.done <- s.stream.Run(context.Background()) }()
	return s
}

// send passes m through the stream and waits until it was consumed.
func (s *reqerrStream) send(m *service.Message) {
	s.t.Helper()
	if err := s.prod(s.ctx, m); err != nil {
		s.t.Fatalf("sending: %v", err)
	}
}

// outputs returns what reached the output so far.
func (s *reqerrStream) outputs() []*service.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.out)
}

// stop stops the stream and returns everything that reached the output.
func (s *reqerrStream) stop() []*service.Message {
	s.t.Helper()
	if err := s.stream.Stop(s.ctx); err != nil {
		s.t.Fatal(err)
	}
	if err := <-s.done; err != nil {
		s.t.Fatal(err)
	}
	return s.outputs()
}

// reqerrRecord is an emitted message as the tests compare it.
type reqerrRecord struct {
	ID, Body, Code, Message, Object, RequestID, Company, ERP, Invalid string
	Validation                                                        []concurapi.ValidationError
	Err                                                               string
}

func reqerrRecords(t *testing.T, msgs []*service.Message) []reqerrRecord {
	t.Helper()
	out := make([]reqerrRecord, 0, len(msgs))
	for _, m := range msgs {
		body, err := m.AsBytes()
		if err != nil {
			t.Fatal(err)
		}
		get := func(k string) string { v, _ := m.MetaGet(k); return v }
		r := reqerrRecord{
			ID: get("concur_record_id"), Body: string(body), Code: get("concur_error_code"),
			Message: get("concur_error_message"), Object: get("concur_object_type"),
			RequestID: get("concur_request_id"), Company: get("concur_company_id"), ERP: get("concur_erp_id"),
			Invalid: get("concur_values_invalid"),
		}
		if err := m.GetError(); err != nil {
			r.Err = err.Error()
		}
		if v := get("concur_validation_errors"); v != "" {
			if err := json.Unmarshal([]byte(v), &r.Validation); err != nil {
				t.Fatalf("concur_validation_errors %q: %v", v, err)
			}
		}
		out = append(out, r)
	}
	return out
}

func reqerrVendor(id string, valid bool) string {
	if valid {
		return fmt.Sprintf(`{"id":%q,"type":"ACCOUNTING","currencyCode":"USD","name":"Vendor %s","companyName":"Acme"}`, id, id)
	}
	return fmt.Sprintf(`{"id":%q,"type":"ACCOUNTING","name":"Vendor %s","companyName":"Acme"}`, id, id) // no currencyCode
}

func reqerrMsg(body []byte, meta ...string) *service.Message {
	m := service.NewMessage(body)
	for i := 0; i+1 < len(meta); i += 2 {
		m.MetaSet(meta[i], meta[i+1])
	}
	return m
}

func TestRequestErrorsPartialEmitsExactlyRejectedVendors(t *testing.T) {
	e := newReqerrEnv(t)
	var vendors []string
	var wantIDs []string
	wantBody := map[string]string{}
	for i := range 10 {
		id := fmt.Sprintf("V%02d", i)
		valid := i%3 != 1
		v := reqerrVendor(id, valid)
		vendors = append(vendors, v)
		if !valid {
			wantIDs = append(wantIDs, id)
			wantBody[id] = v
		}
	}
	reqID := e.patchVendors(vendors...)
	ev := e.statusEvent(reqID)
	if !strings.Contains(string(ev), `"PARTIAL"`) {
		t.Fatalf("event is not PARTIAL: %s", ev)
	}

	out := reqerrRecords(t, reqerrRun(t, "concur_request_errors:\n"+reqerrIndent(e.auth(), 2), reqerrMsg(ev, "kept", "yes")))
	var gotIDs []string
	for _, r := range out {
		gotIDs = append(gotIDs, r.ID)
		if r.Err != "" {
			t.Fatalf("record %s errored: %s", r.ID, r.Err)
		}
		if r.Body != wantBody[r.ID] {
			t.Errorf("record %s body\n%s\nwant\n%s", r.ID, r.Body, wantBody[r.ID])
		}
		if r.Object != "VENDOR" || r.RequestID != reqID || r.Company != e.co.ID || r.ERP != e.erp || r.Code == "" || r.Message == "" || r.Invalid != "" {
			t.Errorf("record %s metadata %+v", r.ID, r)
		}
		if len(r.Validation) == 0 || r.Validation[0].Source != "currencyCode" {
			t.Errorf("record %s validation errors %+v, want currencyCode", r.ID, r.Validation)
		}
	}
	if !slices.Equal(gotIDs, wantIDs) {
		t.Fatalf("emitted %v, want %v", gotIDs, wantIDs)
	}
	if m := reqerrRun(t, "concur_request_errors:\n"+reqerrIndent(e.auth(), 2), reqerrMsg(ev, "kept", "yes")); len(m) > 0 {
		if v, _ := m[0].MetaGet("kept"); v != "yes" {
			t.Fatalf("incoming metadata not kept: %q", v)
		}
	}
}

func TestRequestErrorsErrorAndSuccess(t *testing.T) {
	e := newReqerrEnv(t)
	errReq := e.patchVendors(reqerrVendor("BAD1", false), reqerrVendor("BAD2", false))
	okReq := e.patchVendors(reqerrVendor("GOOD", true))
	errEv, okEv := e.statusEvent(errReq), e.statusEvent(okReq)

	for _, tc := range []struct {
		onSuccess string
		want      []string // record ids, or "event" for the passed SUCCESS event
	}{
		{"drop", []string{"BAD1", "BAD2"}},
		{"pass", []string{"event", "BAD1", "BAD2", "event"}},
	} {
		t.Run(tc.onSuccess, func(t *testing.T) {
			notAnEvent := []byte(`{"hello":"world"}`)
			msgs := reqerrRun(t, "concur_request_errors:\n  on_success: "+tc.onSuccess+"\n"+reqerrIndent(e.auth(), 2),
				reqerrMsg(okEv), reqerrMsg(errEv), reqerrMsg(notAnEvent))
			var got []string
			for i, r := range reqerrRecords(t, msgs) {
				if r.Err != "" {
					t.Fatalf("message %d errored: %s", i, r.Err)
				}
				if r.ID == "" {
					got = append(got, "event")
					continue
				}
				got = append(got, r.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if tc.onSuccess == "pass" {
				if b, _ := msgs[0].AsBytes(); string(b) != string(okEv) {
					t.Fatalf("SUCCESS event changed: %s", b)
				}
			}
		})
	}
}

func TestRequestErrorsPaging(t *testing.T) {
	e := newReqerrEnv(t, sandbox.WithPageSize(1024))
	var vendors, want []string
	for i := range 40 {
		id := fmt.Sprintf("P%03d", i)
		vendors = append(vendors, reqerrVendor(id, i == 39))
		if i != 39 {
			want = append(want, id)
		}
	}
	reqID := e.patchVendors(vendors...)
	before := e.apiCalls(http.MethodGet, "/errors")
	// Fields given explicitly, on a message that is no event.
	proc := fmt.Sprintf("concur_request_errors:\n  company_id: %s\n  erp_id: %s\n  request_id: '${! meta(\"rid\") }'\n  status: ''\n%s",
		e.co.ID, e.erp, reqerrIndent(e.auth(), 2))
	out := reqerrRecords(t, reqerrRun(t, proc, reqerrMsg([]byte("x"), "rid", reqID)))
	var got []string
	for _, r := range out {
		got = append(got, r.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %d records %v, want %d", len(got), got, len(want))
	}
	if pages := e.apiCalls(http.MethodGet, "/errors") - before; pages < 5 {
		t.Fatalf("%d pages fetched, want several", pages)
	}
}

func TestRequestErrorsAPIFailures(t *testing.T) {
	e := newReqerrEnv(t)
	reqID := e.patchVendors(reqerrVendor("F1", false), reqerrVendor("OK", true))
	ev := e.statusEvent(reqID)
	proc := "concur_request_errors:\n  max_retries: 2\n  backoff: { initial_interval: 5ms, max_interval: 20ms, max_elapsed_time: 5s }\n" + reqerrIndent(e.auth(), 2)

	t.Run("transient", func(t *testing.T) {
		if err := e.sb.InjectFault(sandbox.Fault{Endpoint: sandbox.EndpointRequests, Kind: sandbox.FaultServerError, Count: 2}); err != nil {
			t.Fatal(err)
		}
		out := reqerrRecords(t, reqerrRun(t, proc, reqerrMsg(ev)))
		if len(out) != 1 || out[0].ID != "F1" || out[0].Err != "" {
			t.Fatalf("got %+v, want F1 once", out)
		}
	})
	t.Run("budget spent", func(t *testing.T) {
		if err := e.sb.InjectFault(sandbox.Fault{Endpoint: sandbox.EndpointRequests, Kind: sandbox.FaultServerError, Count: 3}); err != nil {
			t.Fatal(err)
		}
		unknown := strings.Replace(string(ev), reqID, "00000000-0000-4000-8000-000000000000", 1)
		out := reqerrRecords(t, reqerrRun(t, proc, reqerrMsg(ev), reqerrMsg([]byte(unknown)), reqerrMsg(ev)))
		if len(out) != 3 {
			t.Fatalf("got %d messages, want 3: %+v", len(out), out)
		}
		if out[0].Err == "" || !strings.Contains(out[0].Err, "retry budget spent") || !strings.Contains(out[0].Err, reqID) {
			t.Fatalf("first message error %q", out[0].Err)
		}
		if out[1].Err == "" || !strings.Contains(out[1].Err, "not found") || strings.Contains(out[1].Err, "retry") {
			t.Fatalf("unknown request error %q", out[1].Err)
		}
		if out[2].Err != "" || out[2].ID != "F1" {
			t.Fatalf("third message %+v, want record F1", out[2])
		}
	})
	t.Run("bad input", func(t *testing.T) {
		noID := `{"eventType":"data.statusUpdated","facts":{"companyId":"` + e.co.ID + `","erpId":"` + e.erp + `","data":{"status":"ERROR"}}}`
		odd := strings.Replace(string(ev), `"PARTIAL"`, `"WEIRD"`, 1)
		out := reqerrRecords(t, reqerrRun(t, proc, reqerrMsg([]byte(noID)), reqerrMsg([]byte(odd)), reqerrMsg(ev)))
		if len(out) != 3 || !strings.Contains(out[0].Err, "without a request id") || !strings.Contains(out[1].Err, `unknown status "WEIRD"`) || out[2].ID != "F1" {
			t.Fatalf("got %+v", out)
		}
	})
	t.Run("refused credentials", func(t *testing.T) {
		e.sb.RevokeTokens(e.co.ID)
		e.sb.ExpireRequestTokens(e.co.ID)
		before := e.apiCalls("POST", concurapi.TokenPath)
		out := reqerrRecords(t, reqerrRun(t, proc, reqerrMsg(ev), reqerrMsg(ev), reqerrMsg(ev), reqerrMsg(ev)))
		if len(out) != 4 {
			t.Fatalf("got %d messages, want 4: %+v", len(out), out)
		}
		for _, o := range out {
			if !strings.Contains(o.Err, "invalid_grant") || !strings.Contains(o.Err, "concurflow auth exchange") || strings.Contains(o.Err, "retry") {
				t.Fatalf("message error %q, want the refusal and its fix, not retried", o.Err)
			}
		}
		// One refresh and one password grant; the other messages get the
		// remembered refusal without a token request.
		if calls := e.apiCalls("POST", concurapi.TokenPath) - before; calls != 2 {
			t.Errorf("%d token requests for 4 messages, want 2", calls)
		}
	})
}

// TestRequestErrorsConfigExamples lints the spec's examples.
func TestRequestErrorsConfigExamples(t *testing.T) {
	reqerrLintExamples(t, "concur_request_errors")
}

// reqerrLintExamples parses every example config of a processor, with
// environment variables filled in.
func reqerrLintExamples(t *testing.T, name string) {
	t.Helper()
	for _, v := range []string{"CONCUR_CLIENT_ID", "CONCUR_CLIENT_SECRET", "CONCUR_REQUEST_TOKEN"} {
		t.Setenv(v, "x")
	}
	env := service.GlobalEnvironment()
	var docs []string
	env.WalkProcessors(func(n string, c *service.ConfigView) {
		if n != name {
			return
		}
		data, err := c.TemplateData()
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range data.Examples {
			docs = append(docs, ex.Config)
		}
	})
	if len(docs) == 0 {
		t.Fatalf("no examples for %s", name)
	}
	sort.Strings(docs)
	for _, doc := range docs {
		b := env.NewStreamBuilder()
		if err := b.SetYAML(doc); err != nil {
			t.Fatalf("example does not parse: %v\n%s", err, doc)
		}
	}
}

// reqerrIndent prefixes every non-empty line of s with n spaces.
func reqerrIndent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestRequestErrorsFromSandboxEvents runs the whole loop: vendors are
// patched, the sandbox delivers data.statusUpdated to a concur_events input,
// and exactly the rejected vendors leave the stream.
func TestRequestErrorsFromSandboxEvents(t *testing.T) {
	e := newReqerrEnv(t)
	s := e.startEvents("concur_request_errors:\n" + reqerrIndent(e.auth(), 2))
	partial := e.patchVendors(reqerrVendor("E1", false), reqerrVendor("E2", true), reqerrVendor("E3", false))
	e.patchVendors(reqerrVendor("E4", true)) // SUCCESS: dropped
	e.mapList("costcentres")                 // mapping events: dropped
	e.waitIdle()                             // every delivery acknowledged
	out := reqerrRecords(t, s.stop())
	var got []string
	for _, r := range out {
		if r.Err != "" || r.RequestID != partial {
			t.Fatalf("record %+v", r)
		}
		got = append(got, r.ID)
	}
	sort.Strings(got)
	if !slices.Equal(got, []string{"E1", "E3"}) {
		t.Fatalf("records %v, want E1 and E3", got)
	}
}
