package main

// rate is one row of an ERP tax configuration: a reclaim code of a country
// (or of one of its states) with the tax code and rate valid in a period.
type rate struct {
	state, stateDesc     string
	reclaimCode, reclaim string
	taxCode, desc        string
	pct                  float64
	from, to             string
}

type taxCountry struct {
	code, name string
	rates      []rate
}

// taxCountries is the ERP tax configuration: real standard and reduced
// rates, including expired periods (Germany's 2020 temporary cut, the
// older UK and Japanese rates) so that validTo is exercised.
var taxCountries = []taxCountry{
	{"DE", "Germany", []rate{
		{"", "", "VAT19", "Standard VAT", "V1", "Standard rate 19%", 19, "2021-01-01", ""},
		{"", "", "VAT19", "Standard VAT", "V1T", "Temporary standard rate 16%", 16, "2020-07-01", "2020-12-31"},
		{"", "", "VAT7", "Reduced VAT", "V2", "Reduced rate 7%", 7, "2021-01-01", ""},
		{"", "", "VAT7", "Reduced VAT", "V2T", "Temporary reduced rate 5%", 5, "2020-07-01", "2020-12-31"},
		{"", "", "VAT0", "Exempt", "V0", "Exempt 0%", 0, "2007-01-01", ""},
	}},
	{"FR", "France", []rate{
		{"", "", "TVA20", "TVA normale", "F20", "Taux normal 20%", 20, "2014-01-01", ""},
		{"", "", "TVA10", "TVA intermédiaire", "F10", "Taux intermédiaire 10%", 10, "2014-01-01", ""},
		{"", "", "TVA5.5", "TVA réduite", "F5", "Taux réduit 5.5%", 5.5, "2014-01-01", ""},
		{"", "", "TVA2.1", "TVA particulière", "F2", "Taux particulier 2.1%", 2.1, "2014-01-01", ""},
	}},
	{"GB", "United Kingdom", []rate{
		{"", "", "VAT20", "Standard VAT", "S", "Standard rate 20%", 20, "2011-01-04", ""},
		{"", "", "VAT20", "Standard VAT", "S175", "Standard rate 17.5%", 17.5, "2010-01-01", "2011-01-03"},
		{"", "", "VAT5", "Reduced VAT", "R", "Reduced rate 5%", 5, "2011-01-04", ""},
		{"", "", "VAT0", "Zero rated", "Z", "Zero rate", 0, "2011-01-04", ""},
	}},
	{"NL", "Netherlands", []rate{
		{"", "", "BTW21", "BTW hoog", "NL21", "Algemeen tarief 21%", 21, "2012-10-01", ""},
		{"", "", "BTW9", "BTW laag", "NL9", "Verlaagd tarief 9%", 9, "2019-01-01", ""},
		{"", "", "BTW9", "BTW laag", "NL6", "Verlaagd tarief 6%", 6, "2001-01-01", "2018-12-31"},
	}},
	{"CH", "Switzerland", []rate{
		{"", "", "MWST8.1", "Normalsatz", "CH81", "Normalsatz 8.1%", 8.1, "2024-01-01", ""},
		{"", "", "MWST8.1", "Normalsatz", "CH77", "Normalsatz 7.7%", 7.7, "2018-01-01", "2023-12-31"},
		{"", "", "MWST3.8", "Beherbergung", "CH38", "Sondersatz Beherbergung 3.8%", 3.8, "2024-01-01", ""},
		{"", "", "MWST2.6", "Reduzierter Satz", "CH26", "Reduzierter Satz 2.6%", 2.6, "2024-01-01", ""},
	}},
	{"US", "United States", []rate{
		{"US-CA", "California", "CA7.25", "State Sales Tax", "CA7", "CA state sales tax", 7.25, "2017-01-01", ""},
		{"US-NY", "New York", "NY4", "State Sales Tax", "NY4", "NY state sales tax", 4, "2005-06-01", ""},
		{"US-NY", "New York", "NYC8.875", "NYC Sales Tax", "NY8", "New York City combined sales tax", 8.875, "2009-08-01", ""},
		{"US-TX", "Texas", "TX6.25", "State Sales Tax", "TX6", "TX state sales tax", 6.25, "1990-07-01", ""},
		{"US-WA", "Washington", "WA6.5", "State Sales Tax", "WA6", "WA state sales tax", 6.5, "1983-07-01", ""},
		{"US-IL", "Illinois", "IL6.25", "State Sales Tax", "IL6", "IL state sales tax", 6.25, "1990-01-01", ""},
		{"US-PA", "Pennsylvania", "PA6", "State Sales Tax", "PA6", "PA state sales tax", 6, "1968-01-01", ""},
	}},
	{"CA", "Canada", []rate{
		{"CA-ON", "Ontario", "HST13", "Harmonized Sales Tax", "ON13", "HST Ontario 13%", 13, "2010-07-01", ""},
		{"CA-QC", "Quebec", "GST5", "Goods and Services Tax", "QCG5", "GST 5%", 5, "2008-01-01", ""},
		{"CA-QC", "Quebec", "QST9.975", "Quebec Sales Tax", "QCQ", "QST 9.975%", 9.975, "2013-01-01", ""},
		{"CA-BC", "British Columbia", "GST5", "Goods and Services Tax", "BCG5", "GST 5%", 5, "2008-01-01", ""},
		{"CA-BC", "British Columbia", "PST7", "Provincial Sales Tax", "BCP7", "PST 7%", 7, "2013-04-01", ""},
		{"CA-AB", "Alberta", "GST5", "Goods and Services Tax", "ABG5", "GST 5%", 5, "2008-01-01", ""},
	}},
	{"JP", "Japan", []rate{
		{"", "", "CT10", "Consumption tax", "J10", "Standard consumption tax 10%", 10, "2019-10-01", ""},
		{"", "", "CT10", "Consumption tax", "J8S", "Former standard rate 8%", 8, "2014-04-01", "2019-09-30"},
		{"", "", "CT8", "Reduced consumption tax", "J8R", "Reduced rate 8% (food, newspapers)", 8, "2019-10-01", ""},
	}},
	{"IN", "India", []rate{
		{"", "", "GST5", "GST 5%", "G05", "GST slab 5%", 5, "2017-07-01", ""},
		{"", "", "GST12", "GST 12%", "G12", "GST slab 12%", 12, "2017-07-01", ""},
		{"", "", "GST18", "GST 18%", "G18", "GST slab 18%", 18, "2017-07-01", ""},
		{"", "", "GST28", "GST 28%", "G28", "GST slab 28%", 28, "2017-07-01", ""},
	}},
	{"AU", "Australia", []rate{
		{"", "", "GST10", "Goods and Services Tax", "GST", "GST 10%", 10, "2000-07-01", ""},
		{"", "", "GSTFREE", "GST free", "FRE", "GST free", 0, "2000-07-01", ""},
	}},
}

// genTaxData builds one Tax Data record per country from the ERP rows,
// grouping by state and reclaim code in first-seen order.
func genTaxData() []taxData {
	var out []taxData
	for _, c := range taxCountries {
		out = append(out, buildTaxData(c))
	}
	return out
}

func buildTaxData(c taxCountry) taxData {
	t := taxData{CountryCode: c.code, CountryName: c.name}
	stateIdx := map[string]int{}
	for _, r := range c.rates {
		si, ok := stateIdx[r.state]
		if !ok {
			se := stateEntry{}
			if r.state != "" {
				se.StateCode, se.StateDesc = ptr(r.state), ptr(r.stateDesc)
			}
			t.StateEntries = append(t.StateEntries, se)
			si = len(t.StateEntries) - 1
			stateIdx[r.state] = si
		}
		se := &t.StateEntries[si]
		ri := -1
		for i := range se.ReclaimEntries {
			if se.ReclaimEntries[i].ReclaimCode == r.reclaimCode {
				ri = i
			}
		}
		if ri < 0 {
			se.ReclaimEntries = append(se.ReclaimEntries, reclaimEntry{ReclaimCode: r.reclaimCode, ReclaimDesc: r.reclaim})
			ri = len(se.ReclaimEntries) - 1
		}
		d := reclaimDetail{TaxCode: r.taxCode, TaxRateDesc: r.desc, Percentage: r.pct, ValidFrom: r.from}
		if r.to != "" {
			d.ValidTo = ptr(r.to)
		}
		se.ReclaimEntries[ri].ReclaimDetails = append(se.ReclaimEntries[ri].ReclaimDetails, d)
	}
	return t
}

func ptr(s string) *string { return &s }

// invalidTaxData are deliberately bad tax data records (one country each),
// for DLQ demos.
func invalidTaxData() []invalid[taxData] {
	one := func(code, name string, r rate) taxData { return buildTaxData(taxCountry{code, name, []rate{r}}) }
	return []invalid[taxData]{
		{"bad country code: DEU is ISO 3166-1 alpha-3, not alpha-2", true, "countryCode does not match pattern",
			one("DEU", "Germany", rate{"", "", "VAT19", "Standard VAT", "V1", "Standard rate 19%", 19, "2021-01-01", ""})},
		{"missing required field: taxCode", true, "taxCode is required",
			one("AT", "Austria", rate{"", "", "USt20", "Normalsteuersatz", "", "Normalsteuersatz 20%", 20, "2016-01-01", ""})},
		{"bad date: validFrom 2024-02-30 does not exist", true, "validFrom does not match format",
			one("BE", "Belgium", rate{"", "", "BTW21", "Standard VAT", "B21", "Standard rate 21%", 21, "2024-02-30", ""})},
		{"bad percentage: 119 is over 100", true, "percentage must be less than or equal to 100",
			one("IE", "Ireland", rate{"", "", "VAT23", "Standard VAT", "IE23", "Standard rate 23%", 119, "2021-03-01", ""})},
	}
}
