package sandbox

import (
	"fmt"
	"net/http"
	"strings"
)

// MaxBulkParts is the most request parts one List Item Bulk request may
// carry (the List Item Bulk page).
const MaxBulkParts = 250

// Bulk response statuses (the Bulk List Item Response's enum).
const (
	BulkSuccess        = "SUCCESS"
	BulkPartialSuccess = "PARTIAL_SUCCESS"
	BulkFailure        = "FAILURE"
)

// bulkCreatePart is a Bulk List Item Create Request Part; pointers keep
// what was sent, so a failed part is echoed as received.
type bulkCreatePart struct {
	ShortCode  *string `json:"shortCode,omitempty"`
	Value      *string `json:"value,omitempty"`
	ParentCode *string `json:"parentCode,omitempty"`
}

// bulkUpdatePart is a Bulk List Item Update Request Part.
type bulkUpdatePart struct {
	Code    *string `json:"code,omitempty"`
	Value   *string `json:"value,omitempty"`
	Deleted *bool   `json:"deleted,omitempty"`
}

// bulkItemError is a Bulk List Item Error.
type bulkItemError struct {
	ID       string `json:"id"`
	Message  string `json:"message"`
	ListItem any    `json:"listItem"`
}

// bulkResponse is the Bulk List Item Response.
type bulkResponse struct {
	Status           string          `json:"status"`
	RecordsSucceeded int             `json:"recordsSucceeded"`
	RecordsFailed    int             `json:"recordsFailed"`
	Errors           []bulkItemError `json:"errors"`
}

// add counts one executed part.
func (b *bulkResponse) add(part any, err error) {
	if err == nil {
		b.RecordsSucceeded++
		return
	}
	b.RecordsFailed++
	le, ok := err.(errListItem)
	if !ok {
		le = errListItem{"item.operation.failed", err.Error()}
	}
	b.Errors = append(b.Errors, bulkItemError{ID: le.ID, Message: le.Message, ListItem: part})
}

// write answers the bulk result: okStatus when every part succeeded, 206
// when some did, 400 when none did (as the pages' examples show), with the
// Location of the bulk endpoint the examples carry.
func (s *Server) writeBulk(w http.ResponseWriter, r *http.Request, okStatus int, b bulkResponse) {
	status := okStatus
	switch {
	case b.RecordsFailed == 0:
		b.Status = BulkSuccess
	case b.RecordsSucceeded == 0:
		b.Status, status = BulkFailure, http.StatusBadRequest
	default:
		b.Status, status = BulkPartialSuccess, http.StatusPartialContent
	}
	if b.Errors == nil {
		b.Errors = []bulkItemError{}
	}
	w.Header().Set("Location", s.base(r)+r.URL.Path)
	writeListJSON(w, status, b)
}

// readBulk reads a bulk body {"requests":[…]} and checks its size (1 to
// 250 parts) and each part. It answers the request and returns false on
// failure, with the page's Validation Error body.
func readBulk[P any](s *Server, w http.ResponseWriter, r *http.Request, check func(i int, p P, verrs []listValidationError) []listValidationError) ([]P, bool) {
	var in struct {
		Requests []P `json:"requests"`
	}
	if !s.readListBody(w, r, &in) {
		return nil, false
	}
	if n := len(in.Requests); n < 1 || n > MaxBulkParts {
		s.writeListError(w, r, http.StatusBadRequest, errValidation,
			listValidationError{"requests", fmt.Sprintf("size must be between 1 and %d", MaxBulkParts)})
		return nil, false
	}
	var verrs []listValidationError
	for i, p := range in.Requests {
		verrs = check(i, p, verrs)
	}
	if len(verrs) > 0 {
		s.writeListError(w, r, http.StatusBadRequest, errValidation, verrs...)
		return nil, false
	}
	return in.Requests, true
}

// handleBulkCreate serves POST /list/v4/lists/{listId}/bulk: the parts run
// in order, each on its own; 201, 206 or 400 with per-part errors.
func (s *Server) handleBulkCreate(w http.ResponseWriter, r *http.Request, companyID string) {
	parts, ok := readBulk(s, w, r, func(i int, p bulkCreatePart, verrs []listValidationError) []listValidationError {
		src := fmt.Sprintf("requests[%d].", i)
		verrs = checkText(src+"shortCode", p.ShortCode, verrs)
		return checkText(src+"value", p.Value, verrs)
	})
	if !ok {
		return
	}
	var res bulkResponse
	ls := s.lockedStore(companyID)
	cl, listErr := ls.usableList(r.PathValue("listId"))
	for _, p := range parts {
		if listErr != nil {
			res.add(p, listErr)
			continue
		}
		var parent *listItem
		if p.ParentCode != nil && *p.ParentCode != "" {
			if parent = cl.byCode[*p.ParentCode]; parent == nil {
				res.add(p, errParentNotFound)
				continue
			}
		}
		_, err := ls.createItem(cl, parent, *p.ShortCode, *p.Value)
		res.add(p, err)
	}
	s.mu.Unlock()
	s.writeBulk(w, r, http.StatusCreated, res)
}

// handleBulkUpdate serves PATCH /list/v4/lists/{listId}/bulk: each part
// finds its item by long code and sets its value, deletes it (with its
// children) when deleted is true, or restores it when deleted is false;
// 200, 206 or 400 with per-part errors.
func (s *Server) handleBulkUpdate(w http.ResponseWriter, r *http.Request, companyID string) {
	parts, ok := readBulk(s, w, r, func(i int, p bulkUpdatePart, verrs []listValidationError) []listValidationError {
		src := fmt.Sprintf("requests[%d].", i)
		if p.Code == nil || strings.TrimSpace(*p.Code) == "" {
			verrs = append(verrs, listValidationError{src + "code", "must not be blank"})
		}
		if p.Value != nil {
			verrs = checkText(src+"value", p.Value, verrs)
		}
		return verrs
	})
	if !ok {
		return
	}
	var res bulkResponse
	ls := s.lockedStore(companyID)
	cl, listErr := ls.usableList(r.PathValue("listId"))
	for _, p := range parts {
		if listErr != nil {
			res.add(p, listErr)
			continue
		}
		res.add(p, cl.update(p))
	}
	s.mu.Unlock()
	s.writeBulk(w, r, http.StatusOK, res)
}

// update applies one update part. Callers hold s.mu.
func (cl *concurList) update(p bulkUpdatePart) error {
	it := cl.byCode[*p.Code]
	if it == nil {
		return errItemNotFound
	}
	if p.Deleted != nil && *p.Deleted {
		it.markDeleted()
		return nil
	}
	if it.deleted {
		if p.Deleted == nil {
			if p.Value == nil {
				return nil
			}
			return errItemDeleted
		}
		// deleted: false restores the item (not its children), under a
		// parent that is not deleted.
		if it.parent != nil && it.parent.deleted {
			return errParentDeleted
		}
		it.deleted = false
	}
	if p.Value != nil {
		it.value = *p.Value
	}
	return nil
}
