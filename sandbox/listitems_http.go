package sandbox

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
)

// listItemPrefix is the base path of the List Item v4 and List Item Bulk v4
// APIs. Their paths carry no company: the access token names it.
const listItemPrefix = "/list/v4"

// maxListItemBody caps a List Item request body (the pages name no limit;
// 250 bulk parts fit easily).
const maxListItemBody = 4_000_000

// listItemRoutes registers the List Item v4 and List Item Bulk v4 APIs.
func (s *Server) listItemRoutes(mux *http.ServeMux) {
	const p = listItemPrefix
	mux.HandleFunc("GET "+p+"/items/{itemId}", s.listAPI(s.handleGetListItem))
	mux.HandleFunc("POST "+p+"/items", s.listAPI(s.handleCreateListItem))
	mux.HandleFunc("PUT "+p+"/items/{itemId}", s.listAPI(s.handleUpdateListItem))
	mux.HandleFunc("DELETE "+p+"/items/{itemId}", s.listAPI(s.handleDeleteListItem))
	mux.HandleFunc("DELETE "+p+"/lists/{listId}/items/{itemId}", s.listAPI(s.handleDeleteListItem))
	mux.HandleFunc("GET "+p+"/items/{itemId}/children", s.listAPI(s.handleListChildren))
	mux.HandleFunc("GET "+p+"/lists/{listId}/items/{itemId}/children", s.listAPI(s.handleListChildren))
	mux.HandleFunc("GET "+p+"/lists/{listId}/children", s.listAPI(s.handleListChildren))
	mux.HandleFunc("POST "+p+"/lists/{listId}/bulk", s.listAPI(s.handleBulkCreate))
	mux.HandleFunc("PATCH "+p+"/lists/{listId}/bulk", s.listAPI(s.handleBulkUpdate))
}

// listValidationError is the List Item pages' Validation Error.
type listValidationError struct {
	Source  string `json:"source"`
	Message string `json:"message"`
}

// listErrorBody is the List Item pages' Error Message, members in the order
// of the pages' samples.
type listErrorBody struct {
	Timestamp        string                `json:"timestamp"`
	HTTPStatus       string                `json:"httpStatus"`
	Error            errListItem           `json:"error"`
	ValidationErrors []listValidationError `json:"validationErrors,omitempty"`
	Path             string                `json:"path"`
}

// Error ids of List Item answers the pages do not name (the sandbox's
// choice), beside the documented ones in listitems.go.
var (
	errValidation   = errListItem{"request.validation.error", "Please check your request parameter"}
	errUnauthorized = errListItem{"security.unauthorized", "Full authentication is required to access this resource"}
	errForbidden    = errListItem{"security.forbidden", "Access is denied"}
	errNoCompany    = errListItem{"company.not.found", "Company does not exist"}
	errMediaType    = errListItem{"request.unsupported.media.type", "Content type must be application/json"}
	errTooLarge     = errListItem{"request.too.large", "The request body is too large"}
)

// writeListJSON answers a List Item call with the headers the pages show.
func writeListJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeListError answers a List Item call with an Error Message.
func (s *Server) writeListError(w http.ResponseWriter, r *http.Request, status int, e errListItem, verrs ...listValidationError) {
	writeListJSON(w, status, listErrorBody{
		Timestamp:        s.now().UTC().Format(timestampLayout),
		HTTPStatus:       statusText(status),
		Error:            e,
		ValidationErrors: verrs,
		Path:             r.URL.Path,
	})
}

// isListItemPath reports whether a request path is a List Item call's.
func isListItemPath(path string) bool { return strings.HasPrefix(path, listItemPrefix+"/") }

// writeListRateLimited answers as the List Item Bulk page's Rate Limit
// Error sample: 429, retry-after: 0.
func (s *Server) writeListRateLimited(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "0")
	if strings.HasSuffix(r.URL.Path, "/bulk") {
		w.Header().Set("Location", s.base(r)+r.URL.Path)
	}
	s.writeListError(w, r, http.StatusTooManyRequests, errListItem{codeRateLimited, "Too many requests"})
}

// listHandler is a List Item handler; companyID is the token's company.
type listHandler func(w http.ResponseWriter, r *http.Request, companyID string)

// listAPI checks the bearer token and the scope the method needs (the
// Scope Usage tables: GET read or write, POST/PUT/PATCH write, DELETE
// delete) before h. The company is the token's.
func (s *Server) listAPI(h listHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hdr := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(hdr, "Bearer ")
		if !ok {
			token, ok = strings.CutPrefix(hdr, "bearer ")
		}
		if !ok || token == "" {
			s.writeListError(w, r, http.StatusUnauthorized, errUnauthorized)
			return
		}
		s.mu.Lock()
		t, found := s.state.access[token]
		var tok accessToken
		if found {
			tok = *t
		}
		_, companyOK := s.state.companies[tok.companyID]
		s.mu.Unlock()
		if !found || !s.now().Before(tok.expires) {
			s.writeListError(w, r, http.StatusUnauthorized, errUnauthorized)
			return
		}
		var allowed []string
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			allowed = []string{ScopeListItemRead, ScopeListItemWrite}
		case http.MethodDelete:
			allowed = []string{ScopeListItemDelete}
		default:
			allowed = []string{ScopeListItemWrite}
		}
		if !slices.ContainsFunc(tok.scopes, func(sc string) bool { return slices.Contains(allowed, sc) }) {
			s.writeListError(w, r, http.StatusForbidden, errForbidden)
			return
		}
		if !companyOK {
			s.writeListError(w, r, http.StatusBadRequest, errNoCompany)
			return
		}
		h(w, r, tok.companyID)
	}
}

// readListBody reads a JSON request body into v. It answers the request
// and returns false on failure: 415 for another content type, 413 over the
// size cap, 400 request.validation.error for malformed JSON.
func (s *Server) readListBody(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		s.writeListError(w, r, http.StatusUnsupportedMediaType, errMediaType)
		return false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxListItemBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		s.writeListError(w, r, http.StatusRequestEntityTooLarge, errTooLarge)
		return false
	case err != nil:
		s.writeListError(w, r, http.StatusBadRequest, errValidation, listValidationError{"body", "reading the request body: " + err.Error()})
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		s.writeListError(w, r, http.StatusBadRequest, errValidation, listValidationError{"body", "malformed JSON request: " + err.Error()})
		return false
	}
	return true
}

// checkText validates a required item text (short code or value): present,
// not blank, no hyphen.
func checkText(source string, v *string, verrs []listValidationError) []listValidationError {
	switch {
	case v == nil || strings.TrimSpace(*v) == "":
		return append(verrs, listValidationError{source, "must not be blank"})
	case strings.Contains(*v, "-"):
		return append(verrs, listValidationError{source, hyphenRule})
	}
	return verrs
}

// statusOf is the HTTP status of a documented List Item error.
func statusOf(e errListItem) int {
	switch e {
	case errListNotFound, errItemNotFound:
		return http.StatusNotFound
	}
	return http.StatusBadRequest
}

// writeCached answers a read with an ETag, or 304 when If-None-Match names
// that ETag (the read calls list both headers).
func writeCached(w http.ResponseWriter, r *http.Request, v any) {
	b, _ := json.Marshal(v)
	sum := md5.Sum(b)
	etag := `"0` + hex.EncodeToString(sum[:]) + `"`
	w.Header().Set("ETag", etag)
	for _, tag := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(tag), "W/")) == etag {
			w.Header().Set("Cache-Control", "no-cache, private")
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	writeListJSON(w, http.StatusOK, v)
}

// lockedStore locks s.mu and returns the company's list store.
func (s *Server) lockedStore(companyID string) *listStore {
	s.mu.Lock()
	return s.state.companies[companyID].listsLocked()
}

// handleGetListItem serves GET /list/v4/items/{itemId}. A deleted item is
// still found, with isDeleted true.
func (s *Server) handleGetListItem(w http.ResponseWriter, r *http.Request, companyID string) {
	ls := s.lockedStore(companyID)
	it := ls.item(r.PathValue("itemId"))
	var v ListItem
	if it != nil {
		v = it.view()
	}
	s.mu.Unlock()
	if it == nil {
		s.writeListError(w, r, http.StatusNotFound, errItemNotFound)
		return
	}
	writeCached(w, r, v)
}

// listItemCreate is the List Item Create body.
type listItemCreate struct {
	ListID     *string `json:"listId"`
	ParentCode *string `json:"parentCode"`
	ParentID   *string `json:"parentId"`
	ShortCode  *string `json:"shortCode"`
	Value      *string `json:"value"`
}

// handleCreateListItem serves POST /list/v4/items: 201 with the item and
// its Location.
func (s *Server) handleCreateListItem(w http.ResponseWriter, r *http.Request, companyID string) {
	var in listItemCreate
	if !s.readListBody(w, r, &in) {
		return
	}
	var verrs []listValidationError
	if in.ListID == nil || strings.TrimSpace(*in.ListID) == "" {
		verrs = append(verrs, listValidationError{"listId", "must not be null"})
	}
	verrs = checkText("shortCode", in.ShortCode, verrs)
	verrs = checkText("value", in.Value, verrs)
	if len(verrs) > 0 {
		s.writeListError(w, r, http.StatusBadRequest, errValidation, verrs...)
		return
	}
	ls := s.lockedStore(companyID)
	it, err := func() (*listItem, error) {
		cl, err := ls.usableList(*in.ListID)
		if err != nil {
			return nil, err
		}
		var parent *listItem
		if in.ParentID != nil && *in.ParentID != "" {
			if parent = ls.item(*in.ParentID); parent == nil {
				return nil, errParentNotFound
			}
		}
		if in.ParentCode != nil && *in.ParentCode != "" {
			byCode := cl.byCode[*in.ParentCode]
			switch {
			case byCode == nil && parent == nil:
				return nil, errParentNotFound
			case parent != nil && byCode != parent:
				return nil, errListItem{errValidation.ID, "parentCode and parentId name different items"}
			}
			parent = byCode
		}
		return ls.createItem(cl, parent, *in.ShortCode, *in.Value)
	}()
	var v ListItem
	if err == nil {
		v = it.view()
	}
	s.mu.Unlock()
	var le errListItem
	switch {
	case errors.As(err, &le) && le.ID == errValidation.ID:
		s.writeListError(w, r, http.StatusBadRequest, errValidation, listValidationError{"parentCode", le.Message})
	case errors.As(err, &le):
		s.writeListError(w, r, statusOf(le), le)
	case err != nil:
		s.writeListError(w, r, http.StatusInternalServerError, errListItem{"internal.error", err.Error()})
	default:
		w.Header().Set("Location", s.base(r)+listItemPrefix+"/items/"+v.ID)
		writeListJSON(w, http.StatusCreated, v)
	}
}

// listItemUpdate is the List Item Update body.
type listItemUpdate struct {
	ShortCode *string `json:"shortCode"`
	Value     *string `json:"value"`
}

// handleUpdateListItem serves PUT /list/v4/items/{itemId}. A new short
// code renames the item's long code and those of its descendants.
func (s *Server) handleUpdateListItem(w http.ResponseWriter, r *http.Request, companyID string) {
	var in listItemUpdate
	if !s.readListBody(w, r, &in) {
		return
	}
	verrs := checkText("shortCode", in.ShortCode, nil)
	verrs = checkText("value", in.Value, verrs)
	if len(verrs) > 0 {
		s.writeListError(w, r, http.StatusBadRequest, errValidation, verrs...)
		return
	}
	ls := s.lockedStore(companyID)
	it := ls.item(r.PathValue("itemId"))
	var err error
	switch {
	case it == nil:
		err = errItemNotFound
	case it.list.Deleted:
		err = errListDeleted
	case it.deleted:
		err = errItemDeleted
	default:
		err = it.rename(*in.ShortCode)
	}
	var v ListItem
	if err == nil {
		it.value = *in.Value
		v = it.view()
	}
	s.mu.Unlock()
	var le errListItem
	if errors.As(err, &le) {
		s.writeListError(w, r, statusOf(le), le)
		return
	}
	writeListJSON(w, http.StatusOK, v)
}

// rename gives the item a new short code, which changes its long code and
// those of its descendants. Callers hold s.mu.
func (it *listItem) rename(shortCode string) error {
	if shortCode == it.shortCode {
		return nil
	}
	code := shortCode
	if it.parent != nil {
		code = it.parent.code + "-" + shortCode
	}
	if old := it.list.byCode[code]; old != nil {
		if old.deleted {
			return errDuplicateDeleted
		}
		return errDuplicateCode
	}
	it.shortCode = shortCode
	it.recode(code)
	return nil
}

// recode moves the item and its descendants to a new long code. Short
// codes hold no hyphen, so no descendant's new code can be taken when the
// item's is free.
func (it *listItem) recode(code string) {
	delete(it.list.byCode, it.code)
	it.code = code
	it.list.byCode[code] = it
	for _, c := range it.children {
		c.recode(code + "-" + c.shortCode)
	}
}

// handleDeleteListItem serves DELETE /list/v4/items/{itemId} and DELETE
// /list/v4/lists/{listId}/items/{itemId}: 204, the item and all its
// children deleted. Deleting a deleted item answers 204 again.
func (s *Server) handleDeleteListItem(w http.ResponseWriter, r *http.Request, companyID string) {
	ls := s.lockedStore(companyID)
	err := func() error {
		it := ls.item(r.PathValue("itemId"))
		if listID := r.PathValue("listId"); listID != "" {
			cl := ls.list(listID)
			if cl == nil {
				return errListNotFound
			}
			if it == nil || it.list != cl {
				return errItemNotFound
			}
		}
		if it == nil {
			return errItemNotFound
		}
		if it.list.Deleted {
			return errListDeleted
		}
		it.markDeleted()
		return nil
	}()
	s.mu.Unlock()
	var le errListItem
	if errors.As(err, &le) {
		s.writeListError(w, r, statusOf(le), le)
		return
	}
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusNoContent)
}
