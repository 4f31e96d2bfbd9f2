package pipelines_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/concurflow/concurflow/pipelines"
	"github.com/concurflow/concurflow/sandbox"
	"github.com/concurflow/concurflow/test/harness"
)

// fileDrop describes a file pipeline of this directory for the tests of
// this file: which fixture it reads, where it writes, which sandbox
// endpoint and method its writes use.
type fileDrop struct {
	pipeline string
	files    []string // fixture exports dropped
	want     string   // fixture NDJSON of the records the files hold
	dlq      string   // dead-letter file under DLQ_DIR
	endpoint sandbox.Endpoint
	method   string
	records  func(*sandbox.Server, string, string) ([]json.RawMessage, error)
}

var fileDrops = []fileDrop{
	{"file_drop_accounts.yaml", []string{"accounts.csv"}, "accounts.ndjson", "accounts.ndjson", sandbox.EndpointAccounts, http.MethodPatch, (*sandbox.Server).Accounts},
	{"file_drop_lists.yaml", []string{"lists.csv"}, "lists.ndjson", "lists.ndjson", sandbox.EndpointLists, http.MethodPatch, (*sandbox.Server).Lists},
	{"parquet_vendors.yaml", []string{"vendors.parquet"}, "vendors.ndjson", "vendors.ndjson", sandbox.EndpointVendors, http.MethodPatch, (*sandbox.Server).Vendors},
	{"file_drop_tax_data.yaml", []string{"tax_data.ndjson"}, "tax_data.ndjson", "tax_data.ndjson", sandbox.EndpointTaxData, http.MethodPut, (*sandbox.Server).TaxData},
}

// closedURL returns the URL of a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

// TestFileDropsDeadLetterWhenConcurIsDown runs every file pipeline while
// every write answers 500, and while the token endpoint is unreachable:
// once CONCUR_RETRY_BUDGET is spent each record is in the dead-letter file
// with the reason, none is lost (issue 11, item 1: the stream used to end
// with nothing sent and nothing dead-lettered).
func TestFileDropsDeadLetterWhenConcurIsDown(t *testing.T) {
	for _, d := range fileDrops {
		for _, fault := range []string{"server_error", "unreachable"} {
			t.Run(d.pipeline+"/"+fault, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t)
				f.drop(t, d.files...)
				f.env["CONCUR_RETRY_BUDGET"] = "1s"
				reason := "500 Internal Server Error"
				if fault == "unreachable" {
					f.env["CONCUR_URL"] = closedURL(t)
					reason = "connection refused"
				} else if err := f.srv.InjectFault(sandbox.Fault{Endpoint: d.endpoint, Method: d.method, Kind: sandbox.FaultServerError, Count: 100_000}); err != nil {
					t.Fatal(err)
				}
				runToEnd(t, d.pipeline, "", f.env)

				got, err := d.records(f.srv, f.co.ID, f.erpID)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 0 {
					t.Errorf("Concur holds %d records, want none", len(got))
				}
				want := len(readNDJSON(t, filepath.Join(erpDir, d.want)))
				dlq := readNDJSON(t, filepath.Join(f.env["DLQ_DIR"], d.dlq))
				if len(dlq) != want {
					t.Errorf("%d dead letters, want every one of the %d records", len(dlq), want)
				}
				for _, m := range dlq {
					if e, _ := m["error"].(string); !strings.Contains(e, "retry budget spent") || !strings.Contains(e, reason) || m["record"] == nil {
						t.Fatalf("dead letter %v: want the record and a reason saying the retries were spent (%s)", m, reason)
					}
				}
			})
		}
	}
}

// TestFileDropsExitNonZeroWhenDeadLetterFails runs each file pipeline as
// `concurflow run` while Concur answers 500 to every write: with a writable
// dead-letter folder the process exits 0 with every record dead-lettered;
// when the dead-letter file cannot be created either, it exits non-zero
// and says why instead of ending as if the records had been handled.
func TestFileDropsExitNonZeroWhenDeadLetterFails(t *testing.T) {
	for _, d := range fileDrops {
		t.Run(d.pipeline, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.drop(t, d.files...)
			f.env["CONCUR_RETRY_BUDGET"] = "1s"
			if err := f.srv.InjectFault(sandbox.Fault{Endpoint: d.endpoint, Method: d.method, Kind: sandbox.FaultServerError, Count: 100_000}); err != nil {
				t.Fatal(err)
			}
			code, out := runCLI(t, f.env, "run", d.pipeline)
			if code != 0 {
				t.Fatalf("exit %d with a writable dead-letter folder, want 0\n%s", code, out)
			}
			want := len(readNDJSON(t, filepath.Join(erpDir, d.want)))
			if n := len(readNDJSON(t, filepath.Join(f.env["DLQ_DIR"], d.dlq))); n != want {
				t.Fatalf("%d dead letters, want %d", n, want)
			}

			notDir := filepath.Join(t.TempDir(), "a-file")
			if err := os.WriteFile(notDir, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			f.env["DLQ_DIR"] = filepath.Join(notDir, "dlq")
			code, out = runCLI(t, f.env, "run", d.pipeline)
			if code == 0 || !strings.Contains(out, "cannot write the dead-letter file") {
				t.Fatalf("exit %d when the dead-letter file cannot be written, want non-zero and the reason\n%s", code, out)
			}
		})
	}
}

// runCLI runs this test binary as the concurflow CLI (see TestMain) in this
// directory with env added to the process's environment, and returns the
// exit code and the combined output.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"concurflow"}, args...)...)
	cmd.Args = append([]string{"concurflow"}, args...)
	cmd.Env = append(os.Environ(), cliEnv+"=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	default:
		t.Fatalf("running %v: %v\n%s", args, err, out.String())
		return -1, ""
	}
}

// bigRecordBytes is just under concur_accounting's 200,000-byte record
// limit (the API's "200 KB" read in decimal units).
const bigRecordBytes = 199_000

// pad returns a string that makes record, marshalled with it as the value
// of field, exactly n bytes long.
func pad(t *testing.T, record map[string]any, field string, n int) string {
	t.Helper()
	record[field] = ""
	b, err := json.Marshal(record)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Repeat("x", n-len(b))
	record[field] = s
	return s
}

// TestFileDropsLargeRecords sends a 199,000-byte record between two small
// ones through every file pipeline, and a 210,000-byte one: the large
// record reaches Concur like the small ones after it, the oversized one is
// dead-lettered with the limit as its reason (issue 11, item 2: the NDJSON
// inputs stopped reading a file at its first line over 64 KiB).
func TestFileDropsLargeRecords(t *testing.T) {
	type tc struct {
		pipeline, file, dlq string
		write               func(t *testing.T, path string, records []map[string]any)
		record              func(id string) map[string]any
		field, key          string
		records             func(*sandbox.Server, string, string) ([]json.RawMessage, error)
	}
	cases := []tc{
		{
			pipeline: "file_drop_accounts.yaml", file: "accounts_big.csv", dlq: "accounts.ndjson",
			record: func(id string) map[string]any {
				return map[string]any{"id": id, "number": id, "name": "Account " + id, "type": "EXPENSE"}
			},
			field: "name", key: "id", records: (*sandbox.Server).Accounts,
			write: func(t *testing.T, path string, records []map[string]any) {
				var b strings.Builder
				b.WriteString("GL_ACCOUNT,ACCT_DESC,ACCT_TYPE\n")
				for _, r := range records {
					fmt.Fprintf(&b, "%s,%s,EXP\n", r["id"], r["name"])
				}
				writeText(b.String())(t, path)
			},
		},
		{
			pipeline: "file_drop_lists.yaml", file: "lists_big.csv", dlq: "lists.ndjson",
			record: func(id string) map[string]any { return map[string]any{"id": id, "name": "List " + id} },
			field:  "name", key: "id", records: (*sandbox.Server).Lists,
			write: func(t *testing.T, path string, records []map[string]any) {
				var b strings.Builder
				b.WriteString("LIST_CODE,LIST_DESC\n")
				for _, r := range records {
					fmt.Fprintf(&b, "%s,%s\n", r["id"], r["name"])
				}
				writeText(b.String())(t, path)
			},
		},
		{
			pipeline: "parquet_vendors.yaml", file: "vendors_big.parquet", dlq: "vendors.ndjson",
			record: func(id string) map[string]any {
				return map[string]any{"id": id, "type": "ACCOUNTING", "currencyCode": "EUR", "name": "Vendor " + id, "companyName": "Company " + id}
			},
			field: "name", key: "id", records: (*sandbox.Server).Vendors,
			write: func(t *testing.T, path string, records []map[string]any) {
				type row struct {
					VendorNo    string `parquet:"VENDOR_NO"`
					VendorType  string `parquet:"VENDOR_TYPE"`
					Currency    string `parquet:"CURRENCY"`
					Name1       string `parquet:"VENDOR_NAME1"`
					CompanyName string `parquet:"COMPANY_NAME"`
				}
				rows := make([]row, 0, len(records))
				for _, r := range records {
					rows = append(rows, row{r["id"].(string), "S", "EUR", r["name"].(string), r["companyName"].(string)})
				}
				if err := parquet.WriteFile(path, rows); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			pipeline: "file_drop_tax_data.yaml", file: "tax_data_big.ndjson", dlq: "tax_data.ndjson",
			record: func(id string) map[string]any {
				return map[string]any{"countryCode": id, "countryName": "Country " + id, "stateEntries": []any{
					map[string]any{"reclaimEntries": []any{map[string]any{"reclaimCode": "VAT19", "reclaimDesc": "Standard VAT", "reclaimDetails": []any{
						map[string]any{"taxCode": "V1", "taxRateDesc": "Standard rate 19%", "percentage": 19, "validFrom": "2021-01-01"},
					}}}},
				}}
			},
			field: "countryName", key: "countryCode", records: (*sandbox.Server).TaxData,
			write: writeNDJSON,
		},
	}
	for _, c := range cases {
		t.Run(c.pipeline, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ids := []string{"FR", "IT", "ES", "PT"}
			if c.key == "id" {
				ids = []string{"910001", "910002", "910003", "910004"}
			}
			small1, big, small2, over := c.record(ids[0]), c.record(ids[1]), c.record(ids[2]), c.record(ids[3])
			pad(t, big, c.field, bigRecordBytes)
			pad(t, over, c.field, 210_000)
			c.write(t, filepath.Join(f.env["DROP_DIR"], c.file), []map[string]any{small1, big, over, small2})
			runToEnd(t, c.pipeline, "", f.env)
			waitIdle(t, f.srv)

			got, err := c.records(f.srv, f.co.ID, f.erpID)
			if err != nil {
				t.Fatal(err)
			}
			assertRecords(t, c.pipeline, got, decoded(t, small1, big, small2), c.key)
			dlq := readNDJSON(t, filepath.Join(f.env["DLQ_DIR"], c.dlq))
			if len(dlq) != 1 {
				for _, m := range dlq {
					t.Logf("dead letter %.300s: %s", m["record"], m["error"])
				}
				t.Fatalf("%d dead letters, want the oversized record's", len(dlq))
			}
			if e, _ := dlq[0]["error"].(string); !strings.Contains(e, "exceeds the 200000-byte record limit") {
				t.Errorf("dead letter reason %q, want the record limit", e)
			}
		})
	}
}

// decoded returns records as encoding/json decodes them (numbers as
// float64, arrays as []any), to compare with what the sandbox holds.
func decoded(t *testing.T, records ...map[string]any) []map[string]any {
	t.Helper()
	b, err := json.Marshal(records)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeNDJSON writes one JSON object per line.
func writeNDJSON(t *testing.T, path string, records []map[string]any) {
	t.Helper()
	var b bytes.Buffer
	for _, r := range records {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	writeText(b.String())(t, path)
}

// TestFullResyncReplayLargeRecord replays a snapshot of 101 accounts whose
// 51st is 199,000 bytes: Concur ends holding all 101 (issue 11, item 2:
// the replay sent deleteAll and then only the 50 records before it, with
// an empty dead-letter file and exit 0).
func TestFullResyncReplayLargeRecord(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var records []map[string]any
	for i := range 101 {
		id := fmt.Sprintf("92%04d", i)
		records = append(records, map[string]any{"id": id, "name": "Account " + id, "type": "EXPENSE"})
	}
	pad(t, records[50], "name", bigRecordBytes)
	writeNDJSON(t, filepath.Join(f.env["SNAPSHOT_DIR"], "accounts.ndjson"), records)
	runToEnd(t, "full_resync_replay.yaml", "", f.env)
	waitIdle(t, f.srv)
	got, err := f.srv.Accounts(f.co.ID, f.erpID)
	if err != nil {
		t.Fatal(err)
	}
	assertRecords(t, "accounts", got, records, "id")
	if b, err := os.ReadFile(f.env["RESYNC_DLQ"]); err == nil && len(b) > 0 {
		t.Errorf("dead letters: %s", b)
	}
}

// pipelineMetricsHTTP is what every pipeline must say about metrics and
// its HTTP server: the Prometheus exporter, and an address on loopback
// unless HTTP_ADDRESS says otherwise (Benthos's default is 0.0.0.0).
var pipelineMetricsHTTP = []*regexp.Regexp{
	regexp.MustCompile(`(?m)^metrics:\n  concur_prometheus: \{\}\n`),
	regexp.MustCompile(`(?m)^http:\n  enabled: \$\{HTTP_ENABLED:true\}\n  address: "\$\{HTTP_ADDRESS:127\.0\.0\.1:4195\}"\n`),
}

// TestPipelinesServePrometheusOnLoopback checks every pipeline's metrics
// and http sections (issue 11, item 4), and scrapes the accounts file drop:
// its /metrics holds concur_accounting_records in the Prometheus format.
func TestPipelinesServePrometheusOnLoopback(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range pipelineMetricsHTTP {
			if !re.Match(b) {
				t.Errorf("%s lacks %s", name, re)
			}
		}
	}

	f := newFixture(t)
	f.drop(t, "accounts.csv")
	b, err := pipelines.NewStreamBuilder("file_drop_accounts.yaml", func(k string) (string, bool) {
		v, ok := f.env[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	b.SetHTTPMux(mux)
	if err := b.SetLoggerYAML("level: warn"); err != nil {
		t.Fatal(err)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	want := regexp.MustCompile(`(?m)^concur_accounting_records\{[^}]*object="accounts",status="accepted"\} 500$`)
	if !want.MatchString(rec.Body.String()) {
		t.Errorf("/metrics lacks %s:\n%s", want, rec.Body.String())
	}
	// The metrics docs/metrics.md's example alerts use exist.
	for _, name := range []string{"concur_auth_failed", "concur_refresh_token_expiry_seconds", "concur_accounting_records", "concur_accounting_requests"} {
		if !strings.Contains(rec.Body.String(), "\n# TYPE "+name+" ") {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// runToEndLogged runs a bounded pipeline of this directory and returns
// what it logged at WARN and above, as slog text lines.
func runToEndLogged(t *testing.T, name string, env map[string]string) string {
	t.Helper()
	b, err := pipelines.NewStreamBuilder(name, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	var logs harness.LockedBuffer
	b.SetLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("running %s: %v", name, err)
	}
	return logs.String()
}

// TestNDJSONLineOverLimit puts a 4,500,000-byte line (over the 4 MB body
// limit, so over what the NDJSON pipelines read whole) between two good
// records: it is dead-lettered with its line number and the limit, and the
// record after it still reaches Concur. Benthos's lines scanner would have
// ended the file at it, with exit 0 and nothing dead-lettered.
func TestNDJSONLineOverLimit(t *testing.T) {
	huge := strings.Repeat("x", 4_500_000)
	t.Run("file_drop_tax_data.yaml", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		entry := func(cc string) map[string]any {
			return map[string]any{"countryCode": cc, "countryName": "Country " + cc, "stateEntries": []any{
				map[string]any{"reclaimEntries": []any{map[string]any{"reclaimCode": "VAT19", "reclaimDesc": "Standard VAT", "reclaimDetails": []any{
					map[string]any{"taxCode": "V1", "taxRateDesc": "Standard rate 19%", "percentage": 19, "validFrom": "2021-01-01"},
				}}}},
			}}
		}
		good1, bad, good2 := entry("FR"), entry("IT"), entry("ES")
		bad["countryName"] = huge
		writeNDJSON(t, filepath.Join(f.env["DROP_DIR"], "tax_data_huge.ndjson"), []map[string]any{good1, bad, good2})
		runToEnd(t, "file_drop_tax_data.yaml", "", f.env)
		waitIdle(t, f.srv)
		got, err := f.srv.TaxData(f.co.ID, f.erpID)
		if err != nil {
			t.Fatal(err)
		}
		assertRecords(t, "tax data", got, decoded(t, good1, good2), "countryCode")
		assertOverLimit(t, readNDJSON(t, filepath.Join(f.env["DLQ_DIR"], "tax_data.ndjson")))
	})
	t.Run("full_resync_replay.yaml", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		records := []map[string]any{
			{"id": "930001", "name": "Before", "type": "EXPENSE"},
			{"id": "930002", "name": huge, "type": "EXPENSE"},
			{"id": "930003", "name": "After", "type": "EXPENSE"},
		}
		writeNDJSON(t, filepath.Join(f.env["SNAPSHOT_DIR"], "accounts.ndjson"), records)
		runToEnd(t, "full_resync_replay.yaml", "", f.env)
		waitIdle(t, f.srv)
		got, err := f.srv.Accounts(f.co.ID, f.erpID)
		if err != nil {
			t.Fatal(err)
		}
		assertRecords(t, "accounts", got, []map[string]any{records[0], records[2]}, "id")
		assertOverLimit(t, readNDJSON(t, f.env["RESYNC_DLQ"]))
	})
}

func assertOverLimit(t *testing.T, dlq []map[string]any) {
	t.Helper()
	if len(dlq) != 1 {
		t.Fatalf("%d dead letters, want the long line's", len(dlq))
	}
	if e, _ := dlq[0]["error"].(string); !strings.Contains(e, "line 2 of ") || !strings.Contains(e, "over the 4000000-byte limit") {
		t.Errorf("dead letter reason %q, want the line and the limit", e)
	}
	if v, _ := dlq[0]["value"].(string); len(v) != 1024 {
		t.Errorf("dead letter value of %d bytes, want the line's first 1024", len(v))
	}
}
