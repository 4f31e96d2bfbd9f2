package schema

import (
	"slices"
	"strconv"
)

// Feature flags (the ErpFeatureFlag enum of the Schema page).
var featureFlags = []string{
	"SUPPORTS_RECEIPT_POSTING",
	"SUPPORTS_LIABILITY_ACCOUNT",
	"DISABLE_INVOICE_INTEGRATION",
	"ENABLE_TAX_INTEGRATION",
}

// configurationFieldTypes is the ConfigurationFieldType enum of the Schema
// page.
var configurationFieldTypes = []string{
	"ERP_LIABILITY_ACCOUNT",
	"ERP_CREDIT_CARD_ACCOUNT",
	"ERP_CLEARING_ACCOUNT",
	"CREDIT_CARD_VENDOR_NAME",
	"POSTING_DATE",
}

// CheckRegistration validates an ErpPackage body: a registration POST
// (patch=false) or an update PATCH (patch=true) as the Registration page
// describes them. It returns nil when the body is valid.
func CheckRegistration(raw []byte, patch bool) []ValidationError {
	w := body{s: scanner{b: raw}}
	identity := [...]struct {
		name string
		v    value
	}{{name: "partnerAppName"}, {name: "erpName"}, {name: "externalErpId"}}
	var features, options array
	w.read("", map[string]*value{
		identity[0].name: &identity[0].v, identity[1].name: &identity[1].v, identity[2].name: &identity[2].v,
	}, map[string]func(string){
		"features":       func(src string) { features.kind = w.features(src) },
		"postingOptions": w.each(&options, w.postingOption(map[string]bool{}, map[string]bool{})),
	})
	for _, f := range identity {
		// An update may leave them out, but not blank them.
		if !patch || (f.v.kind != kindAbsent && f.v.kind != kindNull) {
			w.c.required(f.name, f.v)
		}
	}
	for _, m := range [...]struct {
		name string
		a    array
	}{{"features", features}, {"postingOptions", options}} {
		w.optionalArray(m.name, m.a)
	}
	none := func(a array) bool { return a.kind == kindAbsent || a.kind == kindNull }
	if patch && none(features) && none(options) {
		w.c.add("features", "required", "an update must carry the complete features and/or postingOptions lists")
	}
	return w.finish()
}

// optionalArray checks that a walked member, when present and not null, was
// an array.
func (w *body) optionalArray(src string, a array) {
	if a.kind != kindAbsent && a.kind != kindNull && a.kind != kindArray {
		w.c.add(src, "invalid", src+" must be an array, got "+a.kind.String())
	}
}

// features walks the features array: each entry a known flag, none repeated.
func (w *body) features(src string) kind {
	if w.s.peek() != '[' {
		return w.s.value().kind
	}
	w.s.arrayStart()
	var seen []string
	for i, first := 0, true; w.s.nextElem(first); i, first = i+1, false {
		v := w.s.value()
		elem := src + "[" + strconv.Itoa(i) + "]"
		if v.kind != kindString {
			if !w.s.bad {
				w.c.add(elem, "invalid", elem+" must be a string, got "+v.kind.String())
			}
			continue
		}
		flag := w.c.oneOf(elem, v, featureFlags)
		if flag == "" {
			continue
		}
		if slices.Contains(seen, flag) {
			w.c.add(elem, "duplicate", elem+" repeats "+flag)
		}
		seen = append(seen, flag)
	}
	return kindArray
}

// postingOption returns the checker of one PostingOption; codes and names
// must be unique across the list (see the Schema page), so the sets of
// those seen are shared by every element.
func (w *body) postingOption(codes, names map[string]bool) func(src string) {
	return func(src string) {
		var code, name, oop value
		var fields array
		w.read(src, map[string]*value{"postingCode": &code, "postingName": &name, "availableForOutOfPocketExpenses": &oop},
			map[string]func(string){"configurationFields": w.each(&fields, w.configurationField)})
		w.unique(join(src, "postingCode"), code, codes)
		w.unique(join(src, "postingName"), name, names)
		w.c.optionalBool(join(src, "availableForOutOfPocketExpenses"), oop)
		w.optionalArray(join(src, "configurationFields"), fields)
	}
}

// unique checks a required string member whose value must not repeat.
func (w *body) unique(src string, v value, seen map[string]bool) {
	if !w.c.required(src, v) {
		return
	}
	t := v.text()
	if seen[t] {
		w.c.add(src, "duplicate", src+" repeats "+quote([]byte(t)))
	}
	seen[t] = true
}

// configurationField checks one ConfigurationField element. The Schema page
// names the flag "required" while the Registration page's examples send
// "isRequired"; both are accepted as booleans.
func (w *body) configurationField(src string) {
	var typ, req, isReq value
	w.read(src, map[string]*value{"configurationFieldType": &typ, "required": &req, "isRequired": &isReq}, nil)
	srcType := join(src, "configurationFieldType")
	if w.c.required(srcType, typ) {
		w.c.oneOf(srcType, typ, configurationFieldTypes)
	}
	w.c.optionalBool(join(src, "required"), req)
	w.c.optionalBool(join(src, "isRequired"), isReq)
}
