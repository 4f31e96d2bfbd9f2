package refdoc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExamplesOfAccountsPage(t *testing.T) {
	page := filepath.Join(Require(t), "accounting-integration", "v4.accountingintegration-account.markdown")
	ex, err := Examples(page)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 3 {
		t.Fatalf("got %d examples, want 3 (two PATCH, one GET)", len(ex))
	}
	for i, want := range []struct {
		method string
		status int
		body   bool
	}{{"PATCH", 202, true}, {"PATCH", 202, true}, {"GET", 200, false}} {
		e := ex[i]
		if e.Method != want.method || e.Status != want.status || (e.Request != nil) != want.body || e.Response == nil {
			t.Errorf("example %d = %s status %d request %v response %v; want %s %d request %v with a response",
				i, e.Method, e.Status, e.Request != nil, e.Response != nil, want.method, want.status, want.body)
		}
		if strings.Contains(e.Path, "{") {
			t.Errorf("example %d is a URI template: %s", i, e.Path)
		}
	}
	// Both PATCH requests share the one documented response.
	if string(ex[0].Response) != string(ex[1].Response) {
		t.Error("the two PATCH requests should share the documented 202 response")
	}
}

func TestBlocks(t *testing.T) {
	page := filepath.Join(t.TempDir(), "p.markdown")
	src := "# Title\n## <a name=\"x\"></a>Section A\n#### Request\n```shell\nGET /a\n```\ntext\n```json\n{\"a\": 1}\n```\n"
	if err := os.WriteFile(page, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := Blocks(page)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 2 || b[0].Lang != "shell" || b[0].Text != "GET /a\n" || b[1].Text != "{\"a\": 1}\n" {
		t.Fatalf("blocks = %+v", b)
	}
	if b[0].Section != "Section A" || b[0].Heading != "Request" || b[0].Line != 4 {
		t.Errorf("block 0 heading %q section %q line %d", b[0].Heading, b[0].Section, b[0].Line)
	}

	if err := os.WriteFile(page, []byte("```json\n{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Blocks(page); err == nil || !strings.Contains(err.Error(), "unterminated") {
		t.Errorf("unterminated block: err = %v", err)
	}
	if _, err := Blocks(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing page: no error")
	}
}
