package pipelines_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/concurflow/concurflow/pipelines"
	"github.com/concurflow/concurflow/sandbox"
)

// cliEnv makes the test binary act as the concurflow CLI, so that
// full_resync.yaml can run its replay process without a separate build.
const cliEnv = "CONCURFLOW_PIPELINES_TEST_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) == "1" {
		code, err := service.RunCLIToCode(context.Background(), service.CLIOptSetBinaryName("concurflow"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// lintEnv gives the variables the pipelines require (no default) a value;
// every other variable keeps its default.
func lintEnv(_ context.Context, k string) (string, bool) {
	switch k {
	case "COMPANY_ID", "ERP_ID":
		return "09ac834c-46d6-49ff-9653-551d69072d56", true
	case "CLIENT_ID", "CLIENT_SECRET":
		return "x", true
	case "CONCUR_URL":
		return "http://127.0.0.1:8089", true
	case "KAFKA_BROKERS":
		return "127.0.0.1:9092", true
	}
	return os.LookupEnv(k)
}

// lint runs `concurflow lint` on files and returns its exit code and output.
func lint(t *testing.T, files ...string) (int, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "lint.out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	// The lint verb prints its findings to the process's standard error.
	stderr := os.Stderr
	os.Stderr = f
	code, err := service.RunCLIToCode(context.Background(),
		service.CLIOptSetBinaryName("concurflow"),
		service.CLIOptSetArgs(append([]string{"concurflow", "lint"}, files...)...),
		service.CLIOptSetEnvVarLookup(lintEnv),
	)
	os.Stderr = stderr
	if cerr := f.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return code, string(b)
}

// TestLint lints every pipeline of the directory the way `concurflow lint`
// does, and checks that the verb does flag a broken one.
func TestLint(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := fs.Glob(pipelines.FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(files, embedded) || len(files) < 8 {
		t.Fatalf("pipelines on disk %v, embedded %v", files, embedded)
	}
	for _, f := range files {
		if code, out := lint(t, f); code != 0 {
			t.Errorf("concurflow lint %s: exit %d\n%s", f, code, out)
		}
	}

	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, []byte("output:\n  concur_accounting:\n    object: accounts\n    no_such_field: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := lint(t, broken); code == 0 || !strings.Contains(out, "no_such_field") {
		t.Errorf("linting a broken pipeline: exit %d, output %q; want a failure naming the field", code, out)
	}
}

// TestFileDrops runs each file-drop pipeline over the valid and the
// invalid fixture export: Concur ends holding exactly the valid records and
// every invalid one is in the dead-letter file with a reason.
func TestFileDrops(t *testing.T) {
	cases := []struct {
		pipeline, object string
		files            []string
		want             string // NDJSON of the records Concur must hold
		key              string
		records          func(*sandbox.Server, string, string) ([]json.RawMessage, error)
		dlq              string
		dlqIDs           []string // key of each dead-lettered row
		rowKey           string   // ERP column holding the key
		// reasons: a dead-lettered row's key → text its reason must
		// contain, in the schema's own spelling.
		reasons map[string]string
	}{
		{
			pipeline: "file_drop_accounts.yaml", object: "accounts",
			files: []string{"accounts.csv", "accounts_invalid.csv"}, want: "accounts.ndjson", key: "id",
			records: (*sandbox.Server).Accounts, dlq: "accounts.ndjson",
			dlqIDs: []string{"", "990100", "990200", "990300"}, rowKey: "GL_ACCOUNT",
			reasons: map[string]string{
				"990100": "rejected by schema account.json: name is required",
				"990300": `type: must be one of the following: "ACCOUNTS_PAYABLE", "ACCOUNTS_RECEIVABLE", "BANK",`,
			},
		},
		{
			pipeline: "parquet_vendors.yaml", object: "vendors",
			files: []string{"vendors.parquet", "vendors_invalid.parquet"}, want: "vendors.ndjson", key: "id",
			records: (*sandbox.Server).Vendors, dlq: "vendors.ndjson",
			dlqIDs: []string{"E990002", "E990003", "E990005", "E990008", "V9900001", "V9900004", "V9900006", "V9900007"}, rowKey: "VENDOR_NO",
			reasons: map[string]string{
				"V9900004": "currencyCode: does not match pattern '^[A-Z]{3}$'",
				"V9900007": `type: must be one of the following: "ACCOUNTING", "EMPLOYEE"`,
			},
		},
		{
			pipeline: "file_drop_lists.yaml", object: "lists",
			files: []string{"lists.csv", "lists_invalid.csv"}, want: "lists.ndjson", key: "id",
			records: (*sandbox.Server).Lists, dlq: "lists.ndjson",
			dlqIDs: []string{"", "SEGMENT"}, rowKey: "LIST_CODE",
		},
		{
			pipeline: "file_drop_tax_data.yaml", object: "tax data",
			files: []string{"tax_data.ndjson", "tax_data_invalid.ndjson"}, want: "tax_data.ndjson", key: "countryCode",
			records: (*sandbox.Server).TaxData, dlq: "tax_data.ndjson",
			dlqIDs: []string{"AT", "BE", "DEU", "IE"}, rowKey: "countryCode",
			reasons: map[string]string{"DEU": "countryCode: does not match pattern '^[A-Z]{2}$'"},
		},
	}
	for _, c := range cases {
		t.Run(c.pipeline, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.drop(t, c.files...)
			runToEnd(t, c.pipeline, "", f.env)
			waitIdle(t, f.srv)

			got, err := c.records(f.srv, f.co.ID, f.erpID)
			if err != nil {
				t.Fatal(err)
			}
			assertRecords(t, c.object, got, readNDJSON(t, filepath.Join(erpDir, c.want)), c.key)

			dlq := readNDJSON(t, filepath.Join(f.env["DLQ_DIR"], c.dlq))
			raw, err := os.ReadFile(filepath.Join(erpDir, c.files[1]))
			if err != nil {
				t.Fatal(err)
			}
			invalidLines := strings.Split(string(raw), "\n")
			ids := sortedStrings(dlq, func(m map[string]any) string {
				row, _ := m["row"].(map[string]any)
				id, _ := row[c.rowKey].(string)
				return id
			})
			if !slices.Equal(ids, c.dlqIDs) {
				t.Errorf("dead-lettered rows %q, want %q", ids, c.dlqIDs)
			}
			for _, m := range dlq {
				e, _ := m["error"].(string)
				if e == "" || m["record"] == nil || !strings.HasSuffix(fmt.Sprint(m["file"]), "_invalid"+filepath.Ext(c.files[1])) {
					t.Errorf("dead-letter line without reason, record or source file: %v", m)
				}
				// The reasons are the schema's, spelled as it spells them:
				// Benthos's json_schema lower-cased patterns and enum
				// values and added "must validate …" noise (issue 11, item 3).
				row, _ := m["row"].(map[string]any)
				id, _ := row[c.rowKey].(string)
				if want, ok := c.reasons[id]; ok && !strings.Contains(e, want) {
					t.Errorf("%s: reason %q, want it to contain %q", id, e, want)
				}
				if strings.Contains(e, "must validate") {
					t.Errorf("%s: reason %q names a schema branch instead of the field", id, e)
				}
				// An NDJSON line is kept byte for byte (issue 11, item 8).
				if filepath.Ext(c.files[1]) == ".ndjson" {
					if v, _ := m["value"].(string); v == "" || !slices.Contains(invalidLines, v) {
						t.Errorf("%s: value %q is not a line of %s as it was", id, v, c.files[1])
					}
				}
			}
		})
	}
}

// TestFileDropMissingColumns drops, next to a good fixture export, one
// whose header (CSV) or schema (Parquet) lacks a column the mapping needs:
// each of its rows is dead-lettered with a reason naming the file and the
// column, none is sent, and the good file is applied in full. For vendors
// the needed columns depend on the row's type: the employee row of the
// same file, whose columns are all there, is sent.
func TestFileDropMissingColumns(t *testing.T) {
	employee := map[string]any{"id": "E990100", "type": "EMPLOYEE", "currencyCode": "EUR", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "employeeId": "990100"}
	cases := []struct {
		pipeline, good, bad string
		write               func(t *testing.T, path string)
		want                string // fixture NDJSON Concur must hold, plus extra
		extra               []map[string]any
		records             func(*sandbox.Server, string, string) ([]json.RawMessage, error)
		dlq                 string
		reason              string
		dead                int
	}{
		{
			pipeline: "file_drop_accounts.yaml", good: "accounts.csv", bad: "accounts_renamed.csv",
			write: writeText("ACCOUNT,ACCT_DESC,ACCT_TYPE\n300100,Renamed,BANK\n300200,Renamed too,AP\n"),
			want:  "accounts.ndjson", records: (*sandbox.Server).Accounts, dlq: "accounts.ndjson",
			reason: "accounts_renamed.csv: missing column GL_ACCOUNT (the mapping needs GL_ACCOUNT, ACCT_DESC, ACCT_TYPE; the header has ACCOUNT, ACCT_DESC, ACCT_TYPE)",
			dead:   2,
		},
		{
			pipeline: "file_drop_lists.yaml", good: "lists.csv", bad: "lists_renamed.csv",
			write: writeText("CODE,DESCRIPTION\nREGION,Region\nPLANT,Plant\nSITE,Site\n"),
			want:  "lists.ndjson", records: (*sandbox.Server).Lists, dlq: "lists.ndjson",
			reason: "lists_renamed.csv: missing columns LIST_CODE, LIST_DESC",
			dead:   3,
		},
		{
			pipeline: "parquet_vendors.yaml", good: "vendors.parquet", bad: "vendors_no_company.parquet",
			write: writeVendorsWithoutCompanyName,
			want:  "vendors.ndjson", extra: []map[string]any{employee}, records: (*sandbox.Server).Vendors, dlq: "vendors.ndjson",
			reason: "vendors_no_company.parquet: missing column COMPANY_NAME",
			dead:   2,
		},
	}
	for _, c := range cases {
		t.Run(c.pipeline, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.drop(t, c.good)
			c.write(t, filepath.Join(f.env["DROP_DIR"], c.bad))
			logs := runToEndLogged(t, c.pipeline, f.env)
			waitIdle(t, f.srv)

			got, err := c.records(f.srv, f.co.ID, f.erpID)
			if err != nil {
				t.Fatal(err)
			}
			assertRecords(t, c.pipeline, got, append(readNDJSON(t, filepath.Join(erpDir, c.want)), c.extra...), "id")
			// One ERROR for the file, not one per row (issue 11, item 8).
			var errorLines int
			for _, l := range strings.Split(logs, "\n") {
				if strings.Contains(l, "level=ERROR") && strings.Contains(l, "missing column") {
					errorLines++
				}
			}
			if errorLines != 1 {
				t.Errorf("%d ERROR lines about the missing columns for a file of %d such rows, want 1:\n%s", errorLines, c.dead, logs)
			}
			dlq := readNDJSON(t, filepath.Join(f.env["DLQ_DIR"], c.dlq))
			if len(dlq) != c.dead {
				t.Fatalf("%d dead letters, want %d: %v", len(dlq), c.dead, dlq)
			}
			for _, m := range dlq {
				if e, _ := m["error"].(string); !strings.Contains(e, c.reason) || m["row"] == nil {
					t.Errorf("dead letter %v: want the row and a reason containing %q", m, c.reason)
				}
			}
			t.Logf("reason: %s", dlq[0]["error"])
		})
	}
}

// writeText returns a writer of a file with the given content.
func writeText(body string) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeVendorsWithoutCompanyName writes a vendor export without the
// COMPANY_NAME column that supplier rows need: two suppliers, one employee.
func writeVendorsWithoutCompanyName(t *testing.T, path string) {
	t.Helper()
	type row struct {
		VendorNo    string `parquet:"VENDOR_NO"`
		VendorType  string `parquet:"VENDOR_TYPE"`
		Currency    string `parquet:"CURRENCY"`
		Name1       string `parquet:"VENDOR_NAME1,optional"`
		FirstName   string `parquet:"FIRST_NAME,optional"`
		LastName    string `parquet:"LAST_NAME,optional"`
		Email       string `parquet:"EMAIL_ADDR,optional"`
		PersonnelNo string `parquet:"PERSONNEL_NO,optional"`
	}
	rows := []row{
		{VendorNo: "V9900100", VendorType: "S", Currency: "EUR", Name1: "Supplier without company name"},
		{VendorNo: "V9900101", VendorType: "S", Currency: "EUR", Name1: "Another supplier without company name"},
		{VendorNo: "E990100", VendorType: "E", Currency: "EUR", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", PersonnelNo: "990100"},
	}
	if err := parquet.WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
}

// TestFileDropFullSync replaces stale accounts with the drop's when
// FULL_SYNC is set.
func TestFileDropFullSync(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	stale := filepath.Join(t.TempDir(), "accounts.csv")
	if err := os.WriteFile(stale, []byte("GL_ACCOUNT,ACCT_DESC,ACCT_TYPE\n999999,Stale,EXP\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	staleEnv := maps(f.env, "DROP_DIR", filepath.Dir(stale))
	runToEnd(t, "file_drop_accounts.yaml", "", staleEnv)
	f.drop(t, "accounts.csv")
	runToEnd(t, "file_drop_accounts.yaml", "", maps(f.env, "FULL_SYNC", "true"))
	waitIdle(t, f.srv)
	got, err := f.srv.Accounts(f.co.ID, f.erpID)
	if err != nil {
		t.Fatal(err)
	}
	assertRecords(t, "accounts", got, readNDJSON(t, filepath.Join(erpDir, "accounts.ndjson")), "id")
}

// maps returns a copy of env with k set to v.
func maps(env map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(env)+1)
	for key, val := range env {
		out[key] = val
	}
	out[k] = v
	return out
}

// publishEvents makes the sandbox publish one event of three types and
// waits until all were delivered.
func publishEvents(t *testing.T, f *fixture) {
	t.Helper()
	if err := f.srv.MapList(f.co.ID, f.erpID, sandbox.ListMapping{ERPListID: "COST_CENTER", ConcurListID: "concurList1"}); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.RequestReset(f.co.ID, f.erpID, sandbox.ObjectVendor); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, f.srv)
}

var wantEventTypes = []string{"data.resetRequested", "listMapping.created", "mapping.updated"}

// TestEventsToFiles: every event lands once, in an envelope with its
// metadata, in the hourly file of its type and timestamp.
func TestEventsToFiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	addr := f.listenEvents(t)
	stop := runInBackground(t, "events_to_files.yaml", f.env, addr)
	publishEvents(t, f)
	// An event type that would climb out of EVENTS_DIR stays inside it.
	hostile := fmt.Sprintf(`{"id":"9d1c4a4e-7d7b-4f5e-9a51-2c1f3d0e8b11","topic":"public.concur.spend.accountingintegration","eventType":"../../x","timeStamp":"2026-01-02T03:04:05Z","facts":{"companyId":%q,"erpId":%q}}`, f.co.ID, f.erpID)
	if err := f.srv.PublishRawEvent([]byte(hostile)); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, f.srv)
	stop()
	if got := readNDJSON(t, filepath.Join(f.env["EVENTS_DIR"], "____x", "2026-01-02T03.ndjson")); len(got) != 1 {
		t.Errorf("hostile event type: %d lines in its sanitised folder, want 1", len(got))
	}
	if err := os.RemoveAll(filepath.Join(f.env["EVENTS_DIR"], "____x")); err != nil {
		t.Fatal(err)
	}

	var types []string
	err := filepath.WalkDir(f.env["EVENTS_DIR"], func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for _, env := range readNDJSON(t, path) {
			ev, _ := env["event"].(map[string]any)
			md, _ := env["metadata"].(map[string]any)
			typ, _ := ev["eventType"].(string)
			types = append(types, typ)
			ts, err := time.Parse(time.RFC3339, fmt.Sprint(ev["timeStamp"]))
			if err != nil {
				t.Fatalf("event timeStamp: %v", err)
			}
			want := filepath.Join(f.env["EVENTS_DIR"], typ, ts.UTC().Format("2006-01-02T15")+".ndjson")
			if path != want {
				t.Errorf("%s event in %s, want %s", typ, path, want)
			}
			if md["concur_event_id"] != ev["id"] || md["concur_event_type"] != typ || md["concur_company_id"] != f.co.ID || md["concur_erp_id"] != f.erpID || md["concur_correlation_id"] == "" {
				t.Errorf("envelope metadata %v does not match event %v", md, ev)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(types)
	if !slices.Equal(types, wantEventTypes) {
		t.Errorf("event types written %v, want %v", types, wantEventTypes)
	}
}

// TestEventsToKafka: every event becomes one record keyed by company with
// the metadata as headers.
func TestEventsToKafka(t *testing.T) {
	t.Parallel()
	const topic = "concur.events"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	f := newFixture(t)
	f.env["KAFKA_BROKERS"] = strings.Join(cluster.ListenAddrs(), ",")
	addr := f.listenEvents(t)
	stop := runInBackground(t, "events_to_kafka.yaml", f.env, addr)
	publishEvents(t, f)
	stop()

	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(recs) < len(wantEventTypes) {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d records before %v", len(recs), err)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			t.Fatalf("fetching %s: %v", topic, errs[0].Err)
		}
		recs = append(recs, fetches.Records()...)
	}
	var types []string
	for _, r := range recs {
		var ev map[string]any
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		h := map[string]string{}
		for _, hd := range r.Headers {
			h[hd.Key] = string(hd.Value)
		}
		types = append(types, h["concur_event_type"])
		if string(r.Key) != f.co.ID || h["concur_event_id"] != ev["id"] || h["concur_event_type"] != ev["eventType"] || h["concur_erp_id"] != f.erpID || h["concur_correlation_id"] == "" {
			t.Errorf("record key %q headers %v do not match event %s", r.Key, h, r.Value)
		}
	}
	slices.Sort(types)
	if !slices.Equal(types, wantEventTypes) {
		t.Errorf("event types produced %v, want %v", types, wantEventTypes)
	}
}

// sendRaw writes the records of an NDJSON file as they are (no schema
// check, validate: false in the sink too) to Concur, so that Concur itself
// rejects the bad ones.
func sendRaw(t *testing.T, f *fixture, object, file string) {
	t.Helper()
	conf := fmt.Sprintf(`
input:
  file:
    paths: [ %q ]
    scanner: { lines: {} }
output:
  concur_accounting:
    company_id: "${COMPANY_ID}"
    erp_id: "${ERP_ID}"
    object: %s
    max_in_flight: 1
    validate: false
    auth:
      url: "${CONCUR_URL}"
      client_id: "${CLIENT_ID}"
      client_secret: "${CLIENT_SECRET}"
      request_token: "${REQUEST_TOKEN}"
      token_store: "${TOKEN_STORE}"
`, file, object)
	runToEnd(t, "send "+object, conf, f.env)
}

// TestRequestErrorsDLQ: every record Concur rejected is in the dead-letter
// file once, with Concur's reason.
func TestRequestErrorsDLQ(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	addr := f.listenEvents(t)
	runInBackground(t, "request_errors_dlq.yaml", f.env, addr)
	sendRaw(t, f, "vendors", filepath.Join(erpDir, "vendors_invalid.ndjson"))
	sendRaw(t, f, "accounts", filepath.Join(erpDir, "accounts.ndjson"))
	waitIdle(t, f.srv)

	reqs, err := f.srv.Requests(f.co.ID, f.erpID)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range reqs {
		errs, err := f.srv.RequestErrors(f.co.ID, f.erpID, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range errs {
			var pe struct{ Values string }
			if err := json.Unmarshal(e, &pe); err != nil {
				t.Fatal(err)
			}
			var rec struct{ ID string }
			_ = json.Unmarshal([]byte(pe.Values), &rec)
			want = append(want, r.ID+"/"+rec.ID)
		}
	}
	slices.Sort(want)
	if len(want) == 0 {
		t.Fatal("the sandbox rejected nothing; the test proves nothing")
	}

	got := readNDJSON(t, filepath.Join(f.env["DLQ_DIR"], "rejected_vendor.ndjson"))
	ids := sortedStrings(got, func(m map[string]any) string { return fmt.Sprint(m["requestId"], "/", m["recordId"]) })
	if !slices.Equal(ids, want) {
		t.Errorf("dead-lettered %q, want %q", ids, want)
	}
	for _, m := range got {
		rec, _ := m["record"].(map[string]any)
		ve, _ := m["validationErrors"].([]any)
		if m["errorMessage"] == "" || len(ve) == 0 || rec["id"] != m["recordId"] || m["objectType"] != "VENDOR" || m["eventId"] == "" || m["companyId"] != f.co.ID {
			t.Errorf("incomplete dead-letter line %v", m)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(f.env["DLQ_DIR"], "rejected_*.ndjson")); len(matches) != 1 {
		t.Errorf("dead-letter files %v, want only the vendors'", matches)
	}
}

// TestFullResync: the sandbox holds stale accounts and lists; an
// administrator's reset request reaches full_resync.yaml, which replays the
// snapshot of each requested type in its own process, and the sandbox ends
// holding exactly the snapshot.
func TestFullResync(t *testing.T) {
	f := newFixture(t)
	staleDir := t.TempDir()
	staleAccounts := filepath.Join(staleDir, "accounts.ndjson")
	staleLists := filepath.Join(staleDir, "lists.ndjson")
	if err := os.WriteFile(staleAccounts, []byte(`{"id":"100000","name":"Renamed in Concur only","type":"BANK"}
{"id":"STALE1","name":"Closed account","type":"EXPENSE"}
{"id":"STALE2","name":"Another closed account","type":"INCOME"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(staleLists, []byte(`{"id":"OLD_LIST","name":"Retired list"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sendRaw(t, f, "accounts", staleAccounts)
	sendRaw(t, f, "lists", staleLists)
	copyFile(t, filepath.Join(erpDir, "accounts.ndjson"), filepath.Join(f.env["SNAPSHOT_DIR"], "accounts.ndjson"))
	copyFile(t, filepath.Join(erpDir, "lists.ndjson"), filepath.Join(f.env["SNAPSHOT_DIR"], "lists.ndjson"))
	waitIdle(t, f.srv)
	if got, _ := f.srv.Accounts(f.co.ID, f.erpID); len(got) != 3 {
		t.Fatalf("stale state: %d accounts, want 3", len(got))
	}

	// Subscribe only now: nothing listened for the stale writes' events.
	addr := f.listenEvents(t)
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	replay, err := filepath.Abs("full_resync_replay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.env["CONCURFLOW_BIN"] = bin
	f.env["RESYNC_CONFIG"] = replay
	f.env["EVENTS_TIMEOUT"] = "60s"
	// The replay process reads the real environment.
	for k, v := range f.env {
		t.Setenv(k, v)
	}
	t.Setenv(cliEnv, "1")

	stop := runInBackground(t, "full_resync.yaml", f.env, addr)
	if err := f.srv.RequestReset(f.co.ID, f.erpID, sandbox.ObjectAccount, sandbox.ObjectList); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, f.srv)
	stop()

	accounts, err := f.srv.Accounts(f.co.ID, f.erpID)
	if err != nil {
		t.Fatal(err)
	}
	assertRecords(t, "accounts", accounts, readNDJSON(t, filepath.Join(erpDir, "accounts.ndjson")), "id")
	lists, err := f.srv.Lists(f.co.ID, f.erpID)
	if err != nil {
		t.Fatal(err)
	}
	assertRecords(t, "lists", lists, readNDJSON(t, filepath.Join(erpDir, "lists.ndjson")), "id")

	runs := readNDJSON(t, f.env["RESYNC_LOG"])
	objects := sortedStrings(runs, func(m map[string]any) string { return fmt.Sprint(m["object"]) })
	if !slices.Equal(objects, []string{"accounts", "lists"}) {
		t.Errorf("replays logged %v, want accounts and lists", runs)
	}
	reqs, err := f.srv.Requests(f.co.ID, f.erpID)
	if err != nil {
		t.Fatal(err)
	}
	deleteAll := map[sandbox.Object]int{}
	for _, r := range reqs {
		if r.DeleteAll {
			deleteAll[r.Object]++
		}
	}
	if deleteAll[sandbox.ObjectAccount] != 1 || deleteAll[sandbox.ObjectList] != 1 {
		t.Errorf("deleteAll requests by object %v, want one for accounts and one for lists", deleteAll)
	}
}
