package concur

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	concurapi "github.com/concurflow/concurflow/concur"
)

func checkRecord(t *testing.T, v *acctValidator, obj concurapi.Object, index int, raw string, del bool) error {
	t.Helper()
	in := concurapi.PackInput{Raw: []byte(raw), Delete: del}
	return v.check(obj, index, in, concurapi.PackerFor(string(obj)))
}

func TestAcctValidatorMessages(t *testing.T) {
	v := newAcctValidator(service.MockResources().Metrics())
	for _, c := range []struct {
		name string
		obj  concurapi.Object
		raw  string
		want string // the whole error; "" means valid
	}{
		{"valid account", concurapi.ObjectAccounts, `{"id":"A1","name":"Cash","type":"EXPENSE"}`, ""},
		{"account without name", concurapi.ObjectAccounts, `{"id":"990100","type":"EXPENSE"}`,
			`record 3 (id "990100") rejected by schema account.json: name is required`},
		{"account bad enum keeps case", concurapi.ObjectAccounts, `{"id":"990300","name":"x","type":"ASSET"}`,
			`record 3 (id "990300") rejected by schema account.json: type: must be one of the following: `},
		{"vendor bad currency keeps the pattern's case", concurapi.ObjectVendors,
			`{"id":"V9900004","type":"ACCOUNTING","currencyCode":"EURO","name":"K","companyName":"K GmbH"}`,
			`record 3 (id "V9900004") rejected by schema vendor.json: currencyCode: does not match pattern '^[A-Z]{3}$'`},
		{"vendor two faults, sorted, no if/then summaries", concurapi.ObjectVendors,
			`{"id":"V1","type":"ACCOUNTING","currencyCode":"usd","name":"K"}`,
			`record 3 (id "V1") rejected by schema vendor.json: companyName is required; currencyCode: does not match pattern '^[A-Z]{3}$'`},
		{"vendor nested object", concurapi.ObjectVendors,
			`{"id":"V2","type":"ACCOUNTING","currencyCode":"USD","name":"K","companyName":"K","address":{"city":5}}`,
			`record 3 (id "V2") rejected by schema vendor.json: address.city: invalid type. Expected: [string,null], given: integer`},
		{"list without name", concurapi.ObjectLists, `{"id":"SEGMENT"}`,
			`record 3 (id "SEGMENT") rejected by schema list_name.json: name is required`},
		{"valid tax entry", concurapi.ObjectTaxData,
			`{"countryCode":"FR","stateEntries":[{"reclaimEntries":[{"reclaimCode":"R","reclaimDetails":[{"taxCode":"T","percentage":10,"validFrom":"2024-01-01"}]}]}]}`, ""},
		{"tax entry paths are the entry's, not the wrapper's", concurapi.ObjectTaxData,
			`{"countryCode":"AT","stateEntries":[{"reclaimEntries":[{"reclaimCode":"R","reclaimDetails":[{"percentage":20,"validFrom":"2016-01-01"}]}]}]}`,
			`record 3 (countryCode "AT") rejected by schema tax_data.json: stateEntries.0.reclaimEntries.0.reclaimDetails.0: taxCode is required`},
		{"tax entry bad country code", concurapi.ObjectTaxData,
			`{"countryCode":"DEU","stateEntries":[{"reclaimEntries":[{"reclaimCode":"R","reclaimDetails":[{"taxCode":"T","validFrom":"2016-01-01"}]}]}]}`,
			`record 3 (countryCode "DEU") rejected by schema tax_data.json: countryCode: does not match pattern '^[A-Z]{2}$'`},
		{"tax entry without state entries", concurapi.ObjectTaxData, `{"countryCode":"IE"}`,
			`record 3 (countryCode "IE") rejected by schema tax_data.json: stateEntries is required`},
		// Left to the packer, which has its own error for these.
		{"not JSON", concurapi.ObjectAccounts, `not json`, ""},
		{"no id", concurapi.ObjectAccounts, `{"name":"x","type":"EXPENSE"}`, ""},
		{"delete needs only id", concurapi.ObjectVendors, `{"id":"V1","isDeleted":true}`, ""},
		{"tax delete left to the packer", concurapi.ObjectTaxData, `{"countryCode":"ES","isDeleted":true}`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkRecord(t, v, c.obj, 3, c.raw, false)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case c.want == "":
			case err == nil:
				t.Fatalf("accepted, want %q", c.want)
			case strings.HasSuffix(c.want, " ") && !strings.HasPrefix(err.Error(), c.want):
				t.Fatalf("error\n %s\nwant it to start with\n %s", err, c.want)
			case !strings.HasSuffix(c.want, " ") && err.Error() != c.want:
				t.Fatalf("error\n %s\nwant\n %s", err, c.want)
			}
		})
	}
}

func TestAcctValidatorDeleteByMetadataNotChecked(t *testing.T) {
	v := newAcctValidator(service.MockResources().Metrics())
	if err := checkRecord(t, v, concurapi.ObjectVendors, 0, `{"id":"V1","type":"NONSENSE"}`, true); err != nil {
		t.Fatalf("a delete was validated: %v", err)
	}
	if err := checkRecord(t, v, concurapi.ObjectVendors, 0, `{"id":"V1","type":"NONSENSE"}`, false); err == nil {
		t.Fatal("the same record as an upsert passed")
	}
}

func TestAcctValidatorNilAcceptsAll(t *testing.T) {
	var v *acctValidator
	if err := checkRecord(t, v, concurapi.ObjectVendors, 0, `{"id":"V1"}`, false); err != nil {
		t.Fatal(err)
	}
}

// TestAcctValidatorInvalidFixtures: every deliberately bad record of
// testdata/erp is rejected, except the ones the fixture README says only the
// API (vendor type change) or the packer (no key) catches.
func TestAcctValidatorInvalidFixtures(t *testing.T) {
	v := newAcctValidator(service.MockResources().Metrics())
	for _, c := range []struct {
		file string
		obj  concurapi.Object
		pass map[int]bool // 0-based lines the validator leaves alone
	}{
		{"accounts_invalid.ndjson", concurapi.ObjectAccounts, map[int]bool{3: true}},
		{"vendors_invalid.ndjson", concurapi.ObjectVendors, map[int]bool{8: true}},
		{"lists_invalid.ndjson", concurapi.ObjectLists, map[int]bool{1: true}},
		{"tax_data_invalid.ndjson", concurapi.ObjectTaxData, nil},
	} {
		b, err := os.ReadFile("../../testdata/erp/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			err := checkRecord(t, v, c.obj, i, line, false)
			if c.pass[i] != (err == nil) {
				t.Errorf("%s line %d: error %v, want rejected=%v", c.file, i+1, err, !c.pass[i])
			}
		}
	}
}

// TestAcctValidatorConcurrent compiles and uses a schema from many
// goroutines at once (run with -race).
func TestAcctValidatorConcurrent(t *testing.T) {
	v := newAcctValidator(service.MockResources().Metrics())
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				err := checkRecord(t, v, concurapi.ObjectVendors, i, `{"id":"V1","type":"ACCOUNTING","currencyCode":"EURO","name":"K","companyName":"K"}`, false)
				if err == nil {
					t.Error("bad currency accepted")
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkAcctValidatorCheck is the validator alone, per valid record.
func BenchmarkAcctValidatorCheck(b *testing.B) {
	v := newAcctValidator(service.MockResources().Metrics())
	for _, c := range []struct {
		obj concurapi.Object
		raw string
	}{
		{concurapi.ObjectAccounts, `{"id":"ACC-000000001","name":"Operating expenses account number 000000001","number":"6000000001","type":"EXPENSE","description":"bench"}`},
		{concurapi.ObjectVendors, `{"id":"VEN-000000001","type":"ACCOUNTING","currencyCode":"EUR","name":"Vendor 000000001","companyName":"Vendor 000000001 GmbH","phone":"+49 30 555 0100","address":{"addr1":"Hauptstrasse 12","city":"Berlin","postalCode":"10115","country":"DE"}}`},
		{concurapi.ObjectTaxData, `{"countryCode":"FR","countryName":"France","stateEntries":[{"stateCode":null,"reclaimEntries":[{"reclaimCode":"R20","reclaimDetails":[{"taxCode":"T20","percentage":20,"validFrom":"2024-01-01","validTo":null}]}]}]}`},
	} {
		b.Run(string(c.obj), func(b *testing.B) {
			in := concurapi.PackInput{Raw: []byte(c.raw)}
			packer := concurapi.PackerFor(string(c.obj))
			b.SetBytes(int64(len(c.raw)))
			b.ReportAllocs()
			for b.Loop() {
				if err := v.check(c.obj, 0, in, packer); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAcctValidatorCheckGroup: a group large enough to be validated by
// several goroutines gets every error at its own record, naming its batch
// position.
func TestAcctValidatorCheckGroup(t *testing.T) {
	v := newAcctValidator(service.MockResources().Metrics())
	const n = 10*acctValidateChunk + 7
	inputs := make([]concurapi.PackInput, n)
	indexes := make([]int, n)
	for j := range inputs {
		indexes[j] = 2 * j // batch positions need not be the group's
		typ := "EXPENSE"
		if j%97 == 0 {
			typ = "ASSET"
		}
		inputs[j].Raw = fmt.Appendf(nil, `{"id":"A%d","name":"n","type":"%s"}`, j, typ)
	}
	errs := v.checkGroup(concurapi.ObjectAccounts, indexes, inputs, concurapi.PackerFor("accounts"))
	if len(errs) != n {
		t.Fatalf("%d results for %d records", len(errs), n)
	}
	for j, err := range errs {
		if j%97 != 0 {
			if err != nil {
				t.Fatalf("record %d: %v", j, err)
			}
			continue
		}
		want := fmt.Sprintf(`record %d (id "A%d") rejected by schema account.json: type: must be one of`, 2*j, j)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("record %d: %v, want %s…", j, err, want)
		}
	}
	if errs := (*acctValidator)(nil).checkGroup(concurapi.ObjectAccounts, indexes, inputs, concurapi.PackerFor("accounts")); errs != nil {
		t.Fatalf("nil validator returned %d results", len(errs))
	}
}
