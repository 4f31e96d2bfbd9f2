package schema

import "time"

// CheckTaxData validates a whole taxData POST or PUT body (the Update ERP Tax
// Data Request of the Schema page) against the rules in the package
// documentation. It returns nil when the body is valid.
func CheckTaxData(raw []byte) []ValidationError {
	w := body{s: scanner{b: raw}}
	dataKind, deleteAll := kindAbsent, value{}
	w.fields(func(key string) {
		switch key {
		case "data":
			dataKind, _ = w.objects("data", w.taxCountry)
		case "deleteAll":
			deleteAll = w.s.value()
		default:
			w.s.value()
		}
	})
	w.c.optionalBool("deleteAll", deleteAll)
	switch {
	case dataKind == kindAbsent || dataKind == kindNull:
		if !deleteAll.boolean() {
			w.c.add("data", "required", "data is required unless deleteAll is true")
		}
	case dataKind != kindArray:
		w.c.add("data", "invalid", "data must be an array, got "+dataKind.String())
	}
	return w.finish()
}

// taxCountry checks one ERP Tax Data element.
func (w *body) taxCountry(src string) {
	var code, name, desc value
	states, statesN := kindAbsent, 0
	srcStates := join(src, "stateEntries")
	w.fields(func(key string) {
		switch key {
		case "countryCode":
			code = w.s.value()
		case "countryName":
			name = w.s.value()
		case "countryDesc":
			desc = w.s.value()
		case "stateEntries":
			states, statesN = w.objects(srcStates, w.taxState)
		default:
			w.s.value()
		}
	})
	srcCode := join(src, "countryCode")
	if w.c.required(srcCode, code) && !isCountry(code.bytes()) {
		w.c.add(srcCode, "invalid", srcCode+" must be an ISO 3166-1 alpha-2 country code, got "+quote(code.bytes()))
	}
	w.c.optional(join(src, "countryName"), name)
	w.c.optional(join(src, "countryDesc"), desc)
	w.nonEmpty(srcStates, states, statesN)
}

// taxState checks one State Entries element.
func (w *body) taxState(src string) {
	var code, desc value
	entries, entriesN := kindAbsent, 0
	srcEntries := join(src, "reclaimEntries")
	w.fields(func(key string) {
		switch key {
		case "stateCode":
			code = w.s.value()
		case "stateDesc":
			desc = w.s.value()
		case "reclaimEntries":
			entries, entriesN = w.objects(srcEntries, w.taxReclaim)
		default:
			w.s.value()
		}
	})
	w.c.optional(join(src, "stateCode"), code)
	w.c.optional(join(src, "stateDesc"), desc)
	w.nonEmpty(srcEntries, entries, entriesN)
}

// taxReclaim checks one Reclaim Entries element.
func (w *body) taxReclaim(src string) {
	var code, desc value
	details, detailsN := kindAbsent, 0
	srcDetails := join(src, "reclaimDetails")
	w.fields(func(key string) {
		switch key {
		case "reclaimCode":
			code = w.s.value()
		case "reclaimDesc":
			desc = w.s.value()
		case "reclaimDetails":
			details, detailsN = w.objects(srcDetails, w.taxDetail)
		default:
			w.s.value()
		}
	})
	w.c.required(join(src, "reclaimCode"), code)
	w.c.optional(join(src, "reclaimDesc"), desc)
	w.nonEmpty(srcDetails, details, detailsN)
}

// taxDetail checks one Reclaim Details element: tax code, rate and the
// validity period.
func (w *body) taxDetail(src string) {
	var code, desc, pct, from, to value
	w.fields(func(key string) {
		v := w.s.value()
		switch key {
		case "taxCode":
			code = v
		case "taxRateDesc":
			desc = v
		case "percentage":
			pct = v
		case "validFrom":
			from = v
		case "validTo":
			to = v
		}
	})
	w.c.required(join(src, "taxCode"), code)
	w.c.optional(join(src, "taxRateDesc"), desc)

	srcPct := join(src, "percentage")
	switch pct.kind {
	case kindAbsent, kindNull:
	case kindNumber:
		if p, ok := pct.number(); !ok || p < 0 || p > 100 {
			w.c.add(srcPct, "invalid", srcPct+" must be a number from 0 to 100, got "+string(pct.raw))
		}
	default:
		w.c.add(srcPct, "invalid", srcPct+" must be a number, got "+pct.kind.String())
	}

	srcFrom, srcTo := join(src, "validFrom"), join(src, "validTo")
	start, startOK := w.date(srcFrom, from, true)
	end, endOK := w.date(srcTo, to, false)
	if startOK && endOK && end.Before(start) {
		w.c.add(srcTo, "invalid", srcTo+" must not be before "+srcFrom)
	}
}

// date checks an ISO-8601 simple date member.
func (w *body) date(src string, v value, required bool) (time.Time, bool) {
	var ok bool
	if required {
		ok = w.c.required(src, v)
	} else {
		ok = w.c.optional(src, v)
	}
	if !ok {
		return time.Time{}, false
	}
	t, ok := parseDate(v.bytes())
	if !ok {
		w.c.add(src, "invalid", src+" must be a date in YYYY-MM-dd format, got "+quote(v.bytes()))
	}
	return t, ok
}
