package concur_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/concurflow/concurflow/sandbox"
)

// fixtureLines reads the non-empty lines of testdata/erp/name.
func fixtureLines(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open("../../testdata/erp/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			lines = append(lines, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// recordKey is a record's id, or countryCode for tax data, as the fallback
// file of acctStream records it.
func recordKey(t *testing.T, raw string) string {
	t.Helper()
	var k struct{ ID, CountryCode string }
	if err := json.Unmarshal([]byte(raw), &k); err != nil {
		t.Fatal(err)
	}
	return k.ID + k.CountryCode
}

// validateCase is one object with the fixtures' bad records, each mapped
// (by key) to a fragment its error must hold.
type validateCase struct {
	object  string
	sbObj   sandbox.Object
	valid   string
	invalid string
	skip    map[int]bool // invalid-file lines (0-based) left out
	want    map[string]string
}

var validateCases = []validateCase{
	{
		object: "accounts", sbObj: sandbox.ObjectAccount,
		valid: "accounts.ndjson", invalid: "accounts_invalid.ndjson",
		want: map[string]string{
			"990100": `(id "990100") rejected by schema account.json: name is required`,
			"990200": `(id "990200") rejected by schema account.json: type is required`,
			"990300": `(id "990300") rejected by schema account.json: type: must be one of the following: "ACCOUNTS_PAYABLE"`,
			"":       `"id" must be a non-empty string`, // no id: the packer's error
		},
	},
	{
		object: "vendors", sbObj: sandbox.ObjectVendor,
		valid: "vendors.ndjson", invalid: "vendors_invalid.ndjson",
		skip: map[int]bool{8: true}, // V1000002 changing type: schema-valid, only Concur knows
		want: map[string]string{
			"V9900001": `(id "V9900001") rejected by schema vendor.json: companyName is required`,
			"E990002":  `(id "E990002") rejected by schema vendor.json: email is required`,
			"E990003":  `(id "E990003") rejected by schema vendor.json: employeeId is required`,
			"V9900004": `(id "V9900004") rejected by schema vendor.json: currencyCode: does not match pattern '^[A-Z]{3}$'`,
			"E990005":  `(id "E990005") rejected by schema vendor.json: currencyCode: does not match pattern '^[A-Z]{3}$'`,
			"V9900006": `(id "V9900006") rejected by schema vendor.json: currencyCode is required`,
			"V9900007": `(id "V9900007") rejected by schema vendor.json: type: must be one of the following: "ACCOUNTING", "EMPLOYEE"`,
			"E990008":  `(id "E990008") rejected by schema vendor.json: email: does not match pattern`,
		},
	},
	{
		object: "lists", sbObj: sandbox.ObjectList,
		valid: "lists.ndjson", invalid: "lists_invalid.ndjson",
		want: map[string]string{
			"SEGMENT": `(id "SEGMENT") rejected by schema list_name.json: name is required`,
			"":        `"id" must be a non-empty string`,
		},
	},
	{
		object: "tax_data", sbObj: sandbox.ObjectTaxData,
		valid: "tax_data.ndjson", invalid: "tax_data_invalid.ndjson",
		want: map[string]string{
			"DEU": `(countryCode "DEU") rejected by schema tax_data.json: countryCode: does not match pattern '^[A-Z]{2}$'`,
			"AT":  `(countryCode "AT") rejected by schema tax_data.json: stateEntries.0.reclaimEntries.0.reclaimDetails.0: taxCode is required`,
			"BE":  `(countryCode "BE") rejected by schema tax_data.json: stateEntries.0.reclaimEntries.0.reclaimDetails.0.validFrom: does not match format 'date'`,
			"IE":  `(countryCode "IE") rejected by schema tax_data.json: stateEntries.0.reclaimEntries.0.reclaimDetails.0.percentage: must be less than or equal to 100`,
		},
	},
}

// bad returns the case's invalid records that are not skipped.
func (c validateCase) bad(t *testing.T) []string {
	var out []string
	for i, l := range fixtureLines(t, c.invalid) {
		if !c.skip[i] {
			out = append(out, l)
		}
	}
	return out
}

// TestAccountingValidateMixedBatch: in a batch of good and bad records of
// each object, exactly the bad ones fail, each with its fields named, and
// Concur receives exactly the good ones.
func TestAccountingValidateMixedBatch(t *testing.T) {
	for _, c := range validateCases {
		t.Run(c.object, func(t *testing.T) {
			e := newAcctEnv(t, 1, sandbox.WithRateLimit(false))
			s := e.start("", true)
			good := fixtureLines(t, c.valid)[:3]
			var batch service.MessageBatch
			var goodKeys []string
			for i, bad := range c.bad(t) {
				if i < len(good) {
					batch = append(batch, e.msg(0, c.object, good[i]))
					goodKeys = append(goodKeys, recordKey(t, good[i]))
				}
				batch = append(batch, e.msg(0, c.object, bad))
			}
			sendOK(t, s, batch)
			e.waitIdle()
			s.stop(t)

			f := s.failures(t)
			if len(f) != len(c.want) {
				t.Errorf("%d failures, want %d: %v", len(f), len(c.want), f)
			}
			for key, frag := range c.want {
				if !strings.Contains(f[key], frag) {
					t.Errorf("failure of %q:\n %s\nwant it to hold\n %s", key, f[key], frag)
				}
			}
			// The index in the error is the message's place in the batch.
			if key := recordKey(t, c.bad(t)[0]); !strings.Contains(f[key], "record 1 (") {
				t.Errorf("failure of %q does not name batch index 1: %s", key, f[key])
			}
			sort.Strings(goodKeys)
			e.expectIDs(0, c.sbObj, fmt.Sprint(goodKeys))
			e.assertOnce(0, len(goodKeys))
		})
	}
}

// TestAccountingValidateOnlyInvalidSendsNothing: a batch whose every record
// fails validation makes no request at all, not even for a token.
func TestAccountingValidateOnlyInvalidSendsNothing(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false))
	s := e.start("", true)
	var batch service.MessageBatch
	n := 0
	for _, c := range validateCases {
		for _, bad := range c.bad(t) {
			if recordKey(t, bad) == "" {
				continue // keyless: two objects' would share the fallback key ""
			}
			batch = append(batch, e.msg(0, c.object, bad))
			n++
		}
	}
	sendOK(t, s, batch)
	s.stop(t)
	if f := s.failures(t); len(f) != n {
		t.Errorf("%d failures, want %d: %v", len(f), n, f)
	}
	if log := e.sb.RequestLog(); len(log) != 0 {
		t.Fatalf("the sandbox received %d requests, want none; first %s %s", len(log), log[0].Method, log[0].Path)
	}
}

// TestAccountingValidateOff: with validate: false the same bad vendors are
// sent, Concur accepts the request and then rejects them.
func TestAccountingValidateOff(t *testing.T) {
	e := newAcctEnv(t, 1, sandbox.WithRateLimit(false), sandbox.WithProcessingDelay(20*time.Millisecond))
	s := e.start("validate: false\nawait: final\nawait_poll_interval: 10ms", true)
	c := validateCases[1]               // vendors
	good := fixtureLines(t, c.valid)[1] // not V1000002, which bad line 9 retypes
	batch := service.MessageBatch{e.msg(0, c.object, good)}
	for _, bad := range c.bad(t) {
		batch = append(batch, e.msg(0, c.object, bad))
	}
	sendOK(t, s, batch)
	s.stop(t)
	f := s.failures(t)
	if len(f) != len(c.want) {
		t.Errorf("%d failures, want %d: %v", len(f), len(c.want), f)
	}
	for key := range c.want {
		if msg := f[key]; !strings.Contains(msg, "concur rejected vendors record") || strings.Contains(msg, "rejected by schema") {
			t.Errorf("failure of %q is not Concur's: %s", key, msg)
		}
	}
	reqs, err := e.sb.Requests(e.cos[0].ID, e.erps[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].Records != len(batch) {
		t.Fatalf("requests %+v, want one carrying all %d records", reqs, len(batch))
	}
	e.expectIDs(0, c.sbObj, fmt.Sprint([]string{recordKey(t, good)}))
}
