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

// startSandboxVerb runs the sandbox verb with extra flags and returns the
// first company's API base for its ERP and an access token.
func startSandboxVerb(t *testing.T, flags ...string) (erpAPI, token string) {
	t.Helper()
	pr, pw := io.Pipe()
	app := &cli.App{Name: "concurflow", Writer: pw, Commands: []*cli.Command{sandboxCommand()}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.RunContext(ctx, append([]string{"concurflow", "sandbox", "--addr", "127.0.0.1:0"}, flags...))
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	vars := map[string]string{}
	sc := bufio.NewScanner(pr)
	for vars["ERP_ID"] == "" && sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok && strings.HasPrefix(sc.Text(), "export ") {
			vars[k] = v
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if vars["ERP_ID"] == "" {
		t.Fatalf("no credentials printed: %v", vars)
	}
	resp, err := http.PostForm(vars["CONCUR_URL"]+"/oauth2/v0/token", url.Values{
		"client_id": {vars["CLIENT_ID"]}, "client_secret": {vars["CLIENT_SECRET"]}, "grant_type": {"password"},
		"username": {vars["COMPANY_ID"]}, "password": {vars["REQUEST_TOKEN"]}, "credtype": {"authtoken"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		t.Fatal(err)
	}
	return vars["CONCUR_URL"] + "/accountingintegration/v4/companies/" + vars["COMPANY_ID"] + "/erps/" + vars["ERP_ID"], tok.AccessToken
}

// apiCall sends one API request and decodes the JSON answer.
func apiCall(t *testing.T, method, u, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// TestSandboxVerbProcessingFlags: --processing-delay alone is the whole
// processing time: 0s processes at once, a long one keeps the request
// PROCESSING.
func TestSandboxVerbProcessingFlags(t *testing.T) {
	const body = `{"data":[{"id":"1","name":"Bank","type":"BANK"}]}`
	slow, slowToken := startSandboxVerb(t, "--processing-delay", "10m")
	status, m := apiCall(t, http.MethodPatch, slow+"/accounts", slowToken, body)
	if status != http.StatusAccepted {
		t.Fatalf("PATCH: %d %v", status, m)
	}
	if _, st := apiCall(t, http.MethodGet, slow+"/requests/"+m["requestId"].(string), slowToken, ""); st["status"] != "PROCESSING" {
		t.Fatalf("with --processing-delay 10m: %v", st)
	}

	fast, fastToken := startSandboxVerb(t, "--processing-delay", "0s")
	status, m = apiCall(t, http.MethodPatch, fast+"/accounts", fastToken, body)
	if status != http.StatusAccepted {
		t.Fatalf("PATCH: %d %v", status, m)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, st := apiCall(t, http.MethodGet, fast+"/requests/"+m["requestId"].(string), fastToken, "")
		if st["status"] == "SUCCESS" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with --processing-delay 0s the request is still %v", st["status"])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSandboxVerbRateLimitForms: the documented 429 by default, the other
// forms on request, anything else refused.
func TestSandboxVerbRateLimitForms(t *testing.T) {
	for form, want := range map[string]int{"": http.StatusTooManyRequests, "429": http.StatusTooManyRequests, "400": http.StatusBadRequest, "429-errormessage": http.StatusTooManyRequests} {
		flags := []string{"--processing-delay", "0s"}
		if form != "" {
			flags = append(flags, "--rate-limit-form", form)
		}
		api, token := startSandboxVerb(t, flags...)
		apiCall(t, http.MethodPatch, api+"/lists", token, `{"data":[]}`)
		status, m := apiCall(t, http.MethodPatch, api+"/lists", token, `{"data":[]}`)
		_, gateway := m["error"].(map[string]any)
		if status != want || gateway != (form != "429-errormessage") {
			t.Errorf("--rate-limit-form %q: %d %v", form, status, m)
		}
	}
	app := &cli.App{Name: "concurflow", Writer: io.Discard, Commands: []*cli.Command{sandboxCommand()}}
	err := app.Run([]string{"concurflow", "sandbox", "--addr", "127.0.0.1:0", "--rate-limit-form", "418"})
	if err == nil || !strings.Contains(err.Error(), "429-errormessage") {
		t.Errorf("bad --rate-limit-form: %v", err)
	}
}
