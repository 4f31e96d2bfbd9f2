package sandbox

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Scopes of the List Item v4 and List Item Bulk v4 APIs (their Scope Usage
// tables).
const (
	ScopeListItemRead   = "spend.listitem.read"
	ScopeListItemWrite  = "spend.listitem.write"
	ScopeListItemDelete = "spend.listitem.delete"
)

// defaultScopes are the scopes a seeded company's tokens carry unless
// WithScopes says otherwise: the Accounting Integration scopes and the List
// Item scopes the listMapping.created flow needs.
func defaultScopes() []string {
	return []string{ScopeRead, ScopeWrite, ScopeListItemRead, ScopeListItemWrite, ScopeListItemDelete}
}

// MaxListLevels is the deepest level a SAP Concur list can have in the
// sandbox, and the level count of a list created without one.
const MaxListLevels = 10

// ConcurList is a SAP Concur list of a company, the target of List Item v4
// calls and of the list mappings an administrator creates.
type ConcurList struct {
	// ID is the list's id (SYNC_GUID), the concurListId of list mappings.
	ID string `json:"id"`
	// Name is free text for people; the API never shows it.
	Name string `json:"name,omitempty"`
	// Category groups lists: an item code live in one list of a category
	// cannot be created in another list of the same category
	// (item.duplicate.item.shared). Empty: the list is alone in its
	// category.
	Category string `json:"category,omitempty"`
	// Levels is how many levels the list has (1 to MaxListLevels).
	Levels int `json:"levels"`
	// Deleted lists refuse every item call with list.deleted.
	Deleted bool `json:"isDeleted"`
}

// ListItemMember is one list holding an item (the List Item page's List
// Item Member List).
type ListItemMember struct {
	ID          string `json:"id"`
	HasChildren bool   `json:"hasChildren"`
}

// ListItem is a list item as the List Item v4 API answers it.
type ListItem struct {
	ID        string           `json:"id"`
	Code      string           `json:"code"`
	ShortCode string           `json:"shortCode"`
	Value     string           `json:"value"`
	ParentID  *string          `json:"parentId"`
	Level     int              `json:"level"`
	IsDeleted bool             `json:"isDeleted"`
	Lists     []ListItemMember `json:"lists"`
}

// listStore holds a company's SAP Concur lists and their items. Guarded by
// Server.mu.
type listStore struct {
	lists map[string]*concurList // lower-cased id → list
	order []*concurList
	items map[string]*listItem // lower-cased id → item
}

type concurList struct {
	ConcurList
	items  []*listItem          // creation order, deleted ones included
	byCode map[string]*listItem // long code → item, deleted ones included
}

type listItem struct {
	id        string
	shortCode string
	code      string // long code: the parent's code, "-", the short code
	value     string
	parent    *listItem
	level     int
	list      *concurList
	deleted   bool
	children  []*listItem
}

// listsLocked returns the company's list store, creating it on first use.
func (c *company) listsLocked() *listStore {
	if c.lists == nil {
		c.lists = &listStore{lists: map[string]*concurList{}, items: map[string]*listItem{}}
	}
	return c.lists
}

func (ls *listStore) list(id string) *concurList { return ls.lists[strings.ToLower(id)] }

func (ls *listStore) item(id string) *listItem { return ls.items[strings.ToLower(id)] }

// hasLiveChildren reports whether the item has a child not deleted.
func (it *listItem) hasLiveChildren() bool {
	for _, c := range it.children {
		if !c.deleted {
			return true
		}
	}
	return false
}

// view is the item as the API shows it.
func (it *listItem) view() ListItem {
	v := ListItem{
		ID: it.id, Code: it.code, ShortCode: it.shortCode, Value: it.value,
		Level: it.level, IsDeleted: it.deleted,
		Lists: []ListItemMember{{ID: it.list.ID, HasChildren: it.hasLiveChildren()}},
	}
	if it.parent != nil {
		p := it.parent.id
		v.ParentID = &p
	}
	return v
}

// markDeleted deletes the item and, as the List Item pages say for
// connected lists, all its children.
func (it *listItem) markDeleted() {
	it.deleted = true
	for _, c := range it.children {
		c.markDeleted()
	}
}

// addList creates a list in the store. Callers hold s.mu.
func (ls *listStore) addList(l ConcurList) (*concurList, error) {
	if l.ID == "" {
		l.ID = uuid.NewString()
	}
	if l.Levels == 0 {
		l.Levels = MaxListLevels
	}
	if l.Levels < 1 || l.Levels > MaxListLevels {
		return nil, fmt.Errorf("levels %d is not between 1 and %d", l.Levels, MaxListLevels)
	}
	key := strings.ToLower(l.ID)
	if _, ok := ls.lists[key]; ok {
		return nil, fmt.Errorf("list %s already exists", l.ID)
	}
	if _, err := uuid.Parse(l.ID); err == nil {
		l.ID = key
	}
	cl := &concurList{ConcurList: l, byCode: map[string]*listItem{}}
	ls.lists[key] = cl
	ls.order = append(ls.order, cl)
	return cl, nil
}

// CreateConcurList creates a SAP Concur list for a company, as an
// administrator does in the SAP Concur UI. An empty ID gets a new UUID;
// Levels 0 means MaxListLevels. It returns the list as created.
func (s *Server) CreateConcurList(companyID string, l ConcurList) (ConcurList, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.state.companies[strings.ToLower(companyID)]
	if !ok {
		return ConcurList{}, fmt.Errorf("creating list: %w", errUnknownCompany(companyID))
	}
	l.Deleted = false
	cl, err := c.listsLocked().addList(l)
	if err != nil {
		return ConcurList{}, fmt.Errorf("creating list: %w", err)
	}
	return cl.ConcurList, nil
}

// DeleteConcurList marks a company's SAP Concur list deleted: List Item
// calls on it then fail with list.deleted. Its items are kept.
func (s *Server) DeleteConcurList(companyID, listID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cl, err := s.concurListLocked(companyID, listID)
	if err != nil {
		return fmt.Errorf("deleting list: %w", err)
	}
	cl.Deleted = true
	return nil
}

// ConcurLists returns a company's SAP Concur lists in creation order.
func (s *Server) ConcurLists(companyID string) ([]ConcurList, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.state.companies[strings.ToLower(companyID)]
	if !ok {
		return nil, fmt.Errorf("listing lists: %w", errUnknownCompany(companyID))
	}
	out := []ConcurList{}
	for _, l := range c.listsLocked().order {
		out = append(out, l.ConcurList)
	}
	return out, nil
}

// ListItems returns every item of a company's SAP Concur list, deleted
// ones included, in creation order, as the List Item API shows them.
func (s *Server) ListItems(companyID, listID string) ([]ListItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cl, err := s.concurListLocked(companyID, listID)
	if err != nil {
		return nil, fmt.Errorf("listing items: %w", err)
	}
	out := make([]ListItem, 0, len(cl.items))
	for _, it := range cl.items {
		out = append(out, it.view())
	}
	return out, nil
}

// concurListLocked finds a company's list. Callers hold s.mu.
func (s *Server) concurListLocked(companyID, listID string) (*concurList, error) {
	c, ok := s.state.companies[strings.ToLower(companyID)]
	if !ok {
		return nil, errUnknownCompany(companyID)
	}
	cl := c.listsLocked().list(listID)
	if cl == nil {
		return nil, fmt.Errorf("list %s of company %s: %w", listID, companyID, ErrNotFound)
	}
	return cl, nil
}

// mappingLevels is the deepest level the fields of a ListMapping's
// fieldMappings name (fields and connected lists), or 0 when they name
// none.
func mappingLevels(fieldMappings json.RawMessage) int {
	if len(fieldMappings) == 0 {
		return 0
	}
	type field struct {
		Level int `json:"level"`
	}
	var fms []struct {
		Fields         []field `json:"fields"`
		ConnectedLists []struct {
			Fields []field `json:"fields"`
		} `json:"connectedLists"`
	}
	if json.Unmarshal(fieldMappings, &fms) != nil {
		return 0
	}
	deepest := 0
	for _, fm := range fms {
		for _, f := range fm.Fields {
			deepest = max(deepest, f.Level)
		}
		for _, cl := range fm.ConnectedLists {
			for _, f := range cl.Fields {
				deepest = max(deepest, f.Level)
			}
		}
	}
	return min(deepest, MaxListLevels)
}

// ensureMappedListLocked makes sure the SAP Concur list a mapping names
// exists, creating it when it does not: with as many levels as its
// fieldMappings use, or MaxListLevels when they name no level. Callers
// hold s.mu.
func (s *Server) ensureMappedListLocked(companyID string, m ListMapping) error {
	c, ok := s.state.companies[companyID]
	if !ok {
		return errUnknownCompany(companyID)
	}
	ls := c.listsLocked()
	if cl := ls.list(m.ConcurListID); cl != nil {
		if cl.Deleted {
			return fmt.Errorf("SAP Concur list %s is deleted", m.ConcurListID)
		}
		return nil
	}
	_, err := ls.addList(ConcurList{ID: m.ConcurListID, Levels: mappingLevels(m.FieldMappings)})
	return err
}

// errListItem is a List Item error: its documented id and message.
type errListItem struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

func (e errListItem) Error() string { return e.ID + ": " + e.Message }

// The documented error ids and messages (the List Item Bulk page's Error
// Messages tables; messages without the tables' trailing period, as the
// pages' response examples print them).
var (
	errListNotFound       = errListItem{"list.not.found", "List not found"}
	errListDeleted        = errListItem{"list.deleted", "The list is currently deleted"}
	errDuplicateCode      = errListItem{"item.duplicate.code", "This item code is already used by another item in the same list"}
	errDuplicateDeleted   = errListItem{"item.duplicate.code.deleted", "This item code is already used by other item that's been deleted"}
	errParentNotFound     = errListItem{"item.parent.not.found", "Parent listItem not found"}
	errParentDeleted      = errListItem{"item.parent.deleted", "Parent listItem has been deleted"}
	errListNotMatchParent = errListItem{"item.list.id.not.match.parent", "List ID does not match that of parent listItem"}
	errMaxLevel           = errListItem{"item.max.level.exceeded", "Parent at max level. List items cannot be added to this parent"}
	errSharedDuplicate    = errListItem{"item.duplicate.item.shared", "The list item already exists in another list with the same list category. This list item already exists in another linked list"}
	errItemNotFound       = errListItem{"item.not.found", "listItem not found"}
	errItemDeleted        = errListItem{"item.deleted", "The list item has been deleted"}
)

// usableList finds a list items can be written to. Callers hold s.mu.
func (ls *listStore) usableList(id string) (*concurList, error) {
	cl := ls.list(id)
	switch {
	case cl == nil:
		return nil, errListNotFound
	case cl.Deleted:
		return nil, errListDeleted
	}
	return cl, nil
}

// createItem adds an item under parent (nil for a first-level item) to
// the list, enforcing the documented rules in the order the bulk page
// lists their errors. Callers hold s.mu.
func (ls *listStore) createItem(cl *concurList, parent *listItem, shortCode, value string) (*listItem, error) {
	level, code := 1, shortCode
	if parent != nil {
		switch {
		case parent.list != cl:
			return nil, errListNotMatchParent
		case parent.deleted:
			return nil, errParentDeleted
		case parent.level >= cl.Levels:
			return nil, errMaxLevel
		}
		level, code = parent.level+1, parent.code+"-"+shortCode
	}
	if old := cl.byCode[code]; old != nil {
		if old.deleted {
			return nil, errDuplicateDeleted
		}
		return nil, errDuplicateCode
	}
	if cl.Category != "" {
		for _, other := range ls.order {
			if other != cl && other.Category == cl.Category {
				if it := other.byCode[code]; it != nil && !it.deleted {
					return nil, errSharedDuplicate
				}
			}
		}
	}
	it := &listItem{
		id: uuid.NewString(), shortCode: shortCode, code: code, value: value,
		parent: parent, level: level, list: cl,
	}
	if parent != nil {
		parent.children = append(parent.children, it)
	}
	cl.items = append(cl.items, it)
	cl.byCode[code] = it
	ls.items[it.id] = it
	return it, nil
}

// hyphenRule is the List Item pages' code naming restriction, enforced.
const hyphenRule = "must not contain a hyphen: hyphens are not supported in item names or item codes"
