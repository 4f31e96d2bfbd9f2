package concur

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// listItemRoot is the path of the List Item v4 and List Item Bulk v4 APIs
// under the base URL.
const listItemRoot = "/list/v4"

// MaxBulkListItems is the most request parts one List Item Bulk v4 request
// may carry ("up to 250 list items can be modified per bulk request").
const MaxBulkListItems = 250

// ListItemCodeSeparator joins the short codes of a list item's ancestors and
// its own into its long code (see "List Item Codes Explanation" on the List
// Item Bulk v4 page). For that reason short codes must not contain it.
const ListItemCodeSeparator = "-"

// ListItem is a list item as the List Item v4 API answers it (see List Item
// on that page's Schema section).
type ListItem struct {
	ID        string `json:"id,omitempty"`
	Code      string `json:"code,omitempty"`
	ShortCode string `json:"shortCode,omitempty"`
	Value     string `json:"value,omitempty"`
	ParentID  string `json:"parentId,omitempty"`
	ListID    string `json:"listId,omitempty"`
	Level     int    `json:"level,omitempty"`
	// Lists are the lists holding the item, with whether it has children
	// there.
	Lists []ListItemMemberList `json:"lists,omitempty"`
	// IsDeleted is true only when the item is deleted from every list.
	IsDeleted bool `json:"isDeleted"`
}

// InList reports whether the item is a member of listID.
func (li ListItem) InList(listID string) bool {
	for _, l := range li.Lists {
		if l.ID == listID {
			return true
		}
	}
	return false
}

// ListItemMemberList is a list that holds a list item (see List Item Member
// List on the List Item v4 page).
type ListItemMemberList struct {
	ID          string `json:"id"`
	HasChildren bool   `json:"hasChildren"`
}

// ListItemCreate is the body of a single create (see List Item Create on
// the List Item v4 page). ListID, ShortCode and Value are required; a
// child names its parent by ParentID or by ParentCode (the parent's long
// code).
type ListItemCreate struct {
	ListID     string `json:"listId"`
	ParentCode string `json:"parentCode,omitempty"`
	ParentID   string `json:"parentId,omitempty"`
	ShortCode  string `json:"shortCode"`
	Value      string `json:"value"`
}

// ListItemUpdate is the body of a single update (see List Item Update on
// the List Item v4 page); both fields are required.
type ListItemUpdate struct {
	ShortCode string `json:"shortCode"`
	Value     string `json:"value"`
}

// PageMetadata describes one page of a paged answer (see Page Metadata on
// the List Item v4 page): page numbers start at 1 and pages hold 100 items.
type PageMetadata struct {
	Number        int `json:"number"`
	Size          int `json:"size"`
	TotalElements int `json:"totalElements"`
	TotalPages    int `json:"totalPages"`
}

// ListItemPage is one page of list items (see Paged Resources List Item on
// the List Item v4 page).
type ListItemPage struct {
	Content []ListItem   `json:"content"`
	Page    PageMetadata `json:"page"`
	Links   Links        `json:"links,omitempty"`
}

// ListItemQuery holds the optional parameters of the children reads (see
// Filtering on the List Item v4 page). Filter values may carry an operator
// prefix such as "sw:" (starts with); empty fields are not sent.
type ListItemQuery struct {
	ShortCode        string
	Value            string
	ShortCodeOrValue string
	// SortBy is value (the API's default) or shortCode.
	SortBy string
	// SortDirection is asc or desc.
	SortDirection string
	// HasChildren and IsDeleted filter when not nil.
	HasChildren *bool
	IsDeleted   *bool
}

func (q ListItemQuery) values(page int) url.Values {
	v := url.Values{}
	v.Set("page", strconv.Itoa(page))
	for _, p := range []struct{ k, v string }{
		{"shortCode", q.ShortCode}, {"value", q.Value}, {"shortCodeOrValue", q.ShortCodeOrValue},
		{"sortBy", q.SortBy}, {"sortDirection", q.SortDirection},
	} {
		if p.v != "" {
			v.Set(p.k, p.v)
		}
	}
	if q.HasChildren != nil {
		v.Set("hasChildren", strconv.FormatBool(*q.HasChildren))
	}
	if q.IsDeleted != nil {
		v.Set("isDeleted", strconv.FormatBool(*q.IsDeleted))
	}
	return v
}

// listItemPath joins escaped segments under /list/v4, refusing empty ids
// (which would address another endpoint).
func listItemPath(segments ...string) (string, error) {
	var b strings.Builder
	b.WriteString(listItemRoot)
	for _, s := range segments {
		if s == "" {
			return "", errors.New("empty list or item id")
		}
		b.WriteString("/" + url.PathEscape(s))
	}
	return b.String(), nil
}

// ListItem returns one list item by id (GET /list/v4/items/{itemId}).
func (c *Client) ListItem(ctx context.Context, itemID string) (*ListItem, error) {
	var out ListItem
	if err := c.listItemCall(ctx, http.MethodGet, nil, &out, "items", itemID); err != nil {
		return nil, fmt.Errorf("getting list item %s for company %s: %w", itemID, c.companyID, err)
	}
	return &out, nil
}

// CreateListItem creates one list item (POST /list/v4/items).
func (c *Client) CreateListItem(ctx context.Context, item ListItemCreate) (*ListItem, error) {
	var out ListItem
	if err := c.listItemCall(ctx, http.MethodPost, item, &out, "items"); err != nil {
		return nil, fmt.Errorf("creating list item %q in list %s for company %s: %w", item.ShortCode, item.ListID, c.companyID, err)
	}
	return &out, nil
}

// UpdateListItem changes one list item's short code and value (PUT
// /list/v4/items/{itemId}).
func (c *Client) UpdateListItem(ctx context.Context, itemID string, upd ListItemUpdate) (*ListItem, error) {
	var out ListItem
	if err := c.listItemCall(ctx, http.MethodPut, upd, &out, "items", itemID); err != nil {
		return nil, fmt.Errorf("updating list item %s for company %s: %w", itemID, c.companyID, err)
	}
	return &out, nil
}

// DeleteListItem deletes a list item from every list holding it, with its
// children in a connected list (DELETE /list/v4/items/{itemId}).
func (c *Client) DeleteListItem(ctx context.Context, itemID string) error {
	if err := c.listItemCall(ctx, http.MethodDelete, nil, nil, "items", itemID); err != nil {
		return fmt.Errorf("deleting list item %s for company %s: %w", itemID, c.companyID, err)
	}
	return nil
}

// DeleteListItemFromList deletes a (shared) list item from one list only
// (DELETE /list/v4/lists/{listId}/items/{itemId}).
func (c *Client) DeleteListItemFromList(ctx context.Context, listID, itemID string) error {
	if err := c.listItemCall(ctx, http.MethodDelete, nil, nil, "lists", listID, "items", itemID); err != nil {
		return fmt.Errorf("deleting list item %s from list %s for company %s: %w", itemID, listID, c.companyID, err)
	}
	return nil
}

// ListChildren iterates over the first-level items of a list (GET
// /list/v4/lists/{listId}/children), every page. Iteration stops after the
// first error, which is yielded.
func (c *Client) ListChildren(ctx context.Context, listID string, q ListItemQuery) iter.Seq2[ListItem, error] {
	return wrapSeq(c.listItemPages(ctx, q, "lists", listID, "children"), func(err error) error {
		return fmt.Errorf("listing items of list %s for company %s: %w", listID, c.companyID, err)
	})
}

// ListItemChildren iterates over the direct children of a list item (GET
// /list/v4/items/{itemId}/children), every page.
func (c *Client) ListItemChildren(ctx context.Context, itemID string, q ListItemQuery) iter.Seq2[ListItem, error] {
	return wrapSeq(c.listItemPages(ctx, q, "items", itemID, "children"), func(err error) error {
		return fmt.Errorf("listing children of list item %s for company %s: %w", itemID, c.companyID, err)
	})
}

// ListItemChildrenInList iterates over the direct children of a list item
// in one list (GET /list/v4/lists/{listId}/items/{itemId}/children), every
// page.
func (c *Client) ListItemChildrenInList(ctx context.Context, listID, itemID string, q ListItemQuery) iter.Seq2[ListItem, error] {
	return wrapSeq(c.listItemPages(ctx, q, "lists", listID, "items", itemID, "children"), func(err error) error {
		return fmt.Errorf("listing children of list item %s in list %s for company %s: %w", itemID, listID, c.companyID, err)
	})
}

// AllListItems iterates over every item of a list, depth first: each
// first-level item followed by its descendants in that list (children are
// read for items whose membership of the list says hasChildren). q filters
// every level alike.
func (c *Client) AllListItems(ctx context.Context, listID string, q ListItemQuery) iter.Seq2[ListItem, error] {
	return func(yield func(ListItem, error) bool) {
		var walk func(seq iter.Seq2[ListItem, error]) bool
		walk = func(seq iter.Seq2[ListItem, error]) bool {
			for item, err := range seq {
				if err != nil {
					yield(ListItem{}, err)
					return false
				}
				if !yield(item, nil) {
					return false
				}
				for _, l := range item.Lists {
					if l.ID == listID && l.HasChildren {
						if !walk(c.ListItemChildrenInList(ctx, listID, item.ID, q)) {
							return false
						}
						break
					}
				}
			}
			return true
		}
		walk(c.ListChildren(ctx, listID, q))
	}
}

// listItemPages GETs the pages of a children read: page=1, 2, … until a
// page is empty or the last page (by totalPages) has been read.
func (c *Client) listItemPages(ctx context.Context, q ListItemQuery, segments ...string) iter.Seq2[ListItem, error] {
	return func(yield func(ListItem, error) bool) {
		p, err := listItemPath(segments...)
		if err != nil {
			yield(ListItem{}, err)
			return
		}
		for page := 1; ; page++ {
			var answer ListItemPage
			href := p + "?" + q.values(page).Encode()
			if _, err := c.do(ctx, call{method: http.MethodGet, href: href, out: &answer}); err != nil {
				yield(ListItem{}, err)
				return
			}
			for _, item := range answer.Content {
				if !yield(item, nil) {
					return
				}
			}
			if len(answer.Content) == 0 || page >= answer.Page.TotalPages {
				return
			}
		}
	}
}

// listItemCall sends one single-item request: in is JSON-encoded when not
// nil, a 2xx answer is decoded into out when not nil, and anything else is
// an *APIError.
func (c *Client) listItemCall(ctx context.Context, method string, in, out any, segments ...string) error {
	p, err := listItemPath(segments...)
	if err != nil {
		return err
	}
	var body []byte
	if in != nil {
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encoding list item: %w", err)
		}
	}
	_, err = c.do(ctx, call{method: method, href: p, body: body, out: out})
	return err
}
