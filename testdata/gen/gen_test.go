package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/xitongsys/parquet-go-source/buffer"
	"github.com/xitongsys/parquet-go/reader"

	// Register the core file input, csv scanner and mapping processor.
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/concurflow/concurflow/schemas"
	"github.com/concurflow/concurflow/schemas/schematest"
)

const (
	erpDir      = "../erp"
	eventsDir   = "../events"
	mappingsDir = "../mappings"
	eventsPage  = "../../../shared/reference/concur/events/event-subscription-topic-accountingintegration.markdown"
	regenerate  = "run `go run ./testdata/gen` from the repository root"
	maxFixtures = 3 << 20
)

// generated returns the files of the default seed, generated once per test.
func generated(t *testing.T) map[string][]byte {
	t.Helper()
	m, err := files(defaultSeed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

func TestGeneratorIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := generate(defaultSeed, a); err != nil {
		t.Fatal(err)
	}
	if err := generate(defaultSeed, b); err != nil {
		t.Fatal(err)
	}
	first, second := readDir(t, a), readDir(t, b)
	if len(first) != len(second) || len(first) == 0 {
		t.Fatalf("generated %d then %d files", len(first), len(second))
	}
	for name, want := range first {
		if !bytes.Equal(second[name], want) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
	}
	other, err := files(defaultSeed + 1)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other["vendors.ndjson"], first["vendors.ndjson"]) {
		t.Error("a different seed produced the same vendors")
	}
}

func TestCommittedFilesAreUpToDate(t *testing.T) {
	dir := t.TempDir()
	if err := generate(defaultSeed, dir); err != nil {
		t.Fatal(err)
	}
	want := readDir(t, dir)
	got := readDir(t, erpDir)
	total := 0
	for name, b := range want {
		total += len(b)
		committed, ok := got[name]
		switch {
		case !ok:
			t.Errorf("testdata/erp/%s is missing: %s", name, regenerate)
		case !bytes.Equal(committed, b):
			t.Errorf("testdata/erp/%s is out of date: %s", name, regenerate)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("testdata/erp/%s is not produced by the generator: delete it or %s", name, regenerate)
		}
	}
	if total > maxFixtures {
		t.Errorf("fixtures total %d bytes, over the %d budget", total, maxFixtures)
	}
}

func lines(b []byte) [][]byte {
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out
}

func TestDatasetIsRealistic(t *testing.T) {
	m := generated(t)
	var accounts []account
	for _, l := range lines(m["accounts.ndjson"]) {
		var a account
		if err := json.Unmarshal(l, &a); err != nil {
			t.Fatal(err)
		}
		accounts = append(accounts, a)
	}
	if n := len(accounts); n < 450 || n > 550 {
		t.Errorf("%d accounts, want about 500", n)
	}
	types := map[string]bool{}
	ids := map[string]bool{}
	for _, a := range accounts {
		types[a.Type] = true
		if ids[a.ID] {
			t.Errorf("duplicate account id %s", a.ID)
		}
		ids[a.ID] = true
	}
	if len(types) != len(erpAccountTypes) {
		t.Errorf("accounts use %d of the %d account types", len(types), len(erpAccountTypes))
	}

	kinds, currencies, countriesSeen := map[string]int{}, map[string]bool{}, map[string]bool{}
	vids := map[string]bool{}
	for _, l := range lines(m["vendors.ndjson"]) {
		var v vendor
		if err := json.Unmarshal(l, &v); err != nil {
			t.Fatal(err)
		}
		kinds[v.Type]++
		currencies[v.CurrencyCode] = true
		if v.Address != nil {
			countriesSeen[v.Address.Country] = true
		}
		if vids[v.ID] {
			t.Errorf("duplicate vendor id %s", v.ID)
		}
		vids[v.ID] = true
	}
	if kinds["ACCOUNTING"] != accountingVendors || kinds["EMPLOYEE"] != employeeVendors {
		t.Errorf("vendor types %v", kinds)
	}
	if len(currencies) < 8 || len(countriesSeen) < 8 {
		t.Errorf("%d currencies and %d address countries, want several", len(currencies), len(countriesSeen))
	}
	if n := len(lines(m["tax_data.ndjson"])); n < 5 {
		t.Errorf("%d tax data countries, want several", n)
	}
}

// wrapTax wraps one tax data record into the whole-body shape the tax data
// schema validates.
func wrapTax(t *testing.T, rec []byte) []byte {
	t.Helper()
	return append(append([]byte(`{"data":[`), rec...), "]}"...)
}

// fileSchema names a generated file of valid records, its *_invalid
// counterpart (if any, by record kind), and the schema of its lines.
type fileSchema struct {
	file, invalidKind, schema string
	wrap                      func(*testing.T, []byte) []byte
}

var recordFiles = []fileSchema{
	{"accounts.ndjson", "accounts", schemas.Account, nil},
	{"vendors.ndjson", "vendors", schemas.Vendor, nil},
	{"lists.ndjson", "lists", schemas.ListName, nil},
	{"tax_data.ndjson", "tax_data", schemas.TaxData, wrapTax},
	{"tax_data_body.json", "", schemas.TaxData, nil},
}

func validateFile(t *testing.T, fs fileSchema, body []byte) ([][]byte, []error) {
	t.Helper()
	docs := lines(body)
	in := docs
	if fs.wrap != nil {
		in = make([][]byte, len(docs))
		for i, d := range docs {
			in[i] = fs.wrap(t, d)
		}
	}
	errs, err := schematest.NewT(t, fs.schema).Validate(t.Context(), in...)
	if err != nil {
		t.Fatal(err)
	}
	return docs, errs
}

func TestValidRecordsMatchTheirSchemas(t *testing.T) {
	m := generated(t)
	for _, fs := range recordFiles {
		docs, errs := validateFile(t, fs, m[fs.file])
		if len(docs) == 0 {
			t.Errorf("%s is empty", fs.file)
		}
		for i, err := range errs {
			if err != nil {
				t.Errorf("%s line %d is rejected: %v\n%s", fs.file, i+1, err, docs[i])
			}
		}
	}
}

// badRecord is what the tests expect of one record of a *_invalid file.
type badRecord struct {
	detects   bool
	wantError string
}

// invalidReasons lists, per type and in file order, whether the schema must
// reject each record of the *_invalid files and what the error must say.
func invalidReasons(firstVendorID string) map[string][]badRecord {
	return map[string][]badRecord{
		"accounts": expectations(invalidAccounts()),
		"vendors":  expectations(invalidVendors(firstVendorID)),
		"lists":    expectations(invalidLists()),
		"tax_data": expectations(invalidTaxData()),
	}
}

func expectations[T any](bad []invalid[T]) []badRecord {
	out := make([]badRecord, len(bad))
	for i, b := range bad {
		out[i] = badRecord{b.SchemaDetects, b.WantError}
	}
	return out
}

// checkRejections compares validation results with the expectations.
func checkRejections(t *testing.T, file string, want []badRecord, docs [][]byte, errs []error) {
	t.Helper()
	if len(docs) != len(want) || len(docs) < 2 {
		t.Fatalf("%s has %d records, want %d", file, len(docs), len(want))
	}
	for i, w := range want {
		err := errs[i]
		switch {
		case w.detects && err == nil:
			t.Errorf("%s record %d passes the schema: %s", file, i+1, docs[i])
		case w.detects && !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(w.wantError)):
			t.Errorf("%s record %d: error %q does not say %q", file, i+1, err, w.wantError)
		case !w.detects && err != nil:
			t.Errorf("%s record %d is meant to be schema-valid (only the API rejects it): %v", file, i+1, err)
		}
	}
}

func firstVendorID(t *testing.T, m map[string][]byte) string {
	t.Helper()
	var v vendor
	if err := json.Unmarshal(lines(m["vendors.ndjson"])[0], &v); err != nil {
		t.Fatal(err)
	}
	return v.ID
}

func TestInvalidRecordsFailTheirSchemas(t *testing.T) {
	m := generated(t)
	want := invalidReasons(firstVendorID(t, m))
	for _, fs := range recordFiles {
		if fs.invalidKind == "" {
			continue
		}
		name := fs.invalidKind + "_invalid.ndjson"
		docs, errs := validateFile(t, fs, m[name])
		checkRejections(t, name, want[fs.invalidKind], docs, errs)
	}
}

// runStream runs a whole Benthos stream: the input (YAML, or docs produced
// in order when inputYAML is empty), then the processors, and returns what
// arrived at the output, in order, with any error flagged on each message.
func runStream(t *testing.T, inputYAML string, docs [][]byte, processors ...string) ([][]byte, []error) {
	t.Helper()
	sb := service.NewStreamBuilder()
	sb.SetThreads(1)
	if err := sb.SetLoggerYAML("level: none"); err != nil {
		t.Fatal(err)
	}
	var produce service.MessageBatchHandlerFunc
	var err error
	if inputYAML != "" {
		err = sb.AddInputYAML(inputYAML)
	} else {
		produce, err = sb.AddBatchProducerFunc()
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range processors {
		if err := sb.AddProcessorYAML(p); err != nil {
			t.Fatal(err)
		}
	}
	var out [][]byte
	var errs []error
	if err := sb.AddConsumerFunc(func(_ context.Context, m *service.Message) error {
		b, err := m.AsBytes()
		if err != nil {
			return err
		}
		out = append(out, bytes.Clone(b))
		errs = append(errs, m.GetError())
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
	if produce != nil {
		batch := make(service.MessageBatch, len(docs))
		for i, d := range docs {
			batch[i] = service.NewMessage(d)
		}
		if err := produce(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
		if err := stream.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil && err != context.Canceled {
		t.Fatal(err)
	}
	return out, errs
}

func yamlString(s string) string {
	b, _ := json.Marshal(s) // a JSON string is a valid YAML scalar
	return string(b)
}

func mappingProc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mappingsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return "mapping: " + yamlString(string(b))
}

func csvInput(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("file:\n  paths: [ %s ]\n  scanner:\n    csv: {}\n", yamlString(abs))
}

// parquetRows reads a committed Parquet file back as one JSON object per row
// (absent values as null), independently of any concurflow code.
func parquetRows(t *testing.T, path string) [][]byte {
	t.Helper()
	pr, err := reader.NewParquetReader(buffer.NewBufferFileFromBytesNoAlloc(readFile(t, path)), nil, 1)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer pr.ReadStop()
	rows, err := pr.ReadByNumber(int(pr.GetNumRows()))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := make([][]byte, len(rows))
	for i, r := range rows {
		if out[i], err = json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func equalJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%v: %s", err, a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return reflect.DeepEqual(x, y)
}

// TestERPExportsMapToTheNDJSON runs the CSV (file input, core csv scanner)
// and Parquet exports through the documented Bloblang mappings in a real
// stream and checks that exactly the NDJSON records arrive, in order.
func TestERPExportsMapToTheNDJSON(t *testing.T) {
	cases := []struct {
		name, mapping string
		parquet       bool
	}{
		{"accounts", "accounts_erp.blobl", true},
		{"vendors", "vendors_erp.blobl", true},
		{"lists", "lists_erp.blobl", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := lines(readFile(t, filepath.Join(erpDir, c.name+".ndjson")))
			check := func(source string, got [][]byte, errs []error) {
				if len(got) != len(want) {
					t.Fatalf("%s: %d records arrived, want %d", source, len(got), len(want))
				}
				for i := range want {
					if errs[i] != nil {
						t.Fatalf("%s row %d: %v", source, i+1, errs[i])
					}
					if !equalJSON(t, got[i], want[i]) {
						t.Fatalf("%s row %d maps to\n%s\nwant\n%s", source, i+1, got[i], want[i])
					}
				}
			}
			got, errs := runStream(t, csvInput(t, filepath.Join(erpDir, c.name+".csv")), nil, mappingProc(t, c.mapping))
			check(c.name+".csv", got, errs)
			if c.parquet {
				rows := parquetRows(t, filepath.Join(erpDir, c.name+".parquet"))
				got, errs := runStream(t, "", rows, mappingProc(t, c.mapping))
				check(c.name+".parquet", got, errs)
			}
		})
	}
}

// TestInvalidCSVRowsReachTheDLQ runs each *_invalid.csv through its mapping
// and json_schema: every schema-detectable row is flagged, the rest pass.
func TestInvalidCSVRowsReachTheDLQ(t *testing.T) {
	m := generated(t)
	want := invalidReasons(firstVendorID(t, m))
	for _, c := range []struct{ name, mapping, schema string }{
		{"accounts", "accounts_erp.blobl", schemas.Account},
		{"vendors", "vendors_erp.blobl", schemas.Vendor},
		{"lists", "lists_erp.blobl", schemas.ListName},
	} {
		schemaPath, err := filepath.Abs(filepath.Join("../../schemas", c.schema))
		if err != nil {
			t.Fatal(err)
		}
		got, errs := runStream(t, csvInput(t, filepath.Join(erpDir, c.name+"_invalid.csv")), nil,
			mappingProc(t, c.mapping), "json_schema:\n  schema_path: "+yamlString("file://"+schemaPath))
		checkRejections(t, c.name+"_invalid.csv", want[c.name], got, errs)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEventSamplesValidate(t *testing.T) {
	files := readDir(t, eventsDir)
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) != 5 {
		t.Fatalf("testdata/events holds %v, want one file per event type (5)", names)
	}
	envelope := schematest.NewT(t, schemas.EventEnvelope)
	for _, name := range names {
		typ := strings.TrimSuffix(name, ".json")
		schema, ok := schemas.ForEventType(typ)
		if !ok {
			t.Errorf("%s: unknown event type %q", name, typ)
			continue
		}
		var ev struct {
			EventType string `json:"eventType"`
		}
		if err := json.Unmarshal(files[name], &ev); err != nil || ev.EventType != typ {
			t.Errorf("%s: eventType %q, err %v", name, ev.EventType, err)
		}
		for _, v := range []*schematest.Validator{envelope, schematest.NewT(t, schema)} {
			errs, err := v.Validate(t.Context(), files[name])
			if err != nil {
				t.Fatal(err)
			}
			if errs[0] != nil {
				t.Errorf("%s: %v", name, errs[0])
			}
		}
	}
}

// TestEventSamplesAreThePagesSamples checks the files are byte for byte the
// samples of the Accounting Integration Events page.
func TestEventSamplesAreThePagesSamples(t *testing.T) {
	md, err := os.ReadFile(eventsPage)
	if err != nil {
		t.Skipf("events page not found at %s (CI keeps the reference pages in ../shared beside the repo): %v", eventsPage, err)
	}
	blocks := regexp.MustCompile("(?s)```json[ \t]*\n(.*?)\n\\s*```").FindAllSubmatch(md, -1)
	if len(blocks) != 5 {
		t.Fatalf("found %d samples on the page, want 5", len(blocks))
	}
	files := readDir(t, eventsDir)
	for _, b := range blocks {
		var ev struct {
			EventType string `json:"eventType"`
		}
		if err := json.Unmarshal(b[1], &ev); err != nil {
			t.Fatal(err)
		}
		name := ev.EventType + ".json"
		if got, want := files[name], append(bytes.Clone(b[1]), '\n'); !bytes.Equal(got, want) {
			t.Errorf("testdata/events/%s differs from the page's sample", name)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	var n int
	for b.Loop() {
		m, err := files(defaultSeed)
		if err != nil {
			b.Fatal(err)
		}
		n = 0
		for _, f := range m {
			n += len(f)
		}
	}
	b.SetBytes(int64(n))
}
