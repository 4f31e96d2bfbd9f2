package concur

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/xeipuuv/gojsonschema"

	concurapi "github.com/concurflow/concurflow/concur"
	"github.com/concurflow/concurflow/schemas"
)

// acctOrigCheck is check as it was before enums were taken out of the
// schemas: the embedded schema compiled as it is, no acctLiveSchema, no
// acctStripEnums, every keyword left to the validator.
func acctOrigCheck(t *testing.T, obj concurapi.Object, index int, in concurapi.PackInput) error {
	t.Helper()
	s := newAcctValidator(service.MockResources().Metrics()).byObject[obj]
	if in.Delete {
		return nil
	}
	key, deleted, err := concurapi.PackerFor(string(obj)).Key(in.Raw)
	if err != nil || deleted {
		return nil
	}
	b, err := schemas.Schema(s.name)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := gojsonschema.NewSchema(gojsonschema.NewBytesLoader(b))
	if err != nil {
		t.Fatal(err)
	}
	doc := acctDecode(in.Raw)
	if s.wrap {
		doc = map[string]any{"data": []any{doc}}
	}
	res, err := schema.Validate(gojsonschema.NewGoLoader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if res.Valid() {
		return nil
	}
	keyField := concurapi.KeyFieldID
	if obj == concurapi.ObjectTaxData {
		keyField = concurapi.KeyFieldCountryCode
	}
	return fmt.Errorf("record %d (%s %q) rejected by schema %s: %s",
		index, keyField, key, s.name, acctSchemaReasons(res.Errors(), s.wrap))
}

// TestAcctEnumsSameReasons: with the enums of account.json and vendor.json
// checked by check itself, every record gets exactly the error (or none)
// the validator gives with the untouched schema.
func TestAcctEnumsSameReasons(t *testing.T) {
	v := newAcctValidator(service.MockResources().Metrics())
	for _, obj := range []concurapi.Object{concurapi.ObjectAccounts, concurapi.ObjectVendors} {
		s := v.byObject[obj]
		if err := s.compiled(); err != nil {
			t.Fatal(err)
		}
		variants := []*acctCompiled{&s.whole}
		if s.split != "" {
			variants = append(variants, &s.other)
		}
		for _, c := range s.byValue {
			variants = append(variants, c)
		}
		for _, c := range variants {
			if len(c.enums) != 1 || c.enums[0].name != "type" {
				t.Fatalf("%s: enums taken out %+v, want type's", obj, c.enums)
			}
		}
	}
	const manyVendorFaults = `"id":"","currencyCode":"e","name":5,"lastName":5,"firstName":5,"email":5,"employeeId":5,"companyName":5,"taxId":5,"phone":5,"accountNumber":5,"address":5`
	for _, c := range []struct {
		name string
		obj  concurapi.Object
		raw  string
		del  bool
		bad  bool // the untouched schema rejects it
	}{
		{"account valid", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":"EXPENSE"}`, false, false},
		{"account bad enum", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":"ASSET"}`, false, true},
		{"account enum value in lower case", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":"expense"}`, false, true},
		{"account empty type", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":""}`, false, true},
		{"account escaped valid type", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":"EXP\u0045NSE"}`, false, false},
		{"account non-ASCII type", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":"ÉXPENSE"}`, false, true},
		{"account invalid UTF-8 type", concurapi.ObjectAccounts, "{\"id\":\"A1\",\"name\":\"Cash\",\"type\":\"EXPENSE\xff\"}", false, true},
		{"account type integer", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":5}`, false, true},
		{"account type number", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":5.5}`, false, true},
		{"account type null", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":null}`, false, true},
		{"account type boolean", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":true}`, false, true},
		{"account type object", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":{"a":"EXPENSE"}}`, false, true},
		{"account type array", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":["EXPENSE"]}`, false, true},
		{"account bad enum and other faults", concurapi.ObjectAccounts, `{"id":"A1","name":"","number":5,"type":"ASSET","isDeleted":"no"}`, false, true},
		{"account bad enum, no name", concurapi.ObjectAccounts, `{"id":"A1","type":"ASSET"}`, false, true},
		{"account missing type", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash"}`, false, true},
		{"account repeated type, last good", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":"ASSET","type":"EXPENSE"}`, false, false},
		{"account repeated type, last bad", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":"EXPENSE","type":"ASSET"}`, false, true},
		{"account isDeleted false, bad enum", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":"ASSET","isDeleted":false}`, false, true},
		{"account delete by isDeleted", concurapi.ObjectAccounts, `{"id":"A1","type":"ASSET","isDeleted":true}`, false, false},
		{"account delete by metadata", concurapi.ObjectAccounts, `{"id":"A1","type":"ASSET"}`, true, false},
		{"vendor valid accounting", concurapi.ObjectVendors, `{"id":"V1","type":"ACCOUNTING","currencyCode":"EUR","name":"K","companyName":"K GmbH"}`, false, false},
		{"vendor valid employee", concurapi.ObjectVendors, `{"id":"V1","type":"EMPLOYEE","currencyCode":"EUR","lastName":"L","firstName":"F","email":"f@l.de","employeeId":"E1"}`, false, false},
		{"vendor bad enum", concurapi.ObjectVendors, `{"id":"V1","type":"employee","currencyCode":"EUR"}`, false, true},
		{"vendor bad enum and bad currency", concurapi.ObjectVendors, `{"id":"V1","type":"SUPPLIER","currencyCode":"euro"}`, false, true},
		{"vendor type integer", concurapi.ObjectVendors, `{"id":"V1","type":0,"currencyCode":"EUR"}`, false, true},
		{"vendor type null", concurapi.ObjectVendors, `{"id":"V1","type":null,"currencyCode":"EUR"}`, false, true},
		{"vendor missing type", concurapi.ObjectVendors, `{"id":"V1","currencyCode":"EUR"}`, false, true},
		{"vendor accounting without names (then summary)", concurapi.ObjectVendors, `{"id":"V1","type":"ACCOUNTING","currencyCode":"EUR"}`, false, true},
		{"vendor bad enum among more than the cap", concurapi.ObjectVendors, `{"type":"X",` + manyVendorFaults + `}`, false, false},
		{"vendor good type among more than the cap", concurapi.ObjectVendors, `{"type":"ACCOUNTING",` + manyVendorFaults + `}`, false, false},
		{"vendor bad enum among more than the cap, with id", concurapi.ObjectVendors, `{"type":"X","id2":1,` + strings.Replace(manyVendorFaults, `"id":""`, `"id":"V1"`, 1) + `}`, false, true},
		{"vendor delete by isDeleted", concurapi.ObjectVendors, `{"id":"V1","type":"NONSENSE","isDeleted":true}`, false, false},
		{"vendor delete by metadata", concurapi.ObjectVendors, `{"id":"V1","type":"NONSENSE"}`, true, false},
		{"list without name", concurapi.ObjectLists, `{"id":"SEGMENT"}`, false, true},
		{"tax entry bad country code", concurapi.ObjectTaxData,
			`{"countryCode":"DEU","stateEntries":[{"reclaimEntries":[{"reclaimCode":"R","reclaimDetails":[{"taxCode":"T","validFrom":"2016-01-01"}]}]}]}`, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := concurapi.PackInput{Raw: []byte(c.raw), Delete: c.del}
			want := acctOrigCheck(t, c.obj, 7, in)
			if (want != nil) != c.bad {
				t.Fatalf("untouched schema gives %v, table says rejected=%v", want, c.bad)
			}
			got := v.check(c.obj, 7, in, concurapi.PackerFor(string(c.obj)))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("error\n %v\nwant\n %v", got, want)
			}
		})
	}
}

// TestAcctEnumsOtherSchemas: acctStripEnums and acctCheckEnums give the
// validator's reasons for enums beside other types than "string", and keep
// the enums they cannot stand in for.
func TestAcctEnumsOtherSchemas(t *testing.T) {
	docs := []string{
		`{}`, `{"e":"a"}`, `{"e":"b"}`, `{"e":"c"}`, `{"e":null}`, `{"e":5}`, `{"e":5.0}`, `{"e":5.5}`,
		`{"e":true}`, `{"e":[]}`, `{"e":{}}`, `{"e":"<&>"}`, `{"e":"x","f":"y"}`, `{"e":"a","f":"c"}`,
	}
	for _, c := range []struct {
		name   string
		schema string
		strip  []string // the properties whose enum is taken out
	}{
		{"untyped", `{"properties":{"e":{"enum":["a","b"]}}}`, []string{"e"}},
		{"string or null", `{"type":"object","properties":{"e":{"type":["string","null"],"enum":["a","b"]}}}`, []string{"e"}},
		{"integer", `{"properties":{"e":{"type":["string","integer"],"enum":["a"]}}}`, []string{"e"}},
		{"number", `{"properties":{"e":{"type":["number","boolean","array","object"],"enum":["a"]}}}`, []string{"e"}},
		{"two enums and more", `{"properties":{"e":{"enum":["a","b"],"minLength":2},"f":{"enum":["c","<&>"]}},"required":["e"]}`, []string{"e", "f"}},
		{"enum with numbers stays", `{"properties":{"e":{"enum":["a",5]}}}`, nil},
		{"enum beside $ref stays", `{"definitions":{"s":{"type":"string"}},"properties":{"e":{"$ref":"#/definitions/s","enum":["a"]}}}`, nil},
		{"root $ref to properties keeps all", `{"properties":{"e":{"enum":["a"]},"f":{"$ref":"#/properties/e"}}}`, nil},
		{"root not an object keeps all", `{"type":"array","properties":{"e":{"enum":["a"]}}}`, nil},
		{"nested enum stays", `{"properties":{"o":{"properties":{"e":{"enum":["a"]}}}}}`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			orig, err := gojsonschema.NewSchema(gojsonschema.NewStringLoader(c.schema))
			if err != nil {
				t.Fatal(err)
			}
			b, enums, err := acctStripEnums([]byte(c.schema))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range enums {
				names = append(names, e.name)
			}
			if fmt.Sprint(names) != fmt.Sprint(c.strip) {
				t.Fatalf("took out %v, want %v", names, c.strip)
			}
			stripped, err := gojsonschema.NewSchema(gojsonschema.NewBytesLoader(b))
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range docs {
				doc := acctDecode([]byte(d))
				want, err := orig.Validate(gojsonschema.NewGoLoader(doc))
				if err != nil {
					t.Fatal(err)
				}
				res, err := stripped.Validate(newAcctDocLoader(doc))
				if err != nil {
					t.Fatal(err)
				}
				items := acctCheckEnums(enums, doc)
				wantReasons := acctSchemaReasons(want.Errors(), false)
				gotReasons := acctSchemaReasons(res.Errors(), false, items...)
				if want.Valid() != (res.Valid() && len(items) == 0) || gotReasons != wantReasons {
					t.Errorf("%s: reasons %q, want %q", d, gotReasons, wantReasons)
				}
			}
		})
	}
}

// TestAcctStripEnumsBadSchema: a schema that is not JSON is an error.
func TestAcctStripEnumsBadSchema(t *testing.T) {
	var syn *json.SyntaxError
	if _, _, err := acctStripEnums([]byte(`{"properties":1,}`)); err == nil || !errors.As(err, &syn) || !strings.Contains(err.Error(), "decoding schema") {
		t.Fatalf("error %v, want a decoding error", err)
	}
}
