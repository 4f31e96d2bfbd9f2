package concur

import "fmt"

// Object is an ERP data object type, named by its path segment under
// /erps/{erpId}/. Accounts, vendors and lists are written with PATCH; tax
// data with POST (add) or PUT (replace).
type Object string

// The ERP data objects of the Accounting Integration API.
const (
	ObjectAccounts Object = "accounts"
	ObjectVendors  Object = "vendors"
	ObjectLists    Object = "lists"
	ObjectTaxData  Object = "taxData"
)

// AllObjects returns every object, in the order the Getting Started page
// lists their resources.
func AllObjects() []Object {
	return []Object{ObjectAccounts, ObjectVendors, ObjectLists, ObjectTaxData}
}

// ParseObject returns the Object for a path segment ("accounts"), accepting
// also "tax_data", the spelling configurations used before taxData.
func ParseObject(s string) (Object, error) {
	switch s {
	case "accounts", "vendors", "lists", "taxData":
		return Object(s), nil
	case "tax_data":
		return ObjectTaxData, nil
	}
	return "", fmt.Errorf("unknown object %q: want accounts, vendors, lists or taxData", s)
}

// Valid reports whether o is one of the four objects.
func (o Object) Valid() bool {
	switch o {
	case ObjectAccounts, ObjectVendors, ObjectLists, ObjectTaxData:
		return true
	}
	return false
}

// Patchable reports whether o is written with PATCH (every object but tax
// data).
func (o Object) Patchable() bool {
	return o == ObjectAccounts || o == ObjectVendors || o == ObjectLists
}

// ObjectType maps the object to the objectType value Concur puts in
// processing errors and events (ACCOUNT, VENDOR, LIST; TAX_DATA for tax
// data, which the ObjectType enum on the Schema page does not list). It
// returns "" for an invalid object.
func (o Object) ObjectType() ObjectTypeName {
	switch o {
	case ObjectAccounts:
		return ObjectTypeAccount
	case ObjectVendors:
		return ObjectTypeVendor
	case ObjectLists:
		return ObjectTypeList
	case ObjectTaxData:
		return ObjectTypeTaxData
	}
	return ""
}

// Object maps an objectType value back to its Object, or "" when unknown.
func (t ObjectTypeName) Object() Object {
	for _, o := range AllObjects() {
		if o.ObjectType() == t {
			return o
		}
	}
	return ""
}
