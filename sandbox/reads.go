package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// encodeCursor and decodeCursor make the opaque "next" query value.
func encodeCursor(n uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("p" + strconv.FormatUint(n, 10)))
}

func decodeCursor(s string) (uint64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != 'p' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[1:]), 10, 64)
	return n, err == nil
}

// pageCursor reads the "next" query parameter; absent means the first page.
// It answers the request and returns false when the cursor is malformed.
func (s *Server) pageCursor(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	next := r.URL.Query().Get("next")
	if next == "" {
		return 0, true
	}
	n, ok := decodeCursor(next)
	if !ok {
		s.writeError(w, r, http.StatusBadRequest, codeBadRequest, "The next parameter "+strconv.Quote(next)+" is not a page cursor this server issued")
		return 0, false
	}
	return n, true
}

// writePage answers {"data":[…],"<linksKey>":{"next":{"href":…}}}; the links
// member is left out on the last page.
func writePage(w http.ResponseWriter, items [][]byte, linksKey, nextHref string) {
	size := 64 + len(nextHref)
	for _, it := range items {
		size += len(it) + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	buf.WriteString(`{"data":[`)
	for i, it := range items {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(it)
	}
	buf.WriteByte(']')
	if nextHref != "" {
		h, _ := json.Marshal(nextHref)
		buf.WriteString(`,"` + linksKey + `":{"next":{"href":`)
		buf.Write(h)
		buf.WriteString(`}}`)
	}
	buf.WriteByte('}')
	writeRaw(w, http.StatusOK, buf.Bytes())
}

// handleGetRecords serves GET …/accounts, …/vendors, …/lists and …/taxData,
// a page of at most the configured page size at a time.
func (s *Server) handleGetRecords(obj Object) erpHandler {
	return func(w http.ResponseWriter, r *http.Request, companyID, erpID string) {
		from, ok := s.pageCursor(w, r)
		if !ok {
			return
		}
		e := s.lockedERP(w, r, companyID, erpID)
		if e == nil {
			return
		}
		if obj == ObjectVendor {
			s.expireVendorsLocked(e, s.now())
		}
		items, next := e.set(obj).page(from, s.cfg.pageSize)
		s.mu.Unlock()
		nextHref := ""
		if next != 0 {
			nextHref = r.URL.Path + "?next=" + encodeCursor(next)
		}
		writePage(w, items, "links", nextHref)
	}
}

// lookupRequest finds a request of the ERP. It answers the request and
// returns nil when there is none.
func (s *Server) lookupRequest(w http.ResponseWriter, r *http.Request, companyID, erpID string) *request {
	id := r.PathValue("requestId")
	if _, err := uuid.Parse(id); err != nil {
		s.writeError(w, r, http.StatusBadRequest, codeInvalidUUID, "requestId "+strconv.Quote(id)+" is not a UUID")
		return nil
	}
	id = strings.ToLower(id)
	s.mu.Lock()
	var req *request
	if c := s.state.companies[companyID]; c != nil {
		if e := c.erps[erpID]; e != nil {
			req = e.requests[id]
		}
	}
	s.mu.Unlock()
	if req == nil {
		s.writeError(w, r, http.StatusNotFound, codeNotFound, "Request "+id+" not found")
	}
	return req
}

// handleRequestStatus serves GET …/requests/{requestId}; the links are under
// "_links" as the Request Processing page shows.
func (s *Server) handleRequestStatus(w http.ResponseWriter, r *http.Request, companyID, erpID string) {
	req := s.lookupRequest(w, r, companyID, erpID)
	if req == nil {
		return
	}
	s.mu.Lock()
	status := req.status
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, requestStatusBody{
		Status:    status,
		RequestID: req.id,
		HALLinks:  requestHrefs(companyID, erpID, req.id),
	})
}

// handleRequestErrors serves GET …/erps/{erpId}/requests/{requestId}/errors.
func (s *Server) handleRequestErrors(w http.ResponseWriter, r *http.Request, companyID, erpID string) {
	s.serveRequestErrors(w, r, companyID, erpID)
}

// serveRequestErrors pages the ProcessingErrors of a request; next links
// are under "_links", relative to the API base path, as the Request
// Processing page shows. A request still processing has no errors yet.
func (s *Server) serveRequestErrors(w http.ResponseWriter, r *http.Request, companyID, erpID string) {
	from, ok := s.pageCursor(w, r)
	if !ok {
		return
	}
	req := s.lookupRequest(w, r, companyID, erpID)
	if req == nil {
		return
	}
	s.mu.Lock()
	var items [][]byte
	size, next := 0, uint64(0)
	for i := int(min(from, uint64(len(req.errors)))); i < len(req.errors); i++ {
		b := req.errors[i]
		if len(items) > 0 && size+len(b)+1 > s.cfg.pageSize {
			next = uint64(i)
			break
		}
		items = append(items, b)
		size += len(b) + 1
	}
	s.mu.Unlock()
	nextHref := ""
	if next != 0 {
		nextHref = strings.TrimPrefix(r.URL.Path, "/accountingintegration") + "?next=" + encodeCursor(next)
	}
	writePage(w, items, "_links", nextHref)
}
