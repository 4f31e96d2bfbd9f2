package sandbox

import (
	"encoding/json"
	"fmt"
)

// The cached shapes of records, with the fields in the order of the GET
// examples and absent fields as null (as the Vendors page's GET sample
// shows). Unknown fields of a record are not kept.

type accountRecord struct {
	ID     string  `json:"id"`
	Number *string `json:"number"`
	Name   *string `json:"name"`
	Type   *string `json:"type"`
}

type listRecord struct {
	ID   string  `json:"id"`
	Name *string `json:"name"`
}

type vendorRecord struct {
	ID            string         `json:"id"`
	Type          *string        `json:"type"`
	CurrencyCode  *string        `json:"currencyCode"`
	LastName      *string        `json:"lastName"`
	FirstName     *string        `json:"firstName"`
	Name          *string        `json:"name"`
	EmployeeID    *string        `json:"employeeId"`
	CompanyName   *string        `json:"companyName"`
	Email         *string        `json:"email"`
	TaxID         *string        `json:"taxId"`
	Phone         *string        `json:"phone"`
	AccountNumber *string        `json:"accountNumber"`
	Address       *vendorAddress `json:"address"`
}

type vendorAddress struct {
	Addr1      *string `json:"addr1"`
	Addr2      *string `json:"addr2"`
	Addr3      *string `json:"addr3"`
	State      *string `json:"state"`
	Country    *string `json:"country"`
	PostalCode *string `json:"postalCode"`
	City       *string `json:"city"`
	Note       *string `json:"note"`
}

// normalize renders a valid record in its cached shape.
func normalize(obj Object, raw []byte) ([]byte, error) {
	var v any
	switch obj {
	case ObjectAccount:
		v = &accountRecord{}
	case ObjectVendor:
		v = &vendorRecord{}
	case ObjectList:
		v = &listRecord{}
	default:
		return nil, fmt.Errorf("normalizing record: unknown object type %q", obj)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("decoding %s record: %w", obj, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding %s record: %w", obj, err)
	}
	return b, nil
}
