package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// ListMapping maps an ERP list to a SAP Concur list (the Schema page's
// ListMapping). FieldMappings is kept as given.
type ListMapping struct {
	ERPListID     string          `json:"erpListId"`
	ConcurListID  string          `json:"concurListId"`
	FieldMappings json.RawMessage `json:"fieldMappings,omitempty"`
}

// Feature is a company's setting of an ERP feature (the Schema page's
// Feature).
type Feature struct {
	ID    string          `json:"id"`
	Value json.RawMessage `json:"value"`
}

// Mappings is what a customer administrator configures in the SAP Concur
// UI for one ERP, as the Mappings API returns it. List mappings are changed
// with MapList and UnmapList, not here. JSON members are kept as given.
type Mappings struct {
	// Ledger is the Ledger object, or nil.
	Ledger json.RawMessage `json:"ledger"`
	// Features lists the company's feature settings.
	Features []Feature `json:"features"`
	// PaymentTypes lists PaymentType objects.
	PaymentTypes []json.RawMessage `json:"paymentTypes"`
	// InvoiceLiabilityAccount is an Account object, or nil.
	InvoiceLiabilityAccount json.RawMessage `json:"invoiceLiabilityAccount"`
	// BillableField is a BillableField object, or nil.
	BillableField json.RawMessage `json:"billableField"`
	// InvoicePolicies lists InvoicePolicy objects; left out of the answer
	// when empty, as the Mappings page's example does.
	InvoicePolicies []json.RawMessage `json:"invoicePolicies,omitempty"`
}

type mappingState struct {
	Mappings
	lists []ListMapping
}

func newMappingState() mappingState {
	return mappingState{Mappings: Mappings{Features: []Feature{}, PaymentTypes: []json.RawMessage{}}}
}

// removeERPList drops the mapping of an ERP list deleted by the partner
// (see the List Names page) and reports whether there was one.
func (m *mappingState) removeERPList(erpListID string) (ListMapping, bool) {
	for i, lm := range m.lists {
		if lm.ERPListID == erpListID {
			m.lists = append(m.lists[:i:i], m.lists[i+1:]...)
			return lm, true
		}
	}
	return ListMapping{}, false
}

// mappingsResponse is the MappingsResponse body.
type mappingsResponse struct {
	ErpID           string            `json:"erpId"`
	CompanyEdition  string            `json:"companyEdition"`
	Ledger          json.RawMessage   `json:"ledger"`
	Features        []Feature         `json:"features"`
	Files           []fileMapping     `json:"files"`
	InvoicePolicies []json.RawMessage `json:"invoicePolicies,omitempty"`
}

type fileMapping struct {
	FileID                  string            `json:"fileId"`
	PaymentTypes            []json.RawMessage `json:"paymentTypes"`
	ListMappings            []ListMapping     `json:"listMappings"`
	InvoiceLiabilityAccount json.RawMessage   `json:"invoiceLiabilityAccount"`
	BillableField           json.RawMessage   `json:"billableField"`
}

func nullIfEmpty(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return json.RawMessage("null")
	}
	return m
}

// handleMappings serves GET …/mappings from the sandbox's state: one
// DEFAULT file, as the Schema page says only one is supported.
func (s *Server) handleMappings(w http.ResponseWriter, r *http.Request, companyID, erpID string) {
	e := s.lockedERP(w, r, companyID, erpID)
	if e == nil {
		return
	}
	c := s.state.companies[companyID]
	m := e.mappings
	resp := mappingsResponse{
		ErpID:          erpID,
		CompanyEdition: c.edition,
		Ledger:         nullIfEmpty(m.Ledger),
		Features:       append([]Feature{}, m.Features...),
		Files: []fileMapping{{
			FileID:                  "DEFAULT",
			PaymentTypes:            append([]json.RawMessage{}, m.PaymentTypes...),
			ListMappings:            append([]ListMapping{}, m.lists...),
			InvoiceLiabilityAccount: nullIfEmpty(m.InvoiceLiabilityAccount),
			BillableField:           nullIfEmpty(m.BillableField),
		}},
		InvoicePolicies: append([]json.RawMessage(nil), m.InvoicePolicies...),
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// ErrNotFound is wrapped by the errors of Go API calls that name an unknown
// company, ERP, list mapping or subscription.
var ErrNotFound = errors.New("not found")

func errUnknownCompany(id string) error { return fmt.Errorf("company %s: %w", id, ErrNotFound) }

// erpLocked finds an ERP. Callers hold s.mu.
func (s *Server) erpLocked(companyID, erpID string) (*company, *erp, error) {
	c, ok := s.state.companies[companyID]
	if !ok {
		return nil, nil, errUnknownCompany(companyID)
	}
	e, ok := c.erps[erpID]
	if !ok {
		return nil, nil, fmt.Errorf("ERP %s of company %s: %w", erpID, companyID, ErrNotFound)
	}
	return c, e, nil
}

// MapList maps an ERP list to a SAP Concur list, as an administrator does in
// the SAP Concur UI, replacing any mapping of that ERP list, and publishes
// listMapping.created and mapping.updated. The SAP Concur list
// concurListId names is created when it does not exist (see
// CreateConcurList), with as many levels as the fieldMappings use, or
// MaxListLevels when they name no level; a deleted one is refused.
func (s *Server) MapList(companyID, erpID string, m ListMapping) error {
	if m.ERPListID == "" || m.ConcurListID == "" {
		return errors.New("mapping list: erpListId and concurListId are required")
	}
	if len(m.FieldMappings) > 0 && !json.Valid(m.FieldMappings) {
		return errors.New("mapping list: fieldMappings is not valid JSON")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, e, err := s.erpLocked(companyID, erpID)
	if err != nil {
		return fmt.Errorf("mapping list %s: %w", m.ERPListID, err)
	}
	if err := s.ensureMappedListLocked(companyID, m); err != nil {
		return fmt.Errorf("mapping list %s: %w", m.ERPListID, err)
	}
	e.mappings.removeERPList(m.ERPListID)
	e.mappings.lists = append(e.mappings.lists, m)
	data, _ := json.Marshal([]ListMapping{m})
	corr := newCorrelationID()
	s.publishLocked(s.factsEvent(e, companyID, evListMappingCreated, corr, data))
	s.publishLocked(s.factsEvent(e, companyID, evMappingUpdated, corr, nil))
	return nil
}

// UnmapList removes the mapping of an ERP list, as an administrator does in
// the SAP Concur UI, and publishes listMapping.deleted and mapping.updated.
func (s *Server) UnmapList(companyID, erpID, erpListID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, e, err := s.erpLocked(companyID, erpID)
	if err != nil {
		return fmt.Errorf("unmapping list %s: %w", erpListID, err)
	}
	lm, ok := e.mappings.removeERPList(erpListID)
	if !ok {
		return fmt.Errorf("unmapping list %s: mapping %w", erpListID, ErrNotFound)
	}
	data, _ := json.Marshal([]ListMapping{{ERPListID: lm.ERPListID, ConcurListID: lm.ConcurListID}})
	corr := newCorrelationID()
	s.publishLocked(s.factsEvent(e, companyID, evListMappingDeleted, corr, data))
	s.publishLocked(s.factsEvent(e, companyID, evMappingUpdated, corr, nil))
	return nil
}

// UpdateMappings changes the configuration settings and mappings of an ERP
// (payment types, ledger, features, invoice liability account, billable
// field, invoice policies) and publishes mapping.updated — except when only
// invoice policies changed, which the Events page says triggers nothing.
func (s *Server) UpdateMappings(companyID, erpID string, update func(*Mappings)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, e, err := s.erpLocked(companyID, erpID)
	if err != nil {
		return fmt.Errorf("updating mappings: %w", err)
	}
	before, _ := json.Marshal(e.mappings.Mappings)
	next := e.mappings.Mappings
	next.Features = append([]Feature(nil), next.Features...)
	next.PaymentTypes = append([]json.RawMessage(nil), next.PaymentTypes...)
	next.InvoicePolicies = append([]json.RawMessage(nil), next.InvoicePolicies...)
	update(&next)
	if next.Features == nil {
		next.Features = []Feature{}
	}
	if next.PaymentTypes == nil {
		next.PaymentTypes = []json.RawMessage{}
	}
	after, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("updating mappings: %w", err)
	}
	e.mappings.Mappings = next
	policiesOnly := func(b []byte) string {
		var m map[string]json.RawMessage
		_ = json.Unmarshal(b, &m)
		delete(m, "invoicePolicies")
		out, _ := json.Marshal(m)
		return string(out)
	}
	if policiesOnly(before) != policiesOnly(after) {
		s.publishLocked(s.factsEvent(e, companyID, evMappingUpdated, newCorrelationID(), nil))
	}
	return nil
}

// RequestReset publishes data.resetRequested for the given object types
// (ACCOUNT, VENDOR, LIST), as an administrator's reset request in the SAP
// Concur UI does. Cached data is not touched: the partner resends it.
func (s *Server) RequestReset(companyID, erpID string, objects ...Object) error {
	if len(objects) == 0 {
		return errors.New("requesting reset: no object type given")
	}
	for _, o := range objects {
		if o != ObjectAccount && o != ObjectVendor && o != ObjectList {
			return fmt.Errorf("requesting reset: object type %q is not ACCOUNT, VENDOR or LIST", o)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, e, err := s.erpLocked(companyID, erpID)
	if err != nil {
		return fmt.Errorf("requesting reset: %w", err)
	}
	inner, _ := json.Marshal(struct {
		AccountingObjects []Object `json:"accountingObjects"`
	}{objects})
	// The Events page's sample carries facts.data as a JSON string.
	data, _ := json.Marshal(string(inner))
	ev := s.factsEvent(e, companyID, evDataResetRequested, newCorrelationID(), data)
	ev.Data = json.RawMessage("null")
	s.publishLocked(ev)
	return nil
}
