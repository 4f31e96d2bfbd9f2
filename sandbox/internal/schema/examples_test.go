package schema

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concurflow/concurflow/sandbox/internal/schema/refdoc"
)

// TestReferenceExamplesValidate checks that every JSON example of the
// Accounting Integration pages that carries records, tax data or an
// ErpPackage passes validation: requests as sent, responses as stored data.
func TestReferenceExamplesValidate(t *testing.T) {
	dir := refdoc.Require(t)
	pages, err := filepath.Glob(filepath.Join(dir, "accounting-integration", "*.markdown"))
	if err != nil {
		t.Fatal(err)
	}
	checked := map[string]int{} // what kind of thing was validated, how often
	for _, page := range pages {
		examples, err := refdoc.Examples(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range examples {
			if e.Request != nil {
				checkExampleBody(t, e, e.Request, true, checked)
			}
			if e.Response != nil && e.Status == 200 {
				checkExampleBody(t, e, e.Response, false, checked)
			}
		}
	}
	// Each documented kind of payload must have been found, so a change in
	// the pages' layout cannot make this test pass vacuously.
	for kind, min := range map[string]int{
		"ACCOUNT": 9, "VENDOR": 8, "LIST": 8, "taxData": 3, "registration": 5, "errors.values": 1, "mappings.account": 1,
	} {
		if checked[kind] < min {
			t.Errorf("validated %d %s examples from the pages, want at least %d", checked[kind], kind, min)
		}
	}
	t.Logf("validated from the reference pages: %v", checked)
}

// checkExampleBody validates one documented JSON body according to the
// endpoint its example addresses.
func checkExampleBody(t *testing.T, e refdoc.Example, body []byte, request bool, checked map[string]int) {
	t.Helper()
	name := e.Name()
	if request {
		name += " (request)"
	} else {
		name += " (response)"
	}
	path := e.Path
	switch {
	case strings.HasSuffix(path, "/accounts"):
		checkRecords(t, name, Account, body, checked)
	case strings.HasSuffix(path, "/vendors"):
		checkRecords(t, name, Vendor, body, checked)
	case strings.HasSuffix(path, "/lists"):
		checkRecords(t, name, List, body, checked)
	case strings.HasSuffix(path, "/taxData"):
		if errs := CheckTaxData(body); errs != nil {
			t.Errorf("%s: %+v", name, errs)
		}
		checked["taxData"]++
	case strings.HasSuffix(path, "/erps") && !request && e.Method == "GET":
		var list struct{ Data []json.RawMessage }
		if err := json.Unmarshal(body, &list); err != nil || len(list.Data) == 0 {
			t.Fatalf("%s: not a list of ErpPackages: %v", name, err)
		}
		for _, p := range list.Data {
			if errs := CheckRegistration(p, false); errs != nil {
				t.Errorf("%s: %+v", name, errs)
			}
			checked["registration"]++
		}
	case strings.Contains(path, "/erps") && !strings.Contains(path, "/requests/") && !strings.HasSuffix(path, "/mappings"):
		patch := request && e.Method == "PATCH"
		if errs := CheckRegistration(body, patch); errs != nil {
			t.Errorf("%s: %+v", name, errs)
		}
		checked["registration"]++
	case strings.HasSuffix(path, "/mappings") && !request:
		// Each file's invoiceLiabilityAccount is an Account.
		var m struct {
			Files []struct {
				InvoiceLiabilityAccount json.RawMessage `json:"invoiceLiabilityAccount"`
			} `json:"files"`
		}
		if err := json.Unmarshal(body, &m); err != nil || len(m.Files) == 0 {
			t.Fatalf("%s: no files in the MappingsResponse: %v", name, err)
		}
		for _, f := range m.Files {
			if r := CheckRecord(Account, f.InvoiceLiabilityAccount); r.Errors != nil {
				t.Errorf("%s: invoiceLiabilityAccount: %+v", name, r.Errors)
			}
			checked["mappings.account"]++
		}
	case strings.Contains(path, "/requests/") && !request:
		// The request errors example embeds the rejected record as a string.
		var list struct {
			Data []struct {
				ObjectType Object `json:"objectType"`
				Values     string `json:"values"`
			}
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return // the status example, not a list of errors
		}
		for _, pe := range list.Data {
			if r := CheckRecord(pe.ObjectType, []byte(pe.Values)); r.Errors != nil {
				t.Errorf("%s: values of the documented error: %+v", name, r.Errors)
			}
			checked["errors.values"]++
		}
	}
}

// checkRecords validates each element of a body's data array.
func checkRecords(t *testing.T, name string, obj Object, body []byte, checked map[string]int) {
	t.Helper()
	var req struct{ Data []json.RawMessage }
	if err := json.Unmarshal(body, &req); err != nil || len(req.Data) == 0 {
		t.Fatalf("%s: no data array: %v", name, err)
	}
	for i, raw := range req.Data {
		r := CheckRecord(obj, raw)
		if r.Errors != nil {
			t.Errorf("%s: data[%d]: %+v", name, i, r.Errors)
		}
		if r.ID == "" {
			t.Errorf("%s: data[%d]: no id returned", name, i)
		}
		checked[string(obj)]++
	}
}
