package schema

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// scanCorpus mixes valid and invalid JSON documents, including every corner
// of the grammar the scanner implements by hand.
var scanCorpus = []string{
	`{}`, `{ }`, ` { "a" : 1 } `, `{"a":{}}`, `{"a":[]}`, `{"a":[1,2,[3,{"b":null}]]}`,
	`{"a":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"}`, `{"a":-0}`, `{"a":0.5e-3}`, `{"a":1E+2}`, `{"a":true,"b":false,"c":null}`,
	`{"a":"x"}` + "\n",
	`{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,"a":1}`, `{"a":1 "b":2}`, `{'a':1}`, `{a:1}`,
	`{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":+1}`, `{"a":NaN}`,
	`{"a":tru}`, `{"a":nul}`, `{"a":True}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12G4"}`,
	"{\"a\":\"\x01\"}", `{"a":"unterminated}`, `{"a":[1,2}`, `{"a":[1,]}`, `{"a":[,1]}`,
	`{"a":1}}`, `{"a":1} {}`, `{"a":1}x`, ``, ` `, `[]`, `"x"`, `1`, `null`,
	`{"a` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	`{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
}

// TestScannerAgreesWithEncodingJSON checks that a document is accepted by the
// record decoder exactly when encoding/json finds it a valid JSON object.
func TestScannerAgreesWithEncodingJSON(t *testing.T) {
	for _, doc := range scanCorpus {
		var r record
		got := r.decode([]byte(doc))
		want := json.Valid([]byte(doc)) && strings.HasPrefix(strings.TrimSpace(doc), "{")
		if got != want {
			t.Errorf("decode(%q) = %v, encoding/json says %v", doc, got, want)
		}
	}
}

func TestScannerDepthLimit(t *testing.T) {
	deep := `{"a":` + strings.Repeat("[", maxDepth+10) + strings.Repeat("]", maxDepth+10) + `}`
	r := CheckRecord(List, []byte(deep))
	if len(r.Errors) != 1 || r.Errors[0].ErrorCode != "record.invalid" {
		t.Errorf("deeply nested record: %+v", r.Errors)
	}
}

func TestEscapedKeysAndValues(t *testing.T) {
	// Keys are matched after unescaping; values are unescaped for checks.
	r := CheckRecord(Vendor, []byte(`{"\u0069d":"v\"1","type":"EMP\u004cOYEE","currencyCode":"\u0055SD",
		"lastName":"L","firstName":"F","employeeId":"E","email":"a\u0040b.com"}`))
	if r.Errors != nil || r.ID != `v"1` || r.VendorType != VendorEmployee {
		t.Errorf("escaped record: %+v", r)
	}
}

func FuzzCheckRecord(f *testing.F) {
	for _, s := range scanCorpus {
		f.Add(s)
	}
	for _, s := range []string{validAccount, validList, validAccounting, validEmployee, `{"id":"3","isDeleted":true}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		for _, obj := range []Object{Account, Vendor, List} {
			r := CheckRecord(obj, []byte(doc))
			isObject := json.Valid([]byte(doc)) && strings.HasPrefix(strings.TrimLeft(doc, " \t\r\n"), "{")
			if !isObject && (len(r.Errors) != 1 || r.Errors[0].ErrorCode != "record.invalid") {
				t.Fatalf("%s %q: not a JSON object but errors %+v", obj, doc, r.Errors)
			}
			if r.Errors == nil {
				// A record that passes must decode with encoding/json and
				// carry the same id.
				var m map[string]any
				if err := json.Unmarshal([]byte(doc), &m); err != nil {
					t.Fatalf("%s %q: valid record rejected by encoding/json: %v", obj, doc, err)
				}
				if id, _ := m["id"].(string); r.ID == "" || (id != r.ID && utf8.ValidString(doc)) {
					t.Fatalf("%s %q: id %q, encoding/json reads %q", obj, doc, r.ID, id)
				}
			}
		}
		_ = CheckTaxData([]byte(doc))
		_ = CheckRegistration([]byte(doc), false)
		_ = CheckRegistration([]byte(doc), true)
	})
}
