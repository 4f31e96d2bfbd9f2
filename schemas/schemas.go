// Package schemas holds draft-07 JSON Schemas for the records concurflow
// sends to SAP Concur's Accounting Integration v4 API and for the ESS events
// it receives back, so that pipelines (Benthos core's json_schema processor)
// and the concur_accounting sink can reject bad records before they are sent.
//
// The schemas are written from the Schema page and the swagger of the
// Accounting Integration API and from the Accounting Integration Events page.
// Where those sources are silent or disagree, these choices were made:
//
//   - Unknown fields are allowed everywhere: the API ignores them.
//   - Optional fields may be null, because the documented GET responses
//     return null for absent values.
//   - Required string fields must be non-empty.
//   - A record with isDeleted: true needs only id (Account, Vendor, ListName).
//   - Vendor: every live record needs id, type and currencyCode (the Schema
//     page marks currencyCode Required; the swagger only for ACCOUNTING);
//     ACCOUNTING needs name and companyName, EMPLOYEE needs lastName,
//     firstName, email and employeeId, as the Schema page says. The currency
//     is checked by pattern (three upper-case letters), not against the ISO
//     4217 code list. email, when not blank, must loosely look like an
//     address (one @, a dotted domain, no whitespace); neither source gives a
//     format, and the sandbox applies the same loose check.
//   - TaxData validates the whole POST/PUT body, since PUT replaces all tax
//     data at once. The Schema page calls the country label countryName and
//     the Tax Data page examples call it countryDesc: both are optional
//     strings. data is required unless deleteAll is true; stateEntries,
//     reclaimEntries and reclaimDetails must not be empty. Dates are checked
//     as draft-07 "date" (YYYY-MM-DD) and percentage must lie in [0, 100];
//     validTo not before validFrom cannot be expressed and is not checked.
//   - Events: EventEnvelope checks the ESS envelope; each Event* schema checks
//     a whole event's topic, eventType and facts and is meant to be applied
//     after the envelope. data.resetRequested's facts.data is accepted as the
//     JSON string the sample shows, the decoded object, or the bare
//     ObjectType array the Schema section describes.
//
// The same files are usable from a pipeline by path, e.g.
// json_schema: { schema_path: "file://./schemas/account.json" }.
package schemas

import (
	"embed"
	"fmt"
	"io/fs"
)

// Names of the schemas, as accepted by Schema. Each is also the file name
// of the schema inside FS and in the schemas/ directory.
const (
	// Account is one ERP account record (Accounts endpoint).
	Account = "account.json"
	// Vendor is one ERP vendor record, ACCOUNTING or EMPLOYEE (Vendors endpoint).
	Vendor = "vendor.json"
	// ListName is one ERP list name record (List Names endpoint).
	ListName = "list_name.json"
	// TaxData is the whole POST/PUT body of the Tax Data endpoint.
	TaxData = "tax_data.json"
	// EventEnvelope is the envelope of any ESS event.
	EventEnvelope = "ess_event.json"
	// EventDataStatusUpdated is a data.statusUpdated event.
	EventDataStatusUpdated = "event_data_status_updated.json"
	// EventMappingUpdated is a mapping.updated event.
	EventMappingUpdated = "event_mapping_updated.json"
	// EventListMapping is a listMapping.created or listMapping.deleted event.
	EventListMapping = "event_list_mapping.json"
	// EventDataResetRequested is a data.resetRequested event.
	EventDataResetRequested = "event_data_reset_requested.json"
)

// FS holds every schema file at its root, named as the constants above.
//
//go:embed *.json
var FS embed.FS

// Names lists every schema name, in a fixed order.
func Names() []string {
	return []string{
		Account, Vendor, ListName, TaxData,
		EventEnvelope, EventDataStatusUpdated, EventMappingUpdated,
		EventListMapping, EventDataResetRequested,
	}
}

// Schema returns the bytes of the named schema (one of the name constants).
// The returned slice is a fresh copy the caller may keep or modify.
func Schema(name string) ([]byte, error) {
	b, err := fs.ReadFile(FS, name)
	if err != nil {
		return nil, fmt.Errorf("reading JSON schema %q: %w", name, err)
	}
	return b, nil
}

// ForEventType returns the name of the schema for an Accounting Integration
// event type such as "data.statusUpdated", and false for unknown types.
func ForEventType(eventType string) (string, bool) {
	switch eventType {
	case "data.statusUpdated":
		return EventDataStatusUpdated, true
	case "mapping.updated":
		return EventMappingUpdated, true
	case "listMapping.created", "listMapping.deleted":
		return EventListMapping, true
	case "data.resetRequested":
		return EventDataResetRequested, true
	}
	return "", false
}
