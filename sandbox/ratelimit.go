package sandbox

import (
	"net/http"
	"strconv"
	"time"
)

// The documented limits are on calls: "This endpoint can be called once per
// second" (Accounts, Vendors, List Names, Tax Data pages, each write
// endpoint) and "once every minute" (Registration page, POST …/erps). A
// gateway counts a call before the service sees its body, so every
// authenticated call to the endpoint counts, whatever the answer (202, 400,
// 412, 413 …); only calls refused by the limit itself do not. An endpoint
// is one method on one path: PATCH …/erps/{erpId}/accounts of one company
// and ERP is one endpoint, POST and PUT …/taxData are two (each has its
// own Limitations entry on the Tax Data page).

// callWrite counts a call to the write endpoint of obj (r.Method) for the
// company and ERP against the once-per-second limit. When the limit is
// reached it answers the call and returns false.
func (s *Server) callWrite(w http.ResponseWriter, r *http.Request, companyID, erpID string, obj Object) bool {
	if !s.cfg.rateLimit {
		return true
	}
	at := s.arrival(r)
	s.mu.Lock()
	var e *erp
	if c := s.state.companies[companyID]; c != nil {
		e = c.erps[erpID]
	}
	if e == nil {
		s.mu.Unlock()
		return true // unregistered meanwhile: the handler answers 404
	}
	key := r.Method + " " + string(obj)
	wait := s.spendLocked(e.lastWrite[key], s.cfg.patchEvery, at, func(t time.Time) { e.lastWrite[key] = t })
	s.mu.Unlock()
	if wait > 0 {
		s.writeRateLimited(w, r, "This endpoint can be called once per second", wait)
		return false
	}
	return true
}

// callRegister counts a call to POST …/erps for the company against the
// once-a-minute limit. When the limit is reached it answers the call and
// returns false.
func (s *Server) callRegister(w http.ResponseWriter, r *http.Request, companyID string) bool {
	if !s.cfg.rateLimit {
		return true
	}
	at := s.arrival(r)
	s.mu.Lock()
	c := s.state.companies[companyID]
	if c == nil {
		s.mu.Unlock()
		return true // the handler answers 404
	}
	wait := s.spendLocked(c.lastRegister, s.cfg.registerEvery, at, func(t time.Time) { c.lastRegister = t })
	s.mu.Unlock()
	if wait > 0 {
		s.writeRateLimited(w, r, "This endpoint can be called once every minute", wait)
		return false
	}
	return true
}

// spendLocked checks a call that arrived at now against a limit of one call
// per every, given the time of the last counted call (zero: none). It
// records the call with set and returns 0, or returns how long until a call
// is allowed. A call that arrived before the last counted one (both were
// waiting for the lock) is over the limit too. Callers hold s.mu.
func (s *Server) spendLocked(last time.Time, every time.Duration, now time.Time, set func(time.Time)) time.Duration {
	if !last.IsZero() {
		if wait := last.Add(every).Sub(now); wait > 0 {
			return wait
		}
	}
	set(now)
	return 0
}

// gatewayError is the body of a rate-limited answer, as the List Item Bulk
// page's "Rate Limit Error" shows it: {"timestamp","httpStatus","error":
// {"id","message"},"path"}.
type gatewayError struct {
	Timestamp  string `json:"timestamp"`
	HTTPStatus string `json:"httpStatus"`
	Error      struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	} `json:"error"`
	Path string `json:"path"`
}

// writeRateLimited answers a call over a limit in the configured form, with
// Retry-After: the whole seconds until a call is allowed again, rounded up
// so that a client honouring it is not refused again.
func (s *Server) writeRateLimited(w http.ResponseWriter, r *http.Request, msg string, wait time.Duration) {
	if isListItemPath(r.URL.Path) {
		s.writeListRateLimited(w, r)
		return
	}
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 0)))
	switch s.cfg.rateLimitForm {
	case RateLimit429ErrorMessage:
		s.writeError(w, r, http.StatusTooManyRequests, codeRateLimited, msg)
	case RateLimit400:
		s.writeGatewayError(w, r, http.StatusBadRequest)
	default:
		s.writeGatewayError(w, r, http.StatusTooManyRequests)
	}
}

func (s *Server) writeGatewayError(w http.ResponseWriter, r *http.Request, status int) {
	var body gatewayError
	body.Timestamp = s.now().UTC().Format(timestampLayout)
	body.HTTPStatus = statusText(status)
	body.Error.ID = codeRateLimited
	body.Error.Message = "Too many requests"
	body.Path = r.URL.Path
	writeJSON(w, status, body)
}
