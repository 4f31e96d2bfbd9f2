package main

import "strings"

// The ERP-side column layouts of the CSV and Parquet exports. The names are
// deliberately the ERP's, not the API's, so pipelines show a mapping.

var accountColumns = []string{"GL_ACCOUNT", "ACCT_DESC", "ACCT_TYPE"}

// erpAccountTypes maps the Concur AccountType to the ERP's own account
// category code used in the exports.
var erpAccountTypes = map[string]string{
	"ACCOUNTS_PAYABLE": "AP", "ACCOUNTS_RECEIVABLE": "AR", "BANK": "BANK",
	"COST_OF_GOODS_SOLD": "COGS", "CREDIT_CARD": "CCARD", "DEPRECIATION": "ACCDEP",
	"EQUITY": "EQTY", "EXPENSE": "EXP", "FIXED_ASSETS": "FA", "FUTURE_ASSETS": "DEFA",
	"INCOME": "REV", "LOAN": "LOAN", "LONG_TERM_LIABILITIES": "LTL", "OTHER_ASSETS": "OA",
	"OTHER_CURRENT_ASSETS": "OCA", "OTHER_CURRENT_LIABILITIES": "OCL",
	"OTHER_EXPENSE": "OEXP", "OTHER_INCOME": "OREV",
}

// erpCode maps an API enum value to the ERP code; values with no code (the
// deliberately invalid ones) pass through unchanged.
func erpCode(codes map[string]string, v string) string {
	if c, ok := codes[v]; ok {
		return c
	}
	return v
}

func accountRow(a account) []string {
	return []string{a.ID, a.Name, erpCode(erpAccountTypes, a.Type)}
}

var vendorColumns = []string{
	"VENDOR_NO", "VENDOR_TYPE", "VENDOR_NAME1", "COMPANY_NAME", "FIRST_NAME", "LAST_NAME",
	"EMAIL_ADDR", "PERSONNEL_NO", "CURRENCY", "TAX_NUMBER", "TELEPHONE", "CUST_ACCT_AT_VENDOR",
	"STREET", "STREET2", "CITY", "REGION", "POSTAL_CODE", "COUNTRY_KEY",
}

// erpVendorTypes maps the Concur VendorType to the ERP's vendor group:
// S(upplier) or E(mployee).
var erpVendorTypes = map[string]string{"ACCOUNTING": "S", "EMPLOYEE": "E"}

func vendorRow(v vendor) []string {
	var a address
	if v.Address != nil {
		a = *v.Address
	}
	return []string{
		v.ID, erpCode(erpVendorTypes, v.Type), v.Name, v.CompanyName, v.FirstName, v.LastName,
		v.Email, v.EmployeeID, v.CurrencyCode, v.TaxID, v.Phone, v.AccountNumber,
		a.Addr1, a.Addr2, a.City, a.State, a.PostalCode, a.Country,
	}
}

var listColumns = []string{"LIST_CODE", "LIST_DESC"}

func listRow(l listName) []string { return []string{l.ID, l.Name} }

var taxColumns = []string{
	"COUNTRY_KEY", "COUNTRY_NAME", "REGION", "REGION_NAME", "RECLAIM_CODE", "RECLAIM_DESC",
	"TAX_CODE", "TAX_CODE_DESC", "TAX_RATE", "VALID_FROM", "VALID_TO",
}

// openEnded is how the ERP writes "no end date".
const openEnded = "99991231"

// taxRows flattens one country's tax data into one row per rate. Dates are
// written the ERP way, YYYYMMDD, with 99991231 for an open end.
func taxRows(t taxData) [][]string {
	var rows [][]string
	for _, se := range t.StateEntries {
		for _, re := range se.ReclaimEntries {
			for _, d := range re.ReclaimDetails {
				to := openEnded
				if d.ValidTo != nil {
					to = erpDate(*d.ValidTo)
				}
				rows = append(rows, []string{
					t.CountryCode, t.CountryName, deref(se.StateCode), deref(se.StateDesc),
					re.ReclaimCode, re.ReclaimDesc, d.TaxCode, d.TaxRateDesc,
					formatPct(d.Percentage), erpDate(d.ValidFrom), to,
				})
			}
		}
	}
	return rows
}

func erpDate(iso string) string { return strings.ReplaceAll(iso, "-", "") }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
