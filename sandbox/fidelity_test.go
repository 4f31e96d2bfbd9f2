package sandbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/concurflow/concurflow/concur/ess"
	"github.com/concurflow/concurflow/sandbox"
)

// rateLimitSample returns the headers and body of the "Rate Limit Error"
// the List Item Bulk page shows, the only rate-limited answer the reference
// pages print.
func rateLimitSample(t *testing.T) (headers string, body []byte) {
	t.Helper()
	path := filepath.Join("..", "..", "shared", "reference", "concur", "list-item", "v4.list-item-bulk.markdown")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("reference page not available: %v", err)
	}
	_, rest, ok := strings.Cut(string(b), "**Rate Limit Error**")
	if !ok {
		t.Fatal("the List Item Bulk page has no Rate Limit Error")
	}
	_, rest, _ = strings.Cut(rest, "```shell")
	headers, rest, _ = strings.Cut(rest, "```")
	_, rest, _ = strings.Cut(rest, "```json")
	js, _, _ := strings.Cut(rest, "```")
	return headers, []byte(js)
}

// expectRateLimited checks a rate-limited answer against the documented
// one: status 429, a retry-after header (here with the wanted seconds) and
// the documented body, member for member, its timestamp and path those of
// the call.
func expectRateLimited(t *testing.T, r response, path, retryAfter string) {
	t.Helper()
	headers, sample := rateLimitSample(t)
	if !strings.Contains(headers, "HTTP/1.1 429") || !strings.Contains(headers, "retry-after:") {
		t.Fatalf("the documented rate-limit answer changed: %s", headers)
	}
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", r.status, r.body)
	}
	if got := r.header.Get("Retry-After"); got != retryAfter {
		t.Errorf("retry-after %q, want %q", got, retryAfter)
	}
	var doc, got map[string]any
	if err := json.Unmarshal(sample, &doc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	if got["path"] != path {
		t.Errorf("path %v, want %s", got["path"], path)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000-07:00", got["timestamp"].(string)); err != nil {
		t.Errorf("timestamp: %v", err)
	}
	doc["timestamp"], doc["path"] = got["timestamp"], got["path"]
	want, _ := json.Marshal(doc)
	if diffs := compareJSON(want, r.body, true); len(diffs) > 0 {
		t.Errorf("rate-limited body differs from the List Item Bulk page's: %v\n%s", diffs, r.body)
	}
}

// TestRateLimitAnswerAsDocumented: a call over a documented limit is
// answered as the List Item Bulk page's Rate Limit Error: 429,
// retry-after, {"timestamp","httpStatus","error":{"id","message"},"path"}.
// Retry-After counts the whole seconds until a call is allowed, rounded up.
func TestRateLimitAnswerAsDocumented(t *testing.T) {
	e := newEnv(t)
	path := "/accountingintegration/v4/companies/" + e.co.ID + "/erps/" + e.erp + "/accounts"
	expect(t, e.do(http.MethodPatch, e.api("/accounts"), docExample(t, accountPage, 0)), http.StatusAccepted)
	expectRateLimited(t, e.do(http.MethodPatch, e.api("/accounts"), docExample(t, accountPage, 0)), path, "1")

	// Registration: once every minute.
	erps := e.srv.URL() + "/accountingintegration/v4/companies/" + e.co.ID + "/erps"
	expect(t, e.do(http.MethodPost, erps, docExample(t, registrationPage, 0)), http.StatusOK)
	e.clock.Advance(20*time.Second + time.Millisecond)
	expectRateLimited(t, e.do(http.MethodPost, erps, docExample(t, registrationPage, 0)), strings.TrimPrefix(erps, e.srv.URL()), "40")
}

// TestRateLimitForms: the other forms stay selectable.
func TestRateLimitForms(t *testing.T) {
	t.Run("400", func(t *testing.T) {
		e := newEnv(t, sandbox.WithRateLimitForm(sandbox.RateLimit400))
		e.patch("lists", `{"data":[]}`)
		r := e.do(http.MethodPatch, e.api("/lists"), `{"data":[]}`)
		expect(t, r, http.StatusBadRequest)
		if id := r.json(t)["error"].(map[string]any)["id"]; id != "security.rate.limit.reached" || r.header.Get("Retry-After") != "1" {
			t.Fatalf("body %s, retry-after %q", r.body, r.header.Get("Retry-After"))
		}
	})
	t.Run("429 ErrorMessage", func(t *testing.T) {
		e := newEnv(t, sandbox.WithRateLimitForm(sandbox.RateLimit429ErrorMessage))
		e.patch("lists", `{"data":[]}`)
		r := e.do(http.MethodPatch, e.api("/lists"), `{"data":[]}`)
		if m := expectError(t, r, http.StatusTooManyRequests); m["errorCode"] != "security.rate.limit.reached" || r.header.Get("Retry-After") != "1" {
			t.Fatalf("body %s, retry-after %q", r.body, r.header.Get("Retry-After"))
		}
	})
}

// TestRateLimitScope: "This endpoint can be called once per second" limits
// calls to each endpoint (one method on one company's ERP path): POST and
// PUT …/taxData are separate endpoints, each with its own Limitations
// entry; every call counts whatever its answer; a call the limit refused
// does not; another ERP is another path.
func TestRateLimitScope(t *testing.T) {
	t.Run("POST and PUT taxData are two endpoints", func(t *testing.T) {
		e := newEnv(t)
		expect(t, e.do(http.MethodPost, e.api("/taxData"), docExample(t, taxPage, 0)), http.StatusAccepted)
		expect(t, e.do(http.MethodPut, e.api("/taxData"), docExample(t, taxPage, 0)), http.StatusAccepted)
		expect(t, e.do(http.MethodPost, e.api("/taxData"), docExample(t, taxPage, 0)), http.StatusTooManyRequests)
		expect(t, e.do(http.MethodPut, e.api("/taxData"), docExample(t, taxPage, 0)), http.StatusTooManyRequests)
	})
	t.Run("a refused call counts", func(t *testing.T) {
		e := newEnv(t)
		expectError(t, e.do(http.MethodPatch, e.api("/accounts"), `{"data":[`), http.StatusBadRequest)
		expect(t, e.do(http.MethodPatch, e.api("/accounts"), docExample(t, accountPage, 0)), http.StatusTooManyRequests)
		e.clock.Advance(time.Second)
		key := uuid.NewString()
		e.patch("accounts", docExample(t, accountPage, 0), "If-None-Match", key)
		e.clock.Advance(time.Second)
		expectError(t, e.do(http.MethodPatch, e.api("/accounts"), docExample(t, accountPage, 0), "If-None-Match", key), http.StatusPreconditionFailed)
		expect(t, e.do(http.MethodPatch, e.api("/accounts"), docExample(t, accountPage, 0)), http.StatusTooManyRequests)
	})
	t.Run("a rate-limited call does not count", func(t *testing.T) {
		e := newEnv(t)
		e.patch("vendors", `{"data":[]}`)
		e.clock.Advance(900 * time.Millisecond)
		expect(t, e.do(http.MethodPatch, e.api("/vendors"), `{"data":[]}`), http.StatusTooManyRequests)
		e.clock.Advance(100 * time.Millisecond)
		e.patch("vendors", `{"data":[]}`)
	})
	t.Run("another ERP is another endpoint", func(t *testing.T) {
		e := newEnv(t)
		other, err := e.srv.RegisterERP(e.co.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.patch("lists", `{"data":[]}`)
		u := e.srv.URL() + "/accountingintegration/v4/companies/" + e.co.ID + "/erps/" + other + "/lists"
		expect(t, e.do(http.MethodPatch, u, `{"data":[]}`), http.StatusAccepted)
	})
}

// TestNoStatusUpdatedForTaxData: the Events page publishes
// data.statusUpdated for "the PATCH action of the Accounts, List Names and
// Vendors APIs"; the Tax Data page documents no event of its own. A tax-data
// request completes (its status is read with GET …/requests/{id}) without
// an event; the PATCH sent after it gets its event.
func TestNoStatusUpdatedForTaxData(t *testing.T) {
	e := newEnv(t, sandbox.WithRateLimit(false))
	rc := newReceiver(t, e.srv)
	e.srv.Subscribe(e.co.ID, rc.srv.URL)
	post := e.do(http.MethodPost, e.api("/taxData"), docExample(t, taxPage, 0))
	expect(t, post, http.StatusAccepted)
	put := e.do(http.MethodPut, e.api("/taxData"), docExample(t, taxPage, 0))
	expect(t, put, http.StatusAccepted)
	acct := e.patch("accounts", docExample(t, accountPage, 0))
	e.settle()
	for _, r := range []response{post, put} {
		if s := e.status(r.json(t)["requestId"].(string)); s != sandbox.StatusSuccess {
			t.Fatalf("tax data request %s", s)
		}
	}
	evs := rc.byType(ess.EventDataStatusUpdated)
	if len(evs) != 1 {
		t.Fatalf("%d data.statusUpdated events, want 1 (the accounts PATCH only)", len(evs))
	}
	if st, err := evs[0].StatusUpdate(); err != nil || st.RequestID != acct {
		t.Fatalf("event for %+v (%v), want request %s", st, err, acct)
	}
}

// TestRequestErrorsOnlyUnderERP: the Request page and the swagger document
// GET /v4/companies/{companyId}/erps/{erpId}/requests/{requestId}/errors
// only. The ERP-less href of the data.statusUpdated sample is not served.
func TestRequestErrorsOnlyUnderERP(t *testing.T) {
	e := newEnv(t)
	id := e.patch("accounts", `{"data":[{"id":"1"}]}`)
	e.settle()
	expect(t, e.do(http.MethodGet, e.api("/requests/"+id+"/errors"), nil), http.StatusOK)
	m := expectError(t, e.do(http.MethodGet, e.srv.URL()+"/accountingintegration/v4/companies/"+e.co.ID+"/requests/"+id+"/errors", nil), http.StatusNotFound)
	if m["errorCode"] != "notFound" {
		t.Fatalf("ERP-less path: %v", m)
	}
}

// TestSubscriptionURLsValidated: ESS delivers to HTTPS endpoints (the Event
// Subscription Service page: "Your HTTPS server endpoint must be accessible
// from the public web"); the sandbox also takes plain http to a loopback
// host. Anything else, credentials in the URL, a fragment or an unknown
// company is refused: 400 from the admin API (raw JSON bodies), an error
// from AddSubscription, a panic from Subscribe.
func TestSubscriptionURLsValidated(t *testing.T) {
	e := newEnv(t)
	admin := e.srv.URL() + "/sandbox/v1/subscriptions"
	for _, c := range []struct {
		body   string
		status int
	}{
		// The Subscription Management page's example endpoint.
		{`{"url":"https://www.concuress.com/sub/my-valid-endpoint"}`, http.StatusCreated},
		{`{"companyId":"` + strings.ToUpper(e.co.ID) + `","url":"http://127.0.0.1:9/concur/events"}`, http.StatusCreated},
		{`{"url":"http://[::1]:9/hook"}`, http.StatusCreated},
		{`{"url":"http://localhost:9/hook"}`, http.StatusCreated},
		{`{"url":"http://www.concuress.com/sub/my-valid-endpoint"}`, http.StatusBadRequest},
		{`{"url":"ftp://127.0.0.1/hook"}`, http.StatusBadRequest},
		{`{"url":"/concur/events"}`, http.StatusBadRequest},
		{`{"url":"127.0.0.1:9/hook"}`, http.StatusBadRequest},
		{`{"url":"https://"}`, http.StatusBadRequest},
		{`{"url":"https://user:secret@www.concuress.com/sub"}`, http.StatusBadRequest},
		{`{"url":"https://www.concuress.com/sub#x"}`, http.StatusBadRequest},
		{`{"url":"https://www.concuress.com/sub","companyId":"` + uuid.NewString() + `"}`, http.StatusBadRequest},
		{`{"url":"https://www.concuress.com/sub","companyId":"not-a-company"}`, http.StatusBadRequest},
	} {
		resp, err := http.Post(admin, "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.body, resp.StatusCode, c.status)
		}
	}
	if n := len(e.srv.Subscriptions()); n != 4 {
		t.Errorf("%d subscriptions, want the 4 valid ones", n)
	}
	if subs := e.srv.Subscriptions(); len(subs) > 1 && subs[1].CompanyID != e.co.ID {
		t.Errorf("company id stored as %q", subs[1].CompanyID)
	}
	if _, err := e.srv.AddSubscription("", "http://example.com/hook"); err == nil {
		t.Error("AddSubscription took plain http to a public host")
	}
	defer func() {
		if recover() == nil {
			t.Error("Subscribe did not panic on an invalid URL")
		}
	}()
	e.srv.Subscribe("", "not a url")
}

// TestProcessingTimeByDefault: with no option, an accepted request is
// still PROCESSING when its status is read right after the 202, as against
// Concur, and reaches its final status later.
func TestProcessingTimeByDefault(t *testing.T) {
	srv := sandbox.New(t, sandbox.WithSigningKey(testKey()))
	co, err := srv.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	erp, err := srv.RegisterERP(co.ID)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, co: co, erp: erp}
	e.token = e.passwordGrant(co).AccessToken
	id := e.patch("accounts", docExample(t, accountPage, 0))
	if s := e.status(id); s != sandbox.StatusProcessing {
		t.Fatalf("status right after the 202: %s, want PROCESSING", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if s := e.status(id); s != sandbox.StatusSuccess {
		t.Fatalf("status after processing: %s", s)
	}
}

// TestProcessingTimeGrowsWithRecords: a request of many records is due
// later than a small one accepted after it (on another ERP, so arrival
// order does not tie them): the small one finishes while the large one is
// still PROCESSING. With WithProcessingDelay(0) both finish at once.
func TestProcessingTimeGrowsWithRecords(t *testing.T) {
	e := newEnv(t, sandbox.WithProcessingTime(0, 5*time.Millisecond), sandbox.WithRateLimit(false))
	other, err := e.srv.RegisterERP(e.co.ID)
	if err != nil {
		t.Fatal(err)
	}
	var big strings.Builder
	big.WriteString(`{"data":[`)
	for i := range 2000 { // due 10 s after acceptance
		if i > 0 {
			big.WriteByte(',')
		}
		big.WriteString(`{"id":"` + strconv.Itoa(i) + `","name":"A","type":"EXPENSE"}`)
	}
	big.WriteString(`]}`)
	bigID := e.patch("accounts", big.String())
	small := e.do(http.MethodPatch, e.srv.URL()+"/accountingintegration/v4/companies/"+e.co.ID+"/erps/"+other+"/accounts", `{"data":[{"id":"1","name":"A","type":"EXPENSE"}]}`)
	expect(t, small, http.StatusAccepted)
	smallID := small.json(t)["requestId"].(string)
	deadline := time.Now().Add(5 * time.Second)
	for {
		reqs, _ := e.srv.Requests(e.co.ID, other)
		if len(reqs) == 1 && reqs[0].ID == smallID && reqs[0].Status == sandbox.StatusSuccess {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the one-record request did not finish: %+v", reqs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s := e.status(bigID); s != sandbox.StatusProcessing {
		t.Fatalf("the 2000-record request is %s when the 1-record one finished", s)
	}
}

// TestUpdateERPEmptyListsClear: "If you are updating features you need to
// include ALL the active flags" (Registration page), so an update with
// "features": [] switches the last feature off, and "postingOptions": []
// removes every posting option.
func TestUpdateERPEmptyListsClear(t *testing.T) {
	e := newEnv(t)
	expect(t, e.do(http.MethodPatch, e.api(""), docExample(t, registrationPage, 2)), http.StatusOK)
	r := e.do(http.MethodPatch, e.api(""), `{"features":[]}`)
	expect(t, r, http.StatusOK)
	got := r.json(t)
	if f, _ := got["features"].([]any); f == nil || len(f) != 0 {
		t.Fatalf("features after features: []: %s", r.body)
	}
	if p, _ := got["postingOptions"].([]any); len(p) == 0 {
		t.Fatalf("postingOptions dropped by a features-only update: %s", r.body)
	}
	r = e.do(http.MethodPatch, e.api(""), `{"postingOptions":[]}`)
	expect(t, r, http.StatusOK)
	if p, ok := r.json(t)["postingOptions"].([]any); ok && len(p) != 0 {
		t.Fatalf("postingOptions after postingOptions: []: %s", r.body)
	}
}
