package concur

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// referenceDir holds the reference pages, relative to the package directory.
const referenceDir = "../../shared/reference/concur"

// docExamples returns the ```json blocks of a reference page, skipping the
// test when the reference pages are absent.
func docExamples(t *testing.T, rel string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(referenceDir, rel))
	if os.IsNotExist(err) {
		t.Skipf("reference page %s not found (expected at %s relative to the package): skipping the doc example test", rel, referenceDir)
	}
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)```json\\s*\n(.*?)```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatalf("no json examples in %s", rel)
	}
	return out
}

// normalise drops nulls and maps the spellings the types read but do not
// write (_links → links, required → isRequired) so that an example and its
// re-encoding compare equal.
func normalise(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if e == nil {
				continue
			}
			switch k {
			case "_links":
				k = "links"
			case "required":
				k = "isRequired"
			}
			out[k] = normalise(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalise(e)
		}
		return out
	}
	return v
}

// roundTrip decodes example into a new value from newV, encodes it again
// and requires the two JSON documents to be equal after normalise.
func roundTrip(t *testing.T, example string, newV func() any) {
	t.Helper()
	v := newV()
	dec := json.NewDecoder(strings.NewReader(example))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding example into %T: %v\n%s", v, err, example)
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding %T: %v", v, err)
	}
	var want, got any
	if err := json.Unmarshal([]byte(example), &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalise(want), normalise(got)) {
		t.Errorf("%T does not round-trip:\nexample: %s\nencoded: %s", v, example, again)
	}
}

// TestDocExamplesRoundTrip decodes every JSON example of the Accounting
// Integration pages into its type (rejecting unknown fields) and checks the
// re-encoding carries the same document.
func TestDocExamplesRoundTrip(t *testing.T) {
	pages := []struct {
		page    string
		request func() any // a body without links
		page2   func() any // a GET answer (data + links)
		single  func() any // anything else
	}{
		{"v4.accountingintegration-account.markdown", func() any { return new(DataRequest[Account]) }, func() any { return new(Page[Account]) }, nil},
		{"v4.accountingintegration-vendor.markdown", func() any { return new(DataRequest[Vendor]) }, func() any { return new(Page[Vendor]) }, nil},
		{"v4.accountingintegration-list.markdown", func() any { return new(DataRequest[ListName]) }, func() any { return new(Page[ListName]) }, nil},
		{"v4.accountingintegration-taxData.markdown", func() any { return new(DataRequest[TaxData]) }, func() any { return new(Page[TaxData]) }, nil},
		{"v4.accountingintegration-registration.markdown", func() any { return new(ErpPackage) }, func() any { return new(Page[ErpPackage]) }, nil},
		{"v4.accountingintegration-request.markdown", nil, func() any { return new(Page[ProcessingError]) }, nil},
		{"v4.accountingintegration-mappings.markdown", nil, nil, func() any { return new(MappingsResponse) }},
	}
	counted := 0
	for _, p := range pages {
		t.Run(p.page, func(t *testing.T) {
			for _, ex := range docExamples(t, filepath.Join("accounting-integration", p.page)) {
				var top map[string]json.RawMessage
				if err := json.Unmarshal([]byte(ex), &top); err != nil {
					t.Fatalf("example is not a JSON object: %v\n%s", err, ex)
				}
				_, hasStatus := top["status"]
				_, hasData := top["data"]
				_, hasLinks := top["links"]
				_, hasAltLinks := top["_links"]
				var newV func() any
				switch {
				case p.single != nil:
					newV = p.single
				case hasStatus:
					newV = func() any { return new(RequestStatus) }
				case hasData && (hasLinks || hasAltLinks || strings.Contains(p.page, "registration")):
					newV = p.page2
				case p.request != nil:
					newV = p.request
				default:
					t.Fatalf("no type for example:\n%s", ex)
				}
				roundTrip(t, ex, newV)
				counted++
			}
		})
	}
	t.Logf("%d doc examples round-tripped", counted)
}

func TestRequestStatusReadsBothLinkSpellings(t *testing.T) {
	for _, key := range []string{"links", "_links"} {
		var st RequestStatus
		doc := `{"status":"PROCESSING","requestId":"r1","` + key + `":{"errors":{"href":"/v4/e"},"self":{"href":"/v4/s"}}}`
		if err := json.Unmarshal([]byte(doc), &st); err != nil {
			t.Fatal(err)
		}
		if st.Links.Href(RelErrors) != "/v4/e" || st.Links.Href(RelSelf) != "/v4/s" || st.RequestID != "r1" || st.Status != StatusProcessing {
			t.Errorf("%s: got %+v", key, st)
		}
	}
}

func TestLinksForms(t *testing.T) {
	var arr Links
	if err := json.Unmarshal([]byte(`[{"rel":"next","href":"/a"},{"rel":"self","href":"/b"}]`), &arr); err != nil {
		t.Fatal(err)
	}
	var obj Links
	if err := json.Unmarshal([]byte(`{"next":{"href":"/a"},"self":{"href":"/b"}}`), &obj); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(arr, obj) || arr.Href(RelNext) != "/a" {
		t.Errorf("array %v and object %v differ", arr, obj)
	}
	out, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"next":{"href":"/a"},"self":{"href":"/b"}}` {
		t.Errorf("keyed form: %s", out)
	}
	dup := Links{{Rel: "next", Href: "/a"}, {Rel: "next", Href: "/b"}}
	out, err = json.Marshal(dup)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `[{"rel":"next","href":"/a"},{"rel":"next","href":"/b"}]` {
		t.Errorf("array form for repeated relations: %s", out)
	}
	for _, bad := range []string{`"x"`, `{"next":"x"}`, `[1]`} {
		var l Links
		if err := json.Unmarshal([]byte(bad), &l); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}

func TestProcessingErrorValues(t *testing.T) {
	examples := docExamples(t, "accounting-integration/v4.accountingintegration-request.markdown")
	var page Page[ProcessingError]
	if err := json.Unmarshal([]byte(examples[len(examples)-1]), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 {
		t.Fatalf("want 1 processing error, got %d", len(page.Data))
	}
	pe := page.Data[0]
	vals, err := pe.Values()
	if err != nil {
		t.Fatal(err)
	}
	if vals["id"] != "VEN-001" || pe.ID() != "VEN-001" || pe.ObjectType.Object() != ObjectVendors {
		t.Errorf("values %v, id %q, object %q", vals, pe.ID(), pe.ObjectType.Object())
	}
	var v Vendor
	if err := pe.DecodeValues(&v); err != nil {
		t.Fatal(err)
	}
	if v.Address == nil || v.Address.City != "Bellevue" || v.Type != VendorTypeEmployee {
		t.Errorf("decoded vendor %+v", v)
	}
	if page.Links.Href(RelNext) == "" {
		t.Error("next link of _links not read")
	}

	empty := ProcessingError{}
	if vals, err := empty.Values(); vals != nil || err != nil {
		t.Errorf("no values: got %v, %v", vals, err)
	}
	bad := ProcessingError{RequestID: "r", RawValues: "{not json"}
	if _, err := bad.Values(); err == nil || !strings.Contains(err.Error(), "request r") {
		t.Errorf("bad values: %v", err)
	}
	if bad.ID() != "" {
		t.Errorf("bad values id %q", bad.ID())
	}
}

func TestObject(t *testing.T) {
	want := map[Object]ObjectTypeName{ObjectAccounts: "ACCOUNT", ObjectVendors: "VENDOR", ObjectLists: "LIST", ObjectTaxData: "TAX_DATA"}
	for o, typ := range want {
		if o.ObjectType() != typ || typ.Object() != o || !o.Valid() {
			t.Errorf("%s: type %q", o, o.ObjectType())
		}
		parsed, err := ParseObject(string(o))
		if err != nil || parsed != o {
			t.Errorf("ParseObject(%q) = %q, %v", o, parsed, err)
		}
	}
	if o, err := ParseObject("tax_data"); err != nil || o != ObjectTaxData {
		t.Errorf("tax_data: %q %v", o, err)
	}
	if _, err := ParseObject("invoices"); err == nil {
		t.Error("unknown object accepted")
	}
	if Object("x").Valid() || Object("x").ObjectType() != "" || ObjectTaxData.Patchable() || !ObjectLists.Patchable() {
		t.Error("validity")
	}
}

func TestTypedBodies(t *testing.T) {
	zero := 0.0
	body, err := json.Marshal(DataRequest[TaxData]{Data: []TaxData{{
		CountryCode: "DE",
		StateEntries: []StateEntry{{ReclaimEntries: []ReclaimEntry{{
			ReclaimCode:    "0%",
			ReclaimDetails: []ReclaimDetail{{TaxCode: "Z", Percentage: &zero, ValidFrom: "2024-01-01"}},
		}}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"percentage":0`) {
		t.Errorf("zero rate dropped: %s", body)
	}
	body, err = json.Marshal(DataRequest[Account]{Data: []Account{{ID: "001", IsDeleted: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != `{"data":[{"id":"001","isDeleted":true}]}` {
		t.Errorf("delete body: %s", body)
	}
	var cf ConfigurationField
	if err := json.Unmarshal([]byte(`{"configurationFieldType":"POSTING_DATE","required":true}`), &cf); err != nil || !cf.Required {
		t.Errorf("required spelling: %+v %v", cf, err)
	}
	var editions StringList
	if err := json.Unmarshal([]byte(`["STANDARD","PROFESSIONAL"]`), &editions); err != nil || len(editions) != 2 {
		t.Errorf("edition array: %v %v", editions, err)
	}
	if err := json.Unmarshal([]byte(`3`), &editions); err == nil {
		t.Error("edition number accepted")
	}
}

// FuzzLinks checks that any input either fails to decode or decodes into
// links that survive an encode/decode round trip unchanged.
func FuzzLinks(f *testing.F) {
	for _, seed := range []string{
		`{"next":{"href":"/v4/a?next=x"},"self":{"href":"/v4/b"}}`,
		`[{"rel":"next","href":"/a"},{"rel":"next","href":"/b"}]`,
		`null`, `{}`, `[]`, `{"":{"href":""}}`, `[{"href":"x"}]`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var l Links
		if json.Unmarshal([]byte(in), &l) != nil {
			return
		}
		out, err := json.Marshal(l)
		if err != nil {
			t.Fatalf("encoding %v: %v", l, err)
		}
		var again Links
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("decoding %s: %v", out, err)
		}
		if len(l) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(l, again) {
			t.Fatalf("%s: %v became %v", in, l, again)
		}
	})
}
