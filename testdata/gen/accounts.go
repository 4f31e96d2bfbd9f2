package main

import (
	"fmt"
	"strconv"
)

// accountBlock is a range of the chart of accounts: the accounts of one
// Concur AccountType, numbered from first in steps of step.
type accountBlock struct {
	apiType string
	first   int
	step    int
	names   []string
	// qualifiers, when set, multiply names: "Travel - Airfare - Sales".
	qualifiers []string
}

var departments = []string{"Sales", "Marketing", "Research & Development", "General & Administrative", "Operations", "Customer Service"}

var banks = []string{"JPMorgan Chase USD", "Wells Fargo USD", "Deutsche Bank EUR", "Commerzbank EUR", "BNP Paribas EUR", "Barclays GBP", "ING NL EUR", "MUFG JPY", "RBC CAD", "UBS CHF", "HDFC INR", "Westpac AUD"}

var accountBlocks = []accountBlock{
	{apiType: "BANK", first: 100000, step: 100, names: []string{"Petty Cash"}, qualifiers: []string{"Head Office", "Branch East", "Branch West"}},
	{apiType: "BANK", first: 101000, step: 100, names: []string{"Bank - Operating", "Bank - Payroll", "Bank - Deposit"}, qualifiers: banks},
	{apiType: "ACCOUNTS_RECEIVABLE", first: 110000, step: 100, names: []string{"Trade Receivables - Domestic", "Trade Receivables - Foreign", "Intercompany Receivables", "Employee Advances Receivable", "Allowance for Doubtful Accounts", "Notes Receivable", "Unbilled Receivables", "Credit Card Receivables", "VAT Receivable", "Receivables Clearing"}},
	{apiType: "OTHER_CURRENT_ASSETS", first: 120000, step: 100, names: []string{"Prepaid Rent", "Prepaid Insurance", "Prepaid Software Licences", "Prepaid Travel", "Inventory - Raw Materials", "Inventory - Finished Goods", "Inventory - Work in Progress", "Input VAT 19%", "Input VAT 7%", "Input VAT 20%", "Input GST", "Accrued Income", "Deposits Paid", "Travel Advances", "Short-term Investments", "Goods Received Not Invoiced"}},
	{apiType: "FIXED_ASSETS", first: 150000, step: 100, names: []string{"Land", "Buildings", "Leasehold Improvements", "Machinery & Equipment", "Office Furniture", "Computer Hardware", "Vehicles", "Assets Under Construction", "Capitalised Software", "Tools & Dies"}},
	{apiType: "DEPRECIATION", first: 160000, step: 100, names: []string{"Accumulated Depreciation - Buildings", "Accumulated Depreciation - Leasehold Improvements", "Accumulated Depreciation - Machinery", "Accumulated Depreciation - Furniture", "Accumulated Depreciation - Computer Hardware", "Accumulated Depreciation - Vehicles", "Accumulated Amortisation - Software", "Accumulated Depreciation - Tools"}},
	{apiType: "OTHER_ASSETS", first: 170000, step: 100, names: []string{"Goodwill", "Trademarks", "Patents", "Long-term Deposits", "Investments in Subsidiaries", "Deferred Tax Assets", "Right-of-use Assets"}},
	{apiType: "FUTURE_ASSETS", first: 180000, step: 100, names: []string{"Deferred Charges", "Prepaid Expenses - Long-term", "Contract Assets - Long-term"}},
	{apiType: "ACCOUNTS_PAYABLE", first: 200000, step: 100, names: []string{"Trade Payables - Domestic", "Trade Payables - Foreign", "Intercompany Payables", "Employee Expense Payable", "Invoices Pending Approval", "Payables Clearing", "Withholding Tax Payable", "Freight Payable"}},
	{apiType: "CREDIT_CARD", first: 210000, step: 100, names: []string{"Corporate Card Clearing"}, qualifiers: []string{"American Express", "Visa", "Mastercard", "Diners Club", "JCB"}},
	{apiType: "OTHER_CURRENT_LIABILITIES", first: 220000, step: 100, names: []string{"Accrued Expenses", "Accrued Salaries", "Accrued Bonuses", "Accrued Vacation", "Payroll Taxes Payable", "Social Security Payable", "Output VAT 19%", "Output VAT 7%", "Output VAT 20%", "Output GST", "Sales Tax Payable", "Income Tax Payable", "Deferred Revenue", "Customer Deposits", "Dividends Payable", "Unearned Income", "Expense Report Clearing", "Cash Advance Clearing"}},
	{apiType: "LOAN", first: 250000, step: 100, names: []string{"Bank Loan - Term", "Revolving Credit Facility", "Shareholder Loan", "Equipment Loan", "Intercompany Loan"}},
	{apiType: "LONG_TERM_LIABILITIES", first: 260000, step: 100, names: []string{"Bonds Payable", "Long-term Lease Liabilities", "Pension Provisions", "Deferred Tax Liabilities", "Asset Retirement Obligations", "Long-term Provisions"}},
	{apiType: "EQUITY", first: 300000, step: 100, names: []string{"Share Capital", "Additional Paid-in Capital", "Retained Earnings", "Current Year Earnings", "Treasury Shares", "Currency Translation Reserve", "Legal Reserve", "Dividends Declared"}},
	{apiType: "INCOME", first: 400000, step: 100, names: []string{"Product Sales", "Service Revenue", "Subscription Revenue", "Consulting Revenue", "Licence Revenue", "Maintenance Revenue", "Training Revenue"}, qualifiers: []string{"Domestic", "EMEA", "Americas", "APAC"}},
	{apiType: "COST_OF_GOODS_SOLD", first: 500000, step: 100, names: []string{"Materials", "Direct Labour", "Manufacturing Overhead", "Freight In", "Purchase Price Variance", "Inventory Adjustments", "Subcontracting", "Hosting Costs", "Third-party Licences", "Warranty Costs"}, qualifiers: []string{"Products", "Services"}},
	{apiType: "EXPENSE", first: 600000, step: 10, names: []string{
		"Travel - Airfare", "Travel - Rail", "Travel - Hotel", "Travel - Car Rental", "Travel - Taxi & Rideshare",
		"Travel - Mileage", "Travel - Parking & Tolls", "Travel - Per Diem", "Meals - Travel", "Meals - Business Entertainment",
		"Meals - Staff", "Conferences & Seminars", "Training & Education", "Professional Memberships", "Subscriptions & Publications",
		"Office Supplies", "Postage & Courier", "Telephone & Mobile", "Internet & Data", "Software Subscriptions",
		"IT Hardware < Capitalisation Limit", "Repairs & Maintenance", "Rent - Office", "Utilities", "Cleaning",
		"Insurance", "Legal Fees", "Audit Fees", "Consulting Fees", "Recruiting",
		"Advertising", "Trade Shows", "Marketing Materials", "Gifts to Customers", "Bank Charges",
		"Foreign Exchange Differences", "Employee Welfare", "Relocation", "Visa & Immigration", "Home Office Allowance",
		"Books & Reference", "Shipping Supplies", "Fuel", "Vehicle Maintenance", "Miscellaneous",
		"Printing & Copying", "Temporary Staff", "Licences & Permits", "Internal Events",
	}, qualifiers: departments},
	{apiType: "OTHER_INCOME", first: 800000, step: 100, names: []string{"Interest Income", "Dividend Income", "Gain on Asset Disposal", "Foreign Exchange Gains", "Rental Income", "Grants & Subsidies", "Insurance Recoveries"}},
	{apiType: "OTHER_EXPENSE", first: 850000, step: 100, names: []string{"Interest Expense", "Loss on Asset Disposal", "Foreign Exchange Losses", "Impairment Losses", "Penalties & Fines", "Donations", "Income Tax Expense", "Restructuring Costs"}},
}

// genAccounts returns the chart of accounts: the GL account number is both
// the id and the number. It is fixed by design (a chart of accounts is not
// random), so the seed does not change it.
func genAccounts() []account {
	var out []account
	for _, b := range accountBlocks {
		n := b.first
		add := func(name string) {
			num := strconv.Itoa(n)
			out = append(out, account{ID: num, Name: name, Number: num, Type: b.apiType})
			n += b.step
		}
		for _, name := range b.names {
			if len(b.qualifiers) == 0 {
				add(name)
				continue
			}
			for _, q := range b.qualifiers {
				add(fmt.Sprintf("%s - %s", name, q))
			}
		}
	}
	return out
}

// invalidAccounts are deliberately bad account records, for DLQ demos.
func invalidAccounts() []invalid[account] {
	return []invalid[account]{
		{"missing required field: name", true, "name is required", account{ID: "990100", Number: "990100", Type: "EXPENSE"}},
		{"missing required field: type", true, "type is required", account{ID: "990200", Name: "Suspense Account", Number: "990200"}},
		{"bad enum: type ASSET is not an AccountType", true, "type must be one of", account{ID: "990300", Name: "Other Assets (legacy)", Number: "990300", Type: "ASSET"}},
		{"missing required field: id", true, "id is required", account{Name: "Rounding Differences", Type: "OTHER_EXPENSE"}},
	}
}
