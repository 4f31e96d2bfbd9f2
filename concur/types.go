package concur

import (
	"encoding/json"
	"fmt"

	"github.com/concurflow/concurflow/concur/ess"
)

// AccountType is the type of an ERP account (see AccountType on the Schema page).
type AccountType string

// Account types listed on the Schema page.
const (
	AccountTypeAccountsPayable         AccountType = "ACCOUNTS_PAYABLE"
	AccountTypeAccountsReceivable      AccountType = "ACCOUNTS_RECEIVABLE"
	AccountTypeBank                    AccountType = "BANK"
	AccountTypeCostOfGoodsSold         AccountType = "COST_OF_GOODS_SOLD"
	AccountTypeCreditCard              AccountType = "CREDIT_CARD"
	AccountTypeDepreciation            AccountType = "DEPRECIATION"
	AccountTypeEquity                  AccountType = "EQUITY"
	AccountTypeExpense                 AccountType = "EXPENSE"
	AccountTypeFixedAssets             AccountType = "FIXED_ASSETS"
	AccountTypeFutureAssets            AccountType = "FUTURE_ASSETS"
	AccountTypeIncome                  AccountType = "INCOME"
	AccountTypeLoan                    AccountType = "LOAN"
	AccountTypeLongTermLiabilities     AccountType = "LONG_TERM_LIABILITIES"
	AccountTypeOtherAssets             AccountType = "OTHER_ASSETS"
	AccountTypeOtherCurrentAssets      AccountType = "OTHER_CURRENT_ASSETS"
	AccountTypeOtherCurrentLiabilities AccountType = "OTHER_CURRENT_LIABILITIES"
	AccountTypeOtherExpense            AccountType = "OTHER_EXPENSE"
	AccountTypeOtherIncome             AccountType = "OTHER_INCOME"
)

// Account is an ERP account or GL code (see Account on the Schema page).
// ID, Name and Type are required when adding; a deletion needs only ID and
// IsDeleted.
type Account struct {
	ID        string      `json:"id"`
	Name      string      `json:"name,omitempty"`
	Number    string      `json:"number,omitempty"`
	Type      AccountType `json:"type,omitempty"`
	IsDeleted bool        `json:"isDeleted,omitempty"`
}

// VendorType is the type of an ERP vendor (see VendorType on the Schema page).
type VendorType string

// Vendor types listed on the Schema page.
const (
	VendorTypeAccounting VendorType = "ACCOUNTING"
	VendorTypeEmployee   VendorType = "EMPLOYEE"
)

// Vendor is an accounting (invoice) or employee vendor (see Vendor on the
// Schema page). Which fields are required depends on Type.
type Vendor struct {
	ID            string     `json:"id"`
	Type          VendorType `json:"type,omitempty"`
	CurrencyCode  string     `json:"currencyCode,omitempty"`
	Name          string     `json:"name,omitempty"`
	LastName      string     `json:"lastName,omitempty"`
	FirstName     string     `json:"firstName,omitempty"`
	Email         string     `json:"email,omitempty"`
	EmployeeID    string     `json:"employeeId,omitempty"`
	CompanyName   string     `json:"companyName,omitempty"`
	TaxID         string     `json:"taxId,omitempty"`
	Phone         string     `json:"phone,omitempty"`
	AccountNumber string     `json:"accountNumber,omitempty"`
	Address       *Address   `json:"address,omitempty"`
	IsDeleted     bool       `json:"isDeleted,omitempty"`
}

// Address is a vendor's address (see VendorAddress on the Schema page).
type Address struct {
	Addr1      string `json:"addr1,omitempty"`
	Addr2      string `json:"addr2,omitempty"`
	Addr3      string `json:"addr3,omitempty"`
	City       string `json:"city,omitempty"`
	State      string `json:"state,omitempty"`
	Country    string `json:"country,omitempty"`
	PostalCode string `json:"postalCode,omitempty"`
	Note       string `json:"note,omitempty"`
}

// ListName is an ERP list name (see ERP List Name on the Schema page).
type ListName struct {
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	IsDeleted bool   `json:"isDeleted,omitempty"`
}

// TaxData is the tax data of one country (see ERP Tax Data on the Schema
// page). The Schema page names the country label countryName while every
// example on the Tax Data page sends countryDesc; both are kept.
type TaxData struct {
	CountryCode  string       `json:"countryCode"`
	CountryName  string       `json:"countryName,omitempty"`
	CountryDesc  string       `json:"countryDesc,omitempty"`
	StateEntries []StateEntry `json:"stateEntries"`
}

// StateEntry holds the tax data of one state or province, or of the whole
// country when StateCode is empty (see State Entries on the Schema page).
type StateEntry struct {
	StateCode      string         `json:"stateCode,omitempty"`
	StateDesc      string         `json:"stateDesc,omitempty"`
	ReclaimEntries []ReclaimEntry `json:"reclaimEntries"`
}

// ReclaimEntry is an ERP reclaim code with its rates (see Reclaim Entries on
// the Schema page).
type ReclaimEntry struct {
	ReclaimCode    string          `json:"reclaimCode"`
	ReclaimDesc    string          `json:"reclaimDesc,omitempty"`
	ReclaimDetails []ReclaimDetail `json:"reclaimDetails"`
}

// ReclaimDetail is one ERP tax rate (see Reclaim Details on the Schema page).
// Percentage is a pointer so that a zero rate is sent as 0 rather than
// omitted. Dates are ISO-8601 simple dates (YYYY-MM-DD), kept as strings.
type ReclaimDetail struct {
	TaxCode     string   `json:"taxCode"`
	TaxRateDesc string   `json:"taxRateDesc,omitempty"`
	Percentage  *float64 `json:"percentage,omitempty"`
	ValidFrom   string   `json:"validFrom"`
	ValidTo     string   `json:"validTo,omitempty"`
}

// ErpFeature is a feature flag of an ERP integration (see ErpFeatureFlag on
// the Schema page).
type ErpFeature string

// ERP feature flags listed on the Schema page.
const (
	FeatureSupportsReceiptPosting    ErpFeature = "SUPPORTS_RECEIPT_POSTING"
	FeatureSupportsLiabilityAccount  ErpFeature = "SUPPORTS_LIABILITY_ACCOUNT"
	FeatureDisableInvoiceIntegration ErpFeature = "DISABLE_INVOICE_INTEGRATION"
	FeatureEnableTaxIntegration      ErpFeature = "ENABLE_TAX_INTEGRATION"
)

// ErpPackage registers an ERP integration (see ErpPackage on the Schema page
// and the Registration page). ErpID is set by Concur in responses. Empty
// lists are left out when registering; UpdateERP sends a non-nil empty
// Features or PostingOptions as [] to clear it.
type ErpPackage struct {
	PartnerAppName string          `json:"partnerAppName,omitempty"`
	ErpName        string          `json:"erpName,omitempty"`
	ExternalErpID  string          `json:"externalErpId,omitempty"`
	Features       []ErpFeature    `json:"features,omitempty"`
	PostingOptions []PostingOption `json:"postingOptions,omitempty"`
	ErpID          string          `json:"erpId,omitempty"`
}

// PostingOption is a way the ERP can record expense reports (see
// PostingOption on the Schema page).
type PostingOption struct {
	PostingCode                     string               `json:"postingCode"`
	PostingName                     string               `json:"postingName"`
	AvailableForOutOfPocketExpenses bool                 `json:"availableForOutOfPocketExpenses"`
	ConfigurationFields             []ConfigurationField `json:"configurationFields,omitempty"`
}

// Configuration field types listed on the Schema page.
const (
	ConfigFieldERPLiabilityAccount  = "ERP_LIABILITY_ACCOUNT"
	ConfigFieldERPCreditCardAccount = "ERP_CREDIT_CARD_ACCOUNT"
	ConfigFieldERPClearingAccount   = "ERP_CLEARING_ACCOUNT"
	ConfigFieldCreditCardVendorName = "CREDIT_CARD_VENDOR_NAME"
	ConfigFieldPostingDate          = "POSTING_DATE"
)

// ConfigurationField is a field shown when configuring a posting option (see
// ConfigurationField on the Schema page). The Schema page calls the flag
// required while every example on the Registration page sends isRequired;
// both are accepted and isRequired is sent.
type ConfigurationField struct {
	ConfigurationFieldType string `json:"configurationFieldType"`
	Required               bool   `json:"isRequired"`
}

// UnmarshalJSON accepts the flag as isRequired or required.
func (f *ConfigurationField) UnmarshalJSON(b []byte) error {
	var raw struct {
		ConfigurationFieldType string `json:"configurationFieldType"`
		IsRequired             *bool  `json:"isRequired"`
		Required               *bool  `json:"required"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*f = ConfigurationField{ConfigurationFieldType: raw.ConfigurationFieldType}
	switch {
	case raw.IsRequired != nil:
		f.Required = *raw.IsRequired
	case raw.Required != nil:
		f.Required = *raw.Required
	}
	return nil
}

// ProcessingStatus is the status of an asynchronous request (see
// ProcessingStatus on the Schema page).
type ProcessingStatus string

// Processing statuses listed on the Schema page.
const (
	StatusProcessing ProcessingStatus = ess.StatusProcessing
	StatusSuccess    ProcessingStatus = ess.StatusSuccess
	StatusPartial    ProcessingStatus = ess.StatusPartial
	StatusError      ProcessingStatus = ess.StatusError
)

// Final reports whether the status is final (anything but PROCESSING).
func (s ProcessingStatus) Final() bool {
	return s == StatusSuccess || s == StatusPartial || s == StatusError
}

// RequestStatus is the answer to a data request and to the Request Status
// endpoint (see RequestStatus on the Schema page). The pages show the links
// both as links and _links; both are read, links is written.
// CorrelationID is the Concur-Correlationid header of the response that
// carried it, kept for logs. It is not ess.RequestStatus, the facts of a
// data.statusUpdated event: that one has only _links (an object keyed by
// relation) and no company or ERP id, while this one reads both link forms
// of the API answers into Links.
type RequestStatus struct {
	RequestID     string           `json:"requestId"`
	Status        ProcessingStatus `json:"status"`
	CompanyID     string           `json:"companyId,omitempty"`
	ErpID         string           `json:"erpId,omitempty"`
	Links         Links            `json:"links,omitempty"`
	CorrelationID string           `json:"-"`
}

// UnmarshalJSON reads the links from links or _links.
func (r *RequestStatus) UnmarshalJSON(b []byte) error {
	type plain RequestStatus
	var raw struct {
		plain
		AltLinks Links `json:"_links"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*r = RequestStatus(raw.plain)
	if len(r.Links) == 0 {
		r.Links = raw.AltLinks
	}
	return nil
}

// ObjectTypeName is the accounting object type carried by processing errors
// and events (see ObjectType on the Schema page).
type ObjectTypeName string

// Object types listed on the Schema page. ObjectTypeTaxData is not listed
// there: the docs are silent on how tax data processing errors are labelled,
// so this package uses TAX_DATA.
const (
	ObjectTypeAccount ObjectTypeName = ess.ObjectAccount
	ObjectTypeVendor  ObjectTypeName = ess.ObjectVendor
	ObjectTypeList    ObjectTypeName = ess.ObjectList
	ObjectTypeTaxData ObjectTypeName = "TAX_DATA"
)

// ProcessingError is the error of one record of a data request (see
// ProcessingError on the Schema page). Values holds the record as Concur
// received it, as a JSON string; use DecodedValues or DecodeValues.
type ProcessingError struct {
	CompanyID        string            `json:"companyId,omitempty"`
	ErpID            string            `json:"erpId,omitempty"`
	RequestID        string            `json:"requestId,omitempty"`
	ErrorCode        string            `json:"errorCode,omitempty"`
	ErrorMessage     string            `json:"errorMessage,omitempty"`
	ObjectType       ObjectTypeName    `json:"objectType,omitempty"`
	RawValues        string            `json:"values,omitempty"`
	ValidationErrors []ValidationError `json:"validationErrors,omitempty"`
}

// Values parses the values JSON string of the failed record. It returns nil
// and no error when the error carries no values.
func (p ProcessingError) Values() (map[string]any, error) {
	if p.RawValues == "" {
		return nil, nil
	}
	var m map[string]any
	if err := p.DecodeValues(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeValues unmarshals the values JSON string of the failed record into v,
// for example an *Account or *Vendor.
func (p ProcessingError) DecodeValues(v any) error {
	if err := json.Unmarshal([]byte(p.RawValues), v); err != nil {
		return fmt.Errorf("decoding values of processing error for request %s: %w", p.RequestID, err)
	}
	return nil
}

// ID returns the id of the failed record from its values, or "" when the
// values are absent or carry no string id.
func (p ProcessingError) ID() string {
	var rec struct {
		ID string `json:"id"`
	}
	if p.RawValues == "" || json.Unmarshal([]byte(p.RawValues), &rec) != nil {
		return ""
	}
	return rec.ID
}

// ValidationError is one failed validation of a record or a request (see
// ValidationError on the Schema page). It implements error so that callers
// can errors.As an *APIError into the first *ValidationError.
type ValidationError struct {
	Source       string `json:"source,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	ErrorCode    string `json:"errorCode,omitempty"`
}

// UnmarshalJSON reads the message from errorMessage (the Schema page) or
// message (the List Item v4 pages' Validation Error).
func (v *ValidationError) UnmarshalJSON(b []byte) error {
	type plain ValidationError
	var raw struct {
		plain
		Message string `json:"message"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*v = ValidationError(raw.plain)
	if v.ErrorMessage == "" {
		v.ErrorMessage = raw.Message
	}
	return nil
}

// Error formats the validation error as "source: message (code)".
func (v *ValidationError) Error() string {
	msg := v.ErrorMessage
	if v.Source != "" {
		msg = v.Source + ": " + msg
	}
	if v.ErrorCode != "" {
		msg += " (" + v.ErrorCode + ")"
	}
	return msg
}

// ErrorMessage is the body of an error answer (see ErrorMessage on the Schema
// page). Error holds Concur's general v4 error form {"error":{"id","message"}}
// that other v4 APIs answer with (for example the rate limit error on the
// List Item Bulk page); Code and Text read whichever form is present.
type ErrorMessage struct {
	Timestamp        string            `json:"timestamp,omitempty"`
	HTTPStatus       string            `json:"httpStatus,omitempty"`
	ErrorCode        string            `json:"errorCode,omitempty"`
	ErrorMessage     string            `json:"errorMessage,omitempty"`
	Path             string            `json:"path,omitempty"`
	ValidationErrors []ValidationError `json:"validationErrors,omitempty"`
	Error            *ErrorDetail      `json:"error,omitempty"`
}

// ErrorDetail is the nested error object of Concur's general v4 error form.
type ErrorDetail struct {
	ID      string `json:"id,omitempty"`
	Message string `json:"message,omitempty"`
}

// Code returns the machine-readable error code of either form.
func (m ErrorMessage) Code() string {
	if m.ErrorCode == "" && m.Error != nil {
		return m.Error.ID
	}
	return m.ErrorCode
}

// Text returns the human-readable message of either form.
func (m ErrorMessage) Text() string {
	if m.ErrorMessage == "" && m.Error != nil {
		return m.Error.Message
	}
	return m.ErrorMessage
}

// MappingsResponse is the configuration and mappings of an ERP integration
// (see MappingsResponse on the Schema page and the Mappings page).
type MappingsResponse struct {
	ErpID           string          `json:"erpId,omitempty"`
	CompanyEdition  StringList      `json:"companyEdition,omitempty"`
	Ledger          *Ledger         `json:"ledger,omitempty"`
	Features        []Feature       `json:"features,omitempty"`
	Files           []FileMapping   `json:"files,omitempty"`
	InvoicePolicies []InvoicePolicy `json:"invoicePolicies,omitempty"`
}

// Company editions listed on the Schema page.
const (
	EditionStandard     = "STANDARD"
	EditionProfessional = "PROFESSIONAL"
)

// Ledger is the ledger used by the integration, as shown in the Mappings
// page example (the Schema page names it without detailing it).
type Ledger struct {
	Name             string           `json:"name,omitempty"`
	Code             string           `json:"code,omitempty"`
	ExpenseHierarchy []HierarchyLevel `json:"expenseHierarchy,omitempty"`
	InvoiceHierarchy []HierarchyLevel `json:"invoiceHierarchy,omitempty"`
}

// HierarchyLevel is one level of a ledger hierarchy.
type HierarchyLevel struct {
	FormTypeCode     string `json:"formTypeCode,omitempty"`
	AlternateFieldID string `json:"alternateFieldId,omitempty"`
	Level            int    `json:"level"`
}

// Feature is a feature setting the company chose (see Feature on the Schema
// page). The Schema page types Value as a string while the Mappings page
// example shows an object, so the raw JSON is kept.
type Feature struct {
	ID          string          `json:"id,omitempty"`
	Value       json.RawMessage `json:"value,omitempty"`
	Description string          `json:"description,omitempty"`
}

// FileMapping holds the settings and mappings of one ERP file (see
// FileMapping on the Schema page).
type FileMapping struct {
	FileID                  string         `json:"fileId,omitempty"`
	PaymentTypes            []PaymentType  `json:"paymentTypes,omitempty"`
	ListMappings            []ListMapping  `json:"listMappings,omitempty"`
	InvoiceLiabilityAccount *Account       `json:"invoiceLiabilityAccount,omitempty"`
	BillableField           *BillableField `json:"billableField,omitempty"`
}

// PaymentType is the configuration of one payment type (see PaymentType on
// the Schema page).
type PaymentType struct {
	PatKey               string `json:"patKey,omitempty"`
	TransactionType      string `json:"transactionType,omitempty"`
	LiabilityAccountCode string `json:"liabilityAccountCode,omitempty"`
	PostingDate          string `json:"postingDate,omitempty"`
	ClearingAccountCode  string `json:"clearingAccountCode,omitempty"`
	Name                 string `json:"name,omitempty"`
	CreditCardVendorID   string `json:"creditCardVendorId,omitempty"`
	CurrencyCode         string `json:"currencyCode,omitempty"`
	CountryCode          string `json:"countryCode,omitempty"`
	ErpCreditCardAccount string `json:"erpCreditCardAccount,omitempty"`
}

// Transaction types and posting dates of a payment type, as the PaymentType
// table of the Schema page lists them.
const (
	TransactionBill           = "BILL"
	TransactionCreditCard     = "CREDIT CARD"
	TransactionGeneralJournal = "GENERAL JOURNAL"

	PostingDateReportCreate      = "REPORTCREATE"
	PostingDateReportSubmit      = "REPORTSUBMIT"
	PostingDateProcessorApproval = "PROCESSORAPPROVAL"
)

// ListMapping maps an ERP list to a Concur list (see ListMapping on the
// Schema page). It is the type the Events page's listMapping.created and
// listMapping.deleted facts carry, so it is ess.ListMapping itself: ids are
// always written, fieldMappings only when present.
type ListMapping = ess.ListMapping

// Form type codes listed on the Schema page.
const (
	FormAllocation        = "allocation"
	FormExpenseEntry      = "expenseEntry"
	FormInvoiceAllocation = "invoiceAllocation"
	FormLineItem          = "lineItem"
	FormRequestHeader     = "requestHeader"
	FormReport            = "report"
	FormPOHeader          = "poHeader"
	FormPOLineItem        = "poLineItem"
	FormPOAllocation      = "poAllocation"
)

// FieldMapping lists the forms and fields where an ERP list is used (see
// FieldMapping on the Schema page); the same type as ess.FieldMapping.
type FieldMapping = ess.FieldMapping

// ConnectedList is a connected list mapped to an ERP list (see ConnectedList
// on the Schema page); the same type as ess.ConnectedList.
type ConnectedList = ess.ConnectedList

// Field is a Concur field that uses an ERP list (see Field on the Schema
// page); the same type as ess.Field.
type Field = ess.Field

// BillableField is the field configured as Billable (see BillableField on the
// Schema page).
type BillableField struct {
	FormTypeCode     string `json:"formTypeCode,omitempty"`
	AlternateFieldID string `json:"alternateFieldId,omitempty"`
}

// InvoicePolicy is an invoice policy configured in Concur (see InvoicePolicy
// on the Schema page).
type InvoicePolicy struct {
	Name                  string `json:"name,omitempty"`
	ExternalID            string `json:"externalId,omitempty"`
	IsPurchaseOrderPolicy bool   `json:"isPurchaseOrderPolicy"`
}

// StringList is a list of strings that also accepts a single JSON string:
// the Schema page types companyEdition as an array while the Mappings page
// example shows a string. One element is written as a string, otherwise an
// array.
type StringList []string

// UnmarshalJSON accepts a string, an array of strings or null.
func (s *StringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = StringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("expected a string or an array of strings: %w", err)
	}
	*s = many
	return nil
}

// MarshalJSON writes one element as a string, otherwise an array.
func (s StringList) MarshalJSON() ([]byte, error) {
	if len(s) == 1 {
		return json.Marshal(s[0])
	}
	return json.Marshal([]string(s))
}

// DataRequest is the body of a PATCH (accounts, vendors, lists) or of a tax
// data POST/PUT (see the Update ERP ... Request schemas on the Schema page).
type DataRequest[T any] struct {
	DeleteAll bool `json:"deleteAll,omitempty"`
	Data      []T  `json:"data,omitempty"`
}

// Page is one page of a GET answer: the records and the links, of which next
// leads to the following page. Links are read from links or _links.
type Page[T any] struct {
	Data  []T   `json:"data"`
	Links Links `json:"links,omitempty"`
}

// UnmarshalJSON reads the links from links or _links.
func (p *Page[T]) UnmarshalJSON(b []byte) error {
	var raw pageAnswer[T]
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*p = raw.page()
	return nil
}

// pageAnswer is the wire form of a page, decoded in one pass (a custom
// UnmarshalJSON on the decoding target would scan every page twice).
type pageAnswer[T any] struct {
	Data     []T   `json:"data"`
	Links    Links `json:"links"`
	AltLinks Links `json:"_links"`
}

func (a pageAnswer[T]) page() Page[T] {
	p := Page[T]{Data: a.Data, Links: a.Links}
	if len(p.Links) == 0 {
		p.Links = a.AltLinks
	}
	return p
}
