package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/concurflow/concurflow/sandbox"
)

const (
	accountPage = "v4.accountingintegration-account.markdown"
	vendorPage  = "v4.accountingintegration-vendor.markdown"
	listPage    = "v4.accountingintegration-list.markdown"
	taxPage     = "v4.accountingintegration-taxData.markdown"
)

func TestPatchAccountsDocExamplesEndToEnd(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodPatch, e.api("/accounts"), docExample(t, accountPage, 0))
	expect(t, r, http.StatusAccepted)
	accepted := r.json(t)
	id := accepted["requestId"].(string)
	if accepted["status"] != "PROCESSING" {
		t.Fatalf("202 body %s", r.body)
	}
	links := accepted["links"].(map[string]any)
	self := "/v4/companies/" + e.co.ID + "/erps/" + e.erp + "/requests/" + id
	if links["self"].(map[string]any)["href"] != self || links["errors"].(map[string]any)["href"] != self+"/errors" {
		t.Fatalf("links %v", links)
	}
	e.settle()

	st := e.do(http.MethodGet, e.api("/requests/"+id), nil)
	expect(t, st, http.StatusOK)
	if m := st.json(t); m["status"] != "SUCCESS" || m["_links"] == nil {
		t.Fatalf("status body %s", st.body)
	}
	e.patch("accounts", docExample(t, accountPage, 1))
	e.settle()

	got := e.getAll("accounts")
	if want := []string{"002", "003", "004", "005", "006"}; !slices.Equal(ids(got), want) {
		t.Fatalf("accounts %v, want %v", ids(got), want)
	}
	if v, ok := got[0]["number"]; !ok || v != nil {
		t.Fatalf("absent number should read as null: %v", got[0])
	}
}

func TestPatchFinalStatusAndProcessingErrors(t *testing.T) {
	e := newEnv(t)
	id := e.patch("accounts", `{"data":[{"id":"1","name":"Bank","type":"BANK"},{"id":"2","name":"No type"},{"id":"3","name":"Bad","type":"NOPE"}]}`)
	e.settle()
	if s := e.status(id); s != "PARTIAL" {
		t.Fatalf("status %s, want PARTIAL", s)
	}
	r := e.do(http.MethodGet, e.api("/requests/"+id+"/errors"), nil)
	expect(t, r, http.StatusOK)
	var page struct {
		Data []struct {
			CompanyID        string                    `json:"companyId"`
			RequestID        string                    `json:"requestId"`
			ErrorCode        string                    `json:"errorCode"`
			ErrorMessage     string                    `json:"errorMessage"`
			ObjectType       string                    `json:"objectType"`
			Values           string                    `json:"values"`
			ValidationErrors []sandbox.ValidationError `json:"validationErrors"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 2 {
		t.Fatalf("errors %s", r.body)
	}
	pe := page.Data[0]
	if pe.CompanyID != e.co.ID || pe.RequestID != id || pe.ObjectType != "ACCOUNT" ||
		pe.ErrorCode != "dataInvalid.requestIdProcessingErrors" || pe.Values != `{"id":"2","name":"No type"}` ||
		len(pe.ValidationErrors) == 0 || pe.ValidationErrors[0].Source != "type" {
		t.Fatalf("processing error %+v", pe)
	}
	if got := ids(e.getAll("accounts")); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("accounts %v", got)
	}

	all := e.patch("lists", `{"data":[{"id":"x"},{"name":"no id"}]}`)
	ok := e.patch("vendors", `{"data":[]}`)
	e.settle()
	if s := e.status(all); s != "ERROR" {
		t.Fatalf("all records failed: status %s", s)
	}
	if s := e.status(ok); s != "SUCCESS" {
		t.Fatalf("empty data: status %s", s)
	}
}

func TestVendorTypeCannotBeUpdated(t *testing.T) {
	e := newEnv(t)
	e.patch("vendors", docExample(t, vendorPage, 0))
	e.settle()
	id := e.patch("vendors", `{"data":[{"id":"1","type":"ACCOUNTING","currencyCode":"USD","name":"Joe J","companyName":"SAP"}]}`)
	e.settle()
	errs, err := e.srv.RequestErrors(e.co.ID, e.erp, id)
	if err != nil || len(errs) != 1 {
		t.Fatalf("errors %v %v", errs, err)
	}
	var pe struct {
		ValidationErrors []sandbox.ValidationError `json:"validationErrors"`
	}
	_ = json.Unmarshal(errs[0], &pe)
	want := sandbox.ValidationError{Source: "type", ErrorMessage: "Type cannot be updated for vendors", ErrorCode: "type.cannot.update"}
	if len(pe.ValidationErrors) != 1 || pe.ValidationErrors[0] != want {
		t.Fatalf("validation errors %+v", pe.ValidationErrors)
	}
	for _, v := range e.getAll("vendors") {
		if v["id"] == "1" && v["type"] != "EMPLOYEE" {
			t.Fatalf("vendor type changed: %v", v)
		}
	}
}

func TestRecordOver200KBFailsAlone(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("x", 200<<10)
	body := fmt.Sprintf(`{"data":[{"id":"big","name":%q,"type":"BANK"},{"id":"small","name":"ok","type":"BANK"}]}`, big)
	id := e.patch("accounts", body)
	e.settle()
	if s := e.status(id); s != "PARTIAL" {
		t.Fatalf("status %s", s)
	}
	if got := ids(e.getAll("accounts")); !slices.Equal(got, []string{"small"}) {
		t.Fatalf("accounts %v", got)
	}
	errs, _ := e.srv.RequestErrors(e.co.ID, e.erp, id)
	if len(errs) != 1 || !strings.Contains(string(errs[0]), "record.size.exceeded") {
		t.Fatalf("errors %s", errs)
	}
}

func TestBodyOver4MBIsRejected(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString(`{"data":[`)
	for i := 0; b.Len() <= 4<<20; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"%d","name":"%s","type":"BANK"}`, i, strings.Repeat("n", 100))
	}
	b.WriteString(`]}`)
	expectError(t, e.do(http.MethodPatch, e.api("/accounts"), b.String()), http.StatusRequestEntityTooLarge)
	if reqs, _ := e.srv.Requests(e.co.ID, e.erp); len(reqs) != 0 {
		t.Fatalf("an oversized request was accepted: %+v", reqs)
	}
}

func TestPatchRateLimitPerEndpoint(t *testing.T) {
	t.Run("429", func(t *testing.T) {
		e := newEnv(t)
		e.patch("accounts", `{"data":[]}`)
		r := e.do(http.MethodPatch, e.api("/accounts"), `{"data":[]}`)
		expect(t, r, http.StatusTooManyRequests)
		if id := r.json(t)["error"].(map[string]any)["id"]; id != "security.rate.limit.reached" {
			t.Fatalf("body %s", r.body)
		}
		e.patch("vendors", `{"data":[]}`) // another endpoint has its own budget
		e.clock.Advance(time.Second)
		e.patch("accounts", `{"data":[]}`)
	})
	t.Run("400 form", func(t *testing.T) {
		e := newEnv(t, sandbox.WithRateLimitForm(sandbox.RateLimit400))
		e.patch("lists", `{"data":[]}`)
		r := e.do(http.MethodPatch, e.api("/lists"), `{"data":[]}`)
		expect(t, r, http.StatusBadRequest)
		if id := r.json(t)["error"].(map[string]any)["id"]; id != "security.rate.limit.reached" {
			t.Fatalf("body %s", r.body)
		}
	})
	t.Run("slower interval", func(t *testing.T) {
		e := newEnv(t, sandbox.WithWriteInterval(4*time.Second))
		e.patch("accounts", `{"data":[]}`)
		e.clock.Advance(3 * time.Second)
		r := e.do(http.MethodPatch, e.api("/accounts"), `{"data":[]}`)
		expect(t, r, http.StatusTooManyRequests)
		if ra := r.header.Get("Retry-After"); ra != "1" {
			t.Fatalf("Retry-After %q one second before the 4 s interval ends, want 1", ra)
		}
		e.clock.Advance(time.Second)
		e.patch("accounts", `{"data":[]}`)
	})
	t.Run("counted on arrival", func(t *testing.T) {
		// The first call arrives, then waits 2 s inside the server (a
		// slow fault) before its handler runs; the second arrives just
		// after the first was answered. Counted when they arrived they are
		// 2 s apart, more than the 500 ms interval; counted when their
		// handlers ran they would be a few milliseconds apart.
		e := newEnv(t, sandbox.WithClock(time.Now), sandbox.WithWriteInterval(500*time.Millisecond))
		if err := e.srv.InjectFault(sandbox.Fault{Endpoint: sandbox.EndpointAccounts, Method: http.MethodPatch, Kind: sandbox.FaultSlow, Count: 1, Delay: 2 * time.Second}); err != nil {
			t.Fatal(err)
		}
		e.patch("accounts", `{"data":[]}`)
		e.patch("accounts", `{"data":[]}`)
	})
	t.Run("off", func(t *testing.T) {
		e := newEnv(t, sandbox.WithRateLimit(false))
		for range 3 {
			e.patch("accounts", `{"data":[]}`)
		}
	})
}

func TestIfNoneMatchAppliesOnce(t *testing.T) {
	e := newEnv(t)
	key := uuid.NewString()
	e.patch("accounts", `{"data":[{"id":"1","name":"Bank","type":"BANK"}]}`, "If-None-Match", key)
	e.settle()
	e.patch("accounts", `{"data":[{"id":"1","isDeleted":true}]}`)
	e.settle()
	m := expectError(t, e.do(http.MethodPatch, e.api("/accounts"), `{"data":[{"id":"1","name":"Bank","type":"BANK"}]}`, "If-None-Match", key), http.StatusPreconditionFailed)
	if m["errorCode"] == "" {
		t.Fatal("no errorCode")
	}
	e.settle()
	if got := e.getAll("accounts"); len(got) != 0 {
		t.Fatalf("the repeated request was applied: %v", got)
	}
	expectError(t, e.do(http.MethodPatch, e.api("/accounts"), `{"data":[]}`, "If-None-Match", "not-a-uuid"), http.StatusBadRequest)
	log := e.srv.RequestLog()
	var seen []int
	for _, l := range log {
		if l.IfNoneMatch == key {
			seen = append(seen, l.Status)
		}
	}
	if !slices.Equal(seen, []int{202, 412}) {
		t.Fatalf("request log for the key: %v", seen)
	}
}

func TestListDeletionAndMappings(t *testing.T) {
	e := newEnv(t)
	e.patch("lists", docExample(t, listPage, 0))
	e.settle()
	for _, id := range []string{"1", "2"} {
		if err := e.srv.MapList(e.co.ID, e.erp, sandbox.ListMapping{ERPListID: id, ConcurListID: "c" + id}); err != nil {
			t.Fatal(err)
		}
	}
	// Deleting one list name removes its mapping.
	e.patch("lists", `{"data":[{"id":"1","isDeleted":true}]}`)
	e.settle()
	_, lms, _ := e.srv.CurrentMappings(e.co.ID, e.erp)
	if len(lms) != 1 || lms[0].ERPListID != "2" {
		t.Fatalf("mappings after deleting list 1: %+v", lms)
	}
	// deleteAll keeps mappings.
	e.patch("lists", `{"deleteAll":true}`)
	e.settle()
	_, lms, _ = e.srv.CurrentMappings(e.co.ID, e.erp)
	if len(lms) != 1 || len(e.getAll("lists")) != 0 {
		t.Fatalf("after deleteAll: mappings %+v, lists %v", lms, e.getAll("lists"))
	}
}

func TestEmployeeVendorsExpireAfter150Days(t *testing.T) {
	e := newEnv(t)
	e.patch("vendors", docExample(t, vendorPage, 0)) // employees 1 and 3, accounting 2
	e.settle()
	e.clock.Advance(100 * 24 * time.Hour)
	e.renew()
	e.patch("vendors", `{"data":[{"id":"3","type":"EMPLOYEE","currencyCode":"USD","lastName":"Kevin","firstName":"J","employeeId":"3","email":"KevinJ@sap.com"}]}`)
	e.settle()
	e.clock.Advance(50 * 24 * time.Hour) // vendor 1: 150 days since sent
	e.renew()
	if got := ids(e.getAll("vendors")); !slices.Equal(got, []string{"2", "3"}) {
		t.Fatalf("vendors %v, want 2 and 3", got)
	}
	e.clock.Advance(100 * 24 * time.Hour)
	e.renew()
	if got := ids(e.getAll("vendors")); !slices.Equal(got, []string{"2"}) {
		t.Fatalf("vendors %v, want accounting vendor 2 only", got)
	}
}

func TestGetPagesFollowNextLinks(t *testing.T) {
	e := newEnv(t, sandbox.WithPageSize(2048), sandbox.WithRateLimit(false))
	var b strings.Builder
	b.WriteString(`{"data":[`)
	for i := range 300 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"%04d","name":"Account %d","type":"EXPENSE"}`, i, i)
	}
	b.WriteString(`]}`)
	e.patch("accounts", b.String())
	e.settle()
	first := e.do(http.MethodGet, e.api("/accounts"), nil)
	if len(first.body) > 2048+200 {
		t.Fatalf("first page is %d bytes", len(first.body))
	}
	next := first.json(t)["links"].(map[string]any)["next"].(map[string]any)["href"].(string)
	if !strings.HasPrefix(next, "/accountingintegration/v4/companies/"+e.co.ID+"/erps/"+e.erp+"/accounts?next=") {
		t.Fatalf("next href %q", next)
	}
	got := ids(e.getAll("accounts"))
	if len(got) != 300 || got[0] != "0000" || got[299] != "0299" || !slices.IsSorted(got) {
		t.Fatalf("paged through %d accounts", len(got))
	}
	expectError(t, e.do(http.MethodGet, e.api("/accounts?next=bogus"), nil), http.StatusBadRequest)
}

func TestRequestErrorsPage(t *testing.T) {
	e := newEnv(t, sandbox.WithPageSize(2048))
	var b strings.Builder
	b.WriteString(`{"data":[`)
	for i := range 60 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"%d"}`, i)
	}
	b.WriteString(`]}`)
	id := e.patch("accounts", b.String())
	e.settle()
	u := e.api("/requests/" + id + "/errors")
	total := 0
	for pages := 0; u != ""; pages++ {
		r := e.do(http.MethodGet, u, nil)
		expect(t, r, http.StatusOK)
		m := r.json(t)
		total += len(m["data"].([]any))
		u = ""
		if l, ok := m["_links"].(map[string]any); ok {
			href := l["next"].(map[string]any)["href"].(string)
			if !strings.HasPrefix(href, "/v4/companies/") {
				t.Fatalf("next href %q", href)
			}
			u = e.srv.URL() + "/accountingintegration" + href
		}
		if pages > 100 {
			t.Fatal("pages do not end")
		}
	}
	if total != 60 {
		t.Fatalf("%d errors over all pages, want 60", total)
	}
}

func TestRequestsProcessInArrivalOrderAfterDelay(t *testing.T) {
	e := newEnv(t, sandbox.WithProcessingDelay(50*time.Millisecond), sandbox.WithRateLimit(false))
	first := e.patch("accounts", `{"data":[{"id":"1","name":"A","type":"BANK"}]}`)
	if s := e.status(first); s != "PROCESSING" {
		t.Fatalf("status before the delay %s", s)
	}
	e.patch("accounts", `{"deleteAll":true,"data":[{"id":"2","name":"B","type":"BANK"}]}`)
	e.patch("accounts", `{"data":[{"id":"3","name":"C","type":"BANK"}]}`)
	e.settle()
	if got := ids(e.getAll("accounts")); !slices.Equal(got, []string{"2", "3"}) {
		t.Fatalf("accounts %v", got)
	}
	reqs, _ := e.srv.Requests(e.co.ID, e.erp)
	for i := 1; i < len(reqs); i++ {
		if reqs[i].Completed.Before(reqs[i-1].Completed) {
			t.Fatalf("requests completed out of order: %+v", reqs)
		}
	}
}

func TestMalformedRequestsGetClear4xx(t *testing.T) {
	e := newEnv(t)
	base := e.srv.URL() + "/accountingintegration/v4/companies/"
	cases := []struct {
		name, method, url string
		body              any
		hdr               []string
		status            int
	}{
		{"malformed JSON", "PATCH", e.api("/accounts"), `{"data":[`, nil, 400},
		{"data not array", "PATCH", e.api("/accounts"), `{"data":{}}`, nil, 400},
		{"no data", "PATCH", e.api("/accounts"), `{}`, nil, 400},
		{"wrong content type", "PATCH", e.api("/accounts"), `{"data":[]}`, []string{"Content-Type", "text/plain"}, 415},
		{"company not a UUID", "GET", base + "nope/erps", nil, nil, 400},
		{"ERP not a UUID", "GET", base + e.co.ID + "/erps/nope/accounts", nil, nil, 400},
		{"unknown ERP", "GET", base + e.co.ID + "/erps/" + uuid.NewString() + "/accounts", nil, nil, 404},
		{"unknown request", "GET", e.api("/requests/" + uuid.NewString()), nil, nil, 404},
		{"request not a UUID", "GET", e.api("/requests/nope"), nil, nil, 400},
		{"unknown path", "GET", e.api("/nothing"), nil, nil, 404},
		{"wrong method", "DELETE", e.api("/accounts"), nil, nil, 405},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.clock.Advance(time.Second) // every call to a write endpoint counts against its limit
			expectError(t, e.do(c.method, c.url, c.body, c.hdr...), c.status)
		})
	}
	e.settle()
	if reqs, _ := e.srv.Requests(e.co.ID, e.erp); len(reqs) != 0 {
		t.Fatalf("bad requests were accepted: %+v", reqs)
	}
}

func TestTaxDataAddReplaceGet(t *testing.T) {
	e := newEnv(t)
	tax := e.api("/taxData")
	r := e.do(http.MethodPost, tax, docExample(t, taxPage, 0))
	expect(t, r, http.StatusAccepted)
	id := r.json(t)["requestId"].(string)
	e.settle()
	if s := e.status(id); s != "SUCCESS" {
		t.Fatalf("status %s", s)
	}
	got := e.getAll("taxData")
	if len(got) != 2 || got[0]["countryCode"] != "FR" || got[1]["countryCode"] != "US" {
		t.Fatalf("tax data %v", got)
	}
	// POST adds: a new country joins, an existing one is replaced.
	expect(t, e.do(http.MethodPost, tax, `{"data":[{"countryCode":"DE","stateEntries":[{"reclaimEntries":[{"reclaimCode":"19","reclaimDetails":[{"taxCode":"D19","validFrom":"2020-01-01"}]}]}]}]}`), http.StatusAccepted)
	e.settle()
	if len(e.getAll("taxData")) != 3 {
		t.Fatal("POST did not add")
	}
	// PUT replaces everything.
	expect(t, e.do(http.MethodPut, tax, `{"deleteAll":true}`), http.StatusAccepted)
	e.settle()
	if got := e.getAll("taxData"); len(got) != 0 {
		t.Fatalf("after PUT deleteAll: %v", got)
	}
	// A bad element fails alone.
	r = e.do(http.MethodPost, tax, `{"data":[{"countryCode":"DE","stateEntries":[{"reclaimEntries":[{"reclaimCode":"19","reclaimDetails":[{"taxCode":"D19","validFrom":"2020-01-01"}]}]}]},{"countryCode":"XX"}]}`)
	expect(t, r, http.StatusAccepted)
	e.settle()
	if s := e.status(r.json(t)["requestId"].(string)); s != "PARTIAL" {
		t.Fatalf("status %s", s)
	}
}

func TestRecordsKeepEscapesAndIgnoreUnknownFields(t *testing.T) {
	e := newEnv(t)
	body := "{ \"data\" : [ {\"extra\":{\"a\":[1,{\"b\":\"]}\"}]},\"id\":\"q\\\"1\",\"name\":\"back\\\\slash \\\"quoted\\\" \\u00e9 [x]\",\n\"type\":\"BANK\"} ,\n" +
		"{\"id\":\"v\",\"type\":\"ACCOUNTING\",\"currencyCode\":\"USD\",\"name\":\"n\",\"companyName\":\"c\",\"address\":{\"city\":\"Paris\",\"zip\":\"x\"}} ] , \"deleteAll\" : false }"
	id := e.patch("accounts", body)
	e.settle()
	if s := e.status(id); s != "PARTIAL" { // the vendor-shaped record is no account
		t.Fatalf("status %s", s)
	}
	got := e.getAll("accounts")
	if len(got) != 1 || got[0]["id"] != `q"1` || got[0]["name"] != `back\slash "quoted" é [x]` || len(got[0]) != 4 {
		t.Fatalf("accounts %v", got)
	}
	e.patch("vendors", `{"data":[{"id":"v","type":"ACCOUNTING","currencyCode":"USD","name":"n","companyName":"c","address":{"city":"Paris","zip":"x"}}]}`)
	e.settle()
	v := e.getAll("vendors")
	addr, _ := v[0]["address"].(map[string]any)
	if addr["city"] != "Paris" || addr["addr1"] != nil || len(addr) != 8 || v[0]["email"] != nil {
		t.Fatalf("vendor %v", v)
	}
}
