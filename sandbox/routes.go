package sandbox

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// API path prefixes.
const (
	apiPrefix   = "/accountingintegration/v4/companies/{companyId}"
	erpPrefix   = apiPrefix + "/erps/{erpId}"
	adminPrefix = "/sandbox/v1"
	tokenPath   = "/oauth2/v0/token"
)

// routes builds the whole HTTP surface.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+tokenPath, s.handleToken)

	mux.HandleFunc("GET "+apiPrefix+"/erps", s.api(s.handleListERPs))
	mux.HandleFunc("POST "+apiPrefix+"/erps", s.api(s.handleRegisterERP))
	mux.HandleFunc("GET "+erpPrefix, s.api(s.withERP(s.handleGetERP)))
	mux.HandleFunc("PATCH "+erpPrefix, s.api(s.withERP(s.handleUpdateERP)))
	mux.HandleFunc("DELETE "+erpPrefix, s.api(s.withERP(s.handleDeleteERP)))

	for _, o := range []struct {
		path string
		obj  Object
	}{{"/accounts", ObjectAccount}, {"/vendors", ObjectVendor}, {"/lists", ObjectList}} {
		mux.HandleFunc("PATCH "+erpPrefix+o.path, s.api(s.withERP(s.handlePatch(o.obj))))
		mux.HandleFunc("GET "+erpPrefix+o.path, s.api(s.withERP(s.handleGetRecords(o.obj))))
	}
	mux.HandleFunc("POST "+erpPrefix+"/taxData", s.api(s.withERP(s.handleTaxData(false))))
	mux.HandleFunc("PUT "+erpPrefix+"/taxData", s.api(s.withERP(s.handleTaxData(true))))
	mux.HandleFunc("GET "+erpPrefix+"/taxData", s.api(s.withERP(s.handleGetRecords(ObjectTaxData))))
	mux.HandleFunc("GET "+erpPrefix+"/mappings", s.api(s.withERP(s.handleMappings)))
	mux.HandleFunc("GET "+erpPrefix+"/requests/{requestId}", s.api(s.withERP(s.handleRequestStatus)))
	mux.HandleFunc("GET "+erpPrefix+"/requests/{requestId}/errors", s.api(s.withERP(s.handleRequestErrors)))

	s.listItemRoutes(mux)
	s.adminRoutes(mux)
	mux.HandleFunc("/", s.handleUnrouted(mux))
	return s.middleware(mux)
}

// handleUnrouted answers unknown paths (404) and known paths with another
// method (405 with Allow) with an ErrorMessage instead of the mux's plain
// text.
func (s *Server) handleUnrouted(mux *http.ServeMux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.writeError(w, r, http.StatusMethodNotAllowed, codeMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path)
			return
		}
		s.writeError(w, r, http.StatusNotFound, codeNotFound, "No resource at "+r.Method+" "+r.URL.Path)
	}
}

// apiHandler is an API handler with the company id checked.
type apiHandler func(w http.ResponseWriter, r *http.Request, companyID string)

// api checks authentication and authorization before h.
func (s *Server) api(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		companyID := r.PathValue("companyId")
		clientID, ok := s.authorize(w, r, companyID)
		if !ok {
			return
		}
		s.mu.Lock()
		_, ok = s.state.companies[strings.ToLower(companyID)]
		s.mu.Unlock()
		if !ok {
			s.writeError(w, r, http.StatusNotFound, codeNotFound, "Company "+companyID+" not found")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, clientID)), strings.ToLower(companyID))
	}
}

// erpHandler is an API handler with company and ERP ids checked.
type erpHandler func(w http.ResponseWriter, r *http.Request, companyID, erpID string)

// withERP checks that the ERP in the path is registered for the company.
func (s *Server) withERP(h erpHandler) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, companyID string) {
		erpID := r.PathValue("erpId")
		if _, err := uuid.Parse(erpID); err != nil {
			s.writeError(w, r, http.StatusBadRequest, codeInvalidUUID, "erpId "+erpID+" is not a UUID")
			return
		}
		erpID = strings.ToLower(erpID)
		s.mu.Lock()
		_, ok := s.state.companies[companyID].erps[erpID]
		s.mu.Unlock()
		if !ok {
			s.writeError(w, r, http.StatusNotFound, codeNotFound, "ERP "+erpID+" is not registered for company "+companyID)
			return
		}
		h(w, r, companyID, erpID)
	}
}

// correlationHeader carries the correlation id of every request and answer.
const correlationHeader = "Concur-Correlationid"

// middleware assigns correlation ids, applies injected faults and records
// every request in the request log.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		// A gateway counts a call when it reads it: the rate limit uses
		// this time, not when the handler gets the server's lock.
		r = r.WithContext(context.WithValue(r.Context(), arrivalKey{}, start))
		corr := r.Header.Get(correlationHeader)
		if corr == "" {
			corr = uuid.NewString()
			r.Header.Set(correlationHeader, corr)
		}
		w.Header().Set(correlationHeader, corr)
		rec := &statusRecorder{ResponseWriter: w}
		if !strings.HasPrefix(r.URL.Path, adminPrefix+"/") {
			if handled := s.applyFault(rec, r); handled {
				s.record(r, rec, corr, start)
				return
			}
		}
		next.ServeHTTP(rec, r)
		s.record(r, rec, corr, start)
	})
}

// arrivalKey is the request-context key of the time the middleware first
// saw a call.
type arrivalKey struct{}

// arrival returns when the middleware saw r, or now when it did not.
func (s *Server) arrival(r *http.Request) time.Time {
	if t, ok := r.Context().Value(arrivalKey{}).(time.Time); ok {
		return t
	}
	return s.now()
}

func (s *Server) record(r *http.Request, rec *statusRecorder, corr string, start time.Time) {
	if strings.HasPrefix(r.URL.Path, adminPrefix+"/") {
		return
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	s.mu.Lock()
	s.log.add(LogEntry{
		Time:          start,
		Method:        r.Method,
		Path:          r.URL.Path,
		Query:         r.URL.RawQuery,
		Status:        status,
		IfNoneMatch:   r.Header.Get("If-None-Match"),
		CorrelationID: corr,
		RequestID:     rec.requestID,
		Reset:         rec.reset,
	})
	s.mu.Unlock()
}

type statusRecorder struct {
	http.ResponseWriter
	status    int
	reset     bool
	requestID string
}

// noteRequestID names the accepted request in the log entry of w.
func noteRequestID(w http.ResponseWriter, id string) {
	if rec, ok := w.(*statusRecorder); ok {
		rec.requestID = id
	}
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (for injected
// connection resets).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// LogEntry is one API or token request as the sandbox answered it.
type LogEntry struct {
	Time          time.Time `json:"time"`
	Method        string    `json:"method"`
	Path          string    `json:"path"`
	Query         string    `json:"query,omitempty"`
	Status        int       `json:"status"`
	IfNoneMatch   string    `json:"ifNoneMatch,omitempty"`
	CorrelationID string    `json:"correlationId"`
	// RequestID is the id of the request a 202 accepted.
	RequestID string `json:"requestId,omitempty"`
	// Reset is true when an injected fault reset the connection (Status is
	// then 0).
	Reset bool `json:"connectionReset,omitempty"`
}

// requestLog keeps the most recent entries, up to limit.
type requestLog struct {
	limit   int
	entries []LogEntry
}

func (l *requestLog) add(e LogEntry) {
	if e.Reset {
		e.Status = 0
	}
	l.entries = append(l.entries, e)
	if over := len(l.entries) - l.limit; over > 0 && over > l.limit/4 {
		l.entries = append(l.entries[:0:0], l.entries[over:]...)
	}
}

// RequestLog returns the API and token requests received so far, oldest
// first (the most recent 10000).
func (s *Server) RequestLog() []LogEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.log.entries
	if over := len(out) - s.log.limit; over > 0 {
		out = out[over:]
	}
	return append([]LogEntry(nil), out...)
}

// lockedERP locks s.mu and returns the ERP of an erpHandler, which withERP
// found but which may have been unregistered since. When it is gone,
// lockedERP answers 404, leaves s.mu unlocked and returns nil.
func (s *Server) lockedERP(w http.ResponseWriter, r *http.Request, companyID, erpID string) *erp {
	s.mu.Lock()
	if c := s.state.companies[companyID]; c != nil {
		if e := c.erps[erpID]; e != nil {
			return e
		}
	}
	s.mu.Unlock()
	s.writeError(w, r, http.StatusNotFound, codeNotFound, "ERP "+erpID+" is not registered for company "+companyID)
	return nil
}
