package sandbox_test

import (
	"encoding/json"

	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concurflow/concurflow/sandbox"
	"github.com/concurflow/concurflow/sandbox/internal/schema/refdoc"
)

// The ids the List Item pages use in their examples.
const (
	docItemListID  = "80edb3fa-c15e-a34a-b97f-f2ec291ab44f" // List Item page: the list
	docItemID      = "7c6d0435-c4d1-8b48-8492-7e7b625e148d" // List Item page: ITEM
	docChildItemID = "63b7fbd9-ae08-0840-abdb-62b0b9160081" // List Item page: SECOND LEVEL ITEM
	docBulkListID  = "530ae443-3b22-a44c-8211-c66d96c58d9e" // List Item Bulk page: the list
)

// liReplay is one List Item conformance run: a company with a token, and
// the documentation's ids mapped to the sandbox's.
type liReplay struct {
	e     *env
	co    string // the company replaying
	token string
	ids   map[string]string
}

func (c *liReplay) swap(s string) string {
	for doc, ours := range c.ids {
		s = strings.ReplaceAll(s, doc, ours)
	}
	return s
}

// send replays a documented request as raw bytes, with its documented
// Accept and Accept-Language headers.
func (c *liReplay) send(t *testing.T, ex refdoc.HTTPExample, path string, body []byte) response {
	t.Helper()
	var hdr []string
	for _, h := range []string{"Accept", "Accept-Language"} {
		if v, ok := ex.Header[h]; ok {
			hdr = append(hdr, h, v)
		}
	}
	var b any
	if body != nil {
		b = []byte(c.swap(string(body)))
	}
	return doRequest(t, ex.Method, c.e.srv.URL()+c.swap(path), c.token, b, hdr...)
}

// check compares an answer with the documented status, body and the
// documented headers the sandbox reproduces.
func (c *liReplay) check(t *testing.T, ex refdoc.HTTPExample, r response, doc []byte, values bool) {
	t.Helper()
	if r.status != ex.Status {
		t.Errorf("%s: status %d, documented %d: %s", ex.Name(), r.status, ex.Status, r.body)
		return
	}
	if doc == nil {
		if len(r.body) != 0 {
			t.Errorf("%s: documented without a body, got %s", ex.Name(), r.body)
		}
	} else {
		for _, p := range compareJSON(doc, r.body, values) {
			t.Errorf("%s: %s", ex.Name(), p)
		}
	}
	for name, want := range ex.ResponseHeader {
		got := r.header.Get(name)
		switch name {
		case "content-type", "cache-control", "retry-after":
			if got != want {
				t.Errorf("%s: %s %q, documented %q", ex.Name(), name, got, want)
			}
		case "location":
			wu, _ := url.Parse(want)
			gu, err := url.Parse(got)
			if err != nil || uuidRE.ReplaceAllString(gu.Path, "<uuid>") != uuidRE.ReplaceAllString(wu.Path, "<uuid>") {
				t.Errorf("%s: location %q, documented %q", ex.Name(), got, want)
			}
		case "concur-correlationid", "date", "etag":
			if got == "" {
				t.Errorf("%s: no %s header", ex.Name(), name)
			}
		}
	}
}

func (c *liReplay) newCompany(t *testing.T, lists ...sandbox.ConcurList) {
	t.Helper()
	co, err := c.e.srv.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	c.token = c.e.passwordGrant(co).AccessToken
	c.co = co.ID
	for _, l := range lists {
		if _, err := c.e.srv.CreateConcurList(co.ID, l); err != nil {
			t.Fatal(err)
		}
	}
}

func loadHTTPExamples(t *testing.T, page string) []refdoc.HTTPExample {
	t.Helper()
	ex, err := refdoc.HTTPExamples(filepath.Join(refdoc.Require(t), "list-item", page))
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) == 0 {
		t.Fatalf("%s: no examples", page)
	}
	return ex
}

// TestListItemConformance replays every example of the List Item v4 page,
// as raw bytes, in an order that makes them consistent: the page shows the
// GET of SECOND LEVEL ITEM before creating it, and Examples 2 and 3 create
// the same item (so Example 3 runs in a second company, after Example 1).
// Answers must match the documented ones in shape and values, ids aside.
func TestListItemConformance(t *testing.T) {
	examples := loadHTTPExamples(t, "v4.list-item.markdown")
	sec := map[string]refdoc.HTTPExample{}
	for _, ex := range examples {
		if _, dup := sec[ex.Section]; dup {
			t.Fatalf("two examples under %q: the replay knows one", ex.Section)
		}
		sec[ex.Section] = ex
	}
	get := func(name string) refdoc.HTTPExample {
		ex, ok := sec[name]
		if !ok {
			t.Fatalf("the page has no example under %q", name)
		}
		delete(sec, name)
		return ex
	}
	c := &liReplay{e: newEnv(t), ids: map[string]string{}}
	list := sandbox.ConcurList{ID: docItemListID, Levels: 2}
	c.newCompany(t, list)

	create := get("Create a List Item")
	requests, responses := map[int][]byte{}, map[int][]byte{}
	for _, b := range create.Requests {
		for _, n := range refdoc.ExampleNumbers(b.Label) {
			requests[n] = b.JSON
		}
	}
	for _, b := range create.Responses {
		for _, n := range refdoc.ExampleNumbers(b.Label) {
			responses[n] = b.JSON
		}
	}
	if len(requests) != 3 || len(responses) != 3 {
		t.Fatalf("create: requests %v, responses %v: want Examples 1–3 of each", len(requests), len(responses))
	}
	created := func(r response) string {
		var it struct{ ID string }
		_ = json.Unmarshal(r.body, &it)
		return it.ID
	}
	r := c.send(t, create, create.Path, requests[1])
	c.check(t, create, r, responses[1], true)
	c.ids[docItemID] = created(r)
	r = c.send(t, create, create.Path, requests[2]) // by parentId
	c.check(t, create, r, responses[2], true)
	c.ids[docChildItemID] = created(r)
	if c.ids[docItemID] == "" || c.ids[docChildItemID] == "" {
		t.Fatal("the create examples gave no item ids: cannot replay the rest")
	}

	byID := get("Retrieve a List Item by ID")
	c.check(t, byID, c.send(t, byID, strings.ReplaceAll(byID.Path, "{itemId}", docChildItemID), nil), byID.Responses[0].JSON, true)

	update := get("Update a List Item")
	c.check(t, update, c.send(t, update, update.Path, update.Requests[0].JSON), update.Responses[0].JSON, true)

	for _, name := range []string{"Retrieve Children of a List Item", "Retrieve Children of a List Item by List"} {
		ex := get(name)
		c.check(t, ex, c.send(t, ex, ex.Path, nil), ex.Responses[0].JSON, true)
	}
	// The first-level example names ITEM's id as the list and shows an item
	// the other examples never create: only its shape can match.
	first := get("Retrieve First Level Children Items of a List")
	firstPath := strings.Replace(first.Path, "/lists/"+docItemID+"/", "/lists/"+docItemListID+"/", 1)
	c.check(t, first, c.send(t, first, firstPath, nil), first.Responses[0].JSON, false)

	// Every filter example of the Filtering section answers a page.
	c.filterExamples(t, first)

	for _, name := range []string{"Delete a List Item", "Delete a List Item from a List"} {
		ex := get(name)
		c.check(t, ex, c.send(t, ex, ex.Path, nil), nil, false)
	}
	for _, id := range []string{docItemID, docChildItemID} {
		r := doRequest(t, http.MethodGet, c.e.srv.URL()+"/list/v4/items/"+c.ids[id], c.token, nil)
		if it := decodeItem(t, r); r.status != http.StatusOK || !it.IsDeleted {
			t.Errorf("after the delete examples, %s: %d %s", id, r.status, r.body)
		}
	}

	// Example 3 (by parent code) creates what Example 2 did: replay it in a
	// company of its own.
	c.newCompany(t, list)
	c.ids = map[string]string{}
	if r := c.send(t, create, create.Path, requests[1]); r.status != http.StatusCreated {
		t.Fatalf("Example 1 again: %d %s", r.status, r.body)
	}
	c.check(t, create, c.send(t, create, create.Path, requests[3]), responses[3], true)

	for name := range sec {
		t.Errorf("the example under %q is not replayed", name)
	}
}

// filterExamples sends every request line of the Filtering section, the
// {listId} and {itemId} templates filled in, and checks each answers 200
// with a Paged Resources List Item.
func (c *liReplay) filterExamples(t *testing.T, pageEx refdoc.HTTPExample) {
	t.Helper()
	blocks, err := refdoc.Blocks(filepath.Join(refdoc.Require(t), "list-item", "v4.list-item.markdown"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range blocks {
		if b.Section != "Filtering" {
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(b.Text), "\n") {
			path := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "GET "))
			if !strings.HasPrefix(path, "/list/v4/") || strings.Contains(path, "<") {
				continue // the syntax template
			}
			// The page writes {listId} where an item id belongs, too.
			path = strings.ReplaceAll(path, "/items/{listId}/", "/items/{itemId}/")
			path = strings.ReplaceAll(path, "{listId}", docItemListID)
			path = strings.ReplaceAll(path, "{itemId}", c.ids[docItemID])
			r := doRequest(t, http.MethodGet, c.e.srv.URL()+path, c.token, nil)
			n++
			if r.status != http.StatusOK {
				t.Errorf("filter example %s: %d %s", path, r.status, r.body)
				continue
			}
			var page struct {
				Links   []any            `json:"links"`
				Content []map[string]any `json:"content"`
				Page    map[string]any   `json:"page"`
			}
			if err := json.Unmarshal(r.body, &page); err != nil || page.Links == nil || page.Content == nil || page.Page["size"] != float64(100) {
				t.Errorf("filter example %s: not a page: %s", path, r.body)
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d filter examples found on the page", n)
	}
}

// TestListItemBulkConformance replays every example of the List Item Bulk
// v4 page, in page order, on the page's list, and checks status, body
// (values included) and the Location header. The examples assume items
// the page never creates (PARENT_ITEM, ITEM-CHILD_ITEM, …); those are
// created first with the bulk API. The Create First-level example's
// second part names parentCode PARENT_ITEM, not the FIRST_LEVEL_PARENT_ITEM
// its first part creates, so PARENT_ITEM must exist for SUCCESS.
func TestListItemBulkConformance(t *testing.T) {
	examples := loadHTTPExamples(t, "v4.list-item-bulk.markdown")
	c := &liReplay{e: newEnv(t), ids: map[string]string{}}
	c.newCompany(t, sandbox.ConcurList{ID: docBulkListID, Levels: 3})
	seeds := map[string][]string{ // example title → parent code / short code to create first
		"Create First-level list item and Children Items with Successful Response Example": {"/PARENT_ITEM"},
		"Create Child Item with Failure Response Example":                                  {"ITEM/CHILD_ITEM"},
		"Create Multiple Items with Partial Success Response Example":                      {"ITEM/CHILD_ITEM_ONE"},
		"Update Multiple Items with Partial Success Response":                              {"/ITEM_TWO"},
		"Update Items in different levels":                                                 {"/FIRST_LEVEL", "FIRST_LEVEL/SECOND_LEVEL", "FIRST_LEVEL-SECOND_LEVEL/THIRD_LEVEL"},
	}
	bulk := c.e.srv.URL() + "/list/v4/lists/" + docBulkListID + "/bulk"
	for _, ex := range examples {
		for _, s := range seeds[ex.Title] {
			parent, short, _ := strings.Cut(s, "/")
			part := map[string]any{"shortCode": short, "value": short}
			if parent != "" {
				part["parentCode"] = parent
			}
			r := doRequest(t, http.MethodPost, bulk, c.token, map[string]any{"requests": []any{part}})
			if r.status != http.StatusCreated {
				t.Fatalf("seeding %s for %q: %d %s", s, ex.Title, r.status, r.body)
			}
		}
		delete(seeds, ex.Title)
		c.check(t, ex, c.send(t, ex, ex.Path, ex.Requests[0].JSON), ex.Responses[0].JSON, true)
	}
	for title := range seeds {
		t.Errorf("no example titled %q on the page", title)
	}
	all, err := c.e.srv.ListItems(c.co, docBulkListID)
	if err != nil {
		t.Fatal(err)
	}
	items := map[string]sandbox.ListItem{}
	for _, it := range all {
		items[it.Code] = it
	}
	for code, deleted := range map[string]bool{
		"ITEM": true, "ITEM-CHILD_ITEM": true, "ITEM_TWO": true, "ITEM_THREE": false,
		"FIRST_LEVEL": false, "FIRST_LEVEL-SECOND_LEVEL-THIRD_LEVEL": true,
		"PARENT_ITEM-SECOND_LEVEL_CHILD_ITEM-THIRD_LEVEL_CHILD_ITEM": false,
	} {
		if it, ok := items[code]; !ok || it.IsDeleted != deleted {
			t.Errorf("after the examples, %s: %+v (present %v), want deleted %v", code, it, ok, deleted)
		}
	}
	if v := items["ITEM_THREE"].Value; v != "ITEM_THREE UPDATED" {
		t.Errorf("ITEM_THREE value %q", v)
	}
	if v := items["FIRST_LEVEL-SECOND_LEVEL"].Value; v != "secondLevelItem" {
		t.Errorf("FIRST_LEVEL-SECOND_LEVEL value %q", v)
	}
}

// TestListItemBulkValidationSample sends more than 250 parts to each bulk
// call and compares the answer with the page's Validation Error sample,
// values included (the timestamp aside).
func TestListItemBulkValidationSample(t *testing.T) {
	blocks, err := refdoc.Blocks(filepath.Join(refdoc.Require(t), "list-item", "v4.list-item-bulk.markdown"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	seen := 0
	for _, b := range blocks {
		text := strings.TrimSpace(b.Text)
		if b.Lang != "shell" || !strings.HasPrefix(text, "{") || !strings.Contains(text, "request.validation.error") {
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(text), &doc); err != nil {
			t.Fatalf("line %d: sample is not JSON: %v", b.Line, err)
		}
		method, part := http.MethodPost, map[string]any{"shortCode": "A", "value": "a"}
		if b.Section == "Update List Items" {
			method, part = http.MethodPatch, map[string]any{"code": "A", "value": "a"}
		}
		parts := make([]any, sandbox.MaxBulkParts+1)
		for i := range parts {
			parts[i] = part
		}
		r := e.do(method, e.srv.URL()+doc["path"].(string), map[string]any{"requests": parts})
		seen++
		if r.status != http.StatusBadRequest {
			t.Errorf("%s line %d: status %d: %s", method, b.Line, r.status, r.body)
			continue
		}
		got := r.json(t)
		got["timestamp"] = doc["timestamp"]
		gb, _ := json.Marshal(got)
		for _, p := range compareJSON([]byte(text), gb, true) {
			t.Errorf("%s line %d: %s", method, b.Line, p)
		}
	}
	if seen != 2 {
		t.Errorf("found %d validation samples, want one per bulk call", seen)
	}
}

// TestListItemRateLimitSample injects a rate-limit fault on the List Item
// calls and compares the answer with the bulk page's Rate Limit Error
// sample: status, retry-after, location and body (the timestamp aside).
func TestListItemRateLimitSample(t *testing.T) {
	blocks, err := refdoc.Blocks(filepath.Join(refdoc.Require(t), "list-item", "v4.list-item-bulk.markdown"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	if _, err := e.srv.CreateConcurList(e.co.ID, sandbox.ConcurList{ID: docBulkListID}); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for i, b := range blocks {
		if b.Lang != "shell" || !strings.HasPrefix(strings.TrimSpace(b.Text), "HTTP/1.1 429") || i+1 == len(blocks) {
			continue
		}
		seen++
		doc := []byte(blocks[i+1].Text)
		var sample struct {
			Timestamp string `json:"timestamp"`
			Path      string `json:"path"`
		}
		if err := json.Unmarshal(doc, &sample); err != nil {
			t.Fatalf("line %d: sample is not JSON: %v", blocks[i+1].Line, err)
		}
		if err := e.srv.InjectFault(sandbox.Fault{Endpoint: sandbox.EndpointListItems, Kind: sandbox.FaultRateLimit}); err != nil {
			t.Fatal(err)
		}
		r := e.do(http.MethodPost, e.srv.URL()+sample.Path, map[string]any{"requests": []any{map[string]any{"shortCode": "A", "value": "a"}}})
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "0" || r.header.Get("Location") != e.srv.URL()+sample.Path {
			t.Errorf("line %d: %d retry-after %q location %q: %s", b.Line, r.status, r.header.Get("Retry-After"), r.header.Get("Location"), r.body)
			continue
		}
		got := r.json(t)
		got["timestamp"] = sample.Timestamp
		gb, _ := json.Marshal(got)
		for _, p := range compareJSON(doc, gb, true) {
			t.Errorf("line %d: %s", b.Line, p)
		}
		// The fault is used up: the request goes through now.
		if r := e.do(http.MethodPost, e.srv.URL()+sample.Path, map[string]any{"requests": []any{map[string]any{"shortCode": "A" + strings.Repeat("A", seen), "value": "a"}}}); r.status != http.StatusCreated {
			t.Errorf("after the fault: %d %s", r.status, r.body)
		}
	}
	if seen != 2 {
		t.Errorf("found %d rate-limit samples, want one per bulk call", seen)
	}
}
