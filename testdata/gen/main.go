// Command gen writes the ERP export fixtures of testdata/erp: a fixed-seed,
// realistic chart of accounts (~500 accounts), ~2,000 vendors (ACCOUNTING
// suppliers in ten countries and EMPLOYEE vendors), the ERP's list names and
// the tax configuration of ten countries, each as NDJSON in the Accounting
// Integration API's own record shape, as CSV with ERP-style column names,
// and (accounts, vendors) as snappy-compressed Parquet with the CSV's
// columns. Each type also gets a *_invalid file of deliberately bad records
// for dead-letter demos, and tax_data_body.json holds all the tax data as
// one ready-to-send POST/PUT body. testdata/README.md describes every file.
//
// Usage, from the repository root:
//
//	go run ./testdata/gen [-seed N] [-out testdata/erp]
//
// The same seed always produces the same bytes.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// defaultSeed is the seed of the committed files.
const defaultSeed = 20261122

func main() {
	seed := flag.Uint64("seed", defaultSeed, "seed of the pseudo-random generator")
	out := flag.String("out", filepath.Join("testdata", "erp"), "directory to write the files to")
	flag.Parse()
	if err := generate(*seed, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// files returns every generated file, by name, for a seed.
func files(seed uint64) (map[string][]byte, error) {
	r := newRNG(seed)
	accounts := genAccounts()
	vendors := genVendors(r)
	lists := genLists()
	tax := genTaxData()
	badAccounts := recordsOf(invalidAccounts())
	badVendors := recordsOf(invalidVendors(vendors[0].ID))
	badLists := recordsOf(invalidLists())
	badTax := recordsOf(invalidTaxData())

	taxRowsOf := func(ts []taxData) [][]string {
		var rows [][]string
		for _, t := range ts {
			rows = append(rows, taxRows(t)...)
		}
		return rows
	}

	type output struct {
		name string
		make func() ([]byte, error)
	}
	outputs := []output{
		{"accounts.ndjson", func() ([]byte, error) { return ndjson(accounts) }},
		{"accounts.csv", func() ([]byte, error) { return csvTable(accountColumns, rowsOf(accounts, accountRow)) }},
		{"accounts.parquet", func() ([]byte, error) { return parquetTable(accountColumns, rowsOf(accounts, accountRow)) }},
		{"accounts_invalid.ndjson", func() ([]byte, error) { return ndjson(badAccounts) }},
		{"accounts_invalid.csv", func() ([]byte, error) { return csvTable(accountColumns, rowsOf(badAccounts, accountRow)) }},
		{"accounts_invalid.parquet", func() ([]byte, error) { return parquetTable(accountColumns, rowsOf(badAccounts, accountRow)) }},
		{"vendors.ndjson", func() ([]byte, error) { return ndjson(vendors) }},
		{"vendors.csv", func() ([]byte, error) { return csvTable(vendorColumns, rowsOf(vendors, vendorRow)) }},
		{"vendors.parquet", func() ([]byte, error) { return parquetTable(vendorColumns, rowsOf(vendors, vendorRow)) }},
		{"vendors_invalid.ndjson", func() ([]byte, error) { return ndjson(badVendors) }},
		{"vendors_invalid.csv", func() ([]byte, error) { return csvTable(vendorColumns, rowsOf(badVendors, vendorRow)) }},
		{"vendors_invalid.parquet", func() ([]byte, error) { return parquetTable(vendorColumns, rowsOf(badVendors, vendorRow)) }},
		{"lists.ndjson", func() ([]byte, error) { return ndjson(lists) }},
		{"lists.csv", func() ([]byte, error) { return csvTable(listColumns, rowsOf(lists, listRow)) }},
		{"lists_invalid.ndjson", func() ([]byte, error) { return ndjson(badLists) }},
		{"lists_invalid.csv", func() ([]byte, error) { return csvTable(listColumns, rowsOf(badLists, listRow)) }},
		{"tax_data.ndjson", func() ([]byte, error) { return ndjson(tax) }},
		{"tax_data.csv", func() ([]byte, error) { return csvTable(taxColumns, taxRowsOf(tax)) }},
		{"tax_data_body.json", func() ([]byte, error) { return ndjson([]taxBody{{Data: tax}}) }},
		{"tax_data_invalid.ndjson", func() ([]byte, error) { return ndjson(badTax) }},
		{"tax_data_invalid.csv", func() ([]byte, error) { return csvTable(taxColumns, taxRowsOf(badTax)) }},
	}
	m := make(map[string][]byte, len(outputs))
	for _, o := range outputs {
		b, err := o.make()
		if err != nil {
			return nil, fmt.Errorf("generating %s: %w", o.name, err)
		}
		m[o.name] = b
	}
	return m, nil
}

// generate writes every file for seed into dir, creating dir if needed.
func generate(seed uint64, dir string) error {
	m, err := files(seed)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for name, b := range m {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}
