package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

func TestSandboxVerbSeedsAndServesUntilCancelled(t *testing.T) {
	pr, pw := io.Pipe()
	app := &cli.App{Name: "concurflow", Writer: pw, Commands: []*cli.Command{sandboxCommand()}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.RunContext(ctx, []string{"concurflow", "sandbox", "--addr", "127.0.0.1:0", "--seed", "2", "--rate-limit=false"})
		pw.Close()
	}()

	vars := map[string][]string{}
	sc := bufio.NewScanner(pr)
	for len(vars["ERP_ID_2"]) < 1 && sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok && strings.HasPrefix(sc.Text(), "export ") {
			vars[k] = append(vars[k], v)
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	// One partner app for both companies; the first company also under the
	// unsuffixed names pipelines and docs read.
	for k, n := range map[string]int{"CONCUR_URL": 1, "CLIENT_ID": 1, "CLIENT_SECRET": 1, "COMPANY_ID": 1, "REQUEST_TOKEN": 1, "ERP_ID": 1,
		"COMPANY_ID_1": 1, "REQUEST_TOKEN_1": 1, "ERP_ID_1": 1, "COMPANY_ID_2": 1, "REQUEST_TOKEN_2": 1} {
		if len(vars[k]) != n {
			cancel()
			t.Fatalf("%s printed %d times, want %d: %v", k, len(vars[k]), n, vars)
		}
	}
	if vars["COMPANY_ID"][0] != vars["COMPANY_ID_1"][0] || vars["ERP_ID"][0] != vars["ERP_ID_1"][0] || vars["COMPANY_ID_1"][0] == vars["COMPANY_ID_2"][0] {
		cancel()
		t.Fatalf("printed credentials %v", vars)
	}
	// The second company's token, through the shared app.
	resp, err := http.PostForm(vars["CONCUR_URL"][0]+"/oauth2/v0/token", url.Values{
		"client_id": {vars["CLIENT_ID"][0]}, "client_secret": {vars["CLIENT_SECRET"][0]}, "grant_type": {"password"},
		"username": {vars["COMPANY_ID_2"][0]}, "password": {vars["REQUEST_TOKEN_2"][0]}, "credtype": {"authtoken"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, vars["CONCUR_URL"][0]+"/accountingintegration/v4/companies/"+vars["COMPANY_ID_2"][0]+"/erps/"+vars["ERP_ID_2"][0]+"/accounts", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET accounts with the printed credentials: %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sandbox verb did not stop")
	}
}

func TestSandboxVerbRefusesNonLoopback(t *testing.T) {
	app := &cli.App{Name: "concurflow", Writer: io.Discard, Commands: []*cli.Command{sandboxCommand()}}
	err := app.Run([]string{"concurflow", "sandbox", "--addr", "0.0.0.0:8089"})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err = %v", err)
	}
}
