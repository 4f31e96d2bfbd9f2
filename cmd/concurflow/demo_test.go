package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDemo runs `concurflow demo` over the repository's fixture exports:
// exit 0, the summary names every request's final status and event, the
// record Concur rejected with its reason, the records the schemas caught,
// and the output folder holds the pipelines' files.
func TestDemo(t *testing.T) {
	before := goroutines()
	var out, errOut bytes.Buffer
	keep := t.TempDir()
	code := run(context.Background(), []string{"concurflow", "demo", "--data", "../../testdata/erp", "--out", keep}, streams{out: &out, errOut: &errOut})
	summary := out.String()
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, summary, errOut.String())
	}
	// The invalid records are reported in the summary, not as ERROR lines
	// before it; nothing else went wrong.
	if strings.Contains(errOut.String(), "level=ERROR") {
		t.Errorf("the demo logged errors:\n%s", errOut.String())
	}
	// object, invalid→DLQ, sent, rejected by Concur, held; the number of
	// requests depends on how the batches were cut.
	rows := map[string][]string{
		"ACCOUNT":  {"4", "500", "0", "500"},
		"VENDOR":   {"8", "2001", "1", "2000"},
		"LIST":     {"2", "16", "0", "16"},
		"TAX_DATA": {"4", "10", "0", "10"},
	}
	for _, line := range strings.Split(summary, "\n") {
		f := strings.Fields(line)
		if want, ok := rows[firstOr(f)]; ok && len(f) == 6 {
			if got := []string{f[1], f[2], f[4], f[5]}; !slices.Equal(got, want) || f[3] == "0" {
				t.Errorf("row %q: invalid, sent, rejected, held = %v, want %v, and at least one request", line, got, want)
			}
			delete(rows, f[0])
		}
	}
	if len(rows) != 0 {
		t.Errorf("summary lacks the rows of %v:\n%s", rows, summary)
	}
	for _, want := range []string{
		"V1000002   Failed to validate the input data",
		"type.cannot.update",
		"ACCOUNT  990100     rejected by schema account.json: name is required",
		// Patterns and enum values as the schema spells them (Benthos's
		// json_schema processor lower-cased them).
		`ACCOUNT  990300     rejected by schema account.json: type: must be one of the following: "ACCOUNTS_PAYABLE", "ACCOUNTS_RECEIVABLE",`,
		"VENDOR   V9900004   rejected by schema vendor.json: currencyCode: does not match pattern '^[A-Z]{3}$'",
		"TAX_DATA DEU        rejected by schema tax_data.json: countryCode: does not match pattern '^[A-Z]{2}$'",
		`LIST     (no id)    lists record rejected before sending: invalid record: "id" must be a non-empty string`,
		"TAX_DATA IE         rejected by schema tax_data.json: stateEntries.0.reclaimEntries.0.reclaimDetails.0.percentage: must be less than or equal to 100",
		"OK: every request reached a final status",
		"admin maps ERP list COST_CENTER",
		"OK: each mapped list received its snapshot and changes; after unmapping, PROJECT items were no longer sent.",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	// Each request line shows the sandbox's final status and its event's;
	// tax data publishes no data.statusUpdated (the Events page).
	var requests, taxRequests, statusUpdated int
	for _, line := range strings.Split(summary, "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[4] == "event:" && f[0] == "TAX_DATA" {
			taxRequests++
			if got := strings.Join(f[5:], " "); got != "none for tax data" {
				t.Errorf("tax data request line %q: event %q", line, got)
			}
			continue
		}
		if len(f) == 6 && f[4] == "event:" {
			requests++
			if f[3] != f[5] {
				t.Errorf("request line %q: status and event differ", line)
			}
		}
		if len(f) == 2 && f[0] == "data.statusUpdated" {
			statusUpdated, _ = strconv.Atoi(f[1])
		}
	}
	if requests < 3 || taxRequests < 1 || statusUpdated != requests {
		t.Errorf("%d request lines, %d data.statusUpdated events received:\n%s", requests, statusUpdated, summary)
	}
	// Every stream, the sandbox and its deliveries are stopped on return.
	deadline := time.Now().Add(10 * time.Second)
	for len(goroutines()) > len(before) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines before the demo, after:\n%s", len(before), strings.Join(goroutines(), "\n\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, f := range []string{"dlq/accounts.ndjson", "dlq/vendors.ndjson", "dlq/lists.ndjson", "dlq/tax_data.ndjson", "dlq/rejected_vendor.ndjson"} {
		if _, err := os.Stat(filepath.Join(keep, f)); err != nil {
			t.Errorf("output file: %v", err)
		}
	}
}

// TestDemoBadDataFolder: a folder without exports fails at once with a
// message saying what is missing.
func TestDemoBadDataFolder(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"concurflow", "demo", "--data", t.TempDir()}, streams{out: &out, errOut: &errOut})
	if code == 0 || !strings.Contains(errOut.String(), "no accounts.csv") {
		t.Fatalf("exit %d, stderr %q; want a failure naming the missing export", code, errOut.String())
	}
}

// goroutines returns the stacks of the running goroutines except the
// runtime's signal loop, which stays once signal.Notify was used.
func goroutines() []string {
	buf := make([]byte, 1<<20)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !strings.Contains(g, "os/signal.loop") {
			out = append(out, g)
		}
	}
	return out
}

func firstOr(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
