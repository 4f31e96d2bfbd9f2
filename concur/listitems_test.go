package concur

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

const (
	testList     = "530ae443-3b22-a44c-8211-c66d96c58d9e"
	testListBulk = "/list/v4/lists/" + testList + "/bulk"
)

// The List Item Bulk v4 page's answers, as raw bytes.
const (
	bulkSuccessAnswer = `{"status":"SUCCESS","recordsSucceeded":3,"recordsFailed":0,"errors":[]}`
	bulkFailureAnswer = `{"status":"FAILURE","recordsSucceeded":0,"recordsFailed":1,"errors":[{"id":"item.duplicate.code","message":"This item code is already used by another item in the same list","listItem":{"shortCode":"CHILD_ITEM","value":"CHILD_ITEM","parentCode":"ITEM"}}]}`
	bulkPartialAnswer = `{"status":"PARTIAL_SUCCESS","recordsSucceeded":2,"recordsFailed":1,"errors":[{"id":"item.deleted","message":"The list item has been deleted","listItem":{"code":"ITEM","value":"ITEM"}}]}`
	bulkValidation    = `{"timestamp":"2022-12-13T20:30:06.230+00:00","httpStatus":"400 - Bad Request","error":{"id":"request.validation.error","message":"Please check your request parameter"},"validationErrors":[{"source":"requests","message":"size must be between 1 and 250"}],"path":"/list/v4/lists/ab2bdee3-71d9-c549-977f-6172a4502f34/bulk"}`
	bulkRateLimited   = `{"timestamp":"2022-08-26T16:13:17.230+00:00","httpStatus":"429 - Too Many Requests","error":{"id":"security.rate.limit.reached","message":"Too many requests"},"path":"/list/v4/lists/530ae443-3b22-a44c-8211-c66d96c58d9e/bulk"}`
)

func TestCreateListItemsSendsDocumentedBody(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusCreated, bulkSuccessAnswer) })
	c := newTestClient(t, api.URL)
	resp, err := c.CreateListItems(context.Background(), testList, []BulkListItemCreate{
		{ShortCode: "FIRST_LEVEL_PARENT_ITEM", Value: "FIRST_LEVEL_PARENT_ITEM"},
		{ShortCode: "SECOND_LEVEL_CHILD_ITEM", Value: "SECOND_LEVEL_CHILD_ITEM", ParentCode: "PARENT_ITEM"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := api.last(t)
	want := `{"requests":[{"shortCode":"FIRST_LEVEL_PARENT_ITEM","value":"FIRST_LEVEL_PARENT_ITEM"},{"shortCode":"SECOND_LEVEL_CHILD_ITEM","value":"SECOND_LEVEL_CHILD_ITEM","parentCode":"PARENT_ITEM"}]}`
	if got.Method != http.MethodPost || got.Path != testListBulk || string(got.Body) != want || got.Auth != "Bearer static-access" || got.ContentType != "application/json" {
		t.Errorf("request %+v\nbody %s", got, got.Body)
	}
	if resp.Status != BulkSuccess || resp.RecordsSucceeded != 3 || len(resp.Errors) != 0 || resp.StatusCode != http.StatusCreated || resp.CorrelationID != "corr-1" {
		t.Errorf("answer %+v", resp)
	}
}

func TestBulkAnswersWithFailedPartsAreAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
		status       int
		wantStatus   string
		wantKey      string
		wantID       string
	}{
		{"failure 400", bulkFailureAnswer, http.StatusBadRequest, BulkFailure, "ITEM-CHILD_ITEM", ListItemErrDuplicateCode},
		{"partial 206", bulkPartialAnswer, http.StatusPartialContent, BulkPartialSuccess, "ITEM", ListItemErrDeleted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, tc.status, tc.answer) })
			c := newTestClient(t, api.URL)
			del := true
			resp, err := c.UpdateListItems(context.Background(), testList, []BulkListItemUpdate{{Code: "ITEM", Value: "ITEM"}, {Code: "ITEM_TWO", Deleted: &del}})
			if err != nil {
				t.Fatal(err)
			}
			if got := api.last(t); got.Method != http.MethodPatch || string(got.Body) != `{"requests":[{"code":"ITEM","value":"ITEM"},{"code":"ITEM_TWO","deleted":true}]}` {
				t.Errorf("request %s %s", got.Method, got.Body)
			}
			if resp.Status != tc.wantStatus || resp.StatusCode != tc.status || len(resp.Errors) != 1 {
				t.Fatalf("answer %+v", resp)
			}
			e := resp.Errors[0]
			if e.ID != tc.wantID || e.ListItem.Key() != tc.wantKey || !strings.Contains(e.Error(), tc.wantID) {
				t.Errorf("error %+v key %q: %v", e, e.ListItem.Key(), &e)
			}
		})
	}
}

func TestBulkErrorMessagesAreTypedErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		is        error
		retryable bool
		text      string
	}{
		{"validation", http.StatusBadRequest, bulkValidation, ErrValidation, false, "size must be between 1 and 250"},
		{"rate limit 429", http.StatusTooManyRequests, bulkRateLimited, ErrRateLimited, true, "security.rate.limit.reached"},
		{"rate limit 400", http.StatusBadRequest, bulkRateLimited, ErrRateLimited, true, "Too many requests"},
		{"server", http.StatusInternalServerError, `oops`, ErrServer, true, "500"},
		{"forbidden", http.StatusForbidden, ``, ErrForbidden, false, "403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, tc.status, tc.body) })
			c := newTestClient(t, api.URL)
			_, err := c.CreateListItems(context.Background(), testList, []BulkListItemCreate{{ShortCode: "A", Value: "A"}})
			if !errors.Is(err, tc.is) || IsRetryable(err) != tc.retryable || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v: want %v, retryable %v, text %q", err, tc.is, tc.retryable, tc.text)
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Path != testListBulk {
				t.Errorf("not an *APIError for %s: %#v", testListBulk, err)
			}
		})
	}
}

func TestBulkRefusesBadRequestsUnsent(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, bulkSuccessAnswer) })
	c := newTestClient(t, api.URL)
	ctx := context.Background()
	if _, err := c.CreateListItems(ctx, testList, nil); err == nil {
		t.Error("empty create accepted")
	}
	if _, err := c.UpdateListItems(ctx, testList, make([]BulkListItemUpdate, MaxBulkListItems+1)); err == nil {
		t.Error("251 parts accepted")
	}
	if _, err := c.CreateListItems(ctx, "", []BulkListItemCreate{{ShortCode: "A", Value: "A"}}); err == nil {
		t.Error("empty list id accepted")
	}
	if n := len(api.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestSingleListItemCalls(t *testing.T) {
	const item = `{"id":"7c6d0435-c4d1-8b48-8492-7e7b625e148d","code":"ITEM","shortCode":"ITEM","value":"ITEM","parentId":null,"level":1,"isDeleted":false,"lists":[{"id":"80edb3fa-c15e-a34a-b97f-f2ec291ab44f","hasChildren":false}]}`
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/missing"):
			writeJSON(w, http.StatusNotFound, `{"error":{"id":"item.not.found","message":"listItem not found"},"httpStatus":"404 - Not Found","path":"`+r.URL.Path+`","timestamp":"2020-07-08T14:07:25Z"}`)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodPost:
			writeJSON(w, http.StatusCreated, item)
		default:
			writeJSON(w, http.StatusOK, item)
		}
	})
	c := newTestClient(t, api.URL)
	ctx := context.Background()
	created, err := c.CreateListItem(ctx, ListItemCreate{ListID: "80edb3fa-c15e-a34a-b97f-f2ec291ab44f", ShortCode: "ITEM", Value: "ITEM"})
	if err != nil {
		t.Fatal(err)
	}
	if got := api.last(t); got.Method != http.MethodPost || got.Path != "/list/v4/items" ||
		string(got.Body) != `{"listId":"80edb3fa-c15e-a34a-b97f-f2ec291ab44f","shortCode":"ITEM","value":"ITEM"}` {
		t.Errorf("create request %s %s %s", got.Method, got.Path, got.Body)
	}
	if created.ID != "7c6d0435-c4d1-8b48-8492-7e7b625e148d" || created.Level != 1 || !created.InList("80edb3fa-c15e-a34a-b97f-f2ec291ab44f") || created.ParentID != "" {
		t.Errorf("created %+v", created)
	}
	if _, err := c.UpdateListItem(ctx, created.ID, ListItemUpdate{ShortCode: "ITEM", Value: "ITEM UPDATED"}); err != nil {
		t.Fatal(err)
	}
	if got := api.last(t); got.Method != http.MethodPut || got.Path != "/list/v4/items/"+created.ID || string(got.Body) != `{"shortCode":"ITEM","value":"ITEM UPDATED"}` {
		t.Errorf("update request %s %s %s", got.Method, got.Path, got.Body)
	}
	if _, err := c.ListItem(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteListItemFromList(ctx, "L1", created.ID); err != nil {
		t.Fatal(err)
	}
	if got := api.last(t); got.Method != http.MethodDelete || got.Path != "/list/v4/lists/L1/items/"+created.ID {
		t.Errorf("delete from list request %s %s", got.Method, got.Path)
	}
	if err := c.DeleteListItem(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.ListItem(ctx, "missing")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "item.not.found") {
		t.Errorf("missing item: %v", err)
	}
	before := len(api.requests())
	if _, err := c.ListItem(ctx, ""); err == nil {
		t.Error("empty item id accepted")
	}
	if len(api.requests()) != before {
		t.Error("a request with an empty item id was sent")
	}
}

// pagedListAPI serves a two-level list: n first-level items TOP0… in pages
// of 100, TOP1 holding one child.
func pagedListAPI(t *testing.T, n int) *fakeAPI {
	return newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		var items []ListItem
		total := n
		if strings.HasSuffix(r.URL.Path, "/items/id-TOP1/children") {
			total = 1
			if page == 1 {
				items = []ListItem{{ID: "id-CHILD", Code: "TOP1-CHILD", ShortCode: "CHILD", Value: "child", Level: 2, ParentID: "id-TOP1", Lists: []ListItemMemberList{{ID: testList}}}}
			}
		} else {
			for i := (page - 1) * 100; i < min(page*100, n); i++ {
				code := fmt.Sprintf("TOP%d", i)
				items = append(items, ListItem{ID: "id-" + code, Code: code, ShortCode: code, Value: code, Level: 1, Lists: []ListItemMemberList{{ID: testList, HasChildren: i == 1}}})
			}
		}
		b, _ := json.Marshal(ListItemPage{Content: items, Page: PageMetadata{Number: page, Size: 100, TotalElements: total, TotalPages: (total + 99) / 100}})
		writeJSON(w, http.StatusOK, string(b))
	})
}

func TestListChildrenReadsEveryPage(t *testing.T) {
	api := pagedListAPI(t, 250)
	c := newTestClient(t, api.URL)
	var codes []string
	for item, err := range c.ListChildren(context.Background(), testList, ListItemQuery{SortBy: "shortCode"}) {
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, item.Code)
	}
	if len(codes) != 250 || codes[0] != "TOP0" || codes[249] != "TOP249" {
		t.Fatalf("read %d items: %v…", len(codes), codes[:min(3, len(codes))])
	}
	reqs := api.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 pages", len(reqs))
	}
	for i, r := range reqs {
		q, _ := url.ParseQuery(r.Query)
		if r.Path != "/list/v4/lists/"+testList+"/children" || q.Get("page") != strconv.Itoa(i+1) || q.Get("sortBy") != "shortCode" {
			t.Errorf("request %d: %s?%s", i, r.Path, r.Query)
		}
	}
}

func TestAllListItemsWalksChildren(t *testing.T) {
	api := pagedListAPI(t, 3)
	c := newTestClient(t, api.URL)
	var codes []string
	for item, err := range c.AllListItems(context.Background(), testList, ListItemQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, item.Code)
	}
	if got := strings.Join(codes, ","); got != "TOP0,TOP1,TOP1-CHILD,TOP2" {
		t.Errorf("walked %s", got)
	}
}

func TestListChildrenStopsAtFirstError(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, `{"error":{"id":"list.not.found","message":"List not found."}}`)
	})
	c := newTestClient(t, api.URL)
	n := 0
	for _, err := range c.ListChildren(context.Background(), "nope", ListItemQuery{}) {
		n++
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "list nope") {
			t.Errorf("error %v", err)
		}
	}
	if n != 1 {
		t.Errorf("%d yields, want one error", n)
	}
}
