package refdoc

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestHTTPExamplesOfListItemPage(t *testing.T) {
	page := filepath.Join(Require(t), "list-item", "v4.list-item.markdown")
	ex, err := HTTPExamples(page)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		method    string
		status    int
		requests  int
		responses int
	}
	wants := []want{
		{"GET", 200, 0, 1},    // retrieve by id
		{"POST", 201, 3, 2},   // create: Example 1–3, responses "Example 1" and "Example 2 and Example 3"
		{"PUT", 200, 1, 1},    // update
		{"DELETE", 204, 0, 0}, // delete
		{"DELETE", 204, 0, 0}, // delete from a list
		{"GET", 200, 0, 1},    // children of an item
		{"GET", 200, 0, 1},    // children of an item by list
		{"GET", 200, 0, 1},    // first-level children
	}
	if len(ex) != len(wants) {
		t.Fatalf("got %d examples, want %d: %+v", len(ex), len(wants), ex)
	}
	for i, w := range wants {
		e := ex[i]
		if e.Method != w.method || e.Status != w.status || len(e.Requests) != w.requests || len(e.Responses) != w.responses {
			t.Errorf("%s: status %d, %d requests, %d responses; want %+v", e.Name(), e.Status, len(e.Requests), len(e.Responses), w)
		}
	}
	create := ex[1]
	if create.Path != "/list/v4/items" || create.Header["Content-Type"] != "application/json" {
		t.Errorf("create: path %q header %v", create.Path, create.Header)
	}
	if got := ExampleNumbers(create.Requests[2].Label); !slices.Equal(got, []int{3}) {
		t.Errorf("third request label %q → %v", create.Requests[2].Label, got)
	}
	if got := ExampleNumbers(create.Responses[1].Label); !slices.Equal(got, []int{2, 3}) {
		t.Errorf("second response label %q → %v", create.Responses[1].Label, got)
	}
	if create.ResponseHeader["location"] == "" {
		t.Errorf("create response headers %v lack location", create.ResponseHeader)
	}
	if ex[0].Path != "/list/v4/items/{itemId}" || ex[5].Path != "/list/v4/items/7c6d0435-c4d1-8b48-8492-7e7b625e148d/children?page=1&sortBy=value" {
		t.Errorf("paths %q, %q", ex[0].Path, ex[5].Path)
	}
}

func TestHTTPExamplesOfBulkPage(t *testing.T) {
	page := filepath.Join(Require(t), "list-item", "v4.list-item-bulk.markdown")
	ex, err := HTTPExamples(page)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []int
	for _, e := range ex {
		if len(e.Requests) != 1 || len(e.Responses) != 1 {
			t.Errorf("%s: %d requests, %d responses, want one each", e.Name(), len(e.Requests), len(e.Responses))
		}
		statuses = append(statuses, e.Status)
	}
	if want := []int{201, 201, 400, 206, 200, 200, 206, 200}; !slices.Equal(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
	if ex[0].Title != "Create Single First-level List Item with Successful Response Example" {
		t.Errorf("title %q", ex[0].Title)
	}
}

func TestLabelledBlocksFences(t *testing.T) {
	page := filepath.Join(t.TempDir(), "p.markdown")
	md := "## S\n#### T\n```shell\nPOST https://h/x\n```\nExample 1:\n````json\n{\"a\":\"```\"}\n````\n```shell\nHTTP/1.1 201\nlocation: /x/1\n```\n```json\n{}\n```\n"
	if err := os.WriteFile(page, []byte(md), 0o600); err != nil {
		t.Fatal(err)
	}
	ex, err := HTTPExamples(page)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 1 || ex[0].Path != "/x" || ex[0].Status != 201 || len(ex[0].Requests) != 1 || string(ex[0].Requests[0].JSON) != "{\"a\":\"```\"}\n" || ex[0].Requests[0].Label != "Example 1:" || ex[0].ResponseHeader["location"] != "/x/1" || ex[0].Title != "T" || ex[0].Section != "S" {
		t.Fatalf("%+v", ex)
	}
}
