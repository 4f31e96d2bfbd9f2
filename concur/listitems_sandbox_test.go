package concur

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/concurflow/concurflow/sandbox"
)

// TestListItemsAgainstSandbox drives the List Item calls against the
// sandbox, which is written from the same pages: bulk creates past one
// request and one page, per-part errors, updates, deletes, single calls and
// the paged reads.
func TestListItemsAgainstSandbox(t *testing.T) {
	sb := sandbox.New(t)
	c, _, co := sandboxClient(t, sb, t.TempDir(), nil)
	list, err := sb.CreateConcurList(co.ID, sandbox.ConcurList{Name: "Projects"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// 260 first-level items in two requests, then children of TOP001.
	var want []string
	var parts []BulkListItemCreate
	for i := range 260 {
		code := fmt.Sprintf("TOP%03d", i)
		parts = append(parts, BulkListItemCreate{ShortCode: code, Value: "Value " + code})
		want = append(want, code)
	}
	for from := 0; from < len(parts); from += MaxBulkListItems {
		resp, err := c.CreateListItems(ctx, list.ID, parts[from:min(from+MaxBulkListItems, len(parts))])
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != BulkSuccess || resp.RecordsFailed != 0 {
			t.Fatalf("create answer %+v", resp)
		}
	}
	resp, err := c.CreateListItems(ctx, list.ID, []BulkListItemCreate{
		{ShortCode: "CHILD", Value: "Child", ParentCode: "TOP001"},
		{ShortCode: "TOP002", Value: "again"},
		{ShortCode: "ORPHAN", Value: "Orphan", ParentCode: "NOPE"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != BulkPartialSuccess || resp.RecordsSucceeded != 1 || resp.RecordsFailed != 2 || resp.StatusCode != 206 {
		t.Fatalf("partial answer %+v", resp)
	}
	gotErrs := map[string]string{}
	for _, e := range resp.Errors {
		gotErrs[e.ListItem.Key()] = e.ID
	}
	if gotErrs["TOP002"] != ListItemErrDuplicateCode || gotErrs["NOPE-ORPHAN"] != ListItemErrParentNotFound {
		t.Errorf("per-part errors %v", gotErrs)
	}
	want = append(want, "TOP001-CHILD")
	slices.Sort(want)

	var got []string
	var child ListItem
	for item, err := range c.AllListItems(ctx, list.ID, ListItemQuery{SortBy: "shortCode"}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, item.Code)
		if item.Code == "TOP001-CHILD" {
			child = item
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("read back %d items, want %d", len(got), len(want))
	}
	if child.Level != 2 || child.ParentID == "" || !child.InList(list.ID) {
		t.Errorf("child %+v", child)
	}

	del, keep := true, false
	resp, err = c.UpdateListItems(ctx, list.ID, []BulkListItemUpdate{
		{Code: "TOP000", Value: "Renamed"},
		{Code: "TOP001", Deleted: &del},
		{Code: "MISSING", Value: "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != BulkPartialSuccess || len(resp.Errors) != 1 || resp.Errors[0].ID != ListItemErrNotFound || resp.Errors[0].ListItem.Key() != "MISSING" {
		t.Errorf("update answer %+v", resp)
	}
	if _, err := c.UpdateListItems(ctx, list.ID, []BulkListItemUpdate{{Code: "TOP001", Deleted: &keep}}); err != nil {
		t.Fatal(err)
	}

	one, err := c.ListItem(ctx, child.ID)
	if err != nil {
		t.Fatal(err)
	}
	if one.Code != "TOP001-CHILD" {
		t.Errorf("single read %+v", one)
	}
	first, err := c.CreateListItem(ctx, ListItemCreate{ListID: list.ID, ShortCode: "SINGLE", Value: "Single"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateListItem(ctx, first.ID, ListItemUpdate{ShortCode: "SINGLE", Value: "Single renamed"}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteListItem(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	n := 0
	for item, err := range c.ListChildren(ctx, list.ID, ListItemQuery{ShortCode: "TOP000"}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if item.Value != "Renamed" {
			t.Errorf("filtered read %+v", item)
		}
	}
	if n != 1 {
		t.Errorf("filter shortCode=TOP000 read %d items", n)
	}

	// A hyphen refuses the whole request with validation errors.
	_, err = c.CreateListItems(ctx, list.ID, []BulkListItemCreate{{ShortCode: "A-B", Value: "x"}})
	var verr *ValidationError
	if !errors.Is(err, ErrValidation) || !errors.As(err, &verr) || verr.ErrorMessage == "" || !strings.Contains(err.Error(), "shortCode") {
		t.Errorf("hyphenated short code: %v", err)
	}
	resp, err = c.CreateListItems(ctx, "3b7f0c3e-0000-4000-8000-000000000000", []BulkListItemCreate{{ShortCode: "A", Value: "x"}})
	if err != nil || resp.Status != BulkFailure || len(resp.Errors) != 1 || resp.Errors[0].ID != ListItemErrListNotFound {
		t.Errorf("unknown list: %+v, %v", resp, err)
	}
}
