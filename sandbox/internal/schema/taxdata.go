package schema

import "time"

// CheckTaxData validates a whole taxData POST or PUT body (the Update ERP Tax
// Data Request of the Schema page) against the rules in the package
// documentation. It returns nil when the body is valid.
func CheckTaxData(raw []byte) []ValidationError {
	w := body{s: scanner{b: raw}}
	var deleteAll value
	var data array
	w.read("", map[string]*value{"deleteAll": &deleteAll},
		map[string]func(string){"data": w.each(&data, w.taxCountry)})
	w.c.optionalBool("deleteAll", deleteAll)
	switch {
	case data.kind == kindAbsent || data.kind == kindNull:
		if !deleteAll.boolean() {
			w.c.add("data", "required", "data is required unless deleteAll is true")
		}
	case data.kind != kindArray:
		w.c.add("data", "invalid", "data must be an array, got "+data.kind.String())
	}
	return w.finish()
}

// taxCountry checks one ERP Tax Data element.
func (w *body) taxCountry(src string) {
	var code, name, desc value
	var states array
	w.read(src, map[string]*value{"countryCode": &code, "countryName": &name, "countryDesc": &desc},
		map[string]func(string){"stateEntries": w.each(&states, w.taxState)})
	srcCode := join(src, "countryCode")
	if w.c.required(srcCode, code) && !isCountry(code.bytes()) {
		w.c.add(srcCode, "invalid", srcCode+" must be an ISO 3166-1 alpha-2 country code, got "+quote(code.bytes()))
	}
	w.c.optional(join(src, "countryName"), name)
	w.c.optional(join(src, "countryDesc"), desc)
	w.nonEmpty(join(src, "stateEntries"), states)
}

// taxState checks one State Entries element; stateCode is null when the data
// is not state specific.
func (w *body) taxState(src string) {
	w.taxLevel(src, "stateCode", "stateDesc", "reclaimEntries", false, w.taxReclaim)
}

// taxReclaim checks one Reclaim Entries element.
func (w *body) taxReclaim(src string) {
	w.taxLevel(src, "reclaimCode", "reclaimDesc", "reclaimDetails", true, w.taxDetail)
}

// taxLevel checks a level of the tax data tree: a code, its description and
// the required, non-empty array of the next level.
func (w *body) taxLevel(src, codeKey, descKey, childKey string, codeRequired bool, child func(string)) {
	var code, desc value
	var children array
	w.read(src, map[string]*value{codeKey: &code, descKey: &desc},
		map[string]func(string){childKey: w.each(&children, child)})
	w.c.text(join(src, codeKey), code, codeRequired)
	w.c.optional(join(src, descKey), desc)
	w.nonEmpty(join(src, childKey), children)
}

// taxDetail checks one Reclaim Details element: tax code, rate and the
// validity period.
func (w *body) taxDetail(src string) {
	var code, desc, pct, from, to value
	w.read(src, map[string]*value{"taxCode": &code, "taxRateDesc": &desc, "percentage": &pct, "validFrom": &from, "validTo": &to}, nil)
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
	if !w.c.text(src, v, required) {
		return time.Time{}, false
	}
	t, ok := parseDate(v.bytes())
	if !ok {
		w.c.add(src, "invalid", src+" must be a date in YYYY-MM-dd format, got "+quote(v.bytes()))
	}
	return t, ok
}
