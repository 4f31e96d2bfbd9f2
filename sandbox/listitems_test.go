package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/concurflow/concurflow/sandbox"
)

// li is the URL of a List Item API path.
func (e *env) li(path string) string { return e.srv.URL() + "/list/v4" + path }

// mapList maps an ERP list to a SAP Concur list through the admin API, as
// the customer administrator does, and returns the concurListId.
func (e *env) mapList(erpListID, concurListID string, extra map[string]any) string {
	e.t.Helper()
	body := map[string]any{"erpListId": erpListID, "concurListId": concurListID}
	for k, v := range extra {
		body[k] = v
	}
	r := doRequest(e.t, http.MethodPost, e.srv.URL()+"/sandbox/v1/companies/"+e.co.ID+"/erps/"+e.erp+"/listMappings", "", body)
	if r.status != http.StatusCreated {
		e.t.Fatalf("mapping list: %d %s", r.status, r.body)
	}
	return concurListID
}

// item decodes a List Item answer.
func decodeItem(t testing.TB, r response) sandbox.ListItem {
	t.Helper()
	var it sandbox.ListItem
	if err := json.Unmarshal(r.body, &it); err != nil {
		t.Fatalf("answer %d is not a list item: %v: %s", r.status, err, r.body)
	}
	return it
}

// listError decodes a List Item Error Message and checks its status and id.
func wantListError(t testing.TB, r response, status int, id string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	m := r.json(t)
	errObj, _ := m["error"].(map[string]any)
	if errObj == nil || errObj["id"] != id {
		t.Fatalf("error %v, want id %q: %s", m["error"], id, r.body)
	}
	for _, k := range []string{"timestamp", "httpStatus", "path"} {
		if _, ok := m[k]; !ok {
			t.Errorf("error body lacks %q: %s", k, r.body)
		}
	}
	return m
}

// bulkResult is a Bulk List Item Response.
type bulkResult struct {
	Status           string `json:"status"`
	RecordsSucceeded int    `json:"recordsSucceeded"`
	RecordsFailed    int    `json:"recordsFailed"`
	Errors           []struct {
		ID       string         `json:"id"`
		Message  string         `json:"message"`
		ListItem map[string]any `json:"listItem"`
	} `json:"errors"`
}

func decodeBulk(t testing.TB, r response, status int) bulkResult {
	t.Helper()
	if r.status != status {
		t.Fatalf("bulk status %d, want %d: %s", r.status, status, r.body)
	}
	var b bulkResult
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("bulk answer: %v: %s", err, r.body)
	}
	return b
}

// itemsByCode reads a list's items through the admin API.
func (e *env) itemsByCode(listID string) map[string]sandbox.ListItem {
	e.t.Helper()
	r := doRequest(e.t, http.MethodGet, e.srv.URL()+"/sandbox/v1/companies/"+e.co.ID+"/lists/"+listID+"/items", "", nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("admin list items: %d %s", r.status, r.body)
	}
	var out struct {
		Data []sandbox.ListItem `json:"data"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		e.t.Fatal(err)
	}
	m := map[string]sandbox.ListItem{}
	for _, it := range out.Data {
		m[it.Code] = it
	}
	return m
}

// TestListItemFlow follows the Events page's listMapping.created advice: the
// administrator maps an ERP list, and the partner sends its items with the
// List Item APIs to the mapped SAP Concur list.
func TestListItemFlow(t *testing.T) {
	e := newEnv(t)
	const listID = "80edb3fa-c15e-a34a-b97f-f2ec291ab44f"
	e.mapList("erp-cost-centers", listID, map[string]any{"levels": 2})

	// Bulk create, parents before children.
	b := decodeBulk(t, e.do(http.MethodPost, e.li("/lists/"+listID+"/bulk"), map[string]any{"requests": []map[string]any{
		{"shortCode": "CC100", "value": "Sales"},
		{"shortCode": "EAST", "value": "Sales East", "parentCode": "CC100"},
		{"shortCode": "CC200", "value": "Support"},
	}}), http.StatusCreated)
	if b.Status != sandbox.BulkSuccess || b.RecordsSucceeded != 3 || b.RecordsFailed != 0 || b.Errors == nil {
		t.Fatalf("bulk create: %+v", b)
	}
	items := e.itemsByCode(listID)
	east, ok := items["CC100-EAST"]
	if !ok || east.Level != 2 || east.ParentID == nil || *east.ParentID != items["CC100"].ID || east.Value != "Sales East" {
		t.Fatalf("second-level item: %+v (all: %+v)", east, items)
	}
	if !items["CC100"].Lists[0].HasChildren || items["CC200"].Lists[0].HasChildren {
		t.Errorf("hasChildren: %+v", items)
	}

	// Single create, get, update.
	r := e.do(http.MethodPost, e.li("/items"), map[string]any{"listId": listID, "shortCode": "CC300", "value": "Finance"})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	created := decodeItem(t, r)
	if loc := r.header.Get("Location"); loc != e.srv.URL()+"/list/v4/items/"+created.ID {
		t.Errorf("Location %q", loc)
	}
	if created.Code != "CC300" || created.Level != 1 || created.ParentID != nil || created.IsDeleted || len(created.Lists) != 1 || created.Lists[0].ID != listID {
		t.Errorf("created %+v", created)
	}
	got := e.do(http.MethodGet, e.li("/items/"+created.ID), nil)
	if got.status != http.StatusOK || decodeItem(t, got).Value != "Finance" {
		t.Fatalf("get: %d %s", got.status, got.body)
	}
	if nm := e.do(http.MethodGet, e.li("/items/"+created.ID), nil, "If-None-Match", got.header.Get("ETag")); nm.status != http.StatusNotModified {
		t.Errorf("If-None-Match with the ETag: %d", nm.status)
	}
	up := e.do(http.MethodPut, e.li("/items/"+created.ID), map[string]any{"shortCode": "CC300", "value": "Finance and Tax"})
	if up.status != http.StatusOK || decodeItem(t, up).Value != "Finance and Tax" {
		t.Fatalf("update: %d %s", up.status, up.body)
	}

	// Bulk update by long code, and delete.
	b = decodeBulk(t, e.do(http.MethodPatch, e.li("/lists/"+listID+"/bulk"), map[string]any{"requests": []map[string]any{
		{"code": "CC100-EAST", "value": "Sales East Coast"},
		{"code": "CC200", "deleted": true},
	}}), http.StatusOK)
	if b.Status != sandbox.BulkSuccess || b.RecordsSucceeded != 2 {
		t.Fatalf("bulk update: %+v", b)
	}
	items = e.itemsByCode(listID)
	if items["CC100-EAST"].Value != "Sales East Coast" || !items["CC200"].IsDeleted || items["CC100"].IsDeleted {
		t.Errorf("after bulk update: %+v", items)
	}

	// Single delete takes the children along.
	if r := e.do(http.MethodDelete, e.li("/items/"+items["CC100"].ID), nil); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	items = e.itemsByCode(listID)
	if !items["CC100"].IsDeleted || !items["CC100-EAST"].IsDeleted {
		t.Errorf("children not deleted with their parent: %+v", items)
	}
	got = e.do(http.MethodGet, e.li("/items/"+items["CC100"].ID), nil)
	if got.status != http.StatusOK || !decodeItem(t, got).IsDeleted {
		t.Errorf("GET of a deleted item: %d %s", got.status, got.body)
	}

	// The request log shows the List Item calls, so a test can tell when
	// a partner stopped sending.
	var logged []string
	for _, le := range e.srv.RequestLog() {
		if strings.HasPrefix(le.Path, "/list/v4/") {
			logged = append(logged, fmt.Sprintf("%s %s %d", le.Method, strings.TrimPrefix(le.Path, "/list/v4/lists/"+listID), le.Status))
		}
	}
	if len(logged) != 8 || logged[0] != "POST /bulk 201" || logged[5] != "PATCH /bulk 200" {
		t.Errorf("request log: %q", logged)
	}
}

// TestListItemBulkErrors checks the per-part results of the bulk calls:
// each part runs alone, in order, and fails with its documented id.
func TestListItemBulkErrors(t *testing.T) {
	e := newEnv(t)
	listID := e.mapList("erp-projects", "4c3f9f3e-6a38-4b8b-9e2b-1f0c0e6d7a11", map[string]any{"levels": 2})
	post := func(parts ...map[string]any) response {
		return e.do(http.MethodPost, e.li("/lists/"+listID+"/bulk"), map[string]any{"requests": parts})
	}
	decodeBulk(t, post(map[string]any{"shortCode": "P1", "value": "Project one"}), http.StatusCreated)

	b := decodeBulk(t, post(
		map[string]any{"shortCode": "P1", "value": "again"},                          // duplicate
		map[string]any{"shortCode": "T1", "value": "Task", "parentCode": "P1"},       // ok, level 2
		map[string]any{"shortCode": "X", "value": "Too deep", "parentCode": "P1-T1"}, // level 3 of 2
		map[string]any{"shortCode": "Y", "value": "Orphan", "parentCode": "NOPE"},    // no parent
	), http.StatusPartialContent)
	want := []string{"item.duplicate.code", "item.max.level.exceeded", "item.parent.not.found"}
	if b.Status != sandbox.BulkPartialSuccess || b.RecordsSucceeded != 1 || b.RecordsFailed != 3 || len(b.Errors) != len(want) {
		t.Fatalf("bulk: %+v", b)
	}
	for i, id := range want {
		if b.Errors[i].ID != id {
			t.Errorf("error %d: %q, want %q", i, b.Errors[i].ID, id)
		}
	}
	if li := b.Errors[0].ListItem; li["shortCode"] != "P1" || li["value"] != "again" || len(li) != 2 {
		t.Errorf("failed part echoed as %v, want it as sent", li)
	}

	// Deleted codes stay taken: create fails, PATCH deleted:false restores.
	decodeBulk(t, e.do(http.MethodPatch, e.li("/lists/"+listID+"/bulk"), map[string]any{"requests": []map[string]any{{"code": "P1", "deleted": true}}}), http.StatusOK)
	b = decodeBulk(t, post(map[string]any{"shortCode": "P1", "value": "back"}, map[string]any{"shortCode": "T2", "value": "t", "parentCode": "P1"}), http.StatusBadRequest)
	if b.Status != sandbox.BulkFailure || b.Errors[0].ID != "item.duplicate.code.deleted" || b.Errors[1].ID != "item.parent.deleted" {
		t.Fatalf("after delete: %+v", b)
	}
	b = decodeBulk(t, e.do(http.MethodPatch, e.li("/lists/"+listID+"/bulk"), map[string]any{"requests": []map[string]any{
		{"code": "P1-T1", "value": "still deleted"},
		{"code": "P1", "deleted": false, "value": "Project one restored"},
		{"code": "MISSING", "value": "x"},
	}}), http.StatusPartialContent)
	if b.RecordsSucceeded != 1 || b.Errors[0].ID != "item.deleted" || b.Errors[1].ID != "item.not.found" {
		t.Fatalf("patch: %+v", b)
	}
	if it := e.itemsByCode(listID)["P1"]; it.IsDeleted || it.Value != "Project one restored" {
		t.Errorf("restored item: %+v", it)
	}

	// An unknown list fails every part with list.not.found.
	b = decodeBulk(t, e.do(http.MethodPost, e.li("/lists/00000000-0000-0000-0000-000000000000/bulk"), map[string]any{"requests": []map[string]any{{"shortCode": "A", "value": "a"}}}), http.StatusBadRequest)
	if b.Errors[0].ID != "list.not.found" {
		t.Errorf("unknown list: %+v", b)
	}
}

// TestListItemValidation covers the request validation errors: part count,
// required members and the code naming restriction (no hyphens).
func TestListItemValidation(t *testing.T) {
	e := newEnv(t)
	listID := e.mapList("erp-dept", "1b1b1b1b-2c2c-3d3d-4e4e-5f5f5f5f5f5f", nil)
	bulk := e.li("/lists/" + listID + "/bulk")
	m := wantListError(t, e.do(http.MethodPost, bulk, map[string]any{"requests": []any{}}), http.StatusBadRequest, "request.validation.error")
	if v, _ := json.Marshal(m["validationErrors"]); string(v) != `[{"message":"size must be between 1 and 250","source":"requests"}]` {
		t.Errorf("validationErrors %s", v)
	}
	parts := make([]map[string]any, sandbox.MaxBulkParts+1)
	for i := range parts {
		parts[i] = map[string]any{"shortCode": "C", "value": "v"}
	}
	wantListError(t, e.do(http.MethodPost, bulk, map[string]any{"requests": parts}), http.StatusBadRequest, "request.validation.error")
	if items := e.itemsByCode(listID); len(items) != 0 {
		t.Fatalf("a refused request created items: %v", items)
	}
	m = wantListError(t, e.do(http.MethodPost, bulk, map[string]any{"requests": []map[string]any{
		{"shortCode": "A-B", "value": "ok"}, {"value": "no code"},
	}}), http.StatusBadRequest, "request.validation.error")
	v, _ := json.Marshal(m["validationErrors"])
	if !strings.Contains(string(v), `"requests[0].shortCode"`) || !strings.Contains(string(v), `"requests[1].shortCode"`) {
		t.Errorf("validationErrors %s", v)
	}
	wantListError(t, e.do(http.MethodPost, e.li("/items"), map[string]any{"listId": listID, "shortCode": "OK", "value": "Sales - East"}), http.StatusBadRequest, "request.validation.error")
	wantListError(t, e.do(http.MethodPatch, bulk, map[string]any{"requests": []map[string]any{{"value": "x"}}}), http.StatusBadRequest, "request.validation.error")
	wantListError(t, e.do(http.MethodPost, e.li("/items"), "{", "Content-Type", "application/json"), http.StatusBadRequest, "request.validation.error")
	wantListError(t, e.do(http.MethodPost, e.li("/items"), "a=b", "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "request.unsupported.media.type")
	if items := e.itemsByCode(listID); len(items) != 0 {
		t.Fatalf("a refused request created items: %v", items)
	}
}

// TestListItemAuth checks the List Item scopes: GET needs read or write,
// writes need write, DELETE needs delete; the token names the company.
func TestListItemAuth(t *testing.T) {
	e := newEnv(t)
	listID := e.mapList("erp-a", "9a9a9a9a-8b8b-7c7c-6d6d-5e5e5e5e5e5e", nil)
	r := e.do(http.MethodPost, e.li("/items"), map[string]any{"listId": listID, "shortCode": "A", "value": "a"})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := decodeItem(t, r).ID

	wantListError(t, doRequest(t, http.MethodGet, e.li("/items/"+id), "", nil), http.StatusUnauthorized, "security.unauthorized")
	wantListError(t, doRequest(t, http.MethodGet, e.li("/items/"+id), "not-a-token", nil), http.StatusUnauthorized, "security.unauthorized")

	token := func(scopes ...string) string {
		co, err := e.srv.SeedCompany(sandbox.WithScopes(scopes...))
		if err != nil {
			t.Fatal(err)
		}
		return e.passwordGrant(co).AccessToken
	}
	// Another company's token does not see this company's items.
	wantListError(t, doRequest(t, http.MethodGet, e.li("/items/"+id), token(sandbox.ScopeListItemRead), nil), http.StatusNotFound, "item.not.found")

	aiOnly := token(sandbox.ScopeRead, sandbox.ScopeWrite)
	wantListError(t, doRequest(t, http.MethodGet, e.li("/items/"+id), aiOnly, nil), http.StatusForbidden, "security.forbidden")
	readOnly := token(sandbox.ScopeListItemRead)
	wantListError(t, doRequest(t, http.MethodPost, e.li("/items"), readOnly, map[string]any{"listId": listID, "shortCode": "B", "value": "b"}), http.StatusForbidden, "security.forbidden")
	writeOnly := token(sandbox.ScopeListItemWrite)
	wantListError(t, doRequest(t, http.MethodDelete, e.li("/items/"+id), writeOnly, nil), http.StatusForbidden, "security.forbidden")
	if r := doRequest(t, http.MethodGet, e.li("/items/"+id), e.token, nil); r.status != http.StatusOK {
		t.Errorf("default scopes cannot read: %d %s", r.status, r.body)
	}
}
