package schemas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/concurflow/concurflow/schemas"
	"github.com/concurflow/concurflow/schemas/schematest"
)

// refDir is where CI keeps the reference pages: ../shared beside the repo.
const refDir = "../../shared/reference/concur"

func validateAll(t *testing.T, name string, docs [][]byte) []error {
	t.Helper()
	errs, err := schematest.NewT(t, name).Validate(t.Context(), docs...)
	if err != nil {
		t.Fatal(err)
	}
	return errs
}

func TestEverySchemaIsEmbeddedAndLoads(t *testing.T) {
	entries, err := schemas.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(schemas.Names()) {
		t.Errorf("FS holds %d files, Names lists %d", len(entries), len(schemas.Names()))
	}
	for _, name := range schemas.Names() {
		b, err := schemas.Schema(name)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if doc["$schema"] != "http://json-schema.org/draft-07/schema#" {
			t.Errorf("%s: $schema is %v, want draft-07", name, doc["$schema"])
		}
		schematest.NewT(t, name)
	}
	if _, err := schemas.Schema("nope.json"); err == nil || !strings.Contains(err.Error(), "nope.json") {
		t.Errorf("unknown schema: got %v, want an error naming it", err)
	}
}

func TestForEventType(t *testing.T) {
	for typ, want := range map[string]string{
		"data.statusUpdated":  schemas.EventDataStatusUpdated,
		"mapping.updated":     schemas.EventMappingUpdated,
		"listMapping.created": schemas.EventListMapping,
		"listMapping.deleted": schemas.EventListMapping,
		"data.resetRequested": schemas.EventDataResetRequested,
	} {
		if got, ok := schemas.ForEventType(typ); !ok || got != want {
			t.Errorf("ForEventType(%q) = %q, %v; want %q", typ, got, ok, want)
		}
	}
	if _, ok := schemas.ForEventType("report.submitted"); ok {
		t.Error("ForEventType accepted an unknown type")
	}
}

var jsonBlock = regexp.MustCompile("(?s)```json\\s*\\n(.*?)\\n\\s*```")

// pageExamples returns every ```json block of a reference page, decoded.
func pageExamples(t *testing.T, page string) []map[string]any {
	t.Helper()
	if _, err := os.Stat(refDir); err != nil {
		t.Skipf("reference pages not found at %s (CI keeps them in ../shared beside the repo): %v", refDir, err)
	}
	md, err := os.ReadFile(filepath.Join(refDir, page))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, m := range jsonBlock.FindAllSubmatch(md, -1) {
		var doc map[string]any
		if err := json.Unmarshal(m[1], &doc); err != nil {
			t.Fatalf("%s: example does not parse: %v\n%s", page, err, m[1])
		}
		out = append(out, doc)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no JSON examples found", page)
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReferenceRecordExamplesValidate checks every record inside the data
// array of every request and response example of the record pages.
func TestReferenceRecordExamplesValidate(t *testing.T) {
	for page, name := range map[string]string{
		"accounting-integration/v4.accountingintegration-account.markdown": schemas.Account,
		"accounting-integration/v4.accountingintegration-vendor.markdown":  schemas.Vendor,
		"accounting-integration/v4.accountingintegration-list.markdown":    schemas.ListName,
	} {
		t.Run(name, func(t *testing.T) {
			var docs [][]byte
			for _, ex := range pageExamples(t, page) {
				data, ok := ex["data"].([]any)
				if !ok {
					continue // a RequestStatus response: not a record
				}
				for _, rec := range data {
					docs = append(docs, mustJSON(t, rec))
				}
			}
			if len(docs) < 5 {
				t.Fatalf("only %d records found on %s", len(docs), page)
			}
			for i, err := range validateAll(t, name, docs) {
				if err != nil {
					t.Errorf("documented record %s is rejected: %v", docs[i], err)
				}
			}
		})
	}
}

func TestReferenceTaxDataExamplesValidate(t *testing.T) {
	var docs [][]byte
	for _, ex := range pageExamples(t, "accounting-integration/v4.accountingintegration-taxData.markdown") {
		_, hasData := ex["data"]
		_, hasDeleteAll := ex["deleteAll"]
		if hasData || hasDeleteAll {
			docs = append(docs, mustJSON(t, ex))
		}
	}
	if len(docs) != 4 { // POST, PUT deleteAll, PUT replace, GET response
		t.Fatalf("found %d tax data bodies, want 4", len(docs))
	}
	for i, err := range validateAll(t, schemas.TaxData, docs) {
		if err != nil {
			t.Errorf("documented tax data body %d is rejected: %v", i, err)
		}
	}
}

func TestReferenceEventSamplesValidate(t *testing.T) {
	examples := pageExamples(t, "events/event-subscription-topic-accountingintegration.markdown")
	seen := map[string]bool{}
	for _, ex := range examples {
		typ, _ := ex["eventType"].(string)
		name, ok := schemas.ForEventType(typ)
		if !ok {
			t.Errorf("sample with unknown eventType %q", typ)
			continue
		}
		seen[typ] = true
		doc := mustJSON(t, ex)
		for _, n := range []string{schemas.EventEnvelope, name} {
			if err := validateAll(t, n, [][]byte{doc})[0]; err != nil {
				t.Errorf("%s sample rejected by %s: %v", typ, n, err)
			}
		}
	}
	if len(seen) != 5 {
		t.Errorf("saw samples for %d event types, want 5: %v", len(seen), seen)
	}
}

// base documents that counter-examples are derived from; each is valid.
var (
	accountingVendor = `{"id":"V1","type":"ACCOUNTING","currencyCode":"EUR","name":"Acme GmbH","companyName":"Acme GmbH","address":{"city":"Berlin","country":"DE"}}`
	employeeVendor   = `{"id":"E1","type":"EMPLOYEE","currencyCode":"USD","firstName":"Ann","lastName":"Lee","email":"ann@example.com","employeeId":"E1"}`
	account          = `{"id":"6000","name":"Travel","number":"6000","type":"EXPENSE"}`
	listName         = `{"id":"CC","name":"Cost Center"}`
	taxBody          = `{"data":[{"countryCode":"DE","countryName":"Germany","stateEntries":[{"stateCode":null,"reclaimEntries":[{"reclaimCode":"19","reclaimDetails":[{"taxCode":"V19","percentage":19,"validFrom":"2020-01-01","validTo":null}]}]}]}]}`
	statusEvent      = `{"id":"e1","topic":"public.concur.spend.accountingintegration","eventType":"data.statusUpdated","timeStamp":"2021-03-18T23:11:51.034Z","facts":{"companyId":"49d30324-7f69-4f9c-b3fa-ca7639e1fc35","erpId":"261a88ef-44f2-4102-b303-db4ac2a4a8ba","partnerId":"4f434150-5a74-4d43-8050-f7b57d0c8840","data":{"requestId":"fde670e0-4aa2-451e-8431-7bcdc574cc6b","status":"ERROR"}}}`
	listMapEvent     = `{"id":"e2","topic":"public.concur.spend.accountingintegration","eventType":"listMapping.created","timeStamp":"2021-03-18T23:11:51.034Z","facts":{"companyId":"49d30324-7f69-4f9c-b3fa-ca7639e1fc35","erpId":"261a88ef-44f2-4102-b303-db4ac2a4a8ba","partnerId":"4f434150-5a74-4d43-8050-f7b57d0c8840","data":[{"erpListId":"L1","concurListId":"C1","fieldMappings":[{"formTypeCode":"allocation","fields":[{"alternateFieldId":"F","level":1}]}]}]}}`
	resetEvent       = `{"id":"e3","topic":"public.concur.spend.accountingintegration","eventType":"data.resetRequested","timeStamp":"2022-09-08T22:49:41.973Z","facts":{"companyId":"4045cab7-532d-45ba-801d-937688a89ddf","erpId":"a4542f54-a27a-4178-96a4-e9bbda79c48d","partnerId":"646a2339-1632-4692-8be6-84534f5b41fc","data":"{\"accountingObjects\":[\"VENDOR\"]}"}}`
	mappingEvent     = `{"id":"e4","topic":"public.concur.spend.accountingintegration","eventType":"mapping.updated","timeStamp":"2022-10-03T21:25:28.913Z","facts":{"companyId":"5bfa738a-1ae7-471d-8286-3984c54223a7","erpId":"f1f9852c-860a-496b-b38b-eb29fff67b81","partnerId":"8b820d40-8e47-40a0-8c8e-f92eb8f5a0a7"}}`
)

// with returns base with the JSON pointer-like dotted path set to value
// (a JSON literal) or removed when value is "".
func with(t *testing.T, base, path, value string) []byte {
	t.Helper()
	var doc any
	if err := json.Unmarshal([]byte(base), &doc); err != nil {
		t.Fatal(err)
	}
	keys := strings.Split(path, ".")
	node := doc
	first := func(n any) any { // only the first array element is ever edited
		if arr, ok := n.([]any); ok && len(arr) > 0 {
			return arr[0]
		}
		return n
	}
	for _, k := range keys[:len(keys)-1] {
		if m, ok := first(node).(map[string]any); ok {
			node = m[k]
		}
	}
	node = first(node)
	last := keys[len(keys)-1]
	obj, ok := node.(map[string]any)
	if !ok {
		t.Fatalf("%s: parent is not an object", path)
	}
	if value == "" {
		delete(obj, last)
	} else {
		var v any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			t.Fatalf("value %s: %v", value, err)
		}
		obj[last] = v
	}
	return mustJSON(t, doc)
}

func TestValidBaseDocuments(t *testing.T) {
	for name, doc := range map[string]string{
		schemas.Account + " ": account, schemas.Vendor + " accounting": accountingVendor, schemas.Vendor + " employee": employeeVendor,
		schemas.ListName: listName, schemas.TaxData: taxBody, schemas.EventDataStatusUpdated: statusEvent,
		schemas.EventListMapping: listMapEvent, schemas.EventDataResetRequested: resetEvent, schemas.EventMappingUpdated: mappingEvent,
	} {
		if err := validateAll(t, strings.Fields(name)[0], [][]byte{[]byte(doc)})[0]; err != nil {
			t.Errorf("%s: valid document rejected: %v", name, err)
		}
	}
	for _, doc := range []string{statusEvent, listMapEvent, resetEvent, mappingEvent} {
		if err := validateAll(t, schemas.EventEnvelope, [][]byte{[]byte(doc)})[0]; err != nil {
			t.Errorf("valid event rejected by envelope: %v", err)
		}
	}
}

func TestDeletedRecordsNeedOnlyID(t *testing.T) {
	for _, name := range []string{schemas.Account, schemas.Vendor, schemas.ListName} {
		errs := validateAll(t, name, [][]byte{
			[]byte(`{"id":"1","isDeleted":true}`),
			[]byte(`{"id":"1","isDeleted":false}`),
			[]byte(`{"isDeleted":true}`),
		})
		if errs[0] != nil {
			t.Errorf("%s: deletion record rejected: %v", name, errs[0])
		}
		if errs[1] == nil {
			t.Errorf("%s: isDeleted:false record with only an id accepted", name)
		}
		if errs[2] == nil || !strings.Contains(errs[2].Error(), "id is required") {
			t.Errorf("%s: deletion without id: got %v, want id is required", name, errs[2])
		}
	}
}

// TestCounterExamples checks that each bad document fails with a message
// naming the offending field.
func TestCounterExamples(t *testing.T) {
	cases := []struct {
		desc, schema string
		doc          []byte
		wantInError  string
	}{
		{"account missing name", schemas.Account, with(t, account, "name", ""), "name is required"},
		{"account missing type", schemas.Account, with(t, account, "type", ""), "type is required"},
		{"account bad type enum", schemas.Account, with(t, account, "type", `"ASSET"`), "type must be one of"},
		{"account id wrong type", schemas.Account, with(t, account, "id", `6000`), "id invalid type"},
		{"account empty id", schemas.Account, with(t, account, "id", `""`), "id string length must be greater"},
		{"account number wrong type", schemas.Account, with(t, account, "number", `6000`), "number invalid type"},
		{"account isDeleted string", schemas.Account, with(t, account, "isDeleted", `"true"`), "isDeleted invalid type"},
		{"account not an object", schemas.Account, []byte(`["6000"]`), "(root) invalid type"},
		{"vendor missing currency", schemas.Vendor, with(t, accountingVendor, "currencyCode", ""), "currencyCode is required"},
		{"vendor lower-case currency", schemas.Vendor, with(t, accountingVendor, "currencyCode", `"eur"`), "currencyCode does not match pattern"},
		{"vendor 2-letter currency", schemas.Vendor, with(t, employeeVendor, "currencyCode", `"US"`), "currencyCode does not match pattern"},
		{"vendor bad type enum", schemas.Vendor, with(t, accountingVendor, "type", `"SUPPLIER"`), "type must be one of"},
		{"vendor missing type", schemas.Vendor, with(t, accountingVendor, "type", ""), "type is required"},
		{"accounting vendor missing name", schemas.Vendor, with(t, accountingVendor, "name", ""), "name is required"},
		{"accounting vendor missing companyName", schemas.Vendor, with(t, accountingVendor, "companyName", ""), "companyName is required"},
		{"accounting vendor null companyName", schemas.Vendor, with(t, accountingVendor, "companyName", `null`), "companyName invalid type"},
		{"employee vendor missing email", schemas.Vendor, with(t, employeeVendor, "email", ""), "email is required"},
		{"employee vendor missing employeeId", schemas.Vendor, with(t, employeeVendor, "employeeId", ""), "employeeId is required"},
		{"employee vendor missing lastName", schemas.Vendor, with(t, employeeVendor, "lastName", ""), "lastName is required"},
		{"employee vendor empty firstName", schemas.Vendor, with(t, employeeVendor, "firstName", `""`), "firstName string length must be greater"},
		{"employee vendor with accounting fields only", schemas.Vendor, []byte(`{"id":"E9","type":"EMPLOYEE","currencyCode":"USD","name":"Ann Lee","companyName":"Acme"}`), "employeeId is required"},
		{"employee vendor bad email", schemas.Vendor, with(t, employeeVendor, "email", `"ann at example.com"`), "email does not match pattern"},
		{"accounting vendor bad optional email", schemas.Vendor, with(t, accountingVendor, "email", `"ap@localhost"`), "email does not match pattern"},
		{"vendor address not an object", schemas.Vendor, with(t, accountingVendor, "address", `"Berlin"`), "address invalid type"},
		{"vendor address city number", schemas.Vendor, with(t, accountingVendor, "address.city", `10115`), "address.city invalid type"},
		{"vendor phone number", schemas.Vendor, with(t, accountingVendor, "phone", `4930123`), "phone invalid type"},
		{"list missing name", schemas.ListName, with(t, listName, "name", ""), "name is required"},
		{"list empty name", schemas.ListName, with(t, listName, "name", `""`), "name string length must be greater"},
		{"list id number", schemas.ListName, with(t, listName, "id", `7`), "id invalid type"},
		{"tax data not array", schemas.TaxData, with(t, taxBody, "data", `{}`), "data invalid type"},
		{"tax country alpha-3", schemas.TaxData, with(t, taxBody, "data.countryCode", `"DEU"`), "data.0.countryCode does not match pattern"},
		{"tax body without data", schemas.TaxData, []byte(`{"deleteAll":false}`), "data is required"},
		{"tax empty stateEntries", schemas.TaxData, with(t, taxBody, "data.stateEntries", `[]`), "stateEntries array must have at least 1 items"},
		{"tax empty reclaimDetails", schemas.TaxData, with(t, taxBody, "data.stateEntries.reclaimEntries.reclaimDetails", `[]`), "reclaimDetails array must have at least 1 items"},
		{"tax missing countryCode", schemas.TaxData, with(t, taxBody, "data.countryCode", ""), "countryCode is required"},
		{"tax missing stateEntries", schemas.TaxData, with(t, taxBody, "data.stateEntries", ""), "stateEntries is required"},
		{"tax missing reclaimEntries", schemas.TaxData, with(t, taxBody, "data.stateEntries.reclaimEntries", ""), "reclaimEntries is required"},
		{"tax missing reclaimCode", schemas.TaxData, with(t, taxBody, "data.stateEntries.reclaimEntries.reclaimCode", ""), "reclaimCode is required"},
		{"tax missing taxCode", schemas.TaxData, with(t, taxBody, "data.stateEntries.reclaimEntries.reclaimDetails.taxCode", ""), "taxCode is required"},
		{"tax missing validFrom", schemas.TaxData, with(t, taxBody, "data.stateEntries.reclaimEntries.reclaimDetails.validFrom", ""), "validFrom is required"},
		{"tax validFrom not ISO", schemas.TaxData, with(t, taxBody, "data.stateEntries.reclaimEntries.reclaimDetails.validFrom", `"01/01/2022"`), "validFrom does not match format 'date'"},
		{"tax validTo impossible", schemas.TaxData, with(t, taxBody, "data.stateEntries.reclaimEntries.reclaimDetails.validTo", `"2024-13-01"`), "validTo does not match format 'date'"},
		{"tax percentage over 100", schemas.TaxData, with(t, taxBody, "data.stateEntries.reclaimEntries.reclaimDetails.percentage", `150`), "percentage must be less than or equal to 100"},
		{"tax percentage string", schemas.TaxData, with(t, taxBody, "data.stateEntries.reclaimEntries.reclaimDetails.percentage", `"19"`), "percentage invalid type"},
		{"tax deleteAll string", schemas.TaxData, with(t, taxBody, "deleteAll", `"yes"`), "deleteAll invalid type"},
		{"event missing eventType", schemas.EventEnvelope, with(t, statusEvent, "eventType", ""), "eventType is required"},
		{"event bad timeStamp", schemas.EventEnvelope, with(t, statusEvent, "timeStamp", `"yesterday"`), "timeStamp does not match format 'date-time'"},
		{"event facts string", schemas.EventEnvelope, with(t, statusEvent, "facts", `"x"`), "facts invalid type"},
		{"event missing id", schemas.EventEnvelope, with(t, statusEvent, "id", ""), "id is required"},
		{"status event bad status", schemas.EventDataStatusUpdated, with(t, statusEvent, "facts.data.status", `"DONE"`), "facts.data.status must be one of"},
		{"status event bad requestId", schemas.EventDataStatusUpdated, with(t, statusEvent, "facts.data.requestId", `"42"`), "facts.data.requestId does not match pattern"},
		{"status event missing data", schemas.EventDataStatusUpdated, with(t, statusEvent, "facts.data", ""), "data is required"},
		{"status event missing companyId", schemas.EventDataStatusUpdated, with(t, statusEvent, "facts.companyId", ""), "companyId is required"},
		{"status schema on another type", schemas.EventDataStatusUpdated, []byte(mappingEvent), "eventType does not match"},
		{"status event wrong topic", schemas.EventDataStatusUpdated, with(t, statusEvent, "topic", `"public.concur.expense.report"`), "topic does not match"},
		{"mapping event missing erpId", schemas.EventMappingUpdated, with(t, mappingEvent, "facts.erpId", ""), "erpId is required"},
		{"list mapping missing concurListId", schemas.EventListMapping, with(t, listMapEvent, "facts.data.concurListId", ""), "concurListId is required"},
		{"list mapping bad formTypeCode", schemas.EventListMapping, with(t, listMapEvent, "facts.data.fieldMappings.formTypeCode", `"bogus"`), "formTypeCode must be one of"},
		{"list mapping level string", schemas.EventListMapping, with(t, listMapEvent, "facts.data.fieldMappings.fields.level", `"one"`), "level invalid type"},
		{"list mapping data object", schemas.EventListMapping, with(t, listMapEvent, "facts.data", `{}`), "facts.data invalid type"},
		{"reset event unknown object in string", schemas.EventDataResetRequested, with(t, resetEvent, "facts.data", `"{\"accountingObjects\":[\"ACCOUNTS\"]}"`), "facts.data"},
		{"reset event unknown object in array", schemas.EventDataResetRequested, with(t, resetEvent, "facts.data", `["TAX"]`), "facts.data"},
		{"reset event missing data", schemas.EventDataResetRequested, with(t, resetEvent, "facts.data", ""), "data is required"},
	}
	// Validate each schema's cases as one batch: a bad document must not
	// affect its neighbours, so a valid document is interleaved after each.
	bySchema := map[string][]int{}
	for i, c := range cases {
		bySchema[c.schema] = append(bySchema[c.schema], i)
	}
	valid := map[string][]byte{
		schemas.Account: []byte(account), schemas.Vendor: []byte(employeeVendor), schemas.ListName: []byte(listName),
		schemas.TaxData: []byte(taxBody), schemas.EventEnvelope: []byte(mappingEvent), schemas.EventDataStatusUpdated: []byte(statusEvent),
		schemas.EventMappingUpdated: []byte(mappingEvent), schemas.EventListMapping: []byte(listMapEvent), schemas.EventDataResetRequested: []byte(resetEvent),
	}
	for name, idx := range bySchema {
		var docs [][]byte
		for _, i := range idx {
			docs = append(docs, cases[i].doc, valid[name])
		}
		errs := validateAll(t, name, docs)
		for j, i := range idx {
			c := cases[i]
			err := errs[2*j]
			switch {
			case err == nil:
				t.Errorf("%s: accepted %s", c.desc, c.doc)
			case !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(c.wantInError)):
				t.Errorf("%s: error %q does not contain %q", c.desc, err, c.wantInError)
			}
			if err := errs[2*j+1]; err != nil {
				t.Errorf("%s: the valid neighbour was rejected: %v", c.desc, err)
			}
		}
	}
}

// TestReadmePipeline runs the README's pipeline shape as a whole stream:
// records are validated by schema_path, invalid ones are routed to a
// dead-letter output with the reason, valid ones pass unchanged.
func TestReadmePipeline(t *testing.T) {
	sb := service.NewStreamBuilder()
	if err := sb.SetLoggerYAML("level: none"); err != nil {
		t.Fatal(err)
	}
	produce, err := sb.AddBatchProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.AddProcessorYAML(`
json_schema:
  schema_path: "file://./vendor.json"
`); err != nil {
		t.Fatal(err)
	}
	if err := sb.AddProcessorYAML(`
catch:
  - mapping: |
      root.record = this
      root.error = error()
      meta dlq = "true"
`); err != nil {
		t.Fatal(err)
	}
	var good, dead [][]byte
	if err := sb.AddBatchConsumerFunc(func(_ context.Context, batch service.MessageBatch) error {
		for _, m := range batch {
			b, err := m.AsBytes()
			if err != nil {
				return err
			}
			if _, ok := m.MetaGet("dlq"); ok {
				dead = append(dead, b)
			} else {
				good = append(good, b)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stream, err := sb.Build()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()

	in := service.MessageBatch{
		service.NewMessage([]byte(accountingVendor)),
		service.NewMessage(with(t, accountingVendor, "currencyCode", `"euro"`)),
		service.NewMessage([]byte(employeeVendor)),
	}
	if err := produce(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	if err := stream.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil && err != context.Canceled {
		t.Fatal(err)
	}

	if len(good) != 2 || !bytes.Equal(good[0], []byte(accountingVendor)) || !bytes.Equal(good[1], []byte(employeeVendor)) {
		t.Errorf("valid records: got %q", good)
	}
	if len(dead) != 1 {
		t.Fatalf("dead letters: got %q, want 1", dead)
	}
	var dl struct {
		Record map[string]any `json:"record"`
		Error  string         `json:"error"`
	}
	if err := json.Unmarshal(dead[0], &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Record["currencyCode"] != "euro" || !strings.Contains(dl.Error, "currencyCode") {
		t.Errorf("dead letter: got %+v", dl)
	}
}

func BenchmarkValidateVendor(b *testing.B) {
	v := schematest.NewT(b, schemas.Vendor)
	docs := make([][]byte, 100)
	for i := range docs {
		if i%3 == 0 {
			docs[i] = []byte(employeeVendor)
		} else {
			docs[i] = []byte(accountingVendor)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Validate(ctx, docs...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(docs))/b.Elapsed().Seconds(), "records/s")
}
