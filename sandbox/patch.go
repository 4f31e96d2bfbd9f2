package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// requestStatusBody is RequestStatus as the 202 answers show it ("links");
// GET …/requests/{id} shows the same under "_links".
type requestStatusBody struct {
	Status    string        `json:"status"`
	RequestID string        `json:"requestId"`
	Links     *requestLinks `json:"links,omitempty"`
	HALLinks  *requestLinks `json:"_links,omitempty"`
}

type href struct {
	Href string `json:"href"`
}

type requestLinks struct {
	Errors *href `json:"errors,omitempty"`
	Self   *href `json:"self,omitempty"`
}

// requestHrefs are the links of a request, relative to the API base path
// (/accountingintegration), exactly as the docs print them.
func requestHrefs(companyID, erpID, requestID string) *requestLinks {
	self := "/v4/companies/" + companyID + "/erps/" + erpID + "/requests/" + requestID
	return &requestLinks{Errors: &href{self + "/errors"}, Self: &href{self}}
}

// handlePatch serves PATCH …/accounts, …/vendors and …/lists.
func (s *Server) handlePatch(obj Object) erpHandler {
	return func(w http.ResponseWriter, r *http.Request, companyID, erpID string) {
		s.acceptWrite(w, r, companyID, erpID, obj, false)
	}
}

// handleTaxData serves POST (add) and PUT (replace) …/taxData.
func (s *Server) handleTaxData(replace bool) erpHandler {
	return func(w http.ResponseWriter, r *http.Request, companyID, erpID string) {
		s.acceptWrite(w, r, companyID, erpID, ObjectTaxData, replace)
	}
}

// acceptWrite checks a write request and queues it for asynchronous
// processing, answering 202 with its RequestStatus.
func (s *Server) acceptWrite(w http.ResponseWriter, r *http.Request, companyID, erpID string, obj Object, replace bool) {
	if !s.callWrite(w, r, companyID, erpID, obj) {
		return
	}
	inm := strings.Trim(strings.TrimSpace(r.Header.Get("If-None-Match")), `"`)
	if inm != "" {
		u, err := uuid.Parse(inm)
		if err != nil {
			s.writeError(w, r, http.StatusBadRequest, codeInvalidUUID, fmt.Sprintf("if-none-match %q is not a UUID", inm))
			return
		}
		inm = u.String()
	}
	body := s.readJSONBody(w, r, s.cfg.maxBody)
	if body == nil {
		return
	}
	deleteAll, data, ok := s.splitWrite(w, r, body, replace)
	if !ok {
		return
	}

	e := s.lockedERP(w, r, companyID, erpID)
	if e == nil {
		return
	}
	if inm != "" {
		if prev, dup := e.accepted[inm]; dup {
			s.mu.Unlock()
			s.writeError(w, r, http.StatusPreconditionFailed, codeAlreadyAccepted,
				fmt.Sprintf("A request with if-none-match %s was already accepted as request %s", inm, prev))
			return
		}
	}
	now := s.now()
	req := &request{
		id:            uuid.NewString(),
		companyID:     companyID,
		erpID:         erpID,
		object:        obj,
		method:        r.Method,
		ifNoneMatch:   inm,
		correlationID: r.Header.Get(correlationHeader),
		received:      now,
		status:        StatusProcessing,
		deleteAll:     deleteAll || replace,
		replace:       replace,
		data:          data,
		records:       len(data),
		bodySize:      len(body),
		due:           time.Now().Add(s.processingTime(len(data))),
	}
	if inm != "" {
		e.accepted[inm] = req.id
	}
	e.requests[req.id] = req
	e.reqOrder = append(e.reqOrder, req.id)
	s.enqueueLocked(e, req)
	s.mu.Unlock()

	noteRequestID(w, req.id)
	writeJSON(w, http.StatusAccepted, requestStatusBody{
		Status:    StatusProcessing,
		RequestID: req.id,
		Links:     requestHrefs(companyID, erpID, req.id),
	})
}

// splitWrite checks the envelope of a write body ({"deleteAll": bool,
// "data": [...]}) and splits data into its records, without decoding them.
// It answers the request and returns false when the envelope is wrong.
func (s *Server) splitWrite(w http.ResponseWriter, r *http.Request, body []byte, replace bool) (bool, []json.RawMessage, bool) {
	if !json.Valid(body) {
		s.writeError(w, r, http.StatusBadRequest, codeInvalidJSON, "The request body is not valid JSON")
		return false, nil, false
	}
	var deleteAllRaw, dataRaw []byte
	if !members(body, func(key, val []byte) {
		switch string(key) {
		case "deleteAll":
			deleteAllRaw = val
		case "data":
			dataRaw = val
		}
	}) {
		s.writeError(w, r, http.StatusBadRequest, codeInvalidJSON, "The request body is not a JSON object")
		return false, nil, false
	}
	deleteAll := false
	switch string(deleteAllRaw) {
	case "", "null", "false":
	case "true":
		deleteAll = true
	default:
		msg := "deleteAll must be a boolean"
		s.writeError(w, r, http.StatusBadRequest, codeValidation, msg,
			ValidationError{Source: "deleteAll", ErrorMessage: msg, ErrorCode: "deleteAll.invalid"})
		return false, nil, false
	}
	if len(dataRaw) == 0 || string(dataRaw) == "null" {
		if !deleteAll && !replace {
			msg := "data is required unless deleteAll is true"
			s.writeError(w, r, http.StatusBadRequest, codeValidation, msg,
				ValidationError{Source: "data", ErrorMessage: msg, ErrorCode: "data.required"})
			return false, nil, false
		}
		return deleteAll, nil, true
	}
	elems, isArray := elements(dataRaw)
	if !isArray {
		msg := "data must be an array"
		s.writeError(w, r, http.StatusBadRequest, codeValidation, msg,
			ValidationError{Source: "data", ErrorMessage: msg, ErrorCode: "data.invalid"})
		return false, nil, false
	}
	data := make([]json.RawMessage, len(elems))
	for i, el := range elems {
		data[i] = el
	}
	return deleteAll, data, true
}
