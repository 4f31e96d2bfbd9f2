package concur_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/concurflow/concurflow/sandbox"
)

// mappingsWant is the integration's MappingsResponse as the API answers it
// now, decoded.
func (e *reqerrEnv) mappingsWant() any {
	e.t.Helper()
	raw, err := e.client.MappingsRaw(context.Background(), e.erp)
	if err != nil {
		e.t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// mappingsMeta is the structured concur_mappings metadata of m (nil when
// unset), failing the test when m errored.
func mappingsMeta(t *testing.T, m *service.Message, key string) any {
	t.Helper()
	if err := m.GetError(); err != nil {
		t.Fatalf("message errored: %v", err)
	}
	v, _ := m.MetaGetMut(key)
	return v
}

func (e *reqerrEnv) idMeta() []string {
	return []string{"concur_company_id", e.co.ID, "concur_erp_id", e.erp}
}

func (e *reqerrEnv) mapList(erpListID string) {
	e.t.Helper()
	err := e.sb.MapList(e.co.ID, e.erp, sandbox.ListMapping{
		ERPListID: erpListID, ConcurListID: "concur-" + erpListID,
		FieldMappings: json.RawMessage(`[{"formTypeCode":"allocation","fields":[{"alternateFieldId":"F1","level":1}]}]`),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.waitIdle()
}

func TestMappingsCachedAndInvalidatedByListMappingEvent(t *testing.T) {
	for _, tc := range []struct{ name, cache, extra string }{
		{"memory", "", ""},
		{"cache resource", "label: shared\nmemory: { default_ttl: 1h }", "cache_resource: shared\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newReqerrEnv(t)
			e.mapList("costcentres")
			before := e.apiCalls(http.MethodGet, "/mappings")
			s := reqerrStart(t, "concur_mappings:\n"+reqerrIndent(tc.extra+e.auth(), 2), tc.cache)
			for range 3 {
				s.send(reqerrMsg([]byte(`{"id":"A1"}`), e.idMeta()...))
			}
			want := e.mappingsWant() // one more GET, outside the stream
			out := s.outputs()
			for i, m := range out {
				if got := mappingsMeta(t, m, "concur_mappings"); !reflect.DeepEqual(got, want) {
					t.Fatalf("message %d mappings\n%v\nwant\n%v", i, got, want)
				}
			}
			if calls := e.apiCalls(http.MethodGet, "/mappings") - before; calls != 2 {
				t.Fatalf("%d mappings calls for 3 messages and the check, want 2", calls)
			}

			// An administrator maps another list: the sandbox delivers
			// listMapping.created; the event passing through drops the entry.
			e.mapList("projects")
			ev := e.event("listMapping.created", func(d json.RawMessage) bool { return strings.Contains(string(d), "projects") })
			before = e.apiCalls(http.MethodGet, "/mappings")
			s.send(reqerrMsg(ev))
			s.send(reqerrMsg([]byte(`{"id":"A2"}`), e.idMeta()...))
			want = e.mappingsWant()
			out = s.stop()
			if len(out) != 5 {
				t.Fatalf("%d messages out, want 5", len(out))
			}
			for i, m := range out[3:] {
				got := mappingsMeta(t, m, "concur_mappings")
				if !reflect.DeepEqual(got, want) || !strings.Contains(mappingsJSON(t, got), "concur-projects") {
					t.Fatalf("message %d after the event: mappings\n%v\nwant\n%v", i+3, got, want)
				}
			}
			if b, _ := out[3].AsBytes(); string(b) != string(ev) {
				t.Fatalf("event body changed: %s", b)
			}
			if calls := e.apiCalls(http.MethodGet, "/mappings") - before; calls != 2 {
				t.Fatalf("%d mappings calls after the event, want 2 (refetch + check)", calls)
			}
		})
	}
}

func mappingsJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMappingsInvalidatedByEventTypeMetadataAndSampleEvents(t *testing.T) {
	e := newReqerrEnv(t)
	s := reqerrStart(t, "concur_mappings:\n"+reqerrIndent(e.auth(), 2), "")
	s.send(reqerrMsg([]byte(`{}`), e.idMeta()...))
	before := e.apiCalls(http.MethodGet, "/mappings")
	// concur_events sets concur_event_type; the body need not be an event.
	s.send(reqerrMsg([]byte(`not json`), append(e.idMeta(), "concur_event_type", "mapping.updated")...))
	// A documented sample event, retargeted at the sandbox's integration.
	for _, name := range []string{"listMapping.deleted", "data.statusUpdated"} {
		sample, err := os.ReadFile("../../testdata/events/" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		body := strings.NewReplacer("49d30324-7f69-4f9c-b3fa-ca7639e1fc35", e.co.ID, "261a88ef-44f2-4102-b303-db4ac2a4a8ba", e.erp).Replace(string(sample))
		s.send(reqerrMsg([]byte(body)))
	}
	out := s.stop()
	for i, m := range out {
		if mappingsMeta(t, m, "concur_mappings") == nil {
			t.Fatalf("message %d has no mappings", i)
		}
	}
	// mapping.updated and listMapping.deleted refetch; data.statusUpdated is
	// served from the cache.
	if calls := e.apiCalls(http.MethodGet, "/mappings") - before; calls != 2 {
		t.Fatalf("%d mappings calls, want 2", calls)
	}
}

func TestMappingsSelectIntoBody(t *testing.T) {
	e := newReqerrEnv(t)
	e.mapList("costcentres")
	proc := `concur_mappings:
  mapping: 'root = this.files.filter(f -> f.fileId == "DEFAULT").index(0).listMappings.map_each(l -> l.erpListId)'
  target_path: concur.lists
  target_meta: ""
` + reqerrIndent(e.auth(), 2)
	out := reqerrRun(t, proc,
		reqerrMsg([]byte(`{"id":"A1","concur":{"keep":1}}`), e.idMeta()...),
		reqerrMsg([]byte(`["not","an","object"]`), e.idMeta()...),
		reqerrMsg([]byte(`{"id":"A2"}`), e.idMeta()...),
	)
	if len(out) != 3 {
		t.Fatalf("%d messages, want 3", len(out))
	}
	for i, want := range map[int]string{0: `{"concur":{"keep":1,"lists":["costcentres"]},"id":"A1"}`, 2: `{"concur":{"lists":["costcentres"]},"id":"A2"}`} {
		if err := out[i].GetError(); err != nil {
			t.Fatalf("message %d errored: %v", i, err)
		}
		if b, _ := out[i].AsBytes(); string(b) != want {
			t.Fatalf("message %d body %s, want %s", i, b, want)
		}
		if _, ok := out[i].MetaGetMut("concur_mappings"); ok {
			t.Fatalf("message %d has metadata though target_meta is empty", i)
		}
	}
	if err := out[1].GetError(); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Fatalf("array body: error %v", err)
	}
}

func TestMappingsFailures(t *testing.T) {
	e := newReqerrEnv(t)
	proc := "concur_mappings:\n  max_retries: 1\n  backoff: { initial_interval: 5ms, max_interval: 10ms, max_elapsed_time: 5s }\n" + reqerrIndent(e.auth(), 2)
	if err := e.sb.InjectFault(sandbox.Fault{Endpoint: sandbox.EndpointMappings, Kind: sandbox.FaultServerError, Count: 2}); err != nil {
		t.Fatal(err)
	}
	out := reqerrRun(t, proc,
		reqerrMsg([]byte(`{}`), e.idMeta()...), // both faults: budget spent
		reqerrMsg([]byte(`{}`), "concur_company_id", e.co.ID, "concur_erp_id", "00000000-0000-4000-8000-000000000000"),
		reqerrMsg([]byte(`{}`)), // no ids at all
		reqerrMsg([]byte(`{}`), e.idMeta()...),
	)
	if len(out) != 4 {
		t.Fatalf("%d messages, want 4", len(out))
	}
	for i, want := range []string{"retry budget spent", "404", "is empty", ""} {
		err := out[i].GetError()
		switch {
		case want == "" && err != nil:
			t.Fatalf("message %d errored: %v", i, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Fatalf("message %d error %v, want %q", i, err, want)
		}
	}
	if mappingsMeta(t, out[3], "concur_mappings") == nil {
		t.Fatal("last message has no mappings")
	}
}

func TestMappingsConfigErrors(t *testing.T) {
	for _, conf := range []string{
		"concur_mappings:\n  target_meta: \"\"\n",
		"concur_mappings:\n  target_path: a..b\n",
		"concur_mappings:\n  cache_resource: missing\n",
		"concur_mappings:\n  cache_size: 0\n",
	} {
		b := service.NewStreamBuilder()
		if _, err := b.AddProducerFunc(); err != nil {
			t.Fatal(err)
		}
		if err := b.AddConsumerFunc(func(context.Context, *service.Message) error { return nil }); err != nil {
			t.Fatal(err)
		}
		err := b.AddProcessorYAML(conf + "  auth: { token_store: " + t.TempDir() + " }\n")
		if err == nil {
			var s *service.Stream
			if s, err = b.Build(); err == nil {
				err = s.Run(context.Background())
			}
		}
		if err == nil {
			t.Errorf("config accepted:\n%s", conf)
		}
	}
}

func TestMappingsConfigExamples(t *testing.T) {
	reqerrLintExamples(t, "concur_mappings")
}

func TestMappingsConcurrentMissesFetchOnce(t *testing.T) {
	e := newReqerrEnv(t)
	b := service.NewStreamBuilder()
	send, err := b.AddProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	b.SetThreads(8)
	if err := b.AddProcessorYAML("concur_mappings:\n" + reqerrIndent(e.auth(), 2)); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := 0
	if err := b.AddConsumerFunc(func(_ context.Context, m *service.Message) error {
		if _, ok := m.MetaGetMut("concur_mappings"); ok && m.GetError() == nil {
			mu.Lock()
			got++
			mu.Unlock()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stream, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := send(ctx, reqerrMsg([]byte(`{}`), e.idMeta()...)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := stream.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got != 32 {
		t.Fatalf("%d messages with mappings, want 32", got)
	}
	if calls := e.apiCalls(http.MethodGet, "/mappings"); calls != 1 {
		t.Fatalf("%d mappings calls, want 1", calls)
	}
}

// TestMappingsFromSandboxEvents feeds the sandbox's events through a real
// concur_events input: the list mapping events carry the new mapping.
func TestMappingsFromSandboxEvents(t *testing.T) {
	e := newReqerrEnv(t)
	s := e.startEvents("concur_mappings:\n" + reqerrIndent(e.auth(), 2))
	if err := e.sb.RequestReset(e.co.ID, e.erp, sandbox.ObjectAccount); err != nil {
		t.Fatal(err)
	}
	e.waitIdle()
	if out := s.outputs(); len(out) != 1 || strings.Contains(mappingsJSON(t, mappingsMeta(t, out[0], "concur_mappings")), "concur-projects") {
		t.Fatalf("before the mapping: %d messages", len(out))
	}
	before := e.apiCalls(http.MethodGet, "/mappings")
	e.mapList("projects") // listMapping.created and mapping.updated
	out := s.stop()
	if len(out) != 3 {
		t.Fatalf("%d messages, want 3", len(out))
	}
	for _, m := range out[1:] {
		typ, _ := m.MetaGet("concur_event_type")
		if !strings.Contains(mappingsJSON(t, mappingsMeta(t, m, "concur_mappings")), "concur-projects") {
			t.Fatalf("%s event carries stale mappings", typ)
		}
	}
	if calls := e.apiCalls(http.MethodGet, "/mappings") - before; calls < 1 {
		t.Fatal("mapping events did not refetch")
	}
}

func TestMappingsRootDeletedLeavesMessage(t *testing.T) {
	e := newReqerrEnv(t)
	proc := "concur_mappings:\n  mapping: 'root = if this.files.length() > 0 { deleted() }'\n" + reqerrIndent(e.auth(), 2)
	out := reqerrRun(t, proc, reqerrMsg([]byte(`{"id":"A1"}`), e.idMeta()...))
	if len(out) != 1 || out[0].GetError() != nil {
		t.Fatalf("got %d messages (%v)", len(out), out[0].GetError())
	}
	if b, _ := out[0].AsBytes(); string(b) != `{"id":"A1"}` {
		t.Fatalf("body %s", b)
	}
	if _, ok := out[0].MetaGetMut("concur_mappings"); ok {
		t.Fatal("metadata set though the mapping deleted the root")
	}
}
