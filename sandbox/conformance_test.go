package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/concurflow/concurflow/sandbox"
	"github.com/concurflow/concurflow/sandbox/internal/schema/refdoc"
)

// The ids the reference pages use in their examples; the conformance test
// swaps them for the ids the sandbox issued.
const (
	docCompanyID = "09ac834c-46d6-49ff-9653-551d69072d56"
	docERPID     = "2fcffbce-a381-4169-a954-c0395eefd6f6"
	docRequestID = "3f1508be-9b55-400f-8bac-475015567a52"
)

// conformance replays the reference pages' examples against one sandbox.
type conformance struct {
	t       *testing.T
	dir     string
	srv     *sandbox.Server
	company sandbox.Company
	token   string
	erpID   string
	lastReq string // id of the last request a 202 accepted
}

// TestConformance sends every example request of the Accounting Integration
// pages and the company OAuth2 page, as raw bytes, to a sandbox over real
// HTTP and checks the documented status and response shape: the same JSON
// keys and types, and for answers to writes the same values, ids and
// timestamps excepted (strings holding UUIDs are compared with every UUID
// masked, which still checks the form of links).
//
// The sandbox runs without its rate limit: the pages send several requests
// per endpoint within a second, which the limit (tested elsewhere) would
// answer with 429.
func TestConformance(t *testing.T) {
	dir := refdoc.Require(t)
	srv := newServer(t, sandbox.WithRateLimit(false))
	company, err := srv.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	c := &conformance{t: t, dir: dir, srv: srv, company: company}

	t.Run("company-auth", c.companyAuth)
	if c.token == "" {
		t.Fatal("no access token: cannot replay the API examples")
	}

	reg := c.examples("v4.accountingintegration-registration.markdown")
	var unregister []refdoc.Example
	t.Run("registration", func(t *testing.T) {
		for _, e := range reg {
			if e.Method == http.MethodDelete {
				unregister = append(unregister, e) // last, once everything else ran
				continue
			}
			c.replay(t, e)
		}
	})
	if c.erpID == "" {
		t.Fatal("registration example gave no erpId: cannot replay the data examples")
	}
	for _, page := range []string{"account", "vendor", "list", "taxData"} {
		t.Run(page, func(t *testing.T) {
			for _, e := range c.examples("v4.accountingintegration-" + page + ".markdown") {
				c.replay(t, e)
			}
		})
	}
	t.Run("error-message", c.errorMessage)
	t.Run("mappings", c.mappings)
	t.Run("request", c.requestPage)
	t.Run("unregister", func(t *testing.T) {
		if len(unregister) == 0 {
			t.Fatal("the Registration page has no DELETE example")
		}
		for _, e := range unregister {
			c.replay(t, e)
		}
		// The ERP is gone: its data with it.
		resp, _ := c.send(t, http.MethodGet, "/accountingintegration/v4/companies/"+c.company.ID+"/erps/"+c.erpID, nil)
		if resp != http.StatusNotFound {
			t.Errorf("GET of the unregistered ERP answered %d, want 404", resp)
		}
	})
}

// examples loads one Accounting Integration page's examples.
func (c *conformance) examples(page string) []refdoc.Example {
	c.t.Helper()
	ex, err := refdoc.Examples(filepath.Join(c.dir, "accounting-integration", page))
	if err != nil {
		c.t.Fatal(err)
	}
	if len(ex) == 0 {
		c.t.Fatalf("%s: no examples found", page)
	}
	return ex
}

// ids swaps the documentation's ids for the sandbox's.
func (c *conformance) ids(s string) string {
	s = strings.ReplaceAll(s, docCompanyID, c.company.ID)
	s = strings.ReplaceAll(s, docERPID, c.erpID)
	return strings.ReplaceAll(s, docRequestID, c.lastReq)
}

// send makes one API request with the company's token and returns the status
// and body.
func (c *conformance) send(t *testing.T, method, path string, body []byte) (int, []byte) {
	t.Helper()
	var b any // no body at all rather than an empty one
	if body != nil {
		b = body
	}
	r := doRequest(t, method, c.srv.URL()+path, c.token, b)
	return r.status, r.body
}

// replay sends one documented request and checks the documented answer.
// Reads wait until every accepted write is processed, so they see data.
func (c *conformance) replay(t *testing.T, e refdoc.Example) []byte {
	t.Helper()
	if e.Method == http.MethodGet {
		c.waitIdle(t)
	}
	status, body := c.send(t, e.Method, c.ids(e.Path), e.Request)
	t.Logf("%s: %d, %d bytes", e.Name(), status, len(body))
	if status != e.Status {
		t.Errorf("%s: status %d, documented %d; body %s", e.Name(), status, e.Status, body)
		return body
	}
	if e.Response == nil {
		if len(bytes.TrimSpace(body)) != 0 {
			t.Errorf("%s: documented without a body, got %s", e.Name(), body)
		}
		return body
	}
	// Answers to writes echo what was sent; reads show data the pages
	// made up, so only their shape can match.
	values := e.Method != http.MethodGet
	for _, p := range compareJSON(e.Response, body, values) {
		t.Errorf("%s: %s", e.Name(), p)
	}
	var got struct {
		RequestID string  `json:"requestId"`
		ErpID     string  `json:"erpId"`
		Status    *string `json:"status"`
	}
	_ = json.Unmarshal(body, &got)
	// RequestStatus.status is a ProcessingStatus (see the Schema page).
	if got.Status != nil && !slices.Contains([]string{"ERROR", "PARTIAL", "PROCESSING", "SUCCESS"}, *got.Status) {
		t.Errorf("%s: status %q is not a ProcessingStatus", e.Name(), *got.Status)
	}
	if status == http.StatusAccepted && got.RequestID != "" {
		c.lastReq = got.RequestID
	}
	if e.Method == http.MethodPost && strings.HasSuffix(e.Path, "/erps") && got.ErpID != "" {
		c.erpID = got.ErpID
	}
	return body
}

func (c *conformance) waitIdle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.srv.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

// companyAuth replays the password grant of the Company Level Authentication
// page, then the same request with a wrong auth token for its Failure
// example. The App Center call on that page (profile-service) is App
// Center's own and not part of the sandbox.
func (c *conformance) companyAuth(t *testing.T) {
	page := filepath.Join(c.dir, "auth", "company-auth.markdown")
	blocks, err := refdoc.Blocks(page)
	if err != nil {
		t.Fatal(err)
	}
	var request, success, failure string
	for i, b := range blocks {
		switch {
		case strings.HasPrefix(b.Text, "POST /oauth2/v0/token"):
			request = b.Text
		case b.Lang == "json" && request != "" && success == "" && i > 0 && strings.Contains(blocks[i-1].Text, "200 OK"):
			success = b.Text
		case b.Lang == "json" && success != "" && failure == "" && strings.Contains(b.Text, "invalid_grant"):
			failure = b.Text
		}
	}
	if request == "" || success == "" || failure == "" {
		t.Fatalf("company-auth page: request %v, success %v, failure %v example found", request != "", success != "", failure != "")
	}
	// The documented request: request line, headers, blank line, the form
	// body broken over lines before each '&'.
	head, form, ok := strings.Cut(request, "\n\n")
	if !ok {
		t.Fatalf("company-auth request has no body:\n%s", request)
	}
	var contentType string
	for _, h := range strings.Split(head, "\n")[1:] {
		if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, "Content-Type") {
			contentType = strings.TrimSpace(v)
		}
	}
	body := strings.ReplaceAll(strings.TrimSpace(form), "\n", "")
	body = strings.NewReplacer(
		"your-client_id", c.company.ClientID,
		"your-client_secret", c.company.ClientSecret,
		"<companyId>", c.company.ID,
	).Replace(body)

	post := func(body string) (int, []byte) {
		r := doRequest(t, http.MethodPost, c.srv.URL()+"/oauth2/v0/token", "", body, "Content-Type", contentType)
		return r.status, r.body
	}

	status, got := post(strings.ReplaceAll(body, "<authtoken>", c.company.RequestToken))
	if status != http.StatusOK {
		t.Fatalf("password grant: status %d, documented 200; body %s", status, got)
	}
	// The Authentication API page documents more token members than this
	// example shows; those may appear too.
	apidoc, err := os.ReadFile(filepath.Join(c.dir, "auth", "apidoc.markdown"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range compareJSON([]byte(success), got, false) {
		if key, ok := strings.CutPrefix(p, "undocumented member "); ok && bytes.Contains(apidoc, []byte("`"+strings.Fields(key)[0]+"`")) {
			continue
		}
		t.Errorf("password grant: %s", p)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(got, &tok); err != nil || tok.AccessToken == "" || tok.TokenType != "Bearer" {
		t.Fatalf("password grant: no bearer access token in %s (%v)", got, err)
	}
	c.token = tok.AccessToken

	status, got = post(strings.ReplaceAll(body, "<authtoken>", "not-the-auth-token"))
	if status < 400 || status > 499 {
		t.Errorf("password grant with a wrong auth token: status %d, want 4xx", status)
	}
	for _, p := range compareJSON([]byte(failure), got, false) {
		t.Errorf("password grant with a wrong auth token: %s", p)
	}
	// The description is prose (the page's example and its code table word
	// it differently); error and code are the machine-readable part.
	var fail, docFail struct {
		Error string `json:"error"`
		Code  any    `json:"code"`
	}
	_ = json.Unmarshal([]byte(failure), &docFail)
	if err := json.Unmarshal(got, &fail); err != nil || fail.Error != docFail.Error || fail.Code != docFail.Code {
		t.Errorf("password grant with a wrong auth token: error %q code %v, documented %q %v", fail.Error, fail.Code, docFail.Error, docFail.Code)
	}
}

// errorMessage checks an error answer against the ErrorMessage table of the
// Schema page (the pages show no error example): every member but
// validationErrors ("if applicable") present, strings, and nothing else.
func (c *conformance) errorMessage(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(c.dir, "accounting-integration", "v4.accountingintegration-schema.markdown"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(page), `<a name="errorMessage"></a>`)
	if !ok {
		t.Fatal("Schema page has no ErrorMessage section")
	}
	table, _, _ = strings.Cut(table, "\n###")
	members := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) > 2 && strings.HasPrefix(cells[0], "`") {
			members[strings.Trim(cells[0], "`")] = strings.Trim(cells[1], "`")
		}
	}
	if len(members) < 5 {
		t.Fatalf("ErrorMessage table: found only %v", members)
	}
	// A token for another company: 403, an ErrorMessage.
	path := "/accountingintegration/v4/companies/" + docCompanyID + "/erps/" + c.erpID + "/accounts"
	status, body := c.send(t, http.MethodGet, path, nil)
	if status != http.StatusForbidden {
		t.Errorf("GET with a token of another company: status %d, want 403", status)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("error answer is not JSON: %s", body)
	}
	for name, typ := range members {
		v, ok := got[name]
		switch {
		case !ok && name != "validationErrors":
			t.Errorf("ErrorMessage member %s missing from %s", name, body)
		case ok && jsonType(v) != typ:
			t.Errorf("ErrorMessage member %s is %s, the Schema page says %s", name, jsonType(v), typ)
		}
	}
	for name := range got {
		if _, ok := members[name]; !ok {
			t.Errorf("undocumented ErrorMessage member %s in %s", name, body)
		}
	}
}

// mappings configures, as an administrator would in the SAP Concur UI, the
// settings the Mappings page's example shows, then replays its GET: what is
// checked is how the sandbox assembles the MappingsResponse around them.
func (c *conformance) mappings(t *testing.T) {
	ex := c.examples("v4.accountingintegration-mappings.markdown")
	var doc struct {
		Ledger   json.RawMessage   `json:"ledger"`
		Features []sandbox.Feature `json:"features"`
		Files    []struct {
			PaymentTypes            []json.RawMessage     `json:"paymentTypes"`
			ListMappings            []sandbox.ListMapping `json:"listMappings"`
			InvoiceLiabilityAccount json.RawMessage       `json:"invoiceLiabilityAccount"`
			BillableField           json.RawMessage       `json:"billableField"`
		} `json:"files"`
	}
	if err := json.Unmarshal(ex[0].Response, &doc); err != nil || len(doc.Files) != 1 {
		t.Fatalf("Mappings page example: %v", err)
	}
	f := doc.Files[0]
	err := c.srv.UpdateMappings(c.company.ID, c.erpID, func(m *sandbox.Mappings) {
		m.Ledger = doc.Ledger
		m.Features = doc.Features
		m.PaymentTypes = f.PaymentTypes
		m.InvoiceLiabilityAccount = f.InvoiceLiabilityAccount
		m.BillableField = f.BillableField
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, lm := range f.ListMappings {
		if err := c.srv.MapList(c.company.ID, c.erpID, lm); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range ex {
		c.replay(t, e)
	}
}

// requestPage replays the Request Processing page. Its error example is
// for a vendor whose type was changed; the test brings that about with the
// example's own record (first sent as an ACCOUNTING vendor, then as the
// EMPLOYEE vendor it is) and compares the errors with the documented ones
// value for value.
func (c *conformance) requestPage(t *testing.T) {
	ex := c.examples("v4.accountingintegration-request.markdown")
	var statusEx, errorsEx *refdoc.Example
	for i := range ex {
		if strings.Contains(ex[i].Section, "Error") {
			errorsEx = &ex[i]
		} else {
			statusEx = &ex[i]
		}
	}
	if statusEx == nil || errorsEx == nil {
		t.Fatalf("Request Processing page: status example %v, errors example %v", statusEx != nil, errorsEx != nil)
	}
	if c.lastReq == "" {
		t.Fatal("no request was accepted before: nothing to ask the status of")
	}
	c.replay(t, *statusEx)

	var doc struct {
		Data []struct {
			Values string `json:"values"`
		} `json:"data"`
	}
	if err := json.Unmarshal(errorsEx.Response, &doc); err != nil || len(doc.Data) == 0 {
		t.Fatalf("Request Processing page errors example: %v", err)
	}
	record := []byte(doc.Data[0].Values)
	var asAccounting map[string]any
	if err := json.Unmarshal(record, &asAccounting); err != nil {
		t.Fatal(err)
	}
	asAccounting["type"] = "ACCOUNTING"
	first, _ := json.Marshal(map[string]any{"data": []any{asAccounting}})
	vendors := "/accountingintegration/v4/companies/" + c.company.ID + "/erps/" + c.erpID + "/vendors"
	for _, body := range [][]byte{first, []byte(`{"data":[` + string(record) + `]}`)} {
		status, got := c.send(t, http.MethodPatch, vendors, body)
		if status != http.StatusAccepted {
			t.Fatalf("PATCH vendors: status %d, body %s", status, got)
		}
		var rs struct {
			RequestID string `json:"requestId"`
		}
		if err := json.Unmarshal(got, &rs); err != nil || rs.RequestID == "" {
			t.Fatalf("PATCH vendors: no requestId in %s", got)
		}
		c.lastReq = rs.RequestID
		c.waitIdle(t)
	}

	e := *errorsEx
	// The page's example request line omits the /errors segment its URI
	// section gives; the URI section is right.
	if !strings.HasSuffix(e.Path, "/errors") {
		e.Path += "/errors"
	}
	c.waitIdle(t)
	status, got := c.send(t, e.Method, c.ids(e.Path), nil)
	if status != e.Status {
		t.Fatalf("%s: status %d, documented %d; body %s", e.Name(), status, e.Status, got)
	}
	for _, p := range compareJSON(e.Response, got, false) {
		t.Errorf("%s: %s", e.Name(), p)
	}
	// The error itself must be the documented one.
	var answer struct {
		Data []struct {
			CompanyID        string          `json:"companyId"`
			RequestID        string          `json:"requestId"`
			ErrorCode        string          `json:"errorCode"`
			ObjectType       string          `json:"objectType"`
			Values           string          `json:"values"`
			ValidationErrors json.RawMessage `json:"validationErrors"`
		} `json:"data"`
	}
	if err := json.Unmarshal(got, &answer); err != nil || len(answer.Data) != 1 {
		t.Fatalf("%s: want one processing error, got %s (%v)", e.Name(), got, err)
	}
	pe := answer.Data[0]
	if pe.CompanyID != c.company.ID || pe.RequestID != c.lastReq || pe.ErrorCode != "dataInvalid.requestIdProcessingErrors" || pe.ObjectType != "VENDOR" {
		t.Errorf("%s: processing error %+v, want company %s, request %s, errorCode dataInvalid.requestIdProcessingErrors, objectType VENDOR",
			e.Name(), pe, c.company.ID, c.lastReq)
	}
	if !sameJSON([]byte(pe.Values), record) {
		t.Errorf("%s: values %s, want the record sent %s", e.Name(), pe.Values, record)
	}
	var docErr struct {
		Data []struct {
			ValidationErrors json.RawMessage `json:"validationErrors"`
		} `json:"data"`
	}
	_ = json.Unmarshal(e.Response, &docErr)
	for _, p := range compareJSON(docErr.Data[0].ValidationErrors, pe.ValidationErrors, true) {
		t.Errorf("%s: validationErrors: %s", e.Name(), p)
	}
}

// sameJSON reports whether two documents hold the same JSON value.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

var uuidRE = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// compareJSON compares an answer with its documented example and returns
// the differences, each naming a JSON path.
//
// Shape: every documented member must be present and no other (but a
// "links"/"_links" object holding only "next" is optional: it appears only
// when there is a next page); types must match, a documented null matching
// any type and a null answer matching a documented scalar (nullable
// members). A documented array's answer must not be empty, and each element
// must match one of the documented elements.
//
// With values, scalars must also be equal and arrays equally long (element
// by element), except that strings holding a UUID are compared with each
// UUID masked.
func compareJSON(doc, got []byte, values bool) []string {
	var d, g any
	if err := json.Unmarshal(doc, &d); err != nil {
		return []string{fmt.Sprintf("documented example is not JSON: %v", err)}
	}
	if err := json.Unmarshal(got, &g); err != nil {
		return []string{fmt.Sprintf("answer is not JSON: %v: %s", err, got)}
	}
	var out []string
	compareValue("$", d, g, values, &out)
	return out
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	default:
		return "object"
	}
}

func compareValue(path string, d, g any, values bool, out *[]string) {
	if d == nil {
		return
	}
	if g == nil {
		switch d.(type) {
		case map[string]any, []any:
			*out = append(*out, fmt.Sprintf("%s: null, documented %s", path, jsonType(d)))
		}
		return
	}
	if jsonType(d) != jsonType(g) {
		*out = append(*out, fmt.Sprintf("%s: %s, documented %s", path, jsonType(g), jsonType(d)))
		return
	}
	switch dv := d.(type) {
	case map[string]any:
		gv := g.(map[string]any)
		for k, sub := range dv {
			gs, ok := gv[k]
			if !ok {
				if m, isObj := sub.(map[string]any); isObj && (k == "links" || k == "_links") && len(m) == 1 && m["next"] != nil {
					continue
				}
				*out = append(*out, fmt.Sprintf("%s: documented member %q missing", path, k))
				continue
			}
			compareValue(path+"."+k, sub, gs, values, out)
		}
		for k := range gv {
			if _, ok := dv[k]; !ok {
				*out = append(*out, fmt.Sprintf("undocumented member %s at %s", k, path))
			}
		}
	case []any:
		gv := g.([]any)
		if len(dv) > 0 && len(gv) == 0 {
			*out = append(*out, fmt.Sprintf("%s: empty, documented with %d elements", path, len(dv)))
			return
		}
		if values {
			if len(gv) != len(dv) {
				*out = append(*out, fmt.Sprintf("%s: %d elements, documented %d", path, len(gv), len(dv)))
				return
			}
			for i := range dv {
				compareValue(fmt.Sprintf("%s[%d]", path, i), dv[i], gv[i], values, out)
			}
			return
		}
		if len(dv) == 0 {
			return
		}
		for i, ge := range gv {
			var first []string
			matched := false
			for _, de := range dv {
				var diff []string
				compareValue(fmt.Sprintf("%s[%d]", path, i), de, ge, values, &diff)
				if len(diff) == 0 {
					matched = true
					break
				}
				if first == nil {
					first = diff
				}
			}
			if !matched {
				*out = append(*out, first...)
			}
		}
	case string:
		gs := g.(string)
		if values && uuidRE.ReplaceAllString(dv, "<uuid>") != uuidRE.ReplaceAllString(gs, "<uuid>") {
			*out = append(*out, fmt.Sprintf("%s: %q, documented %q", path, gs, dv))
		}
	default:
		if values && d != g {
			*out = append(*out, fmt.Sprintf("%s: %v, documented %v", path, g, d))
		}
	}
}

// TestCompareJSON pins the comparison rules the conformance test relies on,
// so a lenient comparator cannot make it pass vacuously.
func TestCompareJSON(t *testing.T) {
	for _, tc := range []struct {
		doc, got string
		values   bool
		want     []string // substrings, one per expected difference
	}{
		{`{"a":"x","b":1}`, `{"a":"y","b":2}`, false, nil},
		{`{"a":"x"}`, `{"a":"y"}`, true, []string{`$.a: "y", documented "x"`}},
		{`{"a":"x"}`, `{"a":1}`, false, []string{"$.a: number, documented string"}},
		{`{"a":"x"}`, `{}`, false, []string{`documented member "a" missing`}},
		{`{}`, `{"z":1}`, false, []string{"undocumented member z at $"}},
		{`{"a":null}`, `{"a":{"b":1}}`, true, nil},
		{`{"a":"x"}`, `{"a":null}`, true, nil},
		{`{"a":{"b":1}}`, `{"a":null}`, false, []string{"$.a: null, documented object"}},
		{`{"links":{"next":{"href":"/x"}}}`, `{}`, false, nil},
		{`{"links":{"self":{"href":"/x"}}}`, `{}`, false, []string{`member "links" missing`}},
		{`{"h":"/c/09ac834c-46d6-49ff-9653-551d69072d56/r"}`, `{"h":"/c/11111111-2222-3333-4444-555555555555/r"}`, true, nil},
		{`{"h":"/v4/c/09ac834c-46d6-49ff-9653-551d69072d56"}`, `{"h":"/x/v4/c/11111111-2222-3333-4444-555555555555"}`, true, []string{"$.h"}},
		{`[{"a":1},{"b":"x"}]`, `[{"b":"y"},{"a":2}]`, false, nil},
		{`[{"a":1}]`, `[{"c":1}]`, false, []string{`member "a" missing`, "undocumented member c"}},
		{`[{"a":1}]`, `[]`, false, []string{"$: empty"}},
		{`[1,2]`, `[1]`, true, []string{"$: 1 elements, documented 2"}},
	} {
		got := compareJSON([]byte(tc.doc), []byte(tc.got), tc.values)
		if len(got) != len(tc.want) {
			t.Errorf("compareJSON(%s, %s, %v) = %q, want %d differences", tc.doc, tc.got, tc.values, got, len(tc.want))
			continue
		}
		slices.Sort(got)
		for i, w := range tc.want {
			if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, w) }) {
				t.Errorf("compareJSON(%s, %s, %v) = %q, want one containing %q (%d)", tc.doc, tc.got, tc.values, got, w, i)
			}
		}
	}
}
