package main

// The API record shapes, as on the Schema page. Optional members are
// omitted when empty, which is how an ERP export would leave them out.

type account struct {
	ID     string `json:"id,omitempty"`
	Name   string `json:"name,omitempty"`
	Number string `json:"number,omitempty"`
	Type   string `json:"type,omitempty"`
}

type vendor struct {
	ID            string   `json:"id,omitempty"`
	Type          string   `json:"type,omitempty"`
	CurrencyCode  string   `json:"currencyCode,omitempty"`
	Name          string   `json:"name,omitempty"`
	CompanyName   string   `json:"companyName,omitempty"`
	FirstName     string   `json:"firstName,omitempty"`
	LastName      string   `json:"lastName,omitempty"`
	Email         string   `json:"email,omitempty"`
	EmployeeID    string   `json:"employeeId,omitempty"`
	TaxID         string   `json:"taxId,omitempty"`
	Phone         string   `json:"phone,omitempty"`
	AccountNumber string   `json:"accountNumber,omitempty"`
	Address       *address `json:"address,omitempty"`
}

type address struct {
	Addr1      string `json:"addr1,omitempty"`
	Addr2      string `json:"addr2,omitempty"`
	City       string `json:"city,omitempty"`
	State      string `json:"state,omitempty"`
	PostalCode string `json:"postalCode,omitempty"`
	Country    string `json:"country,omitempty"`
}

type listName struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

type taxData struct {
	CountryCode  string       `json:"countryCode,omitempty"`
	CountryName  string       `json:"countryName,omitempty"`
	StateEntries []stateEntry `json:"stateEntries"`
}

// taxBody is the whole Tax Data POST/PUT body: all countries at once.
type taxBody struct {
	Data []taxData `json:"data"`
}

// stateEntry's code and description are null, not absent, for country-wide
// data, as the Schema page describes.
type stateEntry struct {
	StateCode      *string        `json:"stateCode"`
	StateDesc      *string        `json:"stateDesc"`
	ReclaimEntries []reclaimEntry `json:"reclaimEntries"`
}

type reclaimEntry struct {
	ReclaimCode    string          `json:"reclaimCode,omitempty"`
	ReclaimDesc    string          `json:"reclaimDesc,omitempty"`
	ReclaimDetails []reclaimDetail `json:"reclaimDetails"`
}

type reclaimDetail struct {
	TaxCode     string  `json:"taxCode,omitempty"`
	TaxRateDesc string  `json:"taxRateDesc,omitempty"`
	Percentage  float64 `json:"percentage"`
	ValidFrom   string  `json:"validFrom,omitempty"`
	ValidTo     *string `json:"validTo,omitempty"`
}

// invalid is one deliberately bad record and why it is bad.
type invalid[T any] struct {
	// Reason is what is wrong, as documented in testdata/README.md.
	Reason string
	// SchemaDetects is false for faults only the API can see (state).
	SchemaDetects bool
	// WantError is what the schema validation error must say (it names
	// the field); empty when SchemaDetects is false.
	WantError string
	Record    T
}
