package concur

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/concurflow/concurflow/concur/ess"
	"github.com/concurflow/concurflow/sandbox"
)

// TestEventsFromSandbox has the sandbox's ESS emulation deliver real events
// to a stream: a first delivery the output fails is answered 503 and
// redelivered, and every event reaches the output exactly once.
func TestEventsFromSandbox(t *testing.T) {
	srv, coID, erpID := eventsSandbox(t, sandbox.WithDeliveryBackoff(func(int) time.Duration { return 10 * time.Millisecond }))
	h := eventsStart(t, eventsOpts{keyFile: eventsWriteFile(t, "sandbox.pem", srv.PublicKeyPEM())})
	srv.Subscribe(coID, h.url)
	h.failNextCalls(1)

	if err := srv.MapList(coID, erpID, sandbox.ListMapping{ERPListID: "erpList1", ConcurListID: "concurList1"}); err != nil {
		t.Fatal(err)
	}
	if err := srv.RequestReset(coID, erpID, sandbox.ObjectAccount, sandbox.ObjectVendor); err != nil {
		t.Fatal(err)
	}
	eventsSandboxIdle(t, srv)

	var types []string
	for _, g := range h.received() {
		types = append(types, g.meta[eventsMetaType])
		if g.meta[eventsMetaCompanyID] != coID || g.meta[eventsMetaErpID] != erpID || g.meta[eventsMetaCorrelationID] == "" {
			t.Errorf("metadata %v does not name company %s, ERP %s and a correlation id", g.meta, coID, erpID)
		}
		if g.meta[eventsMetaType] == ess.EventDataResetRequested {
			ev, err := ess.Parse(g.body)
			if err != nil {
				t.Fatal(err)
			}
			rr, err := ev.ResetRequest()
			if err != nil || !slices.Equal(rr.AccountingObjects, []string{ess.ObjectAccount, ess.ObjectVendor}) {
				t.Errorf("reset request = %+v, %v (body %s)", rr, err, g.body)
			}
		}
	}
	slices.Sort(types)
	want := []string{ess.EventDataResetRequested, ess.EventListMappingCreated, ess.EventMappingUpdated}
	if !slices.Equal(types, want) {
		t.Errorf("received event types %v, want each of %v once", types, want)
	}

	var failed, ok int
	for _, d := range srv.Deliveries() {
		switch d.StatusCode {
		case http.StatusServiceUnavailable:
			failed++
			if !d.WillRetry {
				t.Errorf("503 delivery not retried: %+v", d)
			}
		case http.StatusOK:
			ok++
		default:
			t.Errorf("unexpected delivery %+v", d)
		}
	}
	if failed != 1 || ok != 3 {
		t.Errorf("deliveries: %d answered 503, %d answered 200; want 1 and 3", failed, ok)
	}
}

// TestEventsFromSandboxOverMutualTLS has the sandbox deliver as
// webhook.api.concursolutions.com over mutual TLS, as ESS does.
func TestEventsFromSandboxOverMutualTLS(t *testing.T) {
	m := newEventsMTLS(t)
	srv, coID, erpID := eventsSandbox(t, sandbox.WithDeliveryClient(m.client(m.clientCA.issue(t, eventsWebhookCN, false))))
	h := eventsStart(t, eventsOpts{scheme: "https", client: m.client(), extraYAML: m.yaml,
		keyFile: eventsWriteFile(t, "sandbox.pem", srv.PublicKeyPEM())})
	srv.Subscribe("", h.url)
	if err := srv.RequestReset(coID, erpID, sandbox.ObjectList); err != nil {
		t.Fatal(err)
	}
	eventsSandboxIdle(t, srv)
	got := h.received()
	if len(got) != 1 || got[0].meta[eventsMetaType] != ess.EventDataResetRequested || got[0].meta[eventsMetaCompanyID] != coID {
		t.Fatalf("received %+v", got)
	}
	if d := srv.Deliveries(); len(d) != 1 || d[0].StatusCode != http.StatusOK {
		t.Errorf("deliveries %+v", d)
	}
}

// eventsSandbox starts a sandbox with one company and one registered ERP.
func eventsSandbox(t *testing.T, opts ...sandbox.Option) (srv *sandbox.Server, companyID, erpID string) {
	t.Helper()
	srv = sandbox.New(t, append([]sandbox.Option{sandbox.WithProcessingDelay(0)}, opts...)...)
	co, err := srv.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	if erpID, err = srv.RegisterERP(co.ID); err != nil {
		t.Fatal(err)
	}
	return srv, co.ID, erpID
}

// eventsSandboxIdle waits until the sandbox has processed and delivered
// everything.
func eventsSandboxIdle(t *testing.T, srv *sandbox.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}
