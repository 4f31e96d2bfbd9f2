package schema

import "strconv"

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
	var partner, erpName, externalID value
	features, options := kindAbsent, kindAbsent
	w.fields(func(key string) {
		switch key {
		case "partnerAppName":
			partner = w.s.value()
		case "erpName":
			erpName = w.s.value()
		case "externalErpId":
			externalID = w.s.value()
		case "features":
			features = w.features()
		case "postingOptions":
			options = w.postingOptions()
		default:
			w.s.value()
		}
	})
	identity := [...]struct {
		name string
		v    value
	}{{"partnerAppName", partner}, {"erpName", erpName}, {"externalErpId", externalID}}
	for _, f := range identity {
		if patch {
			if f.v.kind != kindAbsent && f.v.kind != kindNull {
				w.c.required(f.name, f.v)
			}
			continue
		}
		w.c.required(f.name, f.v)
	}
	for _, m := range [...]struct {
		name string
		k    kind
	}{{"features", features}, {"postingOptions", options}} {
		if m.k != kindAbsent && m.k != kindNull && m.k != kindArray {
			w.c.add(m.name, "invalid", m.name+" must be an array, got "+m.k.String())
		}
	}
	if patch && (features == kindAbsent || features == kindNull) && (options == kindAbsent || options == kindNull) {
		w.c.add("features", "required", "an update must carry the complete features and/or postingOptions lists")
	}
	return w.finish()
}

// features walks the features array: each entry a known flag, none repeated.
func (w *body) features() kind {
	if w.s.peek() != '[' {
		return w.s.value().kind
	}
	w.s.arrayStart()
	var seen []string
	for i, first := 0, true; w.s.nextElem(first); i, first = i+1, false {
		v := w.s.value()
		src := "features[" + strconv.Itoa(i) + "]"
		if v.kind != kindString {
			if !w.s.bad {
				w.c.add(src, "invalid", src+" must be a string, got "+v.kind.String())
			}
			continue
		}
		flag := w.c.oneOf(src, v, featureFlags)
		if flag == "" {
			continue
		}
		for _, s := range seen {
			if s == flag {
				w.c.add(src, "duplicate", src+" repeats "+flag)
			}
		}
		seen = append(seen, flag)
	}
	return kindArray
}

// postingOptions walks the postingOptions array; codes and names must be
// unique across the list (see the Schema page).
func (w *body) postingOptions() kind {
	codes := map[string]bool{}
	names := map[string]bool{}
	k, _ := w.objects("postingOptions", func(src string) {
		var code, name, oop value
		w.fields(func(key string) {
			switch key {
			case "postingCode":
				code = w.s.value()
			case "postingName":
				name = w.s.value()
			case "availableForOutOfPocketExpenses":
				oop = w.s.value()
			case "configurationFields":
				srcFields := join(src, "configurationFields")
				if k, _ := w.objects(srcFields, w.configurationField); k != kindArray && k != kindNull {
					w.c.add(srcFields, "invalid", srcFields+" must be an array, got "+k.String())
				}
			default:
				w.s.value()
			}
		})
		w.unique(join(src, "postingCode"), code, codes)
		w.unique(join(src, "postingName"), name, names)
		w.c.optionalBool(join(src, "availableForOutOfPocketExpenses"), oop)
	})
	return k
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
	w.fields(func(key string) {
		v := w.s.value()
		switch key {
		case "configurationFieldType":
			typ = v
		case "required":
			req = v
		case "isRequired":
			isReq = v
		}
	})
	srcType := join(src, "configurationFieldType")
	if w.c.required(srcType, typ) {
		w.c.oneOf(srcType, typ, configurationFieldTypes)
	}
	w.c.optionalBool(join(src, "required"), req)
	w.c.optionalBool(join(src, "isRequired"), isReq)
}
