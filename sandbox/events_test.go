package sandbox_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/concurflow/concurflow/concur/ess"
	"github.com/concurflow/concurflow/sandbox"
)

func TestStatusUpdatedEventPerRequest(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, e.srv)
	e.srv.Subscribe(e.co.ID, rc.srv.URL)
	corr := "fece38ea-f06e-4dbc-98ae-5aca3a2016d6"
	id := e.patch("accounts", `{"data":[{"id":"1"}]}`, "Concur-Correlationid", corr)
	e.settle()

	evs := rc.byType(ess.EventDataStatusUpdated)
	if len(evs) != 1 {
		t.Fatalf("%d data.statusUpdated events", len(evs))
	}
	ev := evs[0]
	if ev.CorrelationID != corr || ev.Topic != ess.Topic || ev.Facts.CompanyID != e.co.ID || ev.Facts.ErpID != e.erp || ev.Facts.PartnerID == "" {
		t.Fatalf("event %+v", ev)
	}
	st, err := ev.StatusUpdate()
	if err != nil {
		t.Fatal(err)
	}
	if st.RequestID != id || st.Status != "ERROR" {
		t.Fatalf("status update %+v", st)
	}
	// The sample shape: subtopic null, _links.errors only.
	raw := string(rc.bodies()[0])
	if !strings.Contains(raw, `"subtopic":null`) || !strings.Contains(raw, `"_links":{"errors":{"href":"/v4/companies/`+e.co.ID+`/requests/`+id+`/errors"}}`) {
		t.Fatalf("event body %s", raw)
	}
	// The sample's link has no ERP segment, and no page documents such a
	// path: the errors are read under the event's erpId.
	expectError(t, e.do(http.MethodGet, e.srv.URL()+"/accountingintegration/v4/companies/"+e.co.ID+"/requests/"+id+"/errors", nil), http.StatusNotFound)
	expect(t, e.do(http.MethodGet, e.api("/requests/"+id+"/errors"), nil), http.StatusOK)
	if d := e.srv.Deliveries(); len(d) != 1 || d[0].StatusCode != 200 || d[0].EventID != ev.ID {
		t.Fatalf("deliveries %+v", d)
	}
}

func TestAdminMappingActionsPublishEvents(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, e.srv)
	e.srv.Subscribe("", rc.srv.URL)

	fm := json.RawMessage(`[{"formTypeCode":"allocation","fields":[{"alternateFieldId":"MyFieldId","level":1}]}]`)
	if err := e.srv.MapList(e.co.ID, e.erp, sandbox.ListMapping{ERPListID: "erpListId1", ConcurListID: "concurListId1", FieldMappings: fm}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.UnmapList(e.co.ID, e.erp, "erpListId1"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.UnmapList(e.co.ID, e.erp, "erpListId1"); err == nil {
		t.Fatal("unmapping twice succeeded")
	}
	err := e.srv.UpdateMappings(e.co.ID, e.erp, func(m *sandbox.Mappings) {
		m.PaymentTypes = append(m.PaymentTypes, json.RawMessage(`{"patKey":"CASH","transactionType":"BILL","postingDate":"REPORTSUBMIT","name":"Cash"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	// Invoice policy changes alone publish nothing (see the Events page).
	err = e.srv.UpdateMappings(e.co.ID, e.erp, func(m *sandbox.Mappings) {
		m.InvoicePolicies = append(m.InvoicePolicies, json.RawMessage(`{"name":"Default","externalId":"P1","isPurchaseOrderPolicy":false}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.RequestReset(e.co.ID, e.erp, sandbox.ObjectAccount, sandbox.ObjectList); err != nil {
		t.Fatal(err)
	}
	e.settle()

	created := rc.byType(ess.EventListMappingCreated)
	if len(created) != 1 {
		t.Fatalf("%d listMapping.created", len(created))
	}
	lms, err := created[0].ListMappings()
	if err != nil || len(lms) != 1 || lms[0].ErpListID != "erpListId1" || len(lms[0].FieldMappings) != 1 {
		t.Fatalf("created mappings %+v %v", lms, err)
	}
	deleted := rc.byType(ess.EventListMappingDeleted)
	if len(deleted) != 1 {
		t.Fatalf("%d listMapping.deleted", len(deleted))
	}
	if n := len(rc.byType(ess.EventMappingUpdated)); n != 3 {
		t.Fatalf("%d mapping.updated, want 3 (map, unmap, payment types)", n)
	}
	reset := rc.byType(ess.EventDataResetRequested)
	if len(reset) != 1 || !reset[0].FactsDataIsString() {
		t.Fatalf("data.resetRequested %+v", reset)
	}
	rr, err := reset[0].ResetRequest()
	if err != nil || strings.Join(rr.AccountingObjects, ",") != "ACCOUNT,LIST" {
		t.Fatalf("reset objects %+v %v", rr, err)
	}

	r := e.do(http.MethodGet, e.api("/mappings"), nil)
	expect(t, r, http.StatusOK)
	var m struct {
		ErpID          string `json:"erpId"`
		CompanyEdition string `json:"companyEdition"`
		Files          []struct {
			FileID       string            `json:"fileId"`
			PaymentTypes []json.RawMessage `json:"paymentTypes"`
			ListMappings []json.RawMessage `json:"listMappings"`
		} `json:"files"`
		InvoicePolicies []json.RawMessage `json:"invoicePolicies"`
	}
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	if m.ErpID != e.erp || m.CompanyEdition != "PROFESSIONAL" || len(m.Files) != 1 || m.Files[0].FileID != "DEFAULT" ||
		len(m.Files[0].PaymentTypes) != 1 || len(m.Files[0].ListMappings) != 0 || len(m.InvoicePolicies) != 1 {
		t.Fatalf("mappings %s", r.body)
	}
}

func TestPublishRawEventDeliversBytesAsGiven(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, e.srv)
	e.srv.Subscribe("", rc.srv.URL)
	sample := `{"id":"de32e71c-f797-4841-8578-c3d870c28629","correlationId":"ce33f8e586e9c30dd10f81a5dfe83fae","eventType":"mapping.updated","topic":"public.concur.spend.accountingintegration","timeStamp":"2022-10-03T21:25:28.913Z","facts":{"companyId":"5bfa738a-1ae7-471d-8286-3984c54223a7","erpId":"f1f9852c-860a-496b-b38b-eb29fff67b81","partnerId":"8b820d40-8e47-40a0-8c8e-f92eb8f5a0a7"}}`
	if err := e.srv.PublishRawEvent([]byte(sample)); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.PublishRawEvent([]byte(`{"not":"an event"}`)); err == nil {
		t.Fatal("a non-event was accepted")
	}
	e.settle()
	if got := rc.bodies(); len(got) != 1 || string(got[0]) != sample {
		t.Fatalf("delivered %q", got)
	}
}
