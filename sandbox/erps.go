package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/google/uuid"

	"github.com/concurflow/concurflow/sandbox/internal/schema"
)

// maxRegistrationBody bounds ErpPackage bodies; the docs give no limit, and
// a registration is small.
const maxRegistrationBody = 1 << 20

// readJSONBody checks the content type and reads at most limit bytes. It
// answers the request and returns nil on failure. The body is not yet known
// to be valid JSON.
func (s *Server) readJSONBody(w http.ResponseWriter, r *http.Request, limit int64) []byte {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		s.writeError(w, r, http.StatusUnsupportedMediaType, codeMediaType,
			fmt.Sprintf("Content-Type must be application/json, not %q", r.Header.Get("Content-Type")))
		return nil
	}
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= limit {
		buf.Grow(int(n) + bytes.MinRead)
	}
	_, err = buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	body := buf.Bytes()
	if err != nil {
		if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
			s.writeError(w, r, http.StatusRequestEntityTooLarge, codeTooLarge,
				fmt.Sprintf("The request payload exceeds %d bytes", limit))
			return nil
		}
		s.writeError(w, r, http.StatusBadRequest, codeBadRequest, "Reading the request body: "+err.Error())
		return nil
	}
	return body
}

// readERPPackage reads and validates an ErpPackage body. It answers the
// request and returns false on failure.
func (s *Server) readERPPackage(w http.ResponseWriter, r *http.Request, patch bool) (decodedPackage, bool) {
	body := s.readJSONBody(w, r, maxRegistrationBody)
	if body == nil {
		return decodedPackage{}, false
	}
	if !json.Valid(body) {
		s.writeError(w, r, http.StatusBadRequest, codeInvalidJSON, "The request body is not valid JSON")
		return decodedPackage{}, false
	}
	if verrs := schema.CheckRegistration(body, patch); len(verrs) > 0 {
		s.writeError(w, r, http.StatusBadRequest, codeValidation, "The ERP package is invalid", verrs...)
		return decodedPackage{}, false
	}
	pkg, err := decodeERPPackage(body)
	if err != nil {
		s.writeError(w, r, http.StatusBadRequest, codeValidation, err.Error())
		return decodedPackage{}, false
	}
	return pkg, true
}

// decodedPackage is an ErpPackage body and which lists it carries.
type decodedPackage struct {
	erpPackage
	hasFeatures, hasOptions bool
}

// decodeERPPackage reads the fields of a validated ErpPackage body.
func decodeERPPackage(body []byte) (decodedPackage, error) {
	var p decodedPackage
	if err := json.Unmarshal(body, &p.erpPackage); err != nil {
		return p, fmt.Errorf("decoding ErpPackage: %w", err)
	}
	var present map[string]json.RawMessage
	_ = json.Unmarshal(body, &present)
	isSet := func(k string) bool { v, ok := present[k]; return ok && string(v) != "null" }
	p.hasFeatures, p.hasOptions = isSet("features"), isSet("postingOptions")
	if p.Features == nil {
		p.Features = []string{}
	}
	if !p.hasOptions {
		p.PostingOptions = nil
	}
	return p, nil
}

// handleRegisterERP serves POST …/erps (see the Registration page).
func (s *Server) handleRegisterERP(w http.ResponseWriter, r *http.Request, companyID string) {
	if !s.callRegister(w, r, companyID) {
		return
	}
	pkg, ok := s.readERPPackage(w, r, false)
	if !ok {
		return
	}
	s.mu.Lock()
	c := s.state.companies[companyID]
	out := s.addERPLocked(c, pkg.erpPackage, callerApp(r.Context()))
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// addERPLocked registers pkg for c under a new erpId, as done by the app
// with the client id. Callers hold s.mu.
func (s *Server) addERPLocked(c *company, pkg erpPackage, clientID string) erpPackage {
	pkg.ErpID = uuid.NewString()
	// The partner id of events identifies the registering partner app.
	c.erps[pkg.ErpID] = newERP(pkg, partnerID(clientID))
	c.erpOrder = append(c.erpOrder, pkg.ErpID)
	return pkg
}

// handleListERPs serves GET …/erps.
func (s *Server) handleListERPs(w http.ResponseWriter, r *http.Request, companyID string) {
	s.mu.Lock()
	c := s.state.companies[companyID]
	out := make([]erpPackage, 0, len(c.erpOrder))
	for _, id := range c.erpOrder {
		out = append(out, c.erps[id].pkg)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, struct {
		Data []erpPackage `json:"data"`
	}{out})
}

// handleGetERP serves GET …/erps/{erpId}.
func (s *Server) handleGetERP(w http.ResponseWriter, r *http.Request, companyID, erpID string) {
	s.mu.Lock()
	pkg := s.state.companies[companyID].erps[erpID].pkg
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, pkg)
}

// handleUpdateERP serves PATCH …/erps/{erpId}: features and posting options
// are replaced by the full sets the body must carry.
func (s *Server) handleUpdateERP(w http.ResponseWriter, r *http.Request, companyID, erpID string) {
	upd, ok := s.readERPPackage(w, r, true)
	if !ok {
		return
	}
	e := s.lockedERP(w, r, companyID, erpID)
	if e == nil {
		return
	}
	// What the update carries replaces the whole list; what it leaves out
	// stays (the Registration page: features and/or posting options).
	if upd.hasFeatures {
		e.pkg.Features = upd.Features
	}
	if upd.hasOptions {
		e.pkg.PostingOptions = upd.PostingOptions
	}
	pkg := e.pkg
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, pkg)
}

// handleDeleteERP serves DELETE …/erps/{erpId}: the ERP and everything
// cached for it go; requests still queued for it are dropped.
func (s *Server) handleDeleteERP(w http.ResponseWriter, r *http.Request, companyID, erpID string) {
	s.mu.Lock()
	c := s.state.companies[companyID]
	if e, ok := c.erps[erpID]; ok {
		s.dropQueueLocked(e)
		delete(c.erps, erpID)
		for i, id := range c.erpOrder {
			if id == erpID {
				c.erpOrder = append(c.erpOrder[:i:i], c.erpOrder[i+1:]...)
				break
			}
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// RegisterERP registers an ERP for the company without going through the
// API or its once-a-minute limit, as the app the company was seeded with,
// and returns its erpId. Convenient for tests.
func (s *Server) RegisterERP(companyID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.state.companies[companyID]
	if !ok {
		return "", fmt.Errorf("registering ERP: %w", errUnknownCompany(companyID))
	}
	pkg := s.addERPLocked(c, erpPackage{
		PartnerAppName: "concurflow sandbox",
		Features:       []string{"SUPPORTS_LIABILITY_ACCOUNT"},
		ErpName:        "Sandbox ERP",
		ExternalErpID:  "sandbox-" + companyID[:8],
	}, c.clientID)
	return pkg.ErpID, nil
}
