package pipelines_test

import (
	"path/filepath"
	"testing"
)

// BenchmarkFileDrop measures whole file-drop pipeline runs — read, map,
// schema check, pack, send, sandbox processing — over the fixture exports,
// each run into a fresh sandbox company.
func BenchmarkFileDrop(b *testing.B) {
	for _, c := range []struct {
		pipeline, file, ndjson string
	}{
		{"file_drop_accounts.yaml", "accounts.csv", "accounts.ndjson"},
		{"parquet_vendors.yaml", "vendors.parquet", "vendors.ndjson"},
	} {
		b.Run(c.pipeline, func(b *testing.B) {
			rows := len(readNDJSON(b, filepath.Join(erpDir, c.ndjson)))
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				f := newFixture(b)
				f.drop(b, c.file)
				b.StartTimer()
				runToEnd(b, c.pipeline, "", f.env)
				waitIdle(b, f.srv)
			}
			b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
