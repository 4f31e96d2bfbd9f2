package schema

import "testing"

// BenchmarkCheckRecord measures validation throughput per record kind; the
// sandbox needs at least 50 MB/s of ingest, so MB/s and allocs/op are the
// figures to watch.
func BenchmarkCheckRecord(b *testing.B) {
	for _, bc := range []struct {
		name string
		obj  Object
		raw  string
	}{
		{"account", Account, validAccount},
		{"list", List, validList},
		{"vendor-employee", Vendor, validEmployee},
		{"vendor-accounting-address", Vendor, validAccounting},
		{"vendor-invalid", Vendor, `{"id":"7","type":"EMPLOYEE","currencyCode":"usd","email":"nope"}`},
	} {
		raw := []byte(bc.raw)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				CheckRecord(bc.obj, raw)
			}
		})
	}
}

// BenchmarkCheckTaxData measures a whole tax data body.
func BenchmarkCheckTaxData(b *testing.B) {
	raw := []byte(validTax)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		CheckTaxData(raw)
	}
}
