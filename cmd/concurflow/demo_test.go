package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
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
	for _, want := range []string{
		"  ACCOUNT   4            500   1         0                   500",
		"  VENDOR    8            2001  1         1                   2000",
		"  LIST      2            16    1         0                   16",
		"  TAX_DATA  4            10    1         0                   10",
		"PARTIAL  event: PARTIAL",
		"V1000002",
		"type.cannot.update",
		"ACCOUNT  990100     (root) name is required",
		"LIST     (no id)    (root) id is required",
		"data.statusUpdated   4",
		"OK: every request reached a final status",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if n := strings.Count(summary, "event: SUCCESS"); n != 3 {
		t.Errorf("%d SUCCESS requests with their event, want 3:\n%s", n, summary)
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
