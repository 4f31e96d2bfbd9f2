package sandbox_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
)

const registrationPage = "v4.accountingintegration-registration.markdown"

func TestRegisterERPFromDocExample(t *testing.T) {
	e := newEnv(t)
	base := e.srv.URL() + "/accountingintegration/v4/companies/" + e.co.ID + "/erps"
	r := e.do(http.MethodPost, base, docExample(t, registrationPage, 0))
	expect(t, r, http.StatusOK)
	got := r.json(t)
	erpID, _ := got["erpId"].(string)
	if _, err := uuid.Parse(erpID); err != nil {
		t.Fatalf("erpId %q is not a UUID", erpID)
	}
	for k, want := range map[string]string{"partnerAppName": "SomePartnerName", "erpName": "SomeErpName", "externalErpId": "SomeErpId"} {
		if got[k] != want {
			t.Fatalf("%s = %v, want %s", k, got[k], want)
		}
	}
	if po := got["postingOptions"].([]any); len(po) != 1 {
		t.Fatalf("postingOptions %v", po)
	}

	one := e.do(http.MethodGet, base+"/"+erpID, nil)
	expect(t, one, http.StatusOK)
	if one.json(t)["erpId"] != erpID {
		t.Fatalf("GET erp: %s", one.body)
	}
	all := e.do(http.MethodGet, base, nil)
	expect(t, all, http.StatusOK)
	var list struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(all.body, &list); err != nil || len(list.Data) != 2 {
		t.Fatalf("GET erps (the seeded one and this): %s", all.body)
	}
}

func TestRegisterERPRejectsMissingRequiredFields(t *testing.T) {
	e := newEnv(t)
	base := e.srv.URL() + "/accountingintegration/v4/companies/" + e.co.ID + "/erps"
	m := expectError(t, e.do(http.MethodPost, base, `{"partnerAppName":"x"}`), http.StatusBadRequest)
	if verrs := m["validationErrors"].([]any); len(verrs) < 2 {
		t.Fatalf("want errors for erpName and externalErpId: %v", verrs)
	}
	if len(e.srv.Companies()[0].ERPs) != 1 {
		t.Fatal("an invalid registration was stored")
	}
}

func TestRegisterERPOncePerMinute(t *testing.T) {
	e := newEnv(t)
	base := e.srv.URL() + "/accountingintegration/v4/companies/" + e.co.ID + "/erps"
	body := docExample(t, registrationPage, 0)
	expect(t, e.do(http.MethodPost, base, body), http.StatusOK)
	e.clock.Advance(59 * time.Second)
	expect(t, e.do(http.MethodPost, base, body), http.StatusTooManyRequests)
	e.clock.Advance(time.Second)
	expect(t, e.do(http.MethodPost, base, body), http.StatusOK)
}

func TestUpdateERPNeedsAllFeaturesAndPostingOptions(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodPatch, e.api(""), docExample(t, registrationPage, 2))
	expect(t, r, http.StatusOK)
	got := r.json(t)
	if f := got["features"].([]any); len(f) != 2 || f[1] != "SUPPORTS_LIABILITY_ACCOUNT" {
		t.Fatalf("features not replaced: %s", r.body)
	}
	if got["erpId"] != e.erp {
		t.Fatalf("erpId changed: %s", r.body)
	}
	// Features alone replace the features and keep the posting options.
	r = e.do(http.MethodPatch, e.api(""), `{"features":["SUPPORTS_RECEIPT_POSTING"]}`)
	expect(t, r, http.StatusOK)
	got = r.json(t)
	if f := got["features"].([]any); len(f) != 1 || got["postingOptions"] == nil {
		t.Fatalf("after features-only update: %s", r.body)
	}
	expectError(t, e.do(http.MethodPatch, e.api(""), `{"erpName":"x"}`), http.StatusBadRequest)
	expectError(t, e.do(http.MethodPatch, e.api(""), `{"features":"SUPPORTS_RECEIPT_POSTING"}`), http.StatusBadRequest)
}

func TestDeleteERPRemovesCachedData(t *testing.T) {
	e := newEnv(t)
	e.patch("accounts", `{"data":[{"id":"1","name":"Bank","type":"BANK"}]}`)
	e.settle()
	expect(t, e.do(http.MethodDelete, e.api(""), nil), http.StatusNoContent)
	expectError(t, e.do(http.MethodGet, e.api("/accounts"), nil), http.StatusNotFound)
	expectError(t, e.do(http.MethodGet, e.api(""), nil), http.StatusNotFound)
	if _, err := e.srv.Accounts(e.co.ID, e.erp); err == nil {
		t.Fatal("accounts of a deleted ERP still readable")
	}
}
