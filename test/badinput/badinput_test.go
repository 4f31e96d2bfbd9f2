// Package badinput feeds the file-drop pipelines input that is wrong as a
// whole rather than record by record. Record-level bad input (not JSON, not
// an object, missing or non-string id, wrong types, unknown enum values,
// records over 200 KB) is covered by pipelines' TestKafkaToConcur and
// TestFileDrops; truncated and corrupt Parquet files by plugin/parquet's
// TestTruncatedFileFailsAndNextFileIsRead and TestRandomCorruptionFailsCleanly;
// oversize, unsigned and badly signed events by plugin/concur's
// TestEventsBadRequests, TestEventsSignatureFailures and
// TestEventsBasicAuthAndUnsigned.
package badinput

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/concurflow/concurflow/plugin"
	"github.com/concurflow/concurflow/sandbox"
	"github.com/concurflow/concurflow/test/harness"
)

// TestCSVWithWrongHeader drops a CSV export whose header names none of the
// expected columns next to a good one: every row of the bad file is
// dead-lettered with a reason, the good file's accounts all reach Concur.
func TestCSVWithWrongHeader(t *testing.T) {
	sb := sandbox.New(t, sandbox.WithProcessingDelay(0))
	co, err := sb.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	erp, err := sb.RegisterERP(co.ID)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	drop, dlq := filepath.Join(dir, "drop"), filepath.Join(dir, "dlq")
	for _, d := range []string{drop, dlq} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	good := "GL_ACCOUNT,ACCT_DESC,ACCT_TYPE\n100100,Cash EUR,BANK\n200100,Trade payables,AP\n"
	bad := "ACCOUNT,DESCRIPTION,KIND\n300100,Wrong header,BANK\n300200,Wrong header too,AP\n"
	for name, body := range map[string]string{"accounts_1.csv": good, "accounts_2_wrong.csv": bad} {
		if err := os.WriteFile(filepath.Join(drop, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"CONCUR_URL": sb.URL(), "COMPANY_ID": co.ID, "ERP_ID": erp,
		"CLIENT_ID": co.ClientID, "CLIENT_SECRET": co.ClientSecret, "REQUEST_TOKEN": co.RequestToken,
		"TOKEN_STORE": filepath.Join(dir, "tokens"), "DROP_DIR": drop, "DLQ_DIR": dlq,
		"HTTP_ENABLED": "false",
	}
	stream := harness.EmbeddedStream(t, "file_drop_accounts.yaml", env, "warn")
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	if err := stream.Run(ctx); err != nil {
		t.Fatalf("running the pipeline: %v", err)
	}
	if err := sb.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}

	accounts, err := sb.Accounts(co.ID, erp)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range accounts {
		var rec struct{ ID string }
		_ = json.Unmarshal(a, &rec)
		ids = append(ids, rec.ID)
	}
	if strings.Join(ids, ",") != "100100,200100" {
		t.Errorf("Concur holds accounts %v, want exactly the good file's 100100, 200100", ids)
	}
	raw, err := os.ReadFile(filepath.Join(dlq, "accounts.ndjson"))
	if err != nil {
		t.Fatalf("no dead letters: %v", err)
	}
	var rows int
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var d struct {
			File  string         `json:"file"`
			Row   map[string]any `json:"row"`
			Error string         `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("dead letter %q: %v", sc.Text(), err)
		}
		rows++
		if !strings.HasSuffix(d.File, "accounts_2_wrong.csv") || d.Error == "" || d.Row["ACCOUNT"] == nil {
			t.Errorf("dead letter without its file, row or reason: %s", sc.Text())
		}
		t.Logf("dead letter reason: %s", d.Error)
	}
	if rows != 2 {
		t.Errorf("%d dead letters, want the wrong file's 2 rows", rows)
	}
}
