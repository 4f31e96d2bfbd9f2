package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
)

// adminRoutes registers the sandbox-only admin API under /sandbox/v1. It
// needs no token: the sandbox listens on loopback only.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	const c = adminPrefix + "/companies/{companyId}"
	const e = c + "/erps/{erpId}"
	mux.HandleFunc("GET "+adminPrefix+"/apps", s.adminApps)
	mux.HandleFunc("POST "+adminPrefix+"/apps", s.adminRegisterApp)
	mux.HandleFunc("GET "+adminPrefix+"/companies", s.adminCompanies)
	mux.HandleFunc("POST "+adminPrefix+"/companies", s.adminSeedCompany)
	mux.HandleFunc("POST "+c+"/requestTokens", s.adminRequestToken)
	mux.HandleFunc("POST "+c+"/revokeTokens", s.adminRevokeTokens)
	mux.HandleFunc("POST "+c+"/erps", s.adminRegisterERP)
	for name, obj := range map[string]Object{"accounts": ObjectAccount, "vendors": ObjectVendor, "lists": ObjectList, "taxData": ObjectTaxData} {
		mux.HandleFunc("GET "+e+"/"+name, s.adminRecords(obj))
	}
	mux.HandleFunc("GET "+e+"/requests", s.adminRequests)
	mux.HandleFunc("GET "+e+"/requests/{requestId}/errors", s.adminRequestErrors)
	mux.HandleFunc("POST "+e+"/listMappings", s.adminMapList)
	mux.HandleFunc("DELETE "+e+"/listMappings/{erpListId}", s.adminUnmapList)
	mux.HandleFunc("PATCH "+e+"/mappings", s.adminUpdateMappings)
	mux.HandleFunc("POST "+e+"/reset", s.adminReset)
	mux.HandleFunc("GET "+adminPrefix+"/log", s.adminLog)
	mux.HandleFunc("GET "+adminPrefix+"/deliveries", s.adminDeliveries)
	mux.HandleFunc("GET "+adminPrefix+"/subscriptions", s.adminSubscriptions)
	mux.HandleFunc("POST "+adminPrefix+"/subscriptions", s.adminSubscribe)
	mux.HandleFunc("DELETE "+adminPrefix+"/subscriptions/{id}", s.adminUnsubscribe)
	mux.HandleFunc("POST "+adminPrefix+"/faults", s.adminInjectFault)
	mux.HandleFunc("DELETE "+adminPrefix+"/faults", s.adminClearFaults)
	mux.HandleFunc("GET "+adminPrefix+"/signingKey", s.adminSigningKey)
	s.listItemAdminRoutes(mux)
}

// adminBody decodes an optional JSON body into v. It answers the request
// and returns false on failure.
func (s *Server) adminBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		s.writeError(w, r, http.StatusBadRequest, codeBadRequest, "Reading the request body: "+err.Error())
		return false
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return true
	}
	if err := json.Unmarshal(b, v); err != nil {
		s.writeError(w, r, http.StatusBadRequest, codeInvalidJSON, "The request body is not valid JSON: "+err.Error())
		return false
	}
	return true
}

// adminResult answers err as an ErrorMessage (404 for ErrNotFound, 400
// otherwise) or v as JSON.
func (s *Server) adminResult(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		s.writeError(w, r, http.StatusNotFound, codeNotFound, err.Error())
	case err != nil:
		s.writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
	case v == nil:
		w.WriteHeader(status)
	default:
		writeJSON(w, status, v)
	}
}

func (s *Server) adminCompanies(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Data []CompanyState `json:"data"`
	}{s.Companies()})
}

func (s *Server) adminApps(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"data": s.Apps()})
}

func (s *Server) adminRegisterApp(w http.ResponseWriter, r *http.Request) {
	var in App
	if !s.adminBody(w, r, &in) {
		return
	}
	a, err := s.RegisterApp(in.ClientID, in.ClientSecret)
	s.adminResult(w, r, http.StatusCreated, a, err)
}

func (s *Server) adminSeedCompany(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Scopes   []string `json:"scopes"`
		Edition  string   `json:"companyEdition"`
		ClientID string   `json:"clientId"`
	}
	if !s.adminBody(w, r, &in) {
		return
	}
	opts := []CompanyOption{WithApp(in.ClientID)}
	if in.Scopes != nil {
		opts = append(opts, WithScopes(in.Scopes...))
	}
	if in.Edition != "" {
		opts = append(opts, WithEdition(in.Edition))
	}
	c, err := s.SeedCompany(opts...)
	s.adminResult(w, r, http.StatusCreated, c, err)
}

// adminRequestToken issues a request token for the app the company was
// seeded with, or for the app of the body's clientId, connecting it.
func (s *Server) adminRequestToken(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ClientID string `json:"clientId"`
	}
	if !s.adminBody(w, r, &in) {
		return
	}
	companyID := strings.ToLower(r.PathValue("companyId"))
	var tok string
	var err error
	if in.ClientID == "" {
		tok, err = s.NewRequestToken(companyID)
	} else {
		tok, err = s.ConnectApp(companyID, in.ClientID)
	}
	s.adminResult(w, r, http.StatusCreated, map[string]string{"requestToken": tok}, err)
}

func (s *Server) adminRevokeTokens(w http.ResponseWriter, r *http.Request) {
	s.RevokeTokens(strings.ToLower(r.PathValue("companyId")))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminRegisterERP(w http.ResponseWriter, r *http.Request) {
	id, err := s.RegisterERP(strings.ToLower(r.PathValue("companyId")))
	s.adminResult(w, r, http.StatusCreated, map[string]string{"erpId": id}, err)
}

// ids reads the company and ERP ids of an admin path.
func ids(r *http.Request) (string, string) {
	return strings.ToLower(r.PathValue("companyId")), strings.ToLower(r.PathValue("erpId"))
}

func (s *Server) adminRecords(obj Object) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, e := ids(r)
		recs, err := s.Records(c, e, obj)
		s.adminResult(w, r, http.StatusOK, map[string]any{"data": recs}, err)
	}
}

func (s *Server) adminRequests(w http.ResponseWriter, r *http.Request) {
	c, e := ids(r)
	reqs, err := s.Requests(c, e)
	s.adminResult(w, r, http.StatusOK, map[string]any{"data": reqs}, err)
}

func (s *Server) adminRequestErrors(w http.ResponseWriter, r *http.Request) {
	c, e := ids(r)
	errs, err := s.RequestErrors(c, e, strings.ToLower(r.PathValue("requestId")))
	s.adminResult(w, r, http.StatusOK, map[string]any{"data": errs}, err)
}

func (s *Server) adminMapList(w http.ResponseWriter, r *http.Request) {
	var in adminMapListBody
	if !s.adminBody(w, r, &in) {
		return
	}
	c, e := ids(r)
	err := s.createMappedList(c, in)
	if err == nil {
		err = s.MapList(c, e, in.ListMapping)
	}
	s.adminResult(w, r, http.StatusCreated, in.ListMapping, err)
}

func (s *Server) adminUnmapList(w http.ResponseWriter, r *http.Request) {
	c, e := ids(r)
	s.adminResult(w, r, http.StatusNoContent, nil, s.UnmapList(c, e, r.PathValue("erpListId")))
}

// adminUpdateMappings merges the members present in the body into the
// mappings (JSON merge of top-level members).
func (s *Server) adminUpdateMappings(w http.ResponseWriter, r *http.Request) {
	var in map[string]json.RawMessage
	if !s.adminBody(w, r, &in) {
		return
	}
	var decodeErr error
	c, e := ids(r)
	err := s.UpdateMappings(c, e, func(m *Mappings) {
		cur, _ := json.Marshal(m)
		var merged map[string]json.RawMessage
		_ = json.Unmarshal(cur, &merged)
		for k, v := range in {
			merged[k] = v
		}
		b, _ := json.Marshal(merged)
		var next Mappings
		if decodeErr = json.Unmarshal(b, &next); decodeErr == nil {
			*m = next
		}
	})
	if err == nil {
		err = decodeErr
	}
	var out Mappings
	if err == nil {
		out, _, err = s.CurrentMappings(c, e)
	}
	s.adminResult(w, r, http.StatusOK, out, err)
}

func (s *Server) adminReset(w http.ResponseWriter, r *http.Request) {
	var in struct {
		AccountingObjects []Object `json:"accountingObjects"`
	}
	if !s.adminBody(w, r, &in) {
		return
	}
	c, e := ids(r)
	s.adminResult(w, r, http.StatusAccepted, nil, s.RequestReset(c, e, in.AccountingObjects...))
}

func (s *Server) adminLog(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"data": s.RequestLog()})
}

func (s *Server) adminDeliveries(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"data": s.Deliveries()})
}

func (s *Server) adminSubscriptions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"data": s.Subscriptions()})
}

func (s *Server) adminSubscribe(w http.ResponseWriter, r *http.Request) {
	var in Subscription
	if !s.adminBody(w, r, &in) {
		return
	}
	if in.URL == "" {
		s.writeError(w, r, http.StatusBadRequest, codeBadRequest, "url is required")
		return
	}
	id, err := s.AddSubscription(in.CompanyID, in.URL)
	if err != nil {
		s.writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	in.ID, in.CompanyID = id, strings.ToLower(in.CompanyID)
	writeJSON(w, http.StatusCreated, in)
}

func (s *Server) adminUnsubscribe(w http.ResponseWriter, r *http.Request) {
	s.Unsubscribe(r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminInjectFault(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Fault
		Delay string `json:"delay"`
	}
	if !s.adminBody(w, r, &in) {
		return
	}
	f := in.Fault
	if in.Delay != "" {
		d, err := time.ParseDuration(in.Delay)
		if err != nil {
			s.writeError(w, r, http.StatusBadRequest, codeBadRequest, "delay: "+err.Error())
			return
		}
		f.Delay = d
	}
	s.adminResult(w, r, http.StatusNoContent, nil, s.InjectFault(f))
}

func (s *Server) adminClearFaults(w http.ResponseWriter, r *http.Request) {
	s.ClearFaults()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminSigningKey(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(s.PublicKeyPEM())
}
