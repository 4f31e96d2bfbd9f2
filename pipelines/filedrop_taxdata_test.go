package pipelines_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestFileDropTaxDataAsyncRejection drops a tax data file with one entry
// that every JSON Schema check passes but Concur rejects while processing
// (validTo before validFrom) and one valid entry. Tax data requests publish
// no data.statusUpdated event (Events page), so request_errors_dlq.yaml
// never hears of the rejection: the pipeline itself must wait for the
// request's final status and dead-letter the rejected entry with Concur's
// reason, while the valid one lands; in both modes (replace awaited its
// first request only).
func TestFileDropTaxDataAsyncRejection(t *testing.T) {
	for _, mode := range []string{"replace", "add"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			testTaxDataAsyncRejection(t, mode)
		})
	}
}

func testTaxDataAsyncRejection(t *testing.T, mode string) {
	f := newFixture(t)
	f.env["TAX_DATA_MODE"] = mode
	valid := map[string]any{"countryCode": "NL", "countryName": "Netherlands", "stateEntries": []any{map[string]any{
		"reclaimEntries": []any{map[string]any{"reclaimCode": "BTW21", "reclaimDesc": "BTW", "reclaimDetails": []any{
			map[string]any{"taxCode": "N21", "percentage": 21, "validFrom": "2012-10-01"},
		}}},
	}}}
	backwards := map[string]any{"countryCode": "LU", "countryName": "Luxembourg", "stateEntries": []any{map[string]any{
		"reclaimEntries": []any{map[string]any{"reclaimCode": "TVA17", "reclaimDesc": "TVA", "reclaimDetails": []any{
			map[string]any{"taxCode": "L17", "percentage": 17, "validFrom": "2024-01-01", "validTo": "2023-01-01"},
		}}},
	}}}
	writeNDJSON(t, filepath.Join(f.env["DROP_DIR"], "tax_data_async.ndjson"), []map[string]any{valid, backwards})
	runToEnd(t, "file_drop_tax_data.yaml", "", f.env)
	waitIdle(t, f.srv)

	got, err := f.srv.TaxData(f.co.ID, f.erpID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.Contains(string(got[0]), `"NL"`) {
		t.Errorf("Concur holds %s, want only NL", got)
	}
	dlq := readNDJSON(t, filepath.Join(f.env["DLQ_DIR"], "tax_data.ndjson"))
	if len(dlq) != 1 {
		t.Fatalf("%d dead letters, want LU alone: %v", len(dlq), dlq)
	}
	row, _ := dlq[0]["row"].(map[string]any)
	t.Logf("reason: %v", dlq[0]["error"])
	if e, _ := dlq[0]["error"].(string); row["countryCode"] != "LU" || !strings.Contains(e, "validTo") {
		t.Errorf("dead letter %v: want LU with Concur's reason naming validTo", dlq[0])
	}
}
