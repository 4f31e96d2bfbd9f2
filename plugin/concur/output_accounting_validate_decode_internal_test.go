package concur

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/xeipuuv/gojsonschema"

	concurapi "github.com/concurflow/concurflow/concur"
	"github.com/concurflow/concurflow/schemas"
)

// acctRefDecode decodes as the validator's own bytes loader does.
func acctRefDecode(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

// acctFixtureLines returns every line of testdata/erp/*.ndjson.
func acctFixtureLines(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob("../../testdata/erp/*.ndjson")
	if err != nil || len(files) == 0 {
		t.Fatalf("fixtures: %v (%d files)", err, len(files))
	}
	out := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	return out
}

func TestAcctDecodeMatchesEncodingJSON(t *testing.T) {
	docs := []string{
		`{}`, `[]`, ` { } `, `{"a":[]}`, `{"a":{}}`, `"x"`, `0`, `-1.5e+10`, `true`, `false`, `null`,
		` {"a" : 1 , "b":[ 1 , 2.50 , -0 , 1E3 ] ,"c":{"d":null,"e":true,"f":false}} `,
		"{\n\t\"a\":\r\n\"b\"\n}",
		`{"esc":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00"}`,
		`{"utf8":"Zürich 東京"}`,
		"{\"bad utf8\":\"a\xffb\"}",
		`{"dup":1,"dup":"last"}`,
		`{"k\u0069d":"escaped key"}`,
		`[[[]],[{}],[1,[2,[3]]]]`,
	}
	for _, lines := range acctFixtureLines(t) {
		docs = append(docs, lines...)
	}
	for _, doc := range docs {
		if !json.Valid([]byte(doc)) {
			t.Fatalf("test input not valid JSON: %s", doc)
		}
		want := acctRefDecode(t, []byte(doc))
		if got := acctDecode([]byte(doc)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %#v\nwant %#v", doc, got, want)
		}
	}
}

// TestAcctLiveSchemaSameResults: for every record check validates, the
// live variant of each schema with the record decoded by acctDecode gives
// exactly the verdict and reasons the schema file itself gives with the
// validator's own loader.
func TestAcctLiveSchemaSameResults(t *testing.T) {
	v := newAcctValidator(service.MockResources().Metrics())
	lines := acctFixtureLines(t)
	extra := map[concurapi.Object][]string{
		concurapi.ObjectAccounts: {
			`{"id":"A","name":"n","type":"EXPENSE","isDeleted":false}`,
			`{"id":"A","isDeleted":"true"}`,
			`{"id":"A","isDeleted":null,"name":""}`,
			`{"id":"A","isDeleted":1,"type":"X"}`,
			`{"id":"A","name":5,"type":"INCOME","number":7}`,
		},
		concurapi.ObjectVendors: {
			`{"id":"V","type":"EMPLOYEE","currencyCode":"EUR"}`,
			`{"id":"V","type":"EMPLOYEE","currencyCode":"EUR","lastName":"a","firstName":"b","email":"not an address","employeeId":""}`,
			`{"id":"V","type":"OTHER","currencyCode":"eur","isDeleted":false}`,
			`{"id":"V","isDeleted":"yes"}`,
			`{"id":"V","type":"ACCOUNTING","currencyCode":"EUR","name":"","companyName":null,"address":[]}`,
		},
		concurapi.ObjectLists: {
			`{"id":"L","isDeleted":false}`,
			`{"id":"L","name":""}`,
			`{"id":"L","name":"n","isDeleted":0}`,
		},
		concurapi.ObjectTaxData: {
			`{"countryCode":"FR","stateEntries":[]}`,
			`{"countryCode":"FR","deleteAll":true}`,
			`{"countryCode":"fr","stateEntries":[{"reclaimEntries":[{"reclaimCode":"","reclaimDetails":[{"taxCode":"T","percentage":101,"validFrom":"2024-13-01","validTo":"x"}]}]}]}`,
		},
	}
	files := map[concurapi.Object][]string{
		concurapi.ObjectAccounts: {"accounts.ndjson", "accounts_invalid.ndjson"},
		concurapi.ObjectVendors:  {"vendors.ndjson", "vendors_invalid.ndjson"},
		concurapi.ObjectLists:    {"lists.ndjson", "lists_invalid.ndjson"},
		concurapi.ObjectTaxData:  {"tax_data.ndjson", "tax_data_invalid.ndjson"},
	}
	for obj, s := range v.byObject {
		b, err := schemas.Schema(s.name)
		if err != nil {
			t.Fatal(err)
		}
		orig, err := gojsonschema.NewSchema(gojsonschema.NewBytesLoader(b))
		if err != nil {
			t.Fatal(err)
		}
		records := extra[obj]
		for _, f := range files[obj] {
			if lines[f] == nil {
				t.Fatalf("no fixture %s", f)
			}
			records = append(records, lines[f]...)
		}
		packer := concurapi.PackerFor(string(obj))
		checked, rejected := 0, 0
		for _, rec := range records {
			if _, deleted, err := packer.Key([]byte(rec)); err != nil || deleted {
				continue
			}
			checked++
			doc := rec
			if s.wrap {
				doc = `{"data":[` + rec + `]}`
			}
			res, err := orig.Validate(gojsonschema.NewBytesLoader([]byte(doc)))
			if err != nil {
				t.Fatal(err)
			}
			got := checkRecord(t, v, obj, 0, rec, false)
			switch {
			case res.Valid() && got != nil:
				t.Errorf("%s: schema file accepts, check says %v", rec, got)
			case !res.Valid() && got == nil:
				t.Errorf("%s: schema file rejects, check accepts", rec)
			case !res.Valid():
				rejected++
				want := "schema " + s.name + ": " + acctSchemaReasons(res.Errors(), s.wrap)
				if !strings.HasSuffix(got.Error(), want) {
					t.Errorf("%s:\n got %v\nwant …%s", rec, got, want)
				}
			}
		}
		if checked == 0 || rejected == 0 {
			t.Errorf("%s: %d records checked, %d rejected: the comparison proves nothing", obj, checked, rejected)
		}
	}
}

func TestAcctLiveSchemaShapes(t *testing.T) {
	v := newAcctValidator(service.MockResources().Metrics())
	for _, s := range v.byObject {
		b, err := schemas.Schema(s.name)
		if err != nil {
			t.Fatal(err)
		}
		live, err := acctLiveSchema(b, s.liveIf)
		if err != nil {
			t.Fatal(err)
		}
		var root map[string]any
		if err := json.Unmarshal(live, &root); err != nil {
			t.Fatal(err)
		}
		if _, ok := root["if"]; ok {
			t.Errorf("%s: root if kept", s.name)
		}
	}
	for _, c := range []struct{ name, in, want string }{
		{"required joined", `{"required":["id"],"if":{"properties":{"isDeleted":{"const":true}},"required":["isDeleted"]},"else":{"required":["id","name"],"minProperties":2}}`,
			`{"minProperties":2,"required":["id","name"]}`},
		{"clash goes to allOf", `{"allOf":[{"required":["a"]}],"if":{"properties":{"isDeleted":{"const":true}},"required":["isDeleted"]},"else":{"allOf":[{"required":["b"]}]}}`,
			`{"allOf":[{"required":["a"]},{"allOf":[{"required":["b"]}]}]}`},
		{"then kept", `{"if":{"properties":{"isDeleted":{"const":true}},"required":["isDeleted"]},"then":{},"else":{"required":["name"]}}`, ""},
		{"other property kept", `{"if":{"properties":{"deleteAll":{"const":true}},"required":["deleteAll"]},"else":{"required":["name"]}}`, ""},
		{"other condition kept", `{"if":{"properties":{"isDeleted":{"const":false}},"required":["isDeleted"]},"else":{"required":["name"]}}`, ""},
		{"no if", `{"required":["id"]}`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := acctLiveSchema([]byte(c.in), "isDeleted")
			if err != nil {
				t.Fatal(err)
			}
			want := c.want
			if want == "" {
				want = c.in
			}
			if string(got) != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
	if _, err := acctLiveSchema([]byte(`{`), "isDeleted"); err == nil {
		t.Fatal("broken schema accepted")
	}
}
