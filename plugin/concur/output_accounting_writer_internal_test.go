package concur

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/concurflow/concurflow/sandbox"
)

// TestAccountingWriterIdleEndpointsExpire: company ids come from messages,
// so the writers, their goroutines and rate-limit buckets of companies
// that went quiet are dropped; a later message starts them again.
func TestAccountingWriterIdleEndpointsExpire(t *testing.T) {
	sb := sandbox.New(t, sandbox.WithRateLimit(false))
	co, err := sb.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	erp, err := sb.RegisterERP(co.ID)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := accountingOutputSpec().ParseYAML(fmt.Sprintf(`
company_id: '${! meta("company") }'
erp_id: %s
object: accounts
rate_limit: 1000
auth:
  url: %s
  token_store: %s
  client_id: %s
  client_secret: %s
  request_token: %s
`, erp, sb.URL(), filepath.Join(t.TempDir(), "tokens"), co.ClientID, co.ClientSecret, co.RequestToken), nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := newAccountingOutput(conf, service.MockResources())
	if err != nil {
		t.Fatal(err)
	}
	o.endpointIdle = 40 * time.Millisecond
	defer o.Close(context.Background())

	write := func(id string) {
		m := service.NewMessage(fmt.Appendf(nil, `{"id":%q,"name":"n","type":"EXPENSE"}`, id))
		m.MetaSetMut("company", co.ID)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := o.WriteBatch(ctx, service.MessageBatch{m}); err != nil {
			t.Fatal(err)
		}
	}
	endpoints := func() int {
		o.epMu.Lock()
		defer o.epMu.Unlock()
		return len(o.endpoints)
	}
	write("A1")
	if n := endpoints(); n != 1 {
		t.Fatalf("%d endpoint writers after a write, want 1", n)
	}
	deadline := time.Now().Add(20 * time.Second)
	for endpoints() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the idle company's endpoint writer is still there")
		}
		time.Sleep(20 * time.Millisecond)
	}
	write("A2") // a new writer starts
	if err := sb.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs, err := sb.Records(co.ID, erp, sandbox.ObjectAccount)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d accounts, want 2", len(recs))
	}
}
