package sandbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/concurflow/concurflow/concur/ess"
	"github.com/concurflow/concurflow/sandbox"
)

func TestFaultInjection(t *testing.T) {
	e := newEnv(t, sandbox.WithRateLimit(false))
	u := e.api("/accounts")
	if err := e.srv.InjectFault(sandbox.Fault{Endpoint: sandbox.EndpointAccounts, Method: "GET", Kind: sandbox.FaultServerError, Count: 2}); err != nil {
		t.Fatal(err)
	}
	expect(t, e.do(http.MethodPatch, u, `{"data":[]}`), http.StatusAccepted) // other method unaffected
	expectError(t, e.do(http.MethodGet, u, nil), 500)
	expectError(t, e.do(http.MethodGet, u, nil), 500)
	expect(t, e.do(http.MethodGet, u, nil), 200)

	if err := e.srv.InjectFault(sandbox.Fault{Endpoint: sandbox.EndpointToken, Kind: sandbox.FaultRateLimit}); err != nil {
		t.Fatal(err)
	}
	// The gateway answers before the token endpoint: its rate-limit body,
	// not an OAuth2 error.
	resp, err := http.PostForm(e.srv.URL()+"/oauth2/v0/token", passwordForm(e.co))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("token endpoint answered %d, retry-after %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	if err := e.srv.InjectFault(sandbox.Fault{Endpoint: sandbox.EndpointVendors, Kind: sandbox.FaultReset}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.api("/vendors"), nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	// A fresh connection: Go's transport silently retries idempotent
	// requests whose reused connection breaks.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := fresh.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("reset fault answered %d", resp.StatusCode)
	}

	if err := e.srv.InjectFault(sandbox.Fault{Kind: sandbox.FaultSlow, Delay: 30 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	expect(t, e.do(http.MethodGet, e.api("/lists"), nil), 200)
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("slow fault did not delay")
	}
	if err := e.srv.InjectFault(sandbox.Fault{Kind: "explode"}); err == nil {
		t.Fatal("unknown fault kind accepted")
	}
	var statuses []int
	for _, l := range e.srv.RequestLog() {
		statuses = append(statuses, l.Status)
	}
	if !strings.Contains(jsonString(t, statuses), "500,500,200") {
		t.Fatalf("request log statuses %v", statuses)
	}
}

func jsonString(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAdminAPI(t *testing.T) {
	srv := newServer(t)
	admin := srv.URL() + "/sandbox/v1"
	r := doRequest(t, http.MethodPost, admin+"/companies", "", `{"companyEdition":"STANDARD"}`)
	expect(t, r, http.StatusCreated)
	var co sandbox.Company
	if err := json.Unmarshal(r.body, &co); err != nil || co.ID == "" || co.RequestToken == "" || co.Edition != "STANDARD" {
		t.Fatalf("seeded %s", r.body)
	}
	r = doRequest(t, http.MethodPost, admin+"/companies/"+co.ID+"/erps", "", nil)
	expect(t, r, http.StatusCreated)
	erp := r.json(t)["erpId"].(string)

	e := &env{t: t, srv: srv, co: co, erp: erp}
	e.token = e.passwordGrant(co).AccessToken
	e.patch("accounts", `{"data":[{"id":"1","name":"Bank","type":"BANK"}]}`, "If-None-Match", "3f1508be-9b55-400f-8bac-475015567a52")
	if err := srv.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}

	base := admin + "/companies/" + co.ID + "/erps/" + erp
	r = doRequest(t, http.MethodGet, base+"/accounts", "", nil)
	expect(t, r, 200)
	if !strings.Contains(string(r.body), `"id":"1"`) {
		t.Fatalf("admin accounts %s", r.body)
	}
	r = doRequest(t, http.MethodGet, base+"/requests", "", nil)
	expect(t, r, 200)
	if !strings.Contains(string(r.body), `"status":"SUCCESS"`) || !strings.Contains(string(r.body), `"ifNoneMatch":"3f1508be-9b55-400f-8bac-475015567a52"`) {
		t.Fatalf("admin requests %s", r.body)
	}
	r = doRequest(t, http.MethodGet, admin+"/log", "", nil)
	if !strings.Contains(string(r.body), `"status":202`) {
		t.Fatalf("log %s", r.body)
	}

	rc := newReceiver(t, srv)
	r = doRequest(t, http.MethodPost, admin+"/subscriptions", "", map[string]string{"companyId": co.ID, "url": rc.srv.URL})
	expect(t, r, http.StatusCreated)
	subID := r.json(t)["id"].(string)
	expect(t, doRequest(t, http.MethodPost, base+"/listMappings", "", `{"erpListId":"L1","concurListId":"C1"}`), http.StatusCreated)
	expect(t, doRequest(t, http.MethodPatch, base+"/mappings", "", `{"billableField":{"formTypeCode":"allocation","alternateFieldId":"custom1"}}`), http.StatusOK)
	expect(t, doRequest(t, http.MethodPost, base+"/reset", "", `{"accountingObjects":["VENDOR"]}`), http.StatusAccepted)
	expect(t, doRequest(t, http.MethodDelete, base+"/listMappings/L1", "", nil), http.StatusNoContent)
	expectError(t, doRequest(t, http.MethodDelete, base+"/listMappings/L1", "", nil), http.StatusNotFound)
	if err := srv.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(rc.byType(ess.EventMappingUpdated)); n != 3 {
		t.Fatalf("%d mapping.updated", n)
	}
	r = doRequest(t, http.MethodGet, admin+"/deliveries", "", nil)
	if !strings.Contains(string(r.body), `"statusCode":200`) {
		t.Fatalf("deliveries %s", r.body)
	}
	expect(t, doRequest(t, http.MethodDelete, admin+"/subscriptions/"+subID, "", nil), http.StatusNoContent)
	if len(srv.Subscriptions()) != 0 {
		t.Fatal("subscription not removed")
	}

	r = doRequest(t, http.MethodPost, admin+"/faults", "", `{"endpoint":"accounts","kind":"server_error","count":1}`)
	expect(t, r, http.StatusNoContent)
	expectError(t, e.do(http.MethodGet, e.api("/accounts"), nil), 500)

	expect(t, doRequest(t, http.MethodPost, admin+"/companies/"+co.ID+"/revokeTokens", "", nil), http.StatusNoContent)
	expectError(t, e.do(http.MethodGet, e.api("/accounts"), nil), 401)

	r = doRequest(t, http.MethodGet, admin+"/signingKey", "", nil)
	if _, err := ess.ParsePublicKeysPEM(r.body); err != nil {
		t.Fatalf("signing key: %v", err)
	}
}

func TestCloseStopsEveryGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		srv, err := sandbox.Start(sandbox.WithSigningKey(testKey()), sandbox.WithProcessingDelay(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		co, _ := srv.SeedCompany()
		erp, _ := srv.RegisterERP(co.ID)
		e := &env{t: t, srv: srv, co: co, erp: erp}
		e.token = e.passwordGrant(co).AccessToken
		e.patch("accounts", `{"data":[]}`) // its worker waits an hour
		srv.Close()
		srv.Close()
	}
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestStartRefusesNonLoopbackAddress(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "10.1.2.3:0", ":0", "example.com:80", "nonsense"} {
		if srv, err := sandbox.Start(sandbox.WithAddr(addr)); err == nil {
			srv.Close()
			t.Fatalf("Start(%q) succeeded", addr)
		}
	}
}
