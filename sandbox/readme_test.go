package sandbox_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/concurflow/concurflow/sandbox"
)

// TestReadmeWalkthrough runs the README's curl walk-through, exactly as
// written, against a sandbox, so the first thing a partner tries works.
func TestReadmeWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the walk-through needs %s, which is not installed", tool)
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	script := readmeBlock(t, string(readme), "## The sandbox by hand")

	srv := sandbox.New(t)
	co, err := srv.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(),
		"CONCUR_URL="+srv.URL(),
		"CLIENT_ID="+co.ClientID,
		"CLIENT_SECRET="+co.ClientSecret,
		"COMPANY_ID="+co.ID,
		"REQUEST_TOKEN="+co.RequestToken,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walk-through failed: %v\n%s", err, out)
	}

	// Step 4 printed the final status, step 5 the two accounts.
	text := string(out)
	if !strings.Contains(text, `"status": "SUCCESS"`) {
		t.Errorf("no SUCCESS status in the walk-through's output:\n%s", text)
	}
	i := strings.LastIndex(text, "{\n  \"data\"")
	if i < 0 {
		t.Fatalf("no accounts page in the walk-through's output:\n%s", text)
	}
	var page struct {
		Data []struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(text[i:]), &page); err != nil {
		t.Fatalf("accounts page: %v\n%s", err, text[i:])
	}
	if len(page.Data) != 2 || page.Data[0].ID != "001" || page.Data[1].ID != "002" {
		t.Errorf("accounts after the walk-through: %+v", page.Data)
	}
}

// readmeBlock returns the first ```shell block after heading.
func readmeBlock(t *testing.T, doc, heading string) string {
	t.Helper()
	i := strings.Index(doc, heading)
	if i < 0 {
		t.Fatalf("README has no %q section", heading)
	}
	rest := doc[i:]
	start := strings.Index(rest, "```shell\n")
	if start < 0 {
		t.Fatalf("no shell block under %q", heading)
	}
	rest = rest[start+len("```shell\n"):]
	end := strings.Index(rest, "```")
	if end < 0 {
		t.Fatalf("unterminated shell block under %q", heading)
	}
	return rest[:end]
}
