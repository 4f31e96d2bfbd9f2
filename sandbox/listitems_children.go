package sandbox

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// listPageSize is the fixed page size of the List Item children calls
// (the Page Metadata schema: "fixed at 100").
const listPageSize = 100

// pagedListItems is the Paged Resources List Item body.
type pagedListItems struct {
	Links   []pageLink   `json:"links"`
	Content []childItem  `json:"content"`
	Page    pageMetadata `json:"page"`
}

type pageLink struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

type pageMetadata struct {
	Size          int `json:"size"`
	TotalElements int `json:"totalElements"`
	TotalPages    int `json:"totalPages"`
	Number        int `json:"number"`
}

// childItem is a list item in a children page: as ListItem, but without
// parentId for a first-level item, as the page's first-level children
// example shows it (the create and update examples print null instead).
type childItem struct {
	ID        string           `json:"id"`
	Code      string           `json:"code"`
	ShortCode string           `json:"shortCode"`
	Value     string           `json:"value"`
	ParentID  *string          `json:"parentId,omitempty"`
	Level     int              `json:"level"`
	IsDeleted bool             `json:"isDeleted"`
	Lists     []ListItemMember `json:"lists"`
}

// textFilter is one filter of the Query Syntax: field=[op:]value.
type textFilter struct {
	op, value string
}

var filterOps = []string{"eq", "cp", "not", "sw", "ew"}

func parseFilter(raw string) textFilter {
	if op, v, ok := strings.Cut(raw, ":"); ok && slices.Contains(filterOps, op) {
		return textFilter{op, v}
	}
	return textFilter{"eq", raw}
}

// match compares case-insensitively (the pages are silent on case).
func (f textFilter) match(s string) bool {
	s, v := strings.ToLower(s), strings.ToLower(f.value)
	switch f.op {
	case "cp":
		return strings.Contains(s, v)
	case "not":
		return s != v
	case "sw":
		return strings.HasPrefix(s, v)
	case "ew":
		return strings.HasSuffix(s, v)
	}
	return s == v
}

// childQuery is the parsed query of a children call.
type childQuery struct {
	page                     int
	sortBy                   string
	desc                     bool
	isDeleted, hasChildren   *bool
	value, shortCode, either *textFilter
}

// parseChildQuery reads the query parameters of the children calls. It
// returns the validation errors of bad ones.
func parseChildQuery(q url.Values) (childQuery, []listValidationError) {
	cq := childQuery{page: 1, sortBy: "value"}
	var verrs []listValidationError
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			verrs = append(verrs, listValidationError{"page", "must be an integer of at least 1"})
		}
		cq.page = n
	}
	if sb := q.Get("sortBy"); sb != "" {
		if sb != "value" && sb != "shortCode" {
			verrs = append(verrs, listValidationError{"sortBy", "must be value or shortCode"})
		}
		cq.sortBy = sb
	}
	switch strings.ToLower(q.Get("sortDirection")) {
	case "", "asc":
	case "desc":
		cq.desc = true
	default:
		verrs = append(verrs, listValidationError{"sortDirection", "must be asc or desc"})
	}
	for name, dst := range map[string]**bool{"isDeleted": &cq.isDeleted, "hasChildren": &cq.hasChildren} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				verrs = append(verrs, listValidationError{name, "must be true or false"})
			}
			*dst = &b
		}
	}
	for name, dst := range map[string]**textFilter{"value": &cq.value, "shortCode": &cq.shortCode, "shortCodeOrValue": &cq.either} {
		if _, ok := q[name]; ok {
			f := parseFilter(q.Get(name))
			*dst = &f
		}
	}
	slices.SortFunc(verrs, func(a, b listValidationError) int { return cmp.Compare(a.Source, b.Source) })
	return cq, verrs
}

// keep reports whether an item passes the query's filters. Deleted items
// show only with isDeleted=true.
func (cq childQuery) keep(it *listItem) bool {
	if it.deleted && (cq.isDeleted == nil || !*cq.isDeleted) {
		return false
	}
	if cq.hasChildren != nil && it.hasLiveChildren() != *cq.hasChildren {
		return false
	}
	if cq.value != nil && !cq.value.match(it.value) {
		return false
	}
	if cq.shortCode != nil && !cq.shortCode.match(it.shortCode) {
		return false
	}
	if cq.either != nil && !cq.either.match(it.value) && !cq.either.match(it.shortCode) {
		return false
	}
	return true
}

// handleListChildren serves the three children calls: GET
// /list/v4/lists/{listId}/children (first-level items),
// /list/v4/items/{itemId}/children and
// /list/v4/lists/{listId}/items/{itemId}/children (direct children).
func (s *Server) handleListChildren(w http.ResponseWriter, r *http.Request, companyID string) {
	cq, verrs := parseChildQuery(r.URL.Query())
	if len(verrs) > 0 {
		s.writeListError(w, r, http.StatusBadRequest, errValidation, verrs...)
		return
	}
	ls := s.lockedStore(companyID)
	var candidates []*listItem
	err := func() error {
		var cl *concurList
		if listID := r.PathValue("listId"); listID != "" {
			if cl = ls.list(listID); cl == nil {
				return errListNotFound
			}
		}
		itemID := r.PathValue("itemId")
		if itemID == "" {
			for _, it := range cl.items {
				if it.level == 1 {
					candidates = append(candidates, it)
				}
			}
			return nil
		}
		it := ls.item(itemID)
		if it == nil || (cl != nil && it.list != cl) {
			return errItemNotFound
		}
		candidates = it.children
		return nil
	}()
	var out []childItem
	for _, it := range candidates {
		if !cq.keep(it) {
			continue
		}
		v := it.view()
		out = append(out, childItem{
			ID: v.ID, Code: v.Code, ShortCode: v.ShortCode, Value: v.Value, ParentID: v.ParentID,
			Level: v.Level, IsDeleted: v.IsDeleted, Lists: v.Lists,
		})
	}
	s.mu.Unlock()
	if le, ok := err.(errListItem); ok {
		s.writeListError(w, r, statusOf(le), le)
		return
	}
	key := func(c childItem) string { return c.Value }
	if cq.sortBy == "shortCode" {
		key = func(c childItem) string { return c.ShortCode }
	}
	slices.SortStableFunc(out, func(a, b childItem) int {
		c := cmp.Or(cmp.Compare(strings.ToLower(key(a)), strings.ToLower(key(b))), cmp.Compare(a.Code, b.Code))
		if cq.desc {
			return -c
		}
		return c
	})
	total := len(out)
	pages := (total + listPageSize - 1) / listPageSize
	from := min((cq.page-1)*listPageSize, total)
	to := min(from+listPageSize, total)
	body := pagedListItems{
		Links:   pageLinks(r, cq.page, pages),
		Content: append([]childItem{}, out[from:to]...),
		Page:    pageMetadata{Size: listPageSize, TotalElements: total, TotalPages: pages, Number: cq.page},
	}
	writeCached(w, r, body)
}

// pageLinks links the first, previous, next and last pages when there is
// more than one; a single page has none, as the pages' examples show.
func pageLinks(r *http.Request, page, pages int) []pageLink {
	links := []pageLink{}
	if pages <= 1 {
		return links
	}
	href := func(n int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		return r.URL.Path + "?" + q.Encode()
	}
	links = append(links, pageLink{"first", href(1)})
	if page > 1 {
		links = append(links, pageLink{"prev", href(min(page-1, pages))})
	}
	if page < pages {
		links = append(links, pageLink{"next", href(page + 1)})
	}
	return append(links, pageLink{"last", href(pages)})
}
