package main

// erpLists are the ERP lists a customer may map to SAP Concur lists (the
// List Names page: id and name only; the list items go through the List
// Item API once a mapping exists).
var erpLists = []listName{
	{"COST_CENTER", "Cost Center"},
	{"PROFIT_CENTER", "Profit Center"},
	{"DEPARTMENT", "Department"},
	{"PROJECT", "Project"},
	{"WBS_ELEMENT", "WBS Element"},
	{"INTERNAL_ORDER", "Internal Order"},
	{"BUSINESS_UNIT", "Business Unit"},
	{"LOCATION", "Location"},
	{"CUSTOMER", "Customer"},
	{"PRODUCT_LINE", "Product Line"},
	{"REGION", "Sales Region"},
	{"FUND", "Fund"},
	{"GRANT", "Grant"},
	{"ACTIVITY", "Activity Type"},
	{"LEGAL_ENTITY", "Company Code"},
	{"CLASS", "Class"},
}

// genLists returns the ERP list names. They are fixed: the seed does not
// change which lists an ERP has.
func genLists() []listName {
	return append([]listName(nil), erpLists...)
}

// invalidLists are deliberately bad list name records, for DLQ demos.
func invalidLists() []invalid[listName] {
	return []invalid[listName]{
		{"missing required field: name", true, "name is required", listName{ID: "SEGMENT"}},
		{"missing required field: id", true, "id is required", listName{Name: "Segment"}},
	}
}
