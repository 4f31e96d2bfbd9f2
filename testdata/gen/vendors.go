package main

import (
	"fmt"
	"strings"
)

var companyPrefixes = []string{"Acme", "Apex", "Blue River", "Summit", "Northstar", "Silverline", "Greenfield", "Redwood", "Atlas", "Pioneer", "Evergreen", "Horizon", "Keystone", "Lakeside", "Meridian", "Oakridge", "Pinnacle", "Quantum", "Riverside", "Sterling", "Trident", "Unity", "Vertex", "Westgate", "Zenith", "Cobalt", "Falcon", "Granite", "Harbor", "Ironwood", "Juniper", "Kestrel", "Lumen", "Maple", "Nimbus", "Orion", "Polaris", "Sequoia", "Tandem", "Vanguard"}

var industries = []string{"Logistics", "Office Supplies", "IT Services", "Consulting", "Catering", "Facility Services", "Printing", "Travel Services", "Software", "Electrical Supplies", "Cleaning Services", "Security Services", "Engineering", "Packaging", "Freight", "Hotels", "Telecom", "Marketing", "Legal Services", "Recruitment", "Car Rental", "Courier", "Industrial Supplies", "Staffing", "Training"}

var addressExtras = []string{"Suite 200", "Floor 3", "Building B", "Unit 12", "c/o Accounts Payable", "PO Box 4410"}

// emailDomain is reserved for documentation (RFC 2606), so no generated
// address can reach anybody.
const emailDomain = "northwind.example.com"

// Vendor counts: ERP exports of a mid-size company.
const (
	accountingVendors = 1500
	employeeVendors   = 500
)

func genVendors(r *rng) []vendor {
	out := make([]vendor, 0, accountingVendors+employeeVendors)
	names := map[string]bool{}
	idNo := 1000000
	for range accountingVendors {
		idNo += r.between(1, 5)
		c := pickCountry(r)
		var name string
		for tries := 0; name == "" || names[name]; tries++ {
			name = fmt.Sprintf("%s %s %s", pick(r, companyPrefixes), pick(r, industries), pick(r, c.legalForms))
			if tries > 5 {
				name = fmt.Sprintf("%s %s %s %s", pick(r, companyPrefixes), pick(r, industries), pick(r, c.cities).name, pick(r, c.legalForms))
			}
		}
		names[name] = true
		v := vendor{
			ID: fmt.Sprintf("V%07d", idNo), Type: "ACCOUNTING", CurrencyCode: c.currency,
			Name: name, CompanyName: name,
		}
		// International suppliers sometimes invoice in USD or EUR.
		if r.chance(8) {
			v.CurrencyCode = pick(r, []string{"USD", "EUR"})
		}
		if r.chance(85) {
			v.TaxID = c.taxID(r)
		}
		if r.chance(80) {
			v.Phone = c.phone(r)
		}
		if r.chance(50) {
			v.AccountNumber = "C" + r.digits(6)
		}
		if r.chance(95) {
			ci := pick(r, c.cities)
			a := &address{
				Addr1:      c.streetFormat(pick(r, c.streets), r.between(1, 250)),
				City:       ci.name,
				State:      ci.state,
				PostalCode: c.postalFormat(r, ci.postalPrefix),
				Country:    c.code,
			}
			if r.chance(15) {
				a.Addr2 = pick(r, addressExtras)
			}
			v.Address = a
		}
		out = append(out, v)
	}

	emails := map[string]bool{}
	empNo := 100000
	for range employeeVendors {
		empNo += r.between(1, 3)
		c := pickCountry(r)
		first, last := pick(r, c.firstNames), pick(r, c.lastNames)
		local := emailLocal(first + "." + last)
		email := local + "@" + emailDomain
		for n := 2; emails[email]; n++ {
			email = fmt.Sprintf("%s%d@%s", local, n, emailDomain)
		}
		emails[email] = true
		out = append(out, vendor{
			ID: fmt.Sprintf("E%06d", empNo), Type: "EMPLOYEE", CurrencyCode: c.currency,
			Name: first + " " + last, CompanyName: c.entity,
			FirstName: first, LastName: last, Email: email, EmployeeID: fmt.Sprintf("%06d", empNo),
		})
	}
	return out
}

// emailLocal folds a name into the ASCII local part of an e-mail address.
func emailLocal(s string) string {
	repl := strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "é", "e", "è", "e", "É", "E", "ô", "o", "ç", "c", " ", "", "'", "")
	return strings.ToLower(repl.Replace(s))
}

// invalidVendors are deliberately bad vendor records, for DLQ demos.
// typeChange is the id of an ACCOUNTING vendor of the valid file, re-sent
// as an EMPLOYEE: only the API (which keeps state) can reject that.
func invalidVendors(typeChange string) []invalid[vendor] {
	acct := func(id string) vendor {
		return vendor{ID: id, Type: "ACCOUNTING", CurrencyCode: "EUR", Name: "Kestrel Printing GmbH", CompanyName: "Kestrel Printing GmbH",
			Address: &address{Addr1: "Hauptstraße 12", City: "Berlin", PostalCode: "10115", Country: "DE"}}
	}
	emp := func(id string) vendor {
		return vendor{ID: id, Type: "EMPLOYEE", CurrencyCode: "USD", Name: "Dana Whitfield", CompanyName: "Northwind Industries, Inc.",
			FirstName: "Dana", LastName: "Whitfield", Email: "dana.whitfield@" + emailDomain, EmployeeID: id[1:]}
	}
	noCompany := acct("V9900001")
	noCompany.CompanyName = ""
	noEmail := emp("E990002")
	noEmail.Email = ""
	noEmpID := emp("E990003")
	noEmpID.EmployeeID = ""
	badCurrency := acct("V9900004")
	badCurrency.CurrencyCode = "EURO"
	lowerCurrency := emp("E990005")
	lowerCurrency.CurrencyCode = "usd"
	noCurrency := acct("V9900006")
	noCurrency.CurrencyCode = ""
	badType := acct("V9900007")
	badType.Type = "SUPPLIER"
	badEmail := emp("E990008")
	badEmail.Email = "dana.whitfield at northwind"
	changed := emp("E990009")
	changed.ID = typeChange
	return []invalid[vendor]{
		{"missing required field: companyName (ACCOUNTING vendor)", true, "companyName is required", noCompany},
		{"missing required field: email (EMPLOYEE vendor)", true, "email is required", noEmail},
		{"missing required field: employeeId (EMPLOYEE vendor)", true, "employeeId is required", noEmpID},
		{"bad currency: EURO is not a 3-letter ISO 4217 code", true, "currencyCode does not match pattern", badCurrency},
		{"bad currency: lower-case usd", true, "currencyCode does not match pattern", lowerCurrency},
		{"missing required field: currencyCode", true, "currencyCode is required", noCurrency},
		{"bad enum: type SUPPLIER is not a VendorType", true, "type must be one of", badType},
		{"bad e-mail address (EMPLOYEE vendor)", true, "email does not match pattern", badEmail},
		{"vendor changing type: " + typeChange + " is ACCOUNTING in vendors.ndjson, sent here as EMPLOYEE (schema-valid; the API rejects it)", false, "", changed},
	}
}
