package sandbox

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Records returns the records of one object type cached for an ERP, in the
// shape GET returns them, in order. Tax data is keyed by country.
func (s *Server) Records(companyID, erpID string, obj Object) ([]json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, e, err := s.erpLocked(companyID, erpID)
	if err != nil {
		return nil, fmt.Errorf("reading %s records: %w", obj, err)
	}
	switch obj {
	case ObjectAccount, ObjectVendor, ObjectList, ObjectTaxData:
	default:
		return nil, fmt.Errorf("reading records: unknown object type %q", obj)
	}
	s.expireVendorsLocked(e, s.now())
	return e.set(obj).all(), nil
}

// Accounts returns the accounts cached for an ERP.
func (s *Server) Accounts(companyID, erpID string) ([]json.RawMessage, error) {
	return s.Records(companyID, erpID, ObjectAccount)
}

// Vendors returns the vendors cached for an ERP (expired employee vendors
// excluded).
func (s *Server) Vendors(companyID, erpID string) ([]json.RawMessage, error) {
	return s.Records(companyID, erpID, ObjectVendor)
}

// Lists returns the list names cached for an ERP.
func (s *Server) Lists(companyID, erpID string) ([]json.RawMessage, error) {
	return s.Records(companyID, erpID, ObjectList)
}

// TaxData returns the tax data cached for an ERP, one element per country.
func (s *Server) TaxData(companyID, erpID string) ([]json.RawMessage, error) {
	return s.Records(companyID, erpID, ObjectTaxData)
}

// Request is an accepted write request as the sandbox saw it.
type Request struct {
	ID          string `json:"requestId"`
	CompanyID   string `json:"companyId"`
	ERPID       string `json:"erpId"`
	Object      Object `json:"objectType"`
	Method      string `json:"method"`
	IfNoneMatch string `json:"ifNoneMatch,omitempty"`
	// CorrelationID is the Concur-Correlationid of the accepting request.
	CorrelationID string    `json:"correlationId"`
	Status        string    `json:"status"`
	DeleteAll     bool      `json:"deleteAll"`
	Records       int       `json:"records"`
	Failed        int       `json:"failedRecords"`
	BodyBytes     int       `json:"bodyBytes"`
	Received      time.Time `json:"received"`
	// Completed is zero while the request is processing.
	Completed time.Time `json:"completed"`
}

// Requests lists the write requests accepted for an ERP, oldest first.
func (s *Server) Requests(companyID, erpID string) ([]Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, e, err := s.erpLocked(companyID, erpID)
	if err != nil {
		return nil, fmt.Errorf("listing requests: %w", err)
	}
	out := make([]Request, 0, len(e.reqOrder))
	for _, id := range e.reqOrder {
		q := e.requests[id]
		out = append(out, Request{
			ID: q.id, CompanyID: q.companyID, ERPID: q.erpID, Object: q.object, Method: q.method,
			IfNoneMatch: q.ifNoneMatch, CorrelationID: q.correlationID, Status: q.status,
			DeleteAll: q.deleteAll, Records: q.records, Failed: len(q.errors), BodyBytes: q.bodySize,
			Received: q.received, Completed: q.completed,
		})
	}
	return out, nil
}

// RequestErrors returns the ProcessingErrors of a request as the errors
// endpoint encodes them.
func (s *Server) RequestErrors(companyID, erpID, requestID string) ([]json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, e, err := s.erpLocked(companyID, erpID)
	if err != nil {
		return nil, fmt.Errorf("reading request errors: %w", err)
	}
	q, ok := e.requests[requestID]
	if !ok {
		return nil, fmt.Errorf("reading request errors: request %s %w", requestID, ErrNotFound)
	}
	out := make([]json.RawMessage, len(q.errors))
	for i, b := range q.errors {
		out[i] = json.RawMessage(b)
	}
	return out, nil
}

// ERP is a registered ERP integration.
type ERP struct {
	CompanyID      string          `json:"companyId"`
	ERPID          string          `json:"erpId"`
	PartnerAppName string          `json:"partnerAppName"`
	ERPName        string          `json:"erpName"`
	ExternalERPID  string          `json:"externalErpId"`
	Features       []string        `json:"features"`
	PostingOptions json.RawMessage `json:"postingOptions,omitempty"`
	// PartnerID is the partnerId of this ERP's events.
	PartnerID string `json:"partnerId"`
}

// CompanyState is a seeded company with its registered ERPs. ClientID is
// the app it was seeded with; ClientIDs every app connected to it.
type CompanyState struct {
	ID        string   `json:"companyId"`
	ClientID  string   `json:"clientId"`
	ClientIDs []string `json:"clientIds"`
	Edition   string   `json:"companyEdition"`
	Scopes    []string `json:"scopes"`
	ERPs      []ERP    `json:"erps"`
}

// Companies lists the seeded companies and their ERPs.
func (s *Server) Companies() []CompanyState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CompanyState, 0, len(s.state.companyOrder))
	for _, id := range s.state.companyOrder {
		c := s.state.companies[id]
		cs := CompanyState{ID: c.id, ClientID: c.clientID, ClientIDs: slices.Clone(c.apps), Edition: c.edition, Scopes: append([]string(nil), c.scopes...), ERPs: []ERP{}}
		for _, eid := range c.erpOrder {
			e := c.erps[eid]
			cs.ERPs = append(cs.ERPs, ERP{
				CompanyID: c.id, ERPID: eid, PartnerAppName: e.pkg.PartnerAppName, ERPName: e.pkg.ErpName,
				ExternalERPID: e.pkg.ExternalErpID, Features: append([]string(nil), e.pkg.Features...),
				PostingOptions: e.pkg.PostingOptions, PartnerID: e.partnerID,
			})
		}
		out = append(out, cs)
	}
	return out
}

// CurrentMappings returns the configuration settings and mappings of an
// ERP and its list mappings.
func (s *Server) CurrentMappings(companyID, erpID string) (Mappings, []ListMapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, e, err := s.erpLocked(companyID, erpID)
	if err != nil {
		return Mappings{}, nil, fmt.Errorf("reading mappings: %w", err)
	}
	return e.mappings.Mappings, append([]ListMapping(nil), e.mappings.lists...), nil
}
