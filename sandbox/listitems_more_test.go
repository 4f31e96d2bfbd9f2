package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/concurflow/concurflow/concur/ess"
	"github.com/concurflow/concurflow/sandbox"
)

// The fieldMappings of the Events page's listMapping.created sample: fields
// at level 1 and a connected list using levels 1 and 2.
const sampleFieldMappings = `[{"formTypeCode":"allocation","fields":[{"alternateFieldId":"MyFieldId","level":1}],
 "connectedLists":[{"fields":[{"alternateFieldId":"MyConnectedFieldID1","level":1},{"alternateFieldId":"MyConnectedFieldID2","level":2}]}]}]`

func (e *env) concurLists() map[string]sandbox.ConcurList {
	e.t.Helper()
	r := doRequest(e.t, http.MethodGet, e.srv.URL()+"/sandbox/v1/companies/"+e.co.ID+"/lists", "", nil)
	var out struct {
		Data []sandbox.ConcurList `json:"data"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &out) != nil {
		e.t.Fatalf("admin lists: %d %s", r.status, r.body)
	}
	m := map[string]sandbox.ConcurList{}
	for _, l := range out.Data {
		m[l.ID] = l
	}
	return m
}

func (e *env) bulkCreate(listID string, parts ...map[string]any) bulkResult {
	e.t.Helper()
	r := e.do(http.MethodPost, e.li("/lists/"+listID+"/bulk"), map[string]any{"requests": parts})
	var b bulkResult
	if err := json.Unmarshal(r.body, &b); err != nil {
		e.t.Fatalf("bulk: %d %s", r.status, r.body)
	}
	return b
}

// TestListMappingCreatesConcurList: the list a mapping names comes into
// existence with the levels its fieldMappings use; the admin body's levels
// override; unmapping keeps the list and its items.
func TestListMappingCreatesConcurList(t *testing.T) {
	e := newEnv(t)
	e.mapList("erpListId1", "concurListId1", map[string]any{"fieldMappings": json.RawMessage(sampleFieldMappings)})
	e.mapList("erpListId2", "0f0f0f0f-1111-2222-3333-444444444444", nil)
	e.mapList("erpListId3", "0f0f0f0f-1111-2222-3333-555555555555", map[string]any{"levels": 3})
	lists := e.concurLists()
	for id, want := range map[string]int{"concurListId1": 2, "0f0f0f0f-1111-2222-3333-444444444444": sandbox.MaxListLevels, "0f0f0f0f-1111-2222-3333-555555555555": 3} {
		if l, ok := lists[id]; !ok || l.Levels != want || l.Deleted {
			t.Errorf("list %s: %+v (present %v), want %d levels", id, l, ok, want)
		}
	}
	b := e.bulkCreate("concurListId1",
		map[string]any{"shortCode": "A", "value": "a"},
		map[string]any{"shortCode": "B", "value": "b", "parentCode": "A"},
		map[string]any{"shortCode": "C", "value": "c", "parentCode": "A-B"})
	if b.Status != sandbox.BulkPartialSuccess || len(b.Errors) != 1 || b.Errors[0].ID != "item.max.level.exceeded" {
		t.Fatalf("a two-level list took a third level: %+v", b)
	}

	// Mapping another ERP list to the same SAP Concur list reuses it.
	e.mapList("erpListId4", "concurListId1", map[string]any{"levels": 5})
	if l := e.concurLists()["concurListId1"]; l.Levels != 2 {
		t.Errorf("remapping changed the list: %+v", l)
	}
	r := doRequest(t, http.MethodDelete, e.srv.URL()+"/sandbox/v1/companies/"+e.co.ID+"/erps/"+e.erp+"/listMappings/erpListId1", "", nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("unmap: %d %s", r.status, r.body)
	}
	if items := e.itemsByCode("concurListId1"); len(items) != 2 {
		t.Errorf("unmapping touched the items: %v", items)
	}

	// A deleted list refuses items and new mappings.
	r = doRequest(t, http.MethodDelete, e.srv.URL()+"/sandbox/v1/companies/"+e.co.ID+"/lists/concurListId1", "", nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("delete list: %d %s", r.status, r.body)
	}
	if b := e.bulkCreate("concurListId1", map[string]any{"shortCode": "D", "value": "d"}); b.Status != sandbox.BulkFailure || b.Errors[0].ID != "list.deleted" {
		t.Errorf("bulk on a deleted list: %+v", b)
	}
	wantListError(t, e.do(http.MethodPost, e.li("/items"), map[string]any{"listId": "concurListId1", "shortCode": "D", "value": "d"}), http.StatusBadRequest, "list.deleted")
	r = doRequest(t, http.MethodPost, e.srv.URL()+"/sandbox/v1/companies/"+e.co.ID+"/erps/"+e.erp+"/listMappings", "", map[string]any{"erpListId": "x", "concurListId": "concurListId1"})
	if r.status != http.StatusBadRequest {
		t.Errorf("mapping to a deleted list: %d %s", r.status, r.body)
	}
	r = doRequest(t, http.MethodPost, e.srv.URL()+"/sandbox/v1/companies/"+e.co.ID+"/lists", "", map[string]any{"levels": 11})
	if r.status != http.StatusBadRequest {
		t.Errorf("11 levels: %d %s", r.status, r.body)
	}
	r = doRequest(t, http.MethodPost, e.srv.URL()+"/sandbox/v1/companies/"+e.co.ID+"/lists", "", map[string]any{"name": "Departments", "levels": 2})
	var made sandbox.ConcurList
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &made) != nil || len(made.ID) != 36 || made.Levels != 2 || made.Name != "Departments" {
		t.Fatalf("admin create list: %d %s", r.status, r.body)
	}
	if l, ok := e.concurLists()[made.ID]; !ok || l != made {
		t.Errorf("created list listed as %+v", l)
	}
	r = doRequest(t, http.MethodPost, e.srv.URL()+"/sandbox/v1/companies/"+e.co.ID+"/lists", "", map[string]any{"id": made.ID})
	if r.status != http.StatusBadRequest {
		t.Errorf("second list with the same id: %d %s", r.status, r.body)
	}
}

// TestListItemSingleCalls covers the single-item rules: parents by id or
// code, renames, deleted items, list-scoped deletes, unknown ids.
func TestListItemSingleCalls(t *testing.T) {
	e := newEnv(t)
	listID := e.mapList("erp", "2a2a2a2a-0000-0000-0000-000000000001", map[string]any{"levels": 3})
	other := e.mapList("erp2", "2a2a2a2a-0000-0000-0000-000000000002", nil)
	create := func(body map[string]any) response { return e.do(http.MethodPost, e.li("/items"), body) }
	top := decodeItem(t, create(map[string]any{"listId": listID, "shortCode": "TOP", "value": "Top"}))
	mid := decodeItem(t, create(map[string]any{"listId": listID, "parentId": top.ID, "shortCode": "MID", "value": "Mid"}))
	low := decodeItem(t, create(map[string]any{"listId": listID, "parentCode": "TOP-MID", "shortCode": "LOW", "value": "Low"}))
	if low.Code != "TOP-MID-LOW" || low.Level != 3 || *low.ParentID != mid.ID {
		t.Fatalf("third level: %+v", low)
	}
	wantListError(t, create(map[string]any{"listId": listID, "parentId": low.ID, "shortCode": "X", "value": "x"}), http.StatusBadRequest, "item.max.level.exceeded")
	wantListError(t, create(map[string]any{"listId": other, "parentId": top.ID, "shortCode": "X", "value": "x"}), http.StatusBadRequest, "item.list.id.not.match.parent")
	wantListError(t, create(map[string]any{"listId": listID, "parentCode": "NOPE", "shortCode": "X", "value": "x"}), http.StatusBadRequest, "item.parent.not.found")
	wantListError(t, create(map[string]any{"listId": listID, "parentId": top.ID, "parentCode": "TOP-MID", "shortCode": "X", "value": "x"}), http.StatusBadRequest, "request.validation.error")
	wantListError(t, create(map[string]any{"listId": listID, "shortCode": "TOP", "value": "again"}), http.StatusBadRequest, "item.duplicate.code")
	wantListError(t, create(map[string]any{"listId": "no-such-list", "shortCode": "X", "value": "x"}), http.StatusNotFound, "list.not.found")

	// A new short code renames the item's long code and its descendants'.
	r := e.do(http.MethodPut, e.li("/items/"+mid.ID), map[string]any{"shortCode": "MIDDLE", "value": "Middle"})
	if it := decodeItem(t, r); r.status != http.StatusOK || it.Code != "TOP-MIDDLE" {
		t.Fatalf("rename: %d %s", r.status, r.body)
	}
	if got := decodeItem(t, e.do(http.MethodGet, e.li("/items/"+low.ID), nil)); got.Code != "TOP-MIDDLE-LOW" {
		t.Errorf("descendant after rename: %+v", got)
	}
	decodeItem(t, create(map[string]any{"listId": listID, "shortCode": "SECOND", "value": "Second"}))
	wantListError(t, e.do(http.MethodPut, e.li("/items/"+top.ID), map[string]any{"shortCode": "SECOND", "value": "x"}), http.StatusBadRequest, "item.duplicate.code")
	wantListError(t, e.do(http.MethodPut, e.li("/items/"+top.ID), map[string]any{"value": "no short code"}), http.StatusBadRequest, "request.validation.error")

	// Deleting from the wrong list finds nothing; from its own list deletes
	// the item and its descendants, which then refuse updates.
	wantListError(t, e.do(http.MethodDelete, e.li("/lists/"+other+"/items/"+mid.ID), nil), http.StatusNotFound, "item.not.found")
	if r := e.do(http.MethodDelete, e.li("/lists/"+listID+"/items/"+mid.ID), nil); r.status != http.StatusNoContent {
		t.Fatalf("delete from list: %d %s", r.status, r.body)
	}
	items := e.itemsByCode(listID)
	if !items["TOP-MIDDLE"].IsDeleted || !items["TOP-MIDDLE-LOW"].IsDeleted || items["TOP"].IsDeleted || items["TOP"].Lists[0].HasChildren {
		t.Errorf("after delete: %+v", items)
	}
	wantListError(t, e.do(http.MethodPut, e.li("/items/"+low.ID), map[string]any{"shortCode": "LOW", "value": "x"}), http.StatusBadRequest, "item.deleted")
	wantListError(t, create(map[string]any{"listId": listID, "parentId": mid.ID, "shortCode": "X", "value": "x"}), http.StatusBadRequest, "item.parent.deleted")
	if r := e.do(http.MethodDelete, e.li("/items/"+mid.ID), nil); r.status != http.StatusNoContent {
		t.Errorf("deleting a deleted item again: %d %s", r.status, r.body)
	}
	for _, id := range []string{"7c6d0435-c4d1-8b48-8492-7e7b625e148d", "not-a-uuid"} {
		wantListError(t, e.do(http.MethodGet, e.li("/items/"+id), nil), http.StatusNotFound, "item.not.found")
		wantListError(t, e.do(http.MethodPut, e.li("/items/"+id), map[string]any{"shortCode": "A", "value": "a"}), http.StatusNotFound, "item.not.found")
		wantListError(t, e.do(http.MethodDelete, e.li("/items/"+id), nil), http.StatusNotFound, "item.not.found")
	}

	// Paths and methods the API does not serve answer in its error form.
	wantListError(t, e.do(http.MethodGet, e.li("/nothing"), nil), http.StatusNotFound, "notFound")
	r = e.do(http.MethodPatch, e.li("/items/"+top.ID), map[string]any{})
	wantListError(t, r, http.StatusMethodNotAllowed, "methodNotAllowed")
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "PUT") || !strings.Contains(allow, "DELETE") {
		t.Errorf("Allow %q", allow)
	}
}

// TestListItemSharedCategory: a code live in one list of a category cannot
// be created in another list of that category.
func TestListItemSharedCategory(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 3 {
		cat := "COST"
		if i == 2 {
			cat = "OTHER"
		}
		l, err := e.srv.CreateConcurList(e.co.ID, sandbox.ConcurList{Category: cat})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
	}
	if b := e.bulkCreate(ids[0], map[string]any{"shortCode": "X", "value": "x"}); b.Status != sandbox.BulkSuccess {
		t.Fatal(b)
	}
	if b := e.bulkCreate(ids[1], map[string]any{"shortCode": "X", "value": "x"}); b.Status != sandbox.BulkFailure || b.Errors[0].ID != "item.duplicate.item.shared" {
		t.Errorf("same category: %+v", b)
	}
	if b := e.bulkCreate(ids[2], map[string]any{"shortCode": "X", "value": "x"}); b.Status != sandbox.BulkSuccess {
		t.Errorf("other category: %+v", b)
	}
}

// TestListItemChildrenQueries covers paging (100 a page, links), sorting
// and the Query Syntax filters of the children calls.
func TestListItemChildrenQueries(t *testing.T) {
	e := newEnv(t)
	listID := e.mapList("erp", "3b3b3b3b-0000-0000-0000-000000000001", nil)
	var parts []map[string]any
	for i := range 230 {
		parts = append(parts, map[string]any{"shortCode": fmt.Sprintf("C%03d", i), "value": fmt.Sprintf("Value %03d", 229-i)})
	}
	if b := e.bulkCreate(listID, parts[:200]...); b.RecordsSucceeded != 200 {
		t.Fatal(b)
	}
	if b := e.bulkCreate(listID, append(parts[200:], map[string]any{"shortCode": "KID", "value": "Kid", "parentCode": "C000"})...); b.RecordsSucceeded != 31 {
		t.Fatal(b)
	}
	type page struct {
		Links []struct {
			Rel, Href string
		} `json:"links"`
		Content []sandbox.ListItem `json:"content"`
		Page    struct {
			Size, TotalElements, TotalPages, Number int
		} `json:"page"`
	}
	get := func(q string) page {
		t.Helper()
		r := e.do(http.MethodGet, e.li("/lists/"+listID+"/children"+q), nil)
		var p page
		if r.status != http.StatusOK || json.Unmarshal(r.body, &p) != nil {
			t.Fatalf("GET children%s: %d %s", q, r.status, r.body)
		}
		return p
	}
	p := get("?page=3")
	if p.Page.Size != 100 || p.Page.TotalElements != 230 || p.Page.TotalPages != 3 || p.Page.Number != 3 || len(p.Content) != 30 {
		t.Fatalf("page 3: %+v", p.Page)
	}
	rels := map[string]string{}
	for _, l := range p.Links {
		rels[l.Rel] = l.Href
	}
	if rels["first"] == "" || rels["prev"] == "" || rels["next"] != "" || !strings.Contains(rels["prev"], "page=2") {
		t.Errorf("links of the last page: %v", p.Links)
	}
	if p := get(""); p.Content[0].Value != "Value 000" || p.Content[0].Code != "C229" {
		t.Errorf("default sort by value: first %+v", p.Content[0])
	}
	if p := get("?sortBy=shortCode&sortDirection=desc"); p.Content[0].Code != "C229" || p.Content[1].Code != "C228" {
		t.Errorf("shortCode desc: %+v", p.Content[:2])
	}
	for q, want := range map[string]int{
		"?shortCode=C001": 1, "?shortCode=eq:c001": 1, "?shortCode=sw:C00": 10, "?value=ew:5": 23,
		"?value=cp:ue%201": 100, "?shortCode=not:C001": 229, "?shortCodeOrValue=Value%20007": 1,
		"?shortCodeOrValue=C007": 1, "?hasChildren=true": 1, "?value=sw:Value&shortCode=sw:C1": 100,
	} {
		if p := get(q); p.Page.TotalElements != want {
			t.Errorf("%s: %d elements, want %d", q, p.Page.TotalElements, want)
		}
	}
	// Deleted items show only with isDeleted=true.
	if r := e.do(http.MethodPatch, e.li("/lists/"+listID+"/bulk"), map[string]any{"requests": []any{map[string]any{"code": "C001", "deleted": true}}}); r.status != http.StatusOK {
		t.Fatal(r.status, string(r.body))
	}
	if p := get(""); p.Page.TotalElements != 229 {
		t.Errorf("deleted item listed: %d", p.Page.TotalElements)
	}
	if p := get("?isDeleted=true&shortCode=C001"); p.Page.TotalElements != 1 || !p.Content[0].IsDeleted {
		t.Errorf("isDeleted=true: %+v", p)
	}
	for _, q := range []string{"?page=0", "?sortBy=code", "?sortDirection=up", "?isDeleted=maybe"} {
		wantListError(t, e.do(http.MethodGet, e.li("/lists/"+listID+"/children"+q), nil), http.StatusBadRequest, "request.validation.error")
	}
	wantListError(t, e.do(http.MethodGet, e.li("/lists/nope/children"), nil), http.StatusNotFound, "list.not.found")
}

// TestListItemConcurrentBulk runs bulk creates on one list from several
// goroutines: every code lands exactly once.
func TestListItemConcurrentBulk(t *testing.T) {
	e := newEnv(t)
	listID := e.mapList("erp", "4c4c4c4c-0000-0000-0000-000000000001", nil)
	var wg sync.WaitGroup
	results := make([]bulkResult, 4)
	for g := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var parts []map[string]any
			for i := range 50 {
				parts = append(parts, map[string]any{"shortCode": fmt.Sprintf("K%d", i), "value": "v"})
			}
			r := doRequest(t, http.MethodPost, e.li("/lists/"+listID+"/bulk"), e.token, map[string]any{"requests": parts})
			_ = json.Unmarshal(r.body, &results[g])
		}()
	}
	wg.Wait()
	ok := 0
	for _, r := range results {
		ok += r.RecordsSucceeded
	}
	if items := e.itemsByCode(listID); ok != 50 || len(items) != 50 {
		t.Errorf("%d parts succeeded, %d items; want 50 of each", ok, len(items))
	}
}

// TestListMappingEventDrivesListItems follows the Events page's flow with
// a webhook: the partner learns concurListId from listMapping.created,
// sends the ERP list's items there (within the levels the mapping's
// connected list uses), and on listMapping.deleted learns which list to
// stop feeding.
func TestListMappingEventDrivesListItems(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, e.srv)
	e.srv.Subscribe(e.co.ID, rc.srv.URL)
	e.mapList("erpListId1", "concurListId1", map[string]any{"fieldMappings": json.RawMessage(sampleFieldMappings)})
	e.settle()
	created := rc.byType(ess.EventListMappingCreated)
	if len(created) != 1 {
		t.Fatalf("%d listMapping.created", len(created))
	}
	lms, err := created[0].ListMappings()
	if err != nil || len(lms) != 1 {
		t.Fatalf("mappings %+v: %v", lms, err)
	}
	target := lms[0].ConcurListID
	b := e.bulkCreate(target,
		map[string]any{"shortCode": "US", "value": "United States"},
		map[string]any{"shortCode": "NY", "value": "New York", "parentCode": "US"})
	if b.Status != sandbox.BulkSuccess {
		t.Fatalf("sending the mapped list's items: %+v", b)
	}
	if err := e.srv.UnmapList(e.co.ID, e.erp, "erpListId1"); err != nil {
		t.Fatal(err)
	}
	e.settle()
	deleted := rc.byType(ess.EventListMappingDeleted)
	if len(deleted) != 1 {
		t.Fatalf("%d listMapping.deleted", len(deleted))
	}
	if lms, err := deleted[0].ListMappings(); err != nil || len(lms) != 1 || lms[0].ConcurListID != target {
		t.Fatalf("deleted mappings %+v: %v", lms, err)
	}
	if items := e.itemsByCode(target); len(items) != 2 || items["US-NY"].Level != 2 {
		t.Errorf("items of the unmapped list: %+v", items)
	}
}
