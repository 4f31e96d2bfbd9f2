package schema

// ValidationError is one failed rule, shaped like the ValidationError object
// of the Schema page.
type ValidationError struct {
	Source       string `json:"source"`
	ErrorMessage string `json:"errorMessage"`
	ErrorCode    string `json:"errorCode"`
}

// Object is an accounting object type (the ObjectType enum of the Schema
// page).
type Object string

// The accounting object types a PATCH can carry.
const (
	Account Object = "ACCOUNT"
	Vendor  Object = "VENDOR"
	List    Object = "LIST"
)

// Record is the outcome of checking one record of a PATCH "data" array.
type Record struct {
	// ID is the record's id, or "" when it has none usable.
	ID string
	// Deleted is true when the record carries isDeleted: true.
	Deleted bool
	// VendorType is ACCOUNTING or EMPLOYEE for a vendor whose type is valid,
	// else "".
	VendorType string
	// Errors lists every failed rule; nil when the record is valid.
	Errors []ValidationError
}

// Vendor types (the VendorType enum of the Schema page).
const (
	VendorAccounting = "ACCOUNTING"
	VendorEmployee   = "EMPLOYEE"
)

var vendorTypes = []string{VendorAccounting, VendorEmployee}

// accountTypes is the AccountType enum of the Schema page (swagger Type1).
var accountTypes = []string{
	"ACCOUNTS_PAYABLE",
	"ACCOUNTS_RECEIVABLE",
	"BANK",
	"COST_OF_GOODS_SOLD",
	"CREDIT_CARD",
	"DEPRECIATION",
	"EQUITY",
	"EXPENSE",
	"FIXED_ASSETS",
	"FUTURE_ASSETS",
	"INCOME",
	"LOAN",
	"LONG_TERM_LIABILITIES",
	"OTHER_ASSETS",
	"OTHER_CURRENT_ASSETS",
	"OTHER_CURRENT_LIABILITIES",
	"OTHER_EXPENSE",
	"OTHER_INCOME",
}

// Field names of records, as JSON keys and error sources.
const (
	fID            = "id"
	fIsDeleted     = "isDeleted"
	fName          = "name"
	fNumber        = "number"
	fType          = "type"
	fCurrencyCode  = "currencyCode"
	fLastName      = "lastName"
	fFirstName     = "firstName"
	fEmail         = "email"
	fEmployeeID    = "employeeId"
	fCompanyName   = "companyName"
	fTaxID         = "taxId"
	fPhone         = "phone"
	fAccountNumber = "accountNumber"
	fAddress       = "address"
)

// addressFields are the VendorAddress members, each an optional string.
var addressFields = [...]string{"addr1", "addr2", "addr3", "city", "state", "country", "postalCode", "note"}

// addressSources are addressFields as error sources.
var addressSources = [...]string{
	"address.addr1", "address.addr2", "address.addr3", "address.city",
	"address.state", "address.country", "address.postalCode", "address.note",
}

// record holds the known members of any record, decoded once.
type record struct {
	id, isDeleted, name, number, typ, currencyCode value
	lastName, firstName, email, employeeID         value
	companyName, taxID, phone, accountNumber       value
	address                                        value // kind only when an object
	addr                                           [len(addressFields)]value
}

// CheckRecord validates one element of a PATCH "data" array for the given
// object type against the stateless rules in the package documentation.
// It never panics, whatever raw holds.
func CheckRecord(obj Object, raw []byte) Record {
	var c checker
	switch obj {
	case Account, Vendor, List:
	default:
		c.add("objectType", "invalid", "objectType must be one of ACCOUNT, VENDOR, LIST, got "+quote([]byte(obj)))
		return Record{Errors: c.errs}
	}
	var r record
	if !r.decode(raw) {
		out := Record{}
		if r.id.kind == kindString && !r.id.blank() {
			out.ID = r.id.text()
		}
		c.add("", "record.invalid", "record must be a well-formed JSON object")
		out.Errors = c.errs
		return out
	}

	out := Record{}
	if c.required(fID, r.id) {
		out.ID = r.id.text()
	}
	switch r.isDeleted.kind {
	case kindAbsent, kindNull:
	case kindBool:
		out.Deleted = r.isDeleted.boolean()
	default:
		c.add(fIsDeleted, "invalid", "isDeleted must be a boolean, got "+r.isDeleted.kind.String())
	}
	if out.Deleted {
		// A deletion needs only the id; other members are not looked at.
		out.Errors = c.errs
		return out
	}

	switch obj {
	case Account:
		c.required(fName, r.name)
		c.optional(fNumber, r.number)
		if c.required(fType, r.typ) {
			c.oneOf(fType, r.typ, accountTypes)
		}
	case List:
		c.required(fName, r.name)
	case Vendor:
		out.VendorType = r.checkVendor(&c)
	}
	out.Errors = c.errs
	return out
}

// checkVendor applies the vendor rules and returns the valid vendor type.
func (r *record) checkVendor(c *checker) string {
	vt := ""
	if c.required(fType, r.typ) {
		vt = c.oneOf(fType, r.typ, vendorTypes)
	}
	if c.required(fCurrencyCode, r.currencyCode) && !IsCurrency(string(r.currencyCode.bytes())) {
		c.add(fCurrencyCode, "invalid", "currencyCode must be an active ISO 4217 alphabetic code, got "+quote(r.currencyCode.bytes()))
	}

	// Members required by one type are optional strings for the other.
	acct, emp := vt == VendorAccounting, vt == VendorEmployee
	c.text(fName, r.name, acct)
	c.text(fCompanyName, r.companyName, acct)
	c.text(fLastName, r.lastName, emp)
	c.text(fFirstName, r.firstName, emp)
	c.text(fEmployeeID, r.employeeID, emp)
	if c.text(fEmail, r.email, emp) && !validEmail(r.email.bytes()) {
		c.add(fEmail, "invalid", "email must be an e-mail address (local@domain.tld), got "+quote(r.email.bytes()))
	}
	c.optional(fTaxID, r.taxID)
	c.optional(fPhone, r.phone)
	c.optional(fAccountNumber, r.accountNumber)

	switch r.address.kind {
	case kindAbsent, kindNull:
	case kindObject:
		for i := range r.addr {
			c.optional(addressSources[i], r.addr[i])
		}
	default:
		c.add(fAddress, "invalid", "address must be an object, got "+r.address.kind.String())
	}
	return vt
}

// decode reads the known members of a record; it reports false when raw is
// not a single well-formed JSON object. Unknown members are skipped; a
// repeated member keeps its last value, as encoding/json would.
func (r *record) decode(raw []byte) bool {
	s := scanner{b: raw}
	if !s.objectStart() {
		return false
	}
	for first := true; ; first = false {
		key, ok := s.nextField(first)
		if !ok {
			break
		}
		var dst *value
		switch string(key) {
		case fID:
			dst = &r.id
		case fIsDeleted:
			dst = &r.isDeleted
		case fName:
			dst = &r.name
		case fNumber:
			dst = &r.number
		case fType:
			dst = &r.typ
		case fCurrencyCode:
			dst = &r.currencyCode
		case fLastName:
			dst = &r.lastName
		case fFirstName:
			dst = &r.firstName
		case fEmail:
			dst = &r.email
		case fEmployeeID:
			dst = &r.employeeID
		case fCompanyName:
			dst = &r.companyName
		case fTaxID:
			dst = &r.taxID
		case fPhone:
			dst = &r.phone
		case fAccountNumber:
			dst = &r.accountNumber
		case fAddress:
			if s.peek() == '{' {
				r.decodeAddress(&s)
				continue
			}
			r.addr = [len(addressFields)]value{}
			dst = &r.address
		default:
			s.value()
			continue
		}
		*dst = s.value()
	}
	return s.end()
}

// decodeAddress reads a VendorAddress object in place.
func (r *record) decodeAddress(s *scanner) {
	start := s.i
	r.addr = [len(addressFields)]value{}
	s.objectStart()
	for first := true; ; first = false {
		key, ok := s.nextField(first)
		if !ok {
			break
		}
		v := s.value()
		for i, f := range addressFields {
			if string(key) == f {
				r.addr[i] = v
				break
			}
		}
	}
	r.address = value{raw: s.b[start:s.i], kind: kindObject}
}
