package concur_test

import (
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// TestAccountingObjectLint: a fixed object that is none of the four fails
// lint with a message naming the allowed values; interpolated values are
// left to the per-message check.
func TestAccountingObjectLint(t *testing.T) {
	output := func(object string) string {
		return `
concur_accounting:
  company_id: 09ac834c-46d6-49ff-9653-551d69072d56
  erp_id: 2fcffbce-a381-4169-a954-c0395eefd6f6
  object: ` + object + `
  auth:
    client_id: id
    client_secret: secret
`
	}
	for _, object := range []string{"accounts", "vendors", "lists", "taxData", "tax_data", `'${! meta("object") }'`, `'${! meta("object").or("accounts") }'`} {
		if err := service.NewStreamBuilder().AddOutputYAML(output(object)); err != nil {
			t.Errorf("object %s: %v", object, err)
		}
	}
	for _, object := range []string{"account", "tax-data", "TaxData", `""`} {
		err := service.NewStreamBuilder().AddOutputYAML(output(object))
		if err == nil || !strings.Contains(err.Error(), "is not one of accounts, vendors, lists or taxData") {
			t.Errorf("object %s: lint error %v, want one naming the allowed values", object, err)
		}
	}
}
