package ess

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Topic is the ESS topic of Accounting Integration events.
const Topic = "public.concur.spend.accountingintegration"

// Event types published on Topic (see the Accounting Integration Events page).
const (
	EventDataStatusUpdated  = "data.statusUpdated"
	EventMappingUpdated     = "mapping.updated"
	EventListMappingCreated = "listMapping.created"
	EventListMappingDeleted = "listMapping.deleted"
	EventDataResetRequested = "data.resetRequested"
)

// EventTypes lists every Accounting Integration event type, in the order of
// the Events page.
func EventTypes() []string {
	return []string{
		EventDataStatusUpdated,
		EventMappingUpdated,
		EventListMappingCreated,
		EventListMappingDeleted,
		EventDataResetRequested,
	}
}

// HTTP headers ESS sets on every delivery.
const (
	HeaderSignature     = "Concur-Signature"
	HeaderCorrelationID = "Concur-Correlationid"
)

// ErrInvalidEvent is wrapped by every error Parse returns: the body is not
// JSON, or it is JSON but not an ESS event.
var ErrInvalidEvent = errors.New("invalid ESS event")

// ErrWrongEventType is returned by the typed facts accessors when the event
// is of another type than the accessor reads.
var ErrWrongEventType = errors.New("wrong event type for accessor")

// Event is one ESS event as delivered to a subscriber endpoint.
type Event struct {
	ID            string          `json:"id"`
	CorrelationID string          `json:"correlationId"`
	Topic         string          `json:"topic"`
	Subtopic      string          `json:"subtopic"`
	EventType     string          `json:"eventType"`
	TimeStamp     string          `json:"timeStamp"`
	Data          json.RawMessage `json:"data,omitempty"`
	Facts         Facts           `json:"facts"`
}

// Facts identifies the company, ERP and partner an event is about and carries
// the event type specific payload in Data, exactly as it was sent (a JSON
// value, or a JSON string holding JSON).
type Facts struct {
	CompanyID string          `json:"companyId"`
	ErpID     string          `json:"erpId"`
	PartnerID string          `json:"partnerId"`
	Data      json.RawMessage `json:"data,omitempty"`
}

// Parse decodes an ESS event and checks that it is one: a JSON object with
// non-empty "id", "eventType" and "topic" strings and a "facts" object whose
// identifiers, when present, are strings. A "facts.data" that is a string is
// accepted whether or not it holds JSON (see FactsData).
func Parse(body []byte) (*Event, error) {
	// The outer Facts is shallower than Event.Facts, so it receives "facts"
	// raw and its shape can be checked before it is decoded.
	var w struct {
		Event
		Facts json.RawMessage `json:"facts"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	ev := w.Event
	switch {
	case ev.ID == "":
		return nil, fmt.Errorf("%w: missing id", ErrInvalidEvent)
	case ev.EventType == "":
		return nil, fmt.Errorf("%w: event %s: missing eventType", ErrInvalidEvent, ev.ID)
	case ev.Topic == "":
		return nil, fmt.Errorf("%w: event %s: missing topic", ErrInvalidEvent, ev.ID)
	case len(w.Facts) == 0 || w.Facts[0] != '{':
		return nil, fmt.Errorf("%w: event %s: facts is not an object", ErrInvalidEvent, ev.ID)
	}
	if err := json.Unmarshal(w.Facts, &ev.Facts); err != nil {
		return nil, fmt.Errorf("%w: event %s: facts: %v", ErrInvalidEvent, ev.ID, err)
	}
	ev.Data = nullToNil(ev.Data)
	ev.Facts.Data = nullToNil(ev.Facts.Data)
	return &ev, nil
}

// nullToNil maps an absent or JSON null value to nil so callers test one thing.
func nullToNil(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	return raw
}

// FactsData returns facts.data as JSON: when it was sent as a JSON string
// whose content is itself valid JSON (as data.resetRequested does) the
// content is returned; otherwise the value as sent. It returns nil when
// facts.data is absent or null. Facts.Data keeps the original bytes.
func (e *Event) FactsData() json.RawMessage {
	raw := nullToNil(e.Facts.Data)
	if len(raw) == 0 || raw[0] != '"' {
		return raw
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return raw
	}
	inner := bytes.TrimSpace([]byte(s))
	if len(inner) == 0 || !json.Valid(inner) {
		return raw
	}
	return json.RawMessage(inner)
}

// FactsDataIsString reports whether facts.data was sent as a JSON string
// that FactsData unwrapped.
func (e *Event) FactsDataIsString() bool {
	raw := nullToNil(e.Facts.Data)
	return len(raw) > 0 && raw[0] == '"' && !bytes.Equal(e.FactsData(), raw)
}

// Link is one hypermedia link in a request status. package concur has its
// own Link and Links: the API answers show links both as an object keyed by
// relation and as an array of {rel, href}, which concur reads into one list;
// event facts only ever carry the keyed object this package decodes.
type Link struct {
	Href string `json:"href"`
}

// RequestStatus is facts.data of a data.statusUpdated event: the final
// processing status of one PATCH request (RequestStatus on the Schema page).
type RequestStatus struct {
	RequestID string          `json:"requestId"`
	Status    string          `json:"status"`
	Links     map[string]Link `json:"_links,omitempty"`
}

// Processing statuses of a request (ProcessingStatus on the Schema page).
const (
	StatusError      = "ERROR"
	StatusPartial    = "PARTIAL"
	StatusProcessing = "PROCESSING"
	StatusSuccess    = "SUCCESS"
)

// ListMapping maps an ERP list to a SAP Concur list (ListMapping on the
// Schema page); listMapping.deleted events carry only the two ids. It and
// FieldMapping, ConnectedList and Field are also package concur's types of
// the Mappings API (type aliases there), since the Events page defines the
// facts as the Schema page's ListMapping.
type ListMapping struct {
	ErpListID     string         `json:"erpListId"`
	ConcurListID  string         `json:"concurListId"`
	FieldMappings []FieldMapping `json:"fieldMappings,omitempty"`
}

// FieldMapping lists the fields of one form type where an ERP list is used.
type FieldMapping struct {
	FormTypeCode   string          `json:"formTypeCode"`
	Fields         []Field         `json:"fields,omitempty"`
	ConnectedLists []ConnectedList `json:"connectedLists,omitempty"`
}

// ConnectedList is a connected list mapped to an ERP list.
type ConnectedList struct {
	Fields []Field `json:"fields,omitempty"`
}

// Field is a SAP Concur field using an ERP list, at a list level.
type Field struct {
	AlternateFieldID string `json:"alternateFieldId"`
	Level            int    `json:"level"`
}

// Accounting object types a reset can be requested for (ObjectType on the
// Schema page).
const (
	ObjectAccount = "ACCOUNT"
	ObjectVendor  = "VENDOR"
	ObjectList    = "LIST"
)

// ResetRequest is facts.data of a data.resetRequested event.
type ResetRequest struct {
	AccountingObjects []string `json:"accountingObjects"`
}

// StatusUpdate decodes facts.data of a data.statusUpdated event.
func (e *Event) StatusUpdate() (*RequestStatus, error) {
	var rs RequestStatus
	if err := e.decodeFacts(EventDataStatusUpdated, &rs); err != nil {
		return nil, err
	}
	return &rs, nil
}

// ListMappings decodes facts.data of a listMapping.created or
// listMapping.deleted event.
func (e *Event) ListMappings() ([]ListMapping, error) {
	var lm []ListMapping
	if err := e.decodeFacts(EventListMappingCreated, &lm, EventListMappingDeleted); err != nil {
		return nil, err
	}
	return lm, nil
}

// ResetRequest decodes facts.data of a data.resetRequested event, whether it
// was sent as an object or as a string holding one.
func (e *Event) ResetRequest() (*ResetRequest, error) {
	var rr ResetRequest
	if err := e.decodeFacts(EventDataResetRequested, &rr); err != nil {
		return nil, err
	}
	return &rr, nil
}

func (e *Event) decodeFacts(want string, dst any, alsoWant ...string) error {
	ok := e.EventType == want
	for _, w := range alsoWant {
		ok = ok || e.EventType == w
	}
	if !ok {
		return fmt.Errorf("reading %s facts of event %s: %w (got %s)", want, e.ID, ErrWrongEventType, e.EventType)
	}
	data := e.FactsData()
	if data == nil {
		return fmt.Errorf("reading %s facts of event %s: facts.data is empty", want, e.ID)
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return fmt.Errorf("reading %s facts of event %s: %w", want, e.ID, err)
	}
	return nil
}
