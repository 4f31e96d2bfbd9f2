package concur

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/xeipuuv/gojsonschema"

	concurapi "github.com/concurflow/concurflow/concur"
)

// TestAcctVariantsSameReasons: with vendor.json split on "type", every
// vendor record gets exactly the error (or none) the validator gives with
// the untouched schema.
func TestAcctVariantsSameReasons(t *testing.T) {
	v := newAcctValidator(service.MockResources().Metrics())
	s := v.byObject[concurapi.ObjectVendors]
	if err := s.compiled(); err != nil {
		t.Fatal(err)
	}
	if s.split != "type" || len(s.byValue) != 2 || s.byValue["ACCOUNTING"] == nil || s.byValue["EMPLOYEE"] == nil {
		t.Fatalf("vendor.json split on %q into %v, want type: ACCOUNTING, EMPLOYEE", s.split, s.byValue)
	}
	const (
		accounting   = `"name":"K","companyName":"K GmbH"`
		employee     = `"lastName":"L","firstName":"F","email":"f@l.de","employeeId":"E1"`
		manyFaults   = `"currencyCode":"e","name":5,"lastName":5,"firstName":5,"email":5,"employeeId":5,"companyName":5,"taxId":5,"phone":5,"accountNumber":5,"address":5`
		manyEmpFault = `"currencyCode":"e","lastName":"","firstName":null,"email":"no","taxId":5,"phone":5,"accountNumber":5,"address":5,"isDeleted":"no","companyName":7`
	)
	for _, c := range []struct {
		name string
		raw  string
		del  bool
		bad  bool // the untouched schema rejects it
	}{
		{"accounting valid", `{"id":"V1","type":"ACCOUNTING","currencyCode":"EUR",` + accounting + `}`, false, false},
		{"accounting valid, employee fields wrong", `{"id":"V1","type":"ACCOUNTING","currencyCode":"EUR",` + accounting + `,"lastName":"","email":""}`, false, false},
		{"accounting no names (only then fails)", `{"id":"V1","type":"ACCOUNTING","currencyCode":"EUR"}`, false, true},
		{"accounting empty name (only then fails)", `{"id":"V1","type":"ACCOUNTING","currencyCode":"EUR","name":"","companyName":"K"}`, false, true},
		{"accounting null name (only then fails)", `{"id":"V1","type":"ACCOUNTING","currencyCode":"EUR","name":null,"companyName":"K"}`, false, true},
		{"accounting name a number (root and then)", `{"id":"V1","type":"ACCOUNTING","currencyCode":"EUR","name":5,"companyName":"K"}`, false, true},
		{"accounting bad currency and no company (root and then)", `{"id":"V1","type":"ACCOUNTING","currencyCode":"eur","name":"K"}`, false, true},
		{"accounting bad currency only (root only)", `{"id":"V1","type":"ACCOUNTING","currencyCode":"eur",` + accounting + `}`, false, true},
		{"accounting no currency", `{"id":"V1","type":"ACCOUNTING",` + accounting + `}`, false, true},
		{"accounting escaped", `{"id":"V1","type":"ACCOUNT\u0049NG","currencyCode":"EUR"}`, false, true},
		{"employee valid", `{"id":"V1","type":"EMPLOYEE","currencyCode":"EUR",` + employee + `}`, false, false},
		{"employee no fields (only then fails)", `{"id":"V1","type":"EMPLOYEE","currencyCode":"EUR"}`, false, true},
		{"employee accounting fields only", `{"id":"V1","type":"EMPLOYEE","currencyCode":"EUR",` + accounting + `}`, false, true},
		{"employee empty email (only then fails)", `{"id":"V1","type":"EMPLOYEE","currencyCode":"EUR","lastName":"L","firstName":"F","email":"","employeeId":"E1"}`, false, true},
		{"employee bad email (root only)", `{"id":"V1","type":"EMPLOYEE","currencyCode":"EUR","lastName":"L","firstName":"F","email":"f@l","employeeId":"E1"}`, false, true},
		{"employee null names and bad currency", `{"id":"V1","type":"EMPLOYEE","currencyCode":"EURO","lastName":null,"firstName":null,"email":"f@l.de","employeeId":"E1"}`, false, true},
		{"type missing", `{"id":"V1","currencyCode":"EUR"}`, false, true},
		{"type missing, accounting fields", `{"id":"V1","currencyCode":"EUR",` + accounting + `}`, false, true},
		{"type not in enum", `{"id":"V1","type":"SUPPLIER","currencyCode":"EUR"}`, false, true},
		{"type in lower case", `{"id":"V1","type":"accounting","currencyCode":"EUR"}`, false, true},
		{"type with a space", `{"id":"V1","type":"ACCOUNTING ","currencyCode":"EUR"}`, false, true},
		{"type empty", `{"id":"V1","type":"","currencyCode":"EUR"}`, false, true},
		{"type with HTML characters", `{"id":"V1","type":"<ACCOUNTING>&","currencyCode":"EUR"}`, false, true},
		{"type non-ASCII", `{"id":"V1","type":"ÉMPLOYEE","currencyCode":"EUR"}`, false, true},
		{"type invalid UTF-8", "{\"id\":\"V1\",\"type\":\"ACCOUNTING\xff\",\"currencyCode\":\"EUR\"}", false, true},
		{"type 5", `{"id":"V1","type":5,"currencyCode":"EUR"}`, false, true},
		{"type 5.0", `{"id":"V1","type":5.0,"currencyCode":"EUR",` + accounting + `}`, false, true},
		{"type null", `{"id":"V1","type":null,"currencyCode":"EUR"}`, false, true},
		{"type true", `{"id":"V1","type":true,"currencyCode":"EUR"}`, false, true},
		{"type array", `{"id":"V1","type":["ACCOUNTING"],"currencyCode":"EUR"}`, false, true},
		{"type object", `{"id":"V1","type":{"type":"ACCOUNTING"},"currencyCode":"EUR"}`, false, true},
		{"type repeated, last accounting", `{"id":"V1","type":"EMPLOYEE","type":"ACCOUNTING","currencyCode":"EUR",` + accounting + `}`, false, false},
		{"type repeated, last employee", `{"id":"V1","type":"ACCOUNTING","type":"EMPLOYEE","currencyCode":"EUR",` + accounting + `}`, false, true},
		{"accounting over the cap", `{"id":"V1","type":"ACCOUNTING",` + manyFaults + `}`, false, true},
		{"employee over the cap", `{"id":"V1","type":"EMPLOYEE",` + manyFaults + `}`, false, true},
		{"employee over the cap, then faults of other kinds", `{"id":"V1","type":"EMPLOYEE",` + manyEmpFault + `}`, false, true},
		{"no type over the cap", `{"id":"V1",` + manyFaults + `}`, false, true},
		{"bad type over the cap", `{"id":"V1","type":"X",` + manyFaults + `}`, false, true},
		{"isDeleted false, accounting without names", `{"id":"V1","type":"ACCOUNTING","currencyCode":"EUR","isDeleted":false}`, false, true},
		{"isDeleted a string, employee without fields", `{"id":"V1","type":"EMPLOYEE","currencyCode":"EUR","isDeleted":"yes"}`, false, true},
		{"delete by isDeleted, accounting without names", `{"id":"V1","type":"ACCOUNTING","isDeleted":true}`, false, false},
		{"delete by isDeleted, employee without fields", `{"id":"V1","type":"EMPLOYEE","currencyCode":"e","isDeleted":true}`, false, false},
		{"delete by metadata, accounting without names", `{"id":"V1","type":"ACCOUNTING"}`, true, false},
		{"no id (left to the packer)", `{"type":"ACCOUNTING","currencyCode":"EUR"}`, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := concurapi.PackInput{Raw: []byte(c.raw), Delete: c.del}
			want := acctOrigCheck(t, concurapi.ObjectVendors, 4, in)
			if (want != nil) != c.bad {
				t.Fatalf("untouched schema gives %v, table says rejected=%v", want, c.bad)
			}
			got := v.check(concurapi.ObjectVendors, 4, in, concurapi.PackerFor(string(concurapi.ObjectVendors)))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("error\n %v\nwant\n %v", got, want)
			}
		})
	}
}

// acctMadeUpDocs are records for the made-up schemas of TestAcctVariants*,
// of discriminator k; the last ones are no JSON objects, which check never
// validates but the split schema must still get right.
var acctMadeUpDocs = []string{
	`{}`, `{"k":"x"}`, `{"k":"x","a":1,"b":2}`, `{"k":"x","a":"s","b":1,"z":1}`, `{"k":"x","a":1,"z":1}`,
	`{"k":"y"}`, `{"k":"y","a":1}`, `{"k":"y","a":7,"b":1}`, `{"k":"y","a":"s","b":1,"z":1}`,
	`{"k":"z"}`, `{"k":"w","b":1}`, `{"k":5}`, `{"k":null}`, `{"k":["x"]}`, `{"k":"x\u0000"}`,
	`{"a":"s"}`, `{"b":1,"z":1}`, `{"k":"<x>"}`, `{"k":"x","isDeleted":true}`,
	`[]`, `["x"]`, `"x"`, `5`, `null`,
}

// acctMadeUpReasons validates doc against s as check does (variant, enums)
// and returns whether it passed and acctSchemaReasons's text.
func acctMadeUpReasons(t *testing.T, s *acctSchema, doc any) (bool, string) {
	t.Helper()
	c := s.variant(doc)
	res, err := c.schema.Validate(newAcctDocLoader(doc))
	if err != nil {
		t.Fatal(err)
	}
	items := acctCheckEnums(c.enums, doc)
	return res.Valid() && len(items) == 0, acctSchemaReasons(res.Errors(), false, items...)
}

// TestAcctVariantsMadeUp: acctSplitVariants splits the schemas it
// recognises as it should, and the split schema, enums taken out too, gives
// every record the validator's reasons with the untouched schema.
func TestAcctVariantsMadeUp(t *testing.T) {
	const (
		ifX = `{"properties":{"k":{"const":"x"}},"required":["k"]}`
		ifY = `{"properties":{"k":{"const":"y"}},"required":["k"]}`
	)
	for _, c := range []struct {
		name   string
		schema string
		values []string
		// want is the schema of each variant ("" for the other), compared
		// as JSON.
		want map[string]string
	}{
		{
			name: "merged, clashing, kept for a sibling keyword, other entries stay",
			schema: `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","required":["k"],
				"properties":{"k":{"type":"string","enum":["x","y","z","<x>"]},"a":{"type":["integer","string"]}},
				"allOf":[
					{"if":` + ifX + `,"then":{"required":["a","k"],"maxProperties":3}},
					{"required":["b"]},
					{"if":` + ifY + `,"then":{"properties":{"a":{"minimum":5}},"required":["a"]}},
					{"if":` + ifX + `,"then":{"not":{"required":["z"]},"maxProperties":2}},
					{"if":` + ifY + `,"then":{"type":"object","not":{"required":["z"]}}}
				]}`,
			values: []string{"x", "y"},
			want: map[string]string{
				"x": `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","required":["k","a"],"maxProperties":3,
					"properties":{"k":{"type":"string"},"a":{"type":["integer","string"]}},
					"allOf":[{"required":["b"]},{"not":{"required":["z"]},"maxProperties":2}]}`,
				"y": `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","required":["k"],
					"properties":{"k":{"type":"string"},"a":{"type":["integer","string"]}},
					"allOf":[{"required":["b"]},{"properties":{"a":{"minimum":5}},"required":["a"]},{"type":"object","not":{"required":["z"]}}]}`,
				"": `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","required":["k"],
					"properties":{"k":{"type":"string"},"a":{"type":["integer","string"]}},
					"allOf":[{"required":["b"]}]}`,
			},
		},
		{
			name: "only blocks, untyped root, after a live if/else",
			schema: `{"properties":{"k":{"enum":["x","y"]},"a":{"type":"integer"}},
				"if":{"properties":{"isDeleted":{"const":true}},"required":["isDeleted"]},
				"else":{"allOf":[
					{"if":` + ifX + `,"then":{"required":["a"],"minProperties":3}},
					{"if":` + ifY + `,"then":{"not":{"required":["z"]}}},
					{"if":` + ifY + `,"then":{"type":"array"}}
				]}}`,
			values: []string{"x", "y"},
			want: map[string]string{
				"x": `{"properties":{"k":{},"a":{"type":"integer"}},"required":["a"],"minProperties":3}`,
				"y": `{"properties":{"k":{},"a":{"type":"integer"}},"not":{"required":["z"]},"allOf":[{"type":"array"}]}`,
				"":  `{"properties":{"k":{},"a":{"type":"integer"}}}`,
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &acctSchema{name: "made-up.json", liveIf: "isDeleted"}
			if err := s.compileSchema([]byte(c.schema)); err != nil {
				t.Fatal(err)
			}
			live, err := acctLiveSchema([]byte(c.schema), "isDeleted")
			if err != nil {
				t.Fatal(err)
			}
			vs, err := acctSplitVariants(live)
			if err != nil {
				t.Fatal(err)
			}
			if vs.prop != "k" || s.split != "k" || !slices.Equal(vs.values, c.values) || len(s.byValue) != len(c.values) {
				t.Fatalf("split on %q (%q) into %v, want k into %v", vs.prop, s.split, vs.values, c.values)
			}
			for value, want := range c.want {
				b := vs.other
				if value != "" {
					b = vs.byValue[value]
				}
				stripped, _, err := acctStripEnums(b)
				if err != nil {
					t.Fatal(err)
				}
				acctSameJSON(t, "variant "+value, stripped, want)
			}
			orig, err := gojsonschema.NewSchema(gojsonschema.NewStringLoader(c.schema))
			if err != nil {
				t.Fatal(err)
			}
			// acctLiveSchema holds only for JSON objects (on anything else
			// the isDeleted "if" holds, as "properties" and "required" do);
			// the split must keep what it gives for the rest.
			liveSchema, err := gojsonschema.NewSchema(gojsonschema.NewBytesLoader(live))
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range acctMadeUpDocs {
				doc := acctDecode([]byte(d))
				ref := orig
				switch m, ok := doc.(map[string]any); {
				case !ok:
					ref = liveSchema
				case m["isDeleted"] == true:
					continue // check validates live records only
				}
				want, err := ref.Validate(gojsonschema.NewGoLoader(doc))
				if err != nil {
					t.Fatal(err)
				}
				wantReasons := acctSchemaReasons(want.Errors(), false)
				valid, reasons := acctMadeUpReasons(t, s, doc)
				if valid != want.Valid() || reasons != wantReasons {
					t.Errorf("%s: valid %v, reasons %q; want %v, %q", d, valid, reasons, want.Valid(), wantReasons)
				}
			}
		})
	}
}

// acctSameJSON fails t unless got and want are the same JSON value.
func acctSameJSON(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: want: %v", what, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("%s:\n %s\nwant\n %s", what, gb, wb)
	}
}

// TestAcctVariantsNotRecognised: schemas whose root allOf is not made of
// if/then blocks on one property's string const are left as they are, and
// the whole schema is what every record is validated against.
func TestAcctVariantsNotRecognised(t *testing.T) {
	const (
		ifX   = `{"properties":{"k":{"const":"x"}},"required":["k"]}`
		thenA = `{"required":["a"]}`
	)
	for _, c := range []struct{ name, schema string }{
		{"no allOf", `{"if":` + ifX + `,"then":` + thenA + `}`},
		{"allOf without blocks", `{"allOf":[{"required":["a"]},true]}`},
		{"if with two properties", `{"allOf":[{"if":{"properties":{"k":{"const":"x"},"j":{"const":"y"}},"required":["k"]},"then":` + thenA + `}]}`},
		{"if with else", `{"allOf":[{"if":` + ifX + `,"then":` + thenA + `,"else":{"required":["b"]}}]}`},
		{"else without then", `{"allOf":[{"if":` + ifX + `,"else":` + thenA + `}]}`},
		{"if without then", `{"allOf":[{"if":` + ifX + `}]}`},
		{"then without if", `{"allOf":[{"then":` + thenA + `}]}`},
		{"different properties across blocks", `{"allOf":[{"if":` + ifX + `,"then":` + thenA + `},{"if":{"properties":{"j":{"const":"y"}},"required":["j"]},"then":{"required":["b"]}}]}`},
		{"one block of another shape among good ones", `{"allOf":[{"if":` + ifX + `,"then":` + thenA + `},{"if":{"properties":{"k":{"const":"y"}}},"then":{"required":["b"]}}]}`},
		{"const a number", `{"allOf":[{"if":{"properties":{"k":{"const":5}},"required":["k"]},"then":` + thenA + `}]}`},
		{"const beside another keyword", `{"allOf":[{"if":{"properties":{"k":{"const":"x","type":"string"}},"required":["k"]},"then":` + thenA + `}]}`},
		{"enum instead of const", `{"allOf":[{"if":{"properties":{"k":{"enum":["x"]}},"required":["k"]},"then":` + thenA + `}]}`},
		{"if requires another property", `{"allOf":[{"if":{"properties":{"k":{"const":"x"}},"required":["j"]},"then":` + thenA + `}]}`},
		{"if requires two", `{"allOf":[{"if":{"properties":{"k":{"const":"x"}},"required":["k","j"]},"then":` + thenA + `}]}`},
		{"then a boolean", `{"allOf":[{"if":` + ifX + `,"then":false}]}`},
		{"block with a third keyword", `{"allOf":[{"if":` + ifX + `,"then":` + thenA + `,"required":["b"]}]}`},
		{"root $ref", `{"definitions":{"d":{}},"$ref":"#/definitions/d","allOf":[{"if":` + ifX + `,"then":` + thenA + `}]}`},
		{"$ref into the allOf", `{"properties":{"o":{"$ref":"#/allOf/0/then"}},"allOf":[{"if":` + ifX + `,"then":` + thenA + `}]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			vs, err := acctSplitVariants([]byte(c.schema))
			if err != nil {
				t.Fatal(err)
			}
			if vs.prop != "" || vs.byValue != nil || vs.other != nil {
				t.Fatalf("split on %q into %v", vs.prop, vs.values)
			}
			s := &acctSchema{name: "made-up.json", liveIf: "isDeleted"}
			if err := s.compileSchema([]byte(c.schema)); err != nil {
				t.Fatal(err)
			}
			if s.split != "" || s.byValue != nil || s.other.schema != nil {
				t.Fatalf("schema split on %q", s.split)
			}
			orig, err := gojsonschema.NewSchema(gojsonschema.NewStringLoader(c.schema))
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range acctMadeUpDocs {
				doc := acctDecode([]byte(d))
				if s.variant(doc) != &s.whole {
					t.Fatalf("%s: not validated against the whole schema", d)
				}
				want, err := orig.Validate(gojsonschema.NewGoLoader(doc))
				if err != nil {
					t.Fatal(err)
				}
				valid, reasons := acctMadeUpReasons(t, s, doc)
				if wantReasons := acctSchemaReasons(want.Errors(), false); valid != want.Valid() || reasons != wantReasons {
					t.Errorf("%s: valid %v, reasons %q; want %v, %q", d, valid, reasons, want.Valid(), wantReasons)
				}
			}
		})
	}
}

// TestAcctSplitVariantsBadSchema: a schema that is not JSON is an error.
func TestAcctSplitVariantsBadSchema(t *testing.T) {
	if _, err := acctSplitVariants([]byte(`{"allOf":[}`)); err == nil || !strings.Contains(err.Error(), "decoding schema") {
		t.Fatalf("error %v, want a decoding error", err)
	}
}
