package concur

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const (
	testCompany = "09ac834c-46d6-49ff-9653-551d69072d56"
	testERP     = "2fcffbce-a381-4169-a954-c0395eefd6f6"
	testRequest = "3f1508be-9b55-400f-8bac-475015567a52"
	erpsPath    = "/accountingintegration/v4/companies/" + testCompany + "/erps"
	erpPath     = erpsPath + "/" + testERP
)

// seen is one request as the fake API received it.
type seen struct {
	Method, Path, Query, Auth, IfNoneMatch, ContentType string
	Body                                                []byte
}

// fakeAPI is an httptest server that records requests and answers from a
// handler chosen per test.
type fakeAPI struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newFakeAPI(t *testing.T, h http.HandlerFunc) *fakeAPI {
	t.Helper()
	f := &fakeAPI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("If-None-Match"), r.Header.Get("Content-Type"), body})
		f.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		h(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

func (f *fakeAPI) last(t *testing.T) seen {
	t.Helper()
	reqs := f.requests()
	if len(reqs) == 0 {
		t.Fatal("no request reached the fake API")
	}
	return reqs[len(reqs)-1]
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Concur-Correlationid", "corr-1")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func newTestClient(t *testing.T, baseURL string) *Client {
	t.Helper()
	c, err := NewClient(ClientConfig{
		CompanyID:   testCompany,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "static-access"}),
		BaseURL:     baseURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const statusAnswer = `{"status":"PROCESSING","requestId":"` + testRequest + `","links":{"errors":{"href":"/v4/companies/` + testCompany + `/erps/` + testERP + `/requests/` + testRequest + `/errors"},"self":{"href":"/v4/companies/` + testCompany + `/erps/` + testERP + `/requests/` + testRequest + `"}}}`

func TestWritesSendBodiesAsIs(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusAccepted, statusAnswer) })
	c := newTestClient(t, api.URL)
	ctx := context.Background()
	body := []byte(`{"deleteAll":true,"data":[{"id":"001","name":"Accounts Payable","type":"ACCOUNTS_PAYABLE"}]}`)

	for _, obj := range []Object{ObjectAccounts, ObjectVendors, ObjectLists} {
		st, err := c.Patch(ctx, testERP, obj, body, "key-"+string(obj))
		if err != nil {
			t.Fatalf("%s: %v", obj, err)
		}
		got := api.last(t)
		if got.Method != http.MethodPatch || got.Path != erpPath+"/"+string(obj) || string(got.Body) != string(body) ||
			got.IfNoneMatch != "key-"+string(obj) || got.Auth != "Bearer static-access" || got.ContentType != "application/json" {
			t.Errorf("%s: request %+v", obj, got)
		}
		if st.RequestID != testRequest || st.Status != StatusProcessing || st.CorrelationID != "corr-1" || st.Links.Href(RelErrors) == "" {
			t.Errorf("%s: status %+v", obj, st)
		}
	}
	if _, err := c.AddTaxData(ctx, testERP, body, ""); err != nil {
		t.Fatal(err)
	}
	if got := api.last(t); got.Method != http.MethodPost || got.Path != erpPath+"/taxData" || got.IfNoneMatch != "" {
		t.Errorf("add tax data: %+v", got)
	}
	if _, err := c.ReplaceTaxData(ctx, testERP, body, "k"); err != nil {
		t.Fatal(err)
	}
	if got := api.last(t); got.Method != http.MethodPut || got.Path != erpPath+"/taxData" || got.IfNoneMatch != "k" {
		t.Errorf("replace tax data: %+v", got)
	}

	before := len(api.requests())
	if _, err := c.Patch(ctx, testERP, ObjectTaxData, body, ""); err == nil || !strings.Contains(err.Error(), "no PATCH endpoint") {
		t.Errorf("patch tax data: %v", err)
	}
	if _, err := c.Patch(ctx, testERP, ObjectAccounts, nil, ""); err == nil {
		t.Error("nil body accepted")
	}
	if n := len(api.requests()); n != before {
		t.Errorf("refused writes reached the API: %d requests", n-before)
	}
}

func TestTypedPatches(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusAccepted, statusAnswer) })
	c := newTestClient(t, api.URL)
	ctx := context.Background()
	if _, err := c.PatchAccounts(ctx, testERP, []Account{{ID: "1", Name: "Bank", Type: AccountTypeBank}, {ID: "2", IsDeleted: true}}, PatchOptions{DeleteAll: true, IfNoneMatch: "a"}); err != nil {
		t.Fatal(err)
	}
	if got := api.last(t); string(got.Body) != `{"deleteAll":true,"data":[{"id":"1","name":"Bank","type":"BANK"},{"id":"2","isDeleted":true}]}` || got.IfNoneMatch != "a" {
		t.Errorf("accounts: %s %q", got.Body, got.IfNoneMatch)
	}
	if _, err := c.PatchVendors(ctx, testERP, []Vendor{{ID: "v", Type: VendorTypeAccounting, Address: &Address{City: "X"}}}, PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := api.last(t); string(got.Body) != `{"data":[{"id":"v","type":"ACCOUNTING","address":{"city":"X"}}]}` || got.Path != erpPath+"/vendors" {
		t.Errorf("vendors: %s", got.Body)
	}
	if _, err := c.PatchLists(ctx, testERP, []ListName{{ID: "l", Name: "Dept"}}, PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := api.last(t); string(got.Body) != `{"data":[{"id":"l","name":"Dept"}]}` || got.Path != erpPath+"/lists" {
		t.Errorf("lists: %s", got.Body)
	}
}

func TestRegistrationEndpoints(t *testing.T) {
	pkgAnswer := `{"partnerAppName":"P","features":["SUPPORTS_RECEIPT_POSTING"],"erpName":"E","externalErpId":"X","erpId":"` + testERP + `"}`
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == erpsPath:
			writeJSON(w, http.StatusOK, pkgAnswer)
		case r.Method == http.MethodGet && r.URL.Path == erpsPath && r.URL.RawQuery == "":
			writeJSON(w, http.StatusOK, `{"data":[`+pkgAnswer+`],"links":{"next":{"href":"/v4/companies/`+testCompany+`/erps?next=2"}}}`)
		case r.Method == http.MethodGet && r.URL.Path == erpsPath && r.URL.RawQuery == "next=2":
			writeJSON(w, http.StatusOK, `{"data":[{"erpId":"second"}]}`)
		case r.Method == http.MethodGet && r.URL.Path == erpPath:
			writeJSON(w, http.StatusOK, pkgAnswer)
		case r.Method == http.MethodPatch && r.URL.Path == erpPath:
			writeJSON(w, http.StatusOK, pkgAnswer)
		case r.Method == http.MethodDelete && r.URL.Path == erpPath:
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSON(w, http.StatusNotFound, `{"errorCode":"notFound","errorMessage":"no route"}`)
		}
	})
	c := newTestClient(t, api.URL)
	ctx := context.Background()

	reg, err := c.RegisterERP(ctx, ErpPackage{PartnerAppName: "P", ErpName: "E", ExternalErpID: "X", Features: []ErpFeature{FeatureSupportsReceiptPosting}})
	if err != nil || reg.ErpID != testERP {
		t.Fatalf("register: %+v %v", reg, err)
	}
	if got := api.last(t); string(got.Body) != `{"partnerAppName":"P","erpName":"E","externalErpId":"X","features":["SUPPORTS_RECEIPT_POSTING"]}` {
		t.Errorf("register body: %s", got.Body)
	}
	all, err := c.ListERPs(ctx)
	if err != nil || len(all) != 2 || all[1].ErpID != "second" {
		t.Fatalf("list: %+v %v", all, err)
	}
	got, err := c.GetERP(ctx, testERP)
	if err != nil || got.PartnerAppName != "P" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := c.UpdateERP(ctx, testERP, ErpPackage{PartnerAppName: "ignored", Features: []ErpFeature{FeatureSupportsLiabilityAccount}}); err != nil {
		t.Fatal(err)
	}
	if got := api.last(t); string(got.Body) != `{"features":["SUPPORTS_LIABILITY_ACCOUNT"]}` {
		t.Errorf("update body: %s", got.Body)
	}
	if err := c.UnregisterERP(ctx, testERP); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetERP(ctx, "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown erp: %v", err)
	}
}

func TestReadsFollowNextLinks(t *testing.T) {
	// Page 1 links with the /v4/ form, page 2 with the full path, page 3
	// is the last.
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		obj := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		rec := func(i int) string {
			switch obj {
			case "taxData":
				return fmt.Sprintf(`{"countryCode":"C%d","stateEntries":[]}`, i)
			case "errors":
				return fmt.Sprintf(`{"requestId":"%s","objectType":"ACCOUNT","values":"{\"id\":\"%d\"}"}`, testRequest, i)
			default:
				return fmt.Sprintf(`{"id":"%d","name":"n"}`, i)
			}
		}
		switch r.URL.Query().Get("next") {
		case "":
			writeJSON(w, http.StatusOK, `{"data":[`+rec(1)+`,`+rec(2)+`],"links":{"next":{"href":"`+strings.TrimPrefix(r.URL.Path, "/accountingintegration")+`?next=p2"}}}`)
		case "p2":
			writeJSON(w, http.StatusOK, `{"data":[`+rec(3)+`],"_links":{"next":{"href":"`+r.URL.Path+`?next=p3"}}}`)
		case "p3":
			writeJSON(w, http.StatusOK, `{"data":[`+rec(4)+`],"links":{}}`)
		}
	})
	c := newTestClient(t, api.URL)
	ctx := context.Background()

	check := func(name string, ids []string) {
		t.Helper()
		if got := strings.Join(ids, ","); got != "1,2,3,4" && got != "C1,C2,C3,C4" {
			t.Errorf("%s: got %v", name, ids)
		}
	}
	check("accounts", keys(t, c.Accounts(ctx, testERP), func(a Account) string { return a.ID }))
	check("vendors", keys(t, c.Vendors(ctx, testERP), func(v Vendor) string { return v.ID }))
	check("lists", keys(t, c.Lists(ctx, testERP), func(l ListName) string { return l.ID }))
	check("taxData", keys(t, c.TaxData(ctx, testERP), func(d TaxData) string { return d.CountryCode }))
	check("errors", keys(t, c.RequestErrors(ctx, testERP, testRequest), ProcessingError.ID))
	check("raw", keys(t, c.RawRecords(ctx, testERP, ObjectLists), func(raw json.RawMessage) string {
		var rec struct{ ID string }
		_ = json.Unmarshal(raw, &rec)
		return rec.ID
	}))

	// Stopping early sends no further request.
	before := len(api.requests())
	for range c.Accounts(ctx, testERP) {
		break
	}
	if n := len(api.requests()) - before; n != 1 {
		t.Errorf("breaking after the first record sent %d requests, want 1", n)
	}
}

func TestPaginationRefusesLoopsAndForeignHosts(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/accounts"):
			writeJSON(w, http.StatusOK, `{"data":[{"id":"1"}],"links":{"next":{"href":"`+r.URL.Path+`"}}}`)
		case strings.HasSuffix(r.URL.Path, "/vendors"):
			writeJSON(w, http.StatusOK, `{"data":[{"id":"1"}],"links":{"next":{"href":"http://127.0.0.1:1/accountingintegration/v4/x"}}}`)
		default:
			writeJSON(w, http.StatusOK, `{"data":[{"id":"1"}],"links":{"next":{"href":"relative/path"}}}`)
		}
	})
	c := newTestClient(t, api.URL)
	for name, seq := range map[string]func() error{
		"loop":     func() error { return lastErr(c.Accounts(context.Background(), testERP)) },
		"foreign":  func() error { return lastErr(c.Vendors(context.Background(), testERP)) },
		"relative": func() error { return lastErr(c.Lists(context.Background(), testERP)) },
	} {
		if err := seq(); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	for _, r := range api.requests() {
		if strings.HasSuffix(r.Path, "/x") {
			t.Errorf("followed a foreign href: %+v", r)
		}
	}
}

// keys drains seq, failing the test on an error, and returns key of every
// record.
func keys[T any](t *testing.T, seq iter.Seq2[T, error], key func(T) string) []string {
	t.Helper()
	var out []string
	for rec, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, key(rec))
	}
	return out
}

func lastErr[T any](seq func(func(T, error) bool)) error {
	var last error
	for _, err := range seq {
		if err != nil {
			last = err
		}
	}
	return last
}

func TestRequestStatusAndMappings(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case erpPath + "/requests/" + testRequest:
			writeJSON(w, http.StatusOK, `{"status":"PARTIAL","requestId":"`+testRequest+`","_links":{"errors":{"href":"/v4/e"}}}`)
		case erpPath + "/mappings":
			writeJSON(w, http.StatusOK, `{"erpId":"`+testERP+`","companyEdition":"PROFESSIONAL","files":[{"fileId":"DEFAULT","listMappings":[{"erpListId":"1","concurListId":"c"}]}]}`)
		}
	})
	c := newTestClient(t, api.URL)
	st, err := c.RequestStatus(context.Background(), testERP, testRequest)
	if err != nil || st.Status != StatusPartial || !st.Status.Final() || st.Links.Href(RelErrors) != "/v4/e" || st.CorrelationID != "corr-1" {
		t.Fatalf("status: %+v %v", st, err)
	}
	m, err := c.Mappings(context.Background(), testERP)
	if err != nil || m.CompanyEdition[0] != EditionProfessional || m.Files[0].ListMappings[0].ConcurListID != "c" {
		t.Fatalf("mappings: %+v %v", m, err)
	}
}

func TestAPIErrors(t *testing.T) {
	rateLimit400 := `{"timestamp":"2022-08-26T16:13:17.230+00:00","httpStatus":"400 - Bad Request","error":{"id":"security.rate.limit.reached","message":"Too many requests"},"path":"/x"}`
	cases := []struct {
		name       string
		status     int
		body       string
		retryAfter string
		is         error
		retryable  bool
	}{
		{"429", 429, `{"errorCode":"security.rate.limit.reached","errorMessage":"This endpoint can be called once per second"}`, "3", ErrRateLimited, true},
		{"400 rate limit", 400, rateLimit400, "", ErrRateLimited, true},
		{"400 general words", 400, `{"httpStatus":"400 - Bad Request","errorMessage":"The number of requests received exceed the request limit."}`, "", ErrRateLimited, true},
		{"400 validation naming a rate limit", 400, `{"errorCode":"validationFailed","errorMessage":"Rate Limit Corp: too many requests in name","validationErrors":[{"source":"name","errorMessage":"too long"}]}`, "", ErrValidation, false},
		{"400 other", 400, `{"errorCode":"invalidJson","errorMessage":"The request body is not valid JSON"}`, "", nil, false},
		{"412", 412, `{"errorCode":"precondition","errorMessage":"already accepted"}`, "", ErrAlreadyAccepted, false},
		{"400 validation", 400, `{"errorCode":"dataInvalid","errorMessage":"bad","validationErrors":[{"source":"data[0].type","errorMessage":"must not be null","errorCode":"NotNull"}]}`, "", ErrValidation, false},
		{"401", 401, `{"errorCode":"unauthorized"}`, "", ErrUnauthorized, false},
		{"403", 403, `{}`, "", ErrForbidden, false},
		{"404", 404, `not json`, "", ErrNotFound, false},
		{"500", 500, ``, "", ErrServer, true},
		{"503", 503, `<html>`, "Wed, 21 Oct 2099 07:28:00 GMT", ErrServer, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				writeJSON(w, tc.status, tc.body)
			})
			c := newTestClient(t, api.URL)
			_, err := c.Patch(context.Background(), testERP, ObjectAccounts, []byte(`{"data":[]}`), "")
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("%v does not match %v", err, tc.is)
			}
			for _, other := range []error{ErrRateLimited, ErrAlreadyAccepted, ErrValidation, ErrUnauthorized, ErrForbidden, ErrNotFound, ErrServer} {
				if other != tc.is && errors.Is(err, other) {
					t.Errorf("%v also matches %v", err, other)
				}
			}
			if IsRetryable(err) != tc.retryable {
				t.Errorf("IsRetryable(%v) = %v", err, !tc.retryable)
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status || apiErr.CorrelationID != "corr-1" || apiErr.Path != erpPath+"/accounts" {
				t.Fatalf("APIError %+v", apiErr)
			}
			if !strings.Contains(err.Error(), "corr-1") || !strings.Contains(err.Error(), "patching accounts for company "+testCompany) {
				t.Errorf("message lacks context: %v", err)
			}
			switch tc.name {
			case "429":
				if RetryAfter(err) != 3*time.Second {
					t.Errorf("retry after %v", RetryAfter(err))
				}
			case "503":
				if RetryAfter(err) <= 0 {
					t.Errorf("retry after date ignored: %v", RetryAfter(err))
				}
			case "400 validation":
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Source != "data[0].type" || !strings.Contains(err.Error(), "must not be null") {
					t.Errorf("validation error %v / %v", ve, err)
				}
			case "400 rate limit":
				if apiErr.Message.Code() != "security.rate.limit.reached" || apiErr.Message.Text() != "Too many requests" {
					t.Errorf("general form not read: %+v", apiErr.Message)
				}
			}
		})
	}
}

func TestRateLimitDocExample(t *testing.T) {
	examples := docExamples(t, "list-item/v4.list-item-bulk.markdown")
	var found bool
	for _, ex := range examples {
		if !strings.Contains(ex, "rate.limit") {
			continue
		}
		found = true
		var m ErrorMessage
		if err := json.Unmarshal([]byte(ex), &m); err != nil {
			t.Fatal(err)
		}
		for _, status := range []int{429, 400} {
			if err := (&APIError{StatusCode: status, Message: m}); !errors.Is(err, ErrRateLimited) {
				t.Errorf("%d with the documented body is not rate limited", status)
			}
		}
	}
	if !found {
		t.Fatal("no rate limit example on the List Item Bulk page")
	}
}

func TestConnectionErrorsAreRetryable(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	c := newTestClient(t, api.URL)
	_, err := c.Patch(context.Background(), testERP, ObjectAccounts, []byte(`{}`), "")
	if err == nil || !IsRetryable(err) {
		t.Errorf("reset connection: %v, retryable %v", err, IsRetryable(err))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Patch(ctx, testERP, ObjectAccounts, []byte(`{}`), "")
	if err == nil || IsRetryable(err) {
		t.Errorf("cancelled context: %v, retryable %v", err, IsRetryable(err))
	}
	if IsRetryable(&url.Error{Op: "Patch", URL: "u", Err: fmt.Errorf("refreshing: %w", ErrNoCredentials)}) ||
		!IsRetryable(&url.Error{Op: "Patch", URL: "u", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}) {
		t.Error("an *url.Error must be judged by its cause")
	}
	if IsRetryable(nil) || IsRetryable(errors.New("other")) {
		t.Error("plain errors are not retryable")
	}
}

func TestClientRefusesRedirectsAndOversizedAnswers(t *testing.T) {
	target := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{}`) })
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/mappings") {
			http.Redirect(w, r, target.URL+"/steal", http.StatusFound)
			return
		}
		writeJSON(w, 200, `{"erpId":"`+strings.Repeat("x", 200)+`"}`)
	})
	c := newTestClient(t, api.URL)
	if _, err := c.Mappings(context.Background(), testERP); err == nil {
		t.Error("redirect answer accepted")
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("redirect followed with the token: %d requests", n)
	}
	small, err := NewClient(ClientConfig{CompanyID: testCompany, TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "a"}), BaseURL: api.URL, MaxResponseBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.GetERP(context.Background(), testERP); err == nil || !strings.Contains(err.Error(), "larger than 100 bytes") {
		t.Errorf("oversized answer: %v", err)
	}
}

func TestNewClientValidates(t *testing.T) {
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "a"})
	for name, cfg := range map[string]ClientConfig{
		"no company": {TokenSource: ts},
		"no tokens":  {CompanyID: testCompany},
		"bad base":   {CompanyID: testCompany, TokenSource: ts, BaseURL: "ftp://x"},
	} {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	c, err := NewClient(ClientConfig{CompanyID: testCompany, TokenSource: ts})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetERP(context.Background(), testERP); err == nil || !strings.Contains(err.Error(), "no base url") {
		t.Errorf("no base url: %v", err)
	}
}

func TestEmptyIDsAreRefusedAndResponsesReported(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusNotFound, `{}`) })
	var mu sync.Mutex
	var infos []ResponseInfo
	c, err := NewClient(ClientConfig{
		CompanyID: testCompany, BaseURL: api.URL,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "a"}),
		OnResponse: func(i ResponseInfo) {
			mu.Lock()
			defer mu.Unlock()
			infos = append(infos, i)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["get erp"] = c.GetERP(ctx, "")
	_, checks["patch"] = c.Patch(ctx, "", ObjectAccounts, []byte(`{}`), "")
	_, checks["status"] = c.RequestStatus(ctx, testERP, "")
	checks["accounts"] = lastErr(c.Accounts(ctx, ""))
	checks["errors"] = lastErr(c.RequestErrors(ctx, testERP, ""))
	for name, err := range checks {
		if err == nil || !strings.Contains(err.Error(), "empty erp or request id") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := len(api.requests()); n != 0 {
		t.Errorf("%d requests with empty ids reached the API", n)
	}

	if _, err := c.GetERP(ctx, testERP); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(infos) != 1 || infos[0].StatusCode != 404 || infos[0].Path != erpPath || infos[0].Method != "GET" || infos[0].CorrelationID != "corr-1" || infos[0].Err != nil {
		t.Errorf("reported %+v", infos)
	}
}

func TestMalformedAnswers(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/mappings"):
			writeJSON(w, http.StatusOK, `{"erpId":`)
		case r.URL.Query().Get("next") == "":
			writeJSON(w, http.StatusOK, `{"data":[{"id":"1"},{"id":"2"}],"links":{"next":{"href":"`+r.URL.Path+`?next=2"}}}`)
		default:
			writeJSON(w, http.StatusOK, `{"data":[{"id":3}]}`) // id is not a string
		}
	})
	c := newTestClient(t, api.URL)
	if _, err := c.Mappings(context.Background(), testERP); err == nil || !strings.Contains(err.Error(), "decoding answer (status 200)") {
		t.Errorf("truncated answer: %v", err)
	}
	var ids []string
	var last error
	for a, err := range c.Accounts(context.Background(), testERP) {
		if err != nil {
			last = err
			continue
		}
		ids = append(ids, a.ID)
	}
	if strings.Join(ids, ",") != "1,2" || last == nil || !strings.Contains(last.Error(), "listing accounts of erp") {
		t.Errorf("records before the bad page %v, error %v", ids, last)
	}
}

// TestUpdateERPClearsLists: a non-nil empty list is sent as [] (switching
// the last feature off), a nil one is left out, and an update with neither
// is refused before any call.
func TestUpdateERPClearsLists(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"erpId":"`+testERP+`"}`)
	})
	c := newTestClient(t, api.URL)
	ctx := context.Background()
	for _, tc := range []struct {
		pkg  ErpPackage
		want string
	}{
		{ErpPackage{Features: []ErpFeature{}}, `{"features":[]}`},
		{ErpPackage{PostingOptions: []PostingOption{}}, `{"postingOptions":[]}`},
		{ErpPackage{Features: []ErpFeature{}, PostingOptions: []PostingOption{}}, `{"features":[],"postingOptions":[]}`},
		{ErpPackage{ErpName: "ignored", Features: []ErpFeature{FeatureEnableTaxIntegration}}, `{"features":["ENABLE_TAX_INTEGRATION"]}`},
	} {
		if _, err := c.UpdateERP(ctx, testERP, tc.pkg); err != nil {
			t.Fatal(err)
		}
		if got := api.last(t); string(got.Body) != tc.want {
			t.Errorf("update %+v sent %s, want %s", tc.pkg, got.Body, tc.want)
		}
	}
	n := len(api.requests())
	if _, err := c.UpdateERP(ctx, testERP, ErpPackage{ErpName: "only a name"}); err == nil {
		t.Error("an update without features or posting options was sent")
	}
	if len(api.requests()) != n {
		t.Error("the refused update reached the API")
	}
}
