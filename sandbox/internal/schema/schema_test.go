package schema

import (
	"encoding/json"
	"strings"
	"testing"
)

// remove marks a member to delete in with.
type removeT struct{}

var remove removeT

// with returns base (a JSON object) with members set or removed, as JSON.
func with(t testing.TB, base string, kv ...any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		t.Fatalf("bad base %s: %v", base, err)
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == remove {
			delete(m, k)
			continue
		}
		m[k] = kv[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	validAccount    = `{"id":"001","name":"Accounts Payable","number":"01234","type":"ACCOUNTS_PAYABLE"}`
	validList       = `{"id":"1","name":"Customer"}`
	validAccounting = `{"id":"2","type":"ACCOUNTING","currencyCode":"USD","name":"SAP America, Inc.","companyName":"SAP America, Inc.",
		"address":{"addr1":"3999 West Chester Pike","city":"Newton Square","state":"Pennsylvania","country":"USA","postalCode":"19073"}}`
	validEmployee = `{"id":"1","type":"EMPLOYEE","currencyCode":"EUR","lastName":"Joe","firstName":"J","employeeId":"1","email":"JoeJ@sap.com"}`
)

// hasError reports whether errs holds the (source, code) pair, and that the
// message names the field.
func hasError(t *testing.T, errs []ValidationError, source, code string) {
	t.Helper()
	for _, e := range errs {
		if e.Source == source && e.ErrorCode == code {
			if source != "" && !strings.Contains(e.ErrorMessage, source) {
				t.Errorf("message %q does not name the field %s", e.ErrorMessage, source)
			}
			return
		}
	}
	t.Errorf("want error source=%q code=%q, got %+v", source, code, errs)
}

func TestCheckRecordValid(t *testing.T) {
	for _, tc := range []struct {
		obj        Object
		raw        string
		id, vendor string
	}{
		{Account, validAccount, "001", ""},
		{List, validList, "1", ""},
		{Vendor, validAccounting, "2", VendorAccounting},
		{Vendor, validEmployee, "1", VendorEmployee},
		// Nulls for optional members, as the GET examples return them.
		{Account, `{"id":"002","number":null,"name":"AR","type":"ACCOUNTS_RECEIVABLE"}`, "002", ""},
		{Vendor, string(with(t, validAccounting, "taxId", nil, "phone", nil, "address", nil, "email", nil)), "2", VendorAccounting},
		// Unknown members, whitespace and escapes.
		{Account, " {\"x\":[1,{\"y\":null}],\"id\":\"a\\u0062\" , \"name\":\"n\",\"type\":\"BANK\",\"z\":-1.5e3} ", "ab", ""},
		{List, `{"id":"\u00e9t\u00e9","name":"x","isDeleted":false}`, "été", ""},
		// A deletion needs only the id.
		{Vendor, `{"id":"3","isDeleted":true}`, "3", ""},
		{Account, `{"id":"3","isDeleted":true,"type":"NOT_A_TYPE"}`, "3", ""},
		// A repeated member keeps its last value.
		{Account, `{"id":"1","name":"n","type":"NOPE","type":"BANK"}`, "1", ""},
	} {
		r := CheckRecord(tc.obj, []byte(tc.raw))
		if r.Errors != nil {
			t.Errorf("%s %s: unexpected errors %+v", tc.obj, tc.raw, r.Errors)
		}
		if r.ID != tc.id || r.VendorType != tc.vendor {
			t.Errorf("%s %s: id %q vendor type %q, want %q %q", tc.obj, tc.raw, r.ID, r.VendorType, tc.id, tc.vendor)
		}
	}
	if r := CheckRecord(Vendor, []byte(`{"id":"3","isDeleted":true}`)); !r.Deleted {
		t.Error("isDeleted: true not reported as Deleted")
	}
}

func TestCheckRecordRules(t *testing.T) {
	for _, tc := range []struct {
		name         string
		obj          Object
		raw          []byte
		source, code string
	}{
		{"not an object", Account, []byte(`["id"]`), "", "record.invalid"},
		{"malformed", Account, []byte(`{"id":"1",}`), "", "record.invalid"},
		{"trailing data", List, []byte(validList + `{}`), "", "record.invalid"},
		{"empty input", List, nil, "", "record.invalid"},
		{"unknown object type", Object("TAX"), []byte(validList), "objectType", "objectType.invalid"},

		{"id missing", Account, with(t, validAccount, "id", remove), "id", "id.required"},
		{"id empty", List, with(t, validList, "id", ""), "id", "id.required"},
		{"id blank", List, with(t, validList, "id", "  "), "id", "id.required"},
		{"id null", Vendor, with(t, validEmployee, "id", nil), "id", "id.required"},
		{"id number", List, with(t, validList, "id", 7), "id", "id.invalid"},
		{"deleted without id", List, []byte(`{"isDeleted":true}`), "id", "id.required"},
		{"isDeleted not boolean", List, with(t, validList, "isDeleted", "yes"), "isDeleted", "isDeleted.invalid"},

		{"account name missing", Account, with(t, validAccount, "name", remove), "name", "name.required"},
		{"account type missing", Account, with(t, validAccount, "type", remove), "type", "type.required"},
		{"account type unknown", Account, with(t, validAccount, "type", "ASSETS"), "type", "type.invalid"},
		{"account type lower case", Account, with(t, validAccount, "type", "bank"), "type", "type.invalid"},
		{"account number not string", Account, with(t, validAccount, "number", 1234), "number", "number.invalid"},

		{"list name missing", List, with(t, validList, "name", remove), "name", "name.required"},
		{"list name object", List, with(t, validList, "name", map[string]any{}), "name", "name.invalid"},

		{"vendor type missing", Vendor, with(t, validAccounting, "type", remove), "type", "type.required"},
		{"vendor type unknown", Vendor, with(t, validAccounting, "type", "SUPPLIER"), "type", "type.invalid"},
		{"currency missing", Vendor, with(t, validEmployee, "currencyCode", remove), "currencyCode", "currencyCode.required"},
		{"currency unknown", Vendor, with(t, validAccounting, "currencyCode", "ABC"), "currencyCode", "currencyCode.invalid"},
		{"currency lower case", Vendor, with(t, validAccounting, "currencyCode", "usd"), "currencyCode", "currencyCode.invalid"},
		{"currency withdrawn", Vendor, with(t, validAccounting, "currencyCode", "HRK"), "currencyCode", "currencyCode.invalid"},
		{"currency number", Vendor, with(t, validAccounting, "currencyCode", 840), "currencyCode", "currencyCode.invalid"},
		{"accounting name missing", Vendor, with(t, validAccounting, "name", remove), "name", "name.required"},
		{"accounting companyName missing", Vendor, with(t, validAccounting, "companyName", ""), "companyName", "companyName.required"},
		{"employee lastName missing", Vendor, with(t, validEmployee, "lastName", remove), "lastName", "lastName.required"},
		{"employee firstName missing", Vendor, with(t, validEmployee, "firstName", nil), "firstName", "firstName.required"},
		{"employee email missing", Vendor, with(t, validEmployee, "email", remove), "email", "email.required"},
		{"employee employeeId missing", Vendor, with(t, validEmployee, "employeeId", remove), "employeeId", "employeeId.required"},
		{"email without at", Vendor, with(t, validEmployee, "email", "joe.sap.com"), "email", "email.invalid"},
		{"email without domain dot", Vendor, with(t, validEmployee, "email", "joe@localhost"), "email", "email.invalid"},
		{"email two ats", Vendor, with(t, validEmployee, "email", "a@b@c.com"), "email", "email.invalid"},
		{"email with space", Vendor, with(t, validEmployee, "email", "jo e@sap.com"), "email", "email.invalid"},
		{"email empty label", Vendor, with(t, validEmployee, "email", "joe@sap..com"), "email", "email.invalid"},
		{"accounting email checked when given", Vendor, with(t, validAccounting, "email", "nope"), "email", "email.invalid"},
		{"employee name not string", Vendor, with(t, validEmployee, "name", true), "name", "name.invalid"},
		{"taxId not string", Vendor, with(t, validAccounting, "taxId", 12), "taxId", "taxId.invalid"},
		{"phone not string", Vendor, with(t, validAccounting, "phone", []any{}), "phone", "phone.invalid"},
		{"accountNumber not string", Vendor, with(t, validAccounting, "accountNumber", 1.5), "accountNumber", "accountNumber.invalid"},
		{"address string", Vendor, with(t, validAccounting, "address", "3999 West Chester Pike"), "address", "address.invalid"},
		{"address country number", Vendor, with(t, validAccounting, "address", map[string]any{"country": 840}), "address.country", "address.country.invalid"},
		{"address postalCode number", Vendor, with(t, validAccounting, "address", map[string]any{"postalCode": 19073}), "address.postalCode", "address.postalCode.invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := CheckRecord(tc.obj, tc.raw)
			hasError(t, r.Errors, tc.source, tc.code)
		})
	}
}

func TestCheckRecordKeepsIDOfBadRecord(t *testing.T) {
	r := CheckRecord(Vendor, with(t, validAccounting, "currencyCode", "XYZ", "type", "EMPLOYEE"))
	if r.ID != "2" || r.VendorType != VendorEmployee {
		t.Errorf("id %q type %q, want 2 EMPLOYEE", r.ID, r.VendorType)
	}
	// Every rule broken is reported, not just the first.
	if len(r.Errors) != 5 { // currencyCode, lastName, firstName, employeeId, email
		t.Errorf("got %d errors, want 5: %+v", len(r.Errors), r.Errors)
	}
	if r := CheckRecord(Vendor, []byte(`{"id":"9","type":"EMPLOYEE"`)); r.ID != "9" || len(r.Errors) != 1 {
		t.Errorf("truncated record: %+v", r)
	}
}

func TestIsCurrency(t *testing.T) {
	for _, c := range []string{"USD", "EUR", "JPY", "CHF", "SLE", "ZWG", "XCG", "VES", "VED"} {
		if !IsCurrency(c) {
			t.Errorf("IsCurrency(%q) = false", c)
		}
	}
	for _, c := range []string{"", "usd", "US", "USDD", "XXX", "XTS", "HRK", "SLL", "ZWL", "ANG", "BGN", "DEM"} {
		if IsCurrency(c) {
			t.Errorf("IsCurrency(%q) = true", c)
		}
	}
	if len(countries) != 249 {
		t.Errorf("ISO 3166-1 alpha-2 list has %d codes, want 249", len(countries))
	}
}

const validTax = `{"data":[{"countryCode":"FR","countryDesc":"France","stateEntries":[{"stateCode":"FR-IDF","stateDesc":"Île-de-France",
  "reclaimEntries":[{"reclaimCode":"10%","reclaimDesc":"10% VAT","reclaimDetails":[{"taxCode":"F10R","taxRateDesc":"Reduced VAT","percentage":10,"validFrom":"2022-01-01","validTo":"2025-12-31"}]}]}]}]}`

// taxWith returns validTax with one member of the first reclaim detail (or,
// for level "country"/"state"/"reclaim", of that level) set or removed.
func taxWith(t *testing.T, level, key string, v any) []byte {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal([]byte(validTax), &body); err != nil {
		t.Fatal(err)
	}
	obj := body["data"].([]any)[0].(map[string]any)
	for _, l := range []struct{ name, child string }{{"country", "stateEntries"}, {"state", "reclaimEntries"}, {"reclaim", "reclaimDetails"}} {
		if level == l.name {
			break
		}
		obj = obj[l.child].([]any)[0].(map[string]any)
	}
	if v == remove {
		delete(obj, key)
	} else {
		obj[key] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckTaxData(t *testing.T) {
	for _, ok := range []string{
		validTax,
		`{"deleteAll":true}`,
		`{"data":[],"deleteAll":true}`,
		`{"data":[{"countryCode":"US","stateEntries":[{"stateCode":null,"stateDesc":null,"reclaimEntries":[{"reclaimCode":"R","reclaimDetails":[{"taxCode":"T","validFrom":"2024-02-29"}]}]}]}]}`,
	} {
		if errs := CheckTaxData([]byte(ok)); errs != nil {
			t.Errorf("%s: %+v", ok, errs)
		}
	}
	const detail = "data[0].stateEntries[0].reclaimEntries[0].reclaimDetails[0]"
	const reclaim = "data[0].stateEntries[0].reclaimEntries[0]"
	const state = "data[0].stateEntries[0]"
	for _, tc := range []struct {
		name         string
		raw          []byte
		source, code string
	}{
		{"not an object", []byte(`[]`), "", "body.invalid"},
		{"malformed", []byte(`{"data":[}`), "", "body.invalid"},
		{"no data", []byte(`{}`), "data", "data.required"},
		{"deleteAll false without data", []byte(`{"deleteAll":false}`), "data", "data.required"},
		{"deleteAll not boolean", []byte(`{"deleteAll":"true","data":[]}`), "deleteAll", "deleteAll.invalid"},
		{"data object", []byte(`{"data":{}}`), "data", "data.invalid"},
		{"data element not object", []byte(`{"data":["FR"]}`), "data[0]", "data.invalid"},
		{"countryCode missing", taxWith(t, "country", "countryCode", remove), "data[0].countryCode", "data.countryCode.required"},
		{"countryCode alpha-3", taxWith(t, "country", "countryCode", "FRA"), "data[0].countryCode", "data.countryCode.invalid"},
		{"countryCode lower case", taxWith(t, "country", "countryCode", "fr"), "data[0].countryCode", "data.countryCode.invalid"},
		{"countryCode unassigned", taxWith(t, "country", "countryCode", "XX"), "data[0].countryCode", "data.countryCode.invalid"},
		{"countryName number", taxWith(t, "country", "countryName", 1), "data[0].countryName", "data.countryName.invalid"},
		{"stateEntries missing", taxWith(t, "country", "stateEntries", remove), "data[0].stateEntries", "data.stateEntries.required"},
		{"stateEntries empty", taxWith(t, "country", "stateEntries", []any{}), "data[0].stateEntries", "data.stateEntries.required"},
		{"stateEntries string", taxWith(t, "country", "stateEntries", "FR-IDF"), "data[0].stateEntries", "data.stateEntries.invalid"},
		{"stateCode number", taxWith(t, "state", "stateCode", 75), state + ".stateCode", "data.stateEntries.stateCode.invalid"},
		{"reclaimEntries missing", taxWith(t, "state", "reclaimEntries", nil), state + ".reclaimEntries", "data.stateEntries.reclaimEntries.required"},
		{"reclaimCode missing", taxWith(t, "reclaim", "reclaimCode", remove), reclaim + ".reclaimCode", "data.stateEntries.reclaimEntries.reclaimCode.required"},
		{"reclaimDetails missing", taxWith(t, "reclaim", "reclaimDetails", remove), reclaim + ".reclaimDetails", "data.stateEntries.reclaimEntries.reclaimDetails.required"},
		{"taxCode missing", taxWith(t, "detail", "taxCode", remove), detail + ".taxCode", "data.stateEntries.reclaimEntries.reclaimDetails.taxCode.required"},
		{"percentage string", taxWith(t, "detail", "percentage", "10"), detail + ".percentage", "data.stateEntries.reclaimEntries.reclaimDetails.percentage.invalid"},
		{"percentage negative", taxWith(t, "detail", "percentage", -1), detail + ".percentage", "data.stateEntries.reclaimEntries.reclaimDetails.percentage.invalid"},
		{"percentage over 100", taxWith(t, "detail", "percentage", 100.5), detail + ".percentage", "data.stateEntries.reclaimEntries.reclaimDetails.percentage.invalid"},
		{"validFrom missing", taxWith(t, "detail", "validFrom", remove), detail + ".validFrom", "data.stateEntries.reclaimEntries.reclaimDetails.validFrom.required"},
		{"validFrom date-time", taxWith(t, "detail", "validFrom", "2022-01-01T00:00:00Z"), detail + ".validFrom", "data.stateEntries.reclaimEntries.reclaimDetails.validFrom.invalid"},
		{"validFrom impossible day", taxWith(t, "detail", "validFrom", "2023-02-29"), detail + ".validFrom", "data.stateEntries.reclaimEntries.reclaimDetails.validFrom.invalid"},
		{"validTo US order", taxWith(t, "detail", "validTo", "12/31/2025"), detail + ".validTo", "data.stateEntries.reclaimEntries.reclaimDetails.validTo.invalid"},
		{"validTo before validFrom", taxWith(t, "detail", "validTo", "2021-12-31"), detail + ".validTo", "data.stateEntries.reclaimEntries.reclaimDetails.validTo.invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hasError(t, CheckTaxData(tc.raw), tc.source, tc.code)
		})
	}
}

const validRegistration = `{"partnerAppName":"P","erpName":"E","externalErpId":"X","features":["SUPPORTS_RECEIPT_POSTING","ENABLE_TAX_INTEGRATION"],
 "postingOptions":[{"postingCode":"A","postingName":"Option A","availableForOutOfPocketExpenses":true,
   "configurationFields":[{"configurationFieldType":"ERP_LIABILITY_ACCOUNT","isRequired":false},{"configurationFieldType":"POSTING_DATE","required":true}]},
  {"postingCode":"B","postingName":"Option B"}]}`

func TestCheckRegistration(t *testing.T) {
	for _, tc := range []struct {
		raw   string
		patch bool
	}{
		{validRegistration, false},
		{validRegistration, true},
		{`{"partnerAppName":"P","erpName":"E","externalErpId":"X"}`, false},
		{`{"features":[]}`, true},
		{`{"postingOptions":[{"postingCode":"A","postingName":"A","configurationFields":null}]}`, true},
		{`{"partnerAppName":"P","erpName":"E","externalErpId":"X","erpId":"ignored"}`, false},
	} {
		if errs := CheckRegistration([]byte(tc.raw), tc.patch); errs != nil {
			t.Errorf("patch=%v %s: %+v", tc.patch, tc.raw, errs)
		}
	}
	opt := func(kv ...any) []byte {
		return with(t, `{"postingCode":"A","postingName":"Option A"}`, kv...)
	}
	reg := func(kv ...any) []byte { return with(t, validRegistration, kv...) }
	for _, tc := range []struct {
		name         string
		raw          []byte
		patch        bool
		source, code string
	}{
		{"not an object", []byte(`"x"`), false, "", "body.invalid"},
		{"malformed", []byte(`{"features":[`), true, "", "body.invalid"},
		{"partnerAppName missing", reg("partnerAppName", remove), false, "partnerAppName", "partnerAppName.required"},
		{"erpName blank", reg("erpName", " "), false, "erpName", "erpName.required"},
		{"externalErpId number", reg("externalErpId", 5), false, "externalErpId", "externalErpId.invalid"},
		{"patch erpName blank", reg("erpName", ""), true, "erpName", "erpName.required"},
		{"patch carries nothing", []byte(`{"erpName":"E"}`), true, "features", "features.required"},
		{"patch nulls only", []byte(`{"features":null,"postingOptions":null}`), true, "features", "features.required"},
		{"features not array", reg("features", "SUPPORTS_RECEIPT_POSTING"), false, "features", "features.invalid"},
		{"feature unknown", reg("features", []any{"SUPPORTS_EVERYTHING"}), false, "features[0]", "features.invalid"},
		{"feature not string", reg("features", []any{1}), false, "features[0]", "features.invalid"},
		{"feature repeated", reg("features", []any{"SUPPORTS_LIABILITY_ACCOUNT", "SUPPORTS_LIABILITY_ACCOUNT"}), true, "features[1]", "features.duplicate"},
		{"postingOptions object", reg("postingOptions", map[string]any{}), false, "postingOptions", "postingOptions.invalid"},
		{"posting option not object", reg("postingOptions", []any{"A"}), false, "postingOptions[0]", "postingOptions.invalid"},
		{"postingCode missing", reg("postingOptions", []any{json.RawMessage(opt("postingCode", remove))}), false, "postingOptions[0].postingCode", "postingOptions.postingCode.required"},
		{"postingName missing", reg("postingOptions", []any{json.RawMessage(opt("postingName", remove))}), true, "postingOptions[0].postingName", "postingOptions.postingName.required"},
		{"postingCode repeated", reg("postingOptions", []any{json.RawMessage(opt()), json.RawMessage(opt("postingName", "Other"))}), false, "postingOptions[1].postingCode", "postingOptions.postingCode.duplicate"},
		{"postingName repeated", reg("postingOptions", []any{json.RawMessage(opt()), json.RawMessage(opt("postingCode", "B"))}), false, "postingOptions[1].postingName", "postingOptions.postingName.duplicate"},
		{"out of pocket not boolean", reg("postingOptions", []any{json.RawMessage(opt("availableForOutOfPocketExpenses", "true"))}), false, "postingOptions[0].availableForOutOfPocketExpenses", "postingOptions.availableForOutOfPocketExpenses.invalid"},
		{"configurationFields object", reg("postingOptions", []any{json.RawMessage(opt("configurationFields", map[string]any{}))}), false, "postingOptions[0].configurationFields", "postingOptions.configurationFields.invalid"},
		{"configurationFieldType missing", reg("postingOptions", []any{json.RawMessage(opt("configurationFields", []any{map[string]any{"isRequired": true}}))}), false, "postingOptions[0].configurationFields[0].configurationFieldType", "postingOptions.configurationFields.configurationFieldType.required"},
		{"configurationFieldType unknown", reg("postingOptions", []any{json.RawMessage(opt("configurationFields", []any{map[string]any{"configurationFieldType": "ERP_ACCOUNT"}}))}), false, "postingOptions[0].configurationFields[0].configurationFieldType", "postingOptions.configurationFields.configurationFieldType.invalid"},
		{"isRequired not boolean", reg("postingOptions", []any{json.RawMessage(opt("configurationFields", []any{map[string]any{"configurationFieldType": "POSTING_DATE", "isRequired": "yes"}}))}), false, "postingOptions[0].configurationFields[0].isRequired", "postingOptions.configurationFields.isRequired.invalid"},
		{"required not boolean", reg("postingOptions", []any{json.RawMessage(opt("configurationFields", []any{map[string]any{"configurationFieldType": "POSTING_DATE", "required": 1}}))}), false, "postingOptions[0].configurationFields[0].required", "postingOptions.configurationFields.required.invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hasError(t, CheckRegistration(tc.raw, tc.patch), tc.source, tc.code)
		})
	}
}
