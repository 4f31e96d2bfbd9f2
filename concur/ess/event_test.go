package ess

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// samplesPath is the Accounting Integration Events page, relative to this
// package directory.
var samplesPath = filepath.Join("..", "..", "..", "shared", "reference", "concur", "events", "event-subscription-topic-accountingintegration.markdown")

// sampleEvents returns the JSON code blocks of the page's Sample Events
// section, keyed by the event type in each block's heading.
func sampleEvents(t testing.TB) map[string][]byte {
	t.Helper()
	page, err := os.ReadFile(samplesPath)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("reference page %s not present; skipping sample-event tests", samplesPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	_, samples, ok := strings.Cut(string(page), "Sample Events")
	if !ok {
		t.Fatalf("%s: no Sample Events section", samplesPath)
	}
	out := map[string][]byte{}
	for _, section := range strings.Split(samples, "### ")[1:] {
		heading, rest, _ := strings.Cut(section, "\n")
		_, afterTick, _ := strings.Cut(heading, "`")
		eventType, _, _ := strings.Cut(afterTick, "`")
		_, block, ok := strings.Cut(rest, "```json")
		if !ok {
			t.Fatalf("sample for %q has no json block", eventType)
		}
		block, _, _ = strings.Cut(block, "```")
		out[eventType] = []byte(block)
	}
	return out
}

func TestParseEverySampleEvent(t *testing.T) {
	samples := sampleEvents(t)
	if len(samples) != len(EventTypes()) {
		t.Fatalf("found samples for %d event types, want %d", len(samples), len(EventTypes()))
	}
	for _, et := range EventTypes() {
		t.Run(et, func(t *testing.T) {
			body, ok := samples[et]
			if !ok {
				t.Fatalf("no sample for %s", et)
			}
			ev, err := Parse(body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if ev.EventType != et || ev.Topic != Topic || ev.ID == "" || ev.CorrelationID == "" || ev.TimeStamp == "" {
				t.Errorf("unexpected envelope %+v", ev)
			}
			if ev.Facts.CompanyID == "" || ev.Facts.ErpID == "" || ev.Facts.PartnerID == "" {
				t.Errorf("facts ids missing: %+v", ev.Facts)
			}
			if ev.Data != nil {
				t.Errorf("top-level data = %s, want nil (null or absent in every sample)", ev.Data)
			}
		})
	}
}

func TestTypedFactsFromSamples(t *testing.T) {
	samples := sampleEvents(t)
	parse := func(et string) *Event {
		ev, err := Parse(samples[et])
		if err != nil {
			t.Fatalf("%s: %v", et, err)
		}
		return ev
	}

	st, err := parse(EventDataStatusUpdated).StatusUpdate()
	if err != nil {
		t.Fatal(err)
	}
	if st.RequestID != "fde670e0-4aa2-451e-8431-7bcdc574cc6b" || st.Status != StatusError ||
		st.Links["errors"].Href != "/v4/companies/49d30324-7f69-4f9c-b3fa-ca7639e1fc35/requests/fde670e0-4aa2-451e-8431-7bcdc574cc6b/errors" {
		t.Errorf("status update = %+v", st)
	}

	created, err := parse(EventListMappingCreated).ListMappings()
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 2 || created[1].ErpListID != "erpListId2" || created[0].FieldMappings[0].FormTypeCode != "allocation" ||
		created[0].FieldMappings[0].ConnectedLists[0].Fields[1] != (Field{AlternateFieldID: "MyConnectedFieldID2", Level: 2}) {
		t.Errorf("list mappings created = %+v", created)
	}
	deleted, err := parse(EventListMappingDeleted).ListMappings()
	if err != nil {
		t.Fatal(err)
	}
	if want := []ListMapping{{ErpListID: "erpListId1", ConcurListID: "concurListId1"}}; !reflect.DeepEqual(deleted, want) {
		t.Errorf("list mappings deleted = %+v, want %+v", deleted, want)
	}

	reset := parse(EventDataResetRequested)
	rr, err := reset.ResetRequest()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{ObjectAccount, ObjectVendor, ObjectList}; !reflect.DeepEqual(rr.AccountingObjects, want) {
		t.Errorf("reset objects = %v, want %v", rr.AccountingObjects, want)
	}
	if !reset.FactsDataIsString() {
		t.Error("reset sample sends facts.data as a string; FactsDataIsString = false")
	}
	if got := string(reset.FactsData()); got != `{"accountingObjects":["ACCOUNT","VENDOR","LIST"]}` {
		t.Errorf("FactsData = %s", got)
	}
	if got := string(reset.Facts.Data); !strings.HasPrefix(got, `"{\"accountingObjects\"`) {
		t.Errorf("Facts.Data should keep the original string, got %s", got)
	}

	mu := parse(EventMappingUpdated)
	if mu.FactsData() != nil {
		t.Errorf("mapping.updated has no facts.data, FactsData = %s", mu.FactsData())
	}
	if _, err := mu.StatusUpdate(); !errors.Is(err, ErrWrongEventType) {
		t.Errorf("StatusUpdate on mapping.updated: err = %v, want ErrWrongEventType", err)
	}
}

func TestFactsDataForms(t *testing.T) {
	cases := []struct {
		name, data, want string
		isString         bool
	}{
		{"object", `{"a":1}`, `{"a":1}`, false},
		{"string holding object", `"{\"a\":1}"`, `{"a":1}`, true},
		{"string holding array with spaces", `" [1,2] "`, `[1,2]`, true},
		{"plain string", `"hello"`, `"hello"`, false},
		{"empty string", `""`, `""`, false},
		{"null", `null`, ``, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := `{"id":"1","eventType":"x","topic":"t","facts":{"data":` + c.data + `}}`
			ev, err := Parse([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(ev.FactsData()); got != c.want {
				t.Errorf("FactsData = %q, want %q", got, c.want)
			}
			if ev.FactsDataIsString() != c.isString {
				t.Errorf("FactsDataIsString = %v, want %v", ev.FactsDataIsString(), c.isString)
			}
		})
	}
}

func TestParseRejectsNonEvents(t *testing.T) {
	cases := map[string]string{
		"empty":             ``,
		"not json":          `hello`,
		"array":             `[1]`,
		"trailing data":     `{"id":"1","eventType":"x","topic":"t","facts":{}} {}`,
		"missing id":        `{"eventType":"x","topic":"t","facts":{}}`,
		"numeric id":        `{"id":1,"eventType":"x","topic":"t","facts":{}}`,
		"missing eventType": `{"id":"1","topic":"t","facts":{}}`,
		"missing topic":     `{"id":"1","eventType":"x","facts":{}}`,
		"missing facts":     `{"id":"1","eventType":"x","topic":"t"}`,
		"null facts":        `{"id":"1","eventType":"x","topic":"t","facts":null}`,
		"facts string":      `{"id":"1","eventType":"x","topic":"t","facts":"x"}`,
		"numeric companyId": `{"id":"1","eventType":"x","topic":"t","facts":{"companyId":5}}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			ev, err := Parse([]byte(body))
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("Parse(%q) = %+v, %v; want ErrInvalidEvent", body, ev, err)
			}
		})
	}
}

func TestEventRoundTripsThroughJSON(t *testing.T) {
	for et, body := range sampleEvents(t) {
		ev, err := Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("%s: re-parse: %v", et, err)
		}
		out2, err := json.Marshal(again)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != string(out2) || again.FactsData() == nil && ev.FactsData() != nil {
			t.Errorf("%s: round trip changed the event:\n%s\n%s", et, out, out2)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"id":"1","eventType":"x","topic":"t","facts":{"data":"{\"a\":[1]}"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := Parse(body)
		if err != nil {
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("error does not wrap ErrInvalidEvent: %v", err)
			}
			return
		}
		if ev.ID == "" || ev.EventType == "" || ev.Topic == "" {
			t.Fatalf("accepted event without id/eventType/topic: %q", body)
		}
		if d := ev.FactsData(); d != nil && !json.Valid(d) {
			t.Fatalf("FactsData returned invalid JSON %q", d)
		}
		_, _ = ev.StatusUpdate()
		_, _ = ev.ListMappings()
		_, _ = ev.ResetRequest()
	})
}
