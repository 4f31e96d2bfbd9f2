package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/concurflow/concurflow/sandbox/internal/schema"
)

// timestampLayout is the ErrorMessage timestamp format (millisecond
// precision, explicit UTC offset, as the List Item page's error samples).
const timestampLayout = "2006-01-02T15:04:05.000+00:00"

// ValidationError is one failed rule of a record or request (the Schema
// page's ValidationError).
type ValidationError = schema.ValidationError

// errorMessage is the API's ErrorMessage body.
type errorMessage struct {
	Timestamp        string            `json:"timestamp"`
	HTTPStatus       string            `json:"httpStatus"`
	ErrorCode        string            `json:"errorCode"`
	ErrorMessage     string            `json:"errorMessage"`
	Path             string            `json:"path"`
	ValidationErrors []ValidationError `json:"validationErrors"`
}

// Error codes the sandbox answers with. The docs name the ErrorMessage
// fields but not their values; these are the sandbox's choice.
const (
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeNotFound         = "notFound"
	codeBadRequest       = "badRequest"
	codeInvalidJSON      = "invalidJson"
	codeInvalidUUID      = "invalidUuid"
	codeValidation       = "validationFailed"
	codeTooLarge         = "payloadTooLarge"
	codeMediaType        = "unsupportedMediaType"
	codeAlreadyAccepted  = "requestAlreadyAccepted"
	codeRateLimited      = "security.rate.limit.reached"
	codeMethodNotAllowed = "methodNotAllowed"
	codeServerError      = "internalServerError"
)

// statusText is the "httpStatus" form: "404 - Not Found".
func statusText(code int) string {
	return fmt.Sprintf("%d - %s", code, http.StatusText(code))
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, b)
}

// writeRaw answers with already-encoded JSON.
func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError answers with an ErrorMessage (the List Item pages' Error
// Message under /list/v4).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string, verrs ...ValidationError) {
	if isListItemPath(r.URL.Path) {
		s.writeListError(w, r, status, errListItem{ID: code, Message: msg})
		return
	}
	if verrs == nil {
		verrs = []ValidationError{}
	}
	writeJSON(w, status, errorMessage{
		Timestamp:        s.now().UTC().Format(timestampLayout),
		HTTPStatus:       statusText(status),
		ErrorCode:        code,
		ErrorMessage:     msg,
		Path:             r.URL.Path,
		ValidationErrors: verrs,
	})
}

// eventTime formats event and log timestamps.
func eventTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
