package concur

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	concurapi "github.com/concurflow/concurflow/concur"
	"github.com/concurflow/concurflow/sandbox"
)

// TestListItemsSharedClientsAndLimiters: in one process, concur_list_items
// outputs share the company's client (and token source) with the
// concur_mappings processor and concur_accounting, and share one List Item
// limiter among themselves, which is not concur_accounting's (so neither
// spends nor tightens the other's budget).
func TestListItemsSharedClientsAndLimiters(t *testing.T) {
	sb := sandbox.New(t)
	co, err := sb.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	erp, err := sb.RegisterERP(co.ID)
	if err != nil {
		t.Fatal(err)
	}
	auth := fmt.Sprintf(`
auth:
  url: %s
  token_store: %s
  client_id: %s
  client_secret: %s
  request_token: %s
`, sb.URL(), filepath.Join(t.TempDir(), "tokens"), co.ClientID, co.ClientSecret, co.RequestToken)
	mgr := service.MockResources()
	newLI := func(rate string) *listItemsOutput {
		t.Helper()
		conf, err := listItemsOutputSpec().ParseYAML(fmt.Sprintf("company_id: %s\nerp_id: %s\nrate_limit: %s\n%s", co.ID, erp, rate, auth), nil)
		if err != nil {
			t.Fatal(err)
		}
		o, err := newListItemsOutput(conf, mgr)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	li1, li2 := newLI("100"), newLI("50")
	conf, err := accountingOutputSpec().ParseYAML(fmt.Sprintf("company_id: %s\nerp_id: %s\nobject: accounts\nrate_limit: 1\n%s", co.ID, erp, auth), nil)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := newAccountingOutput(conf, mgr)
	if err != nil {
		t.Fatal(err)
	}
	defer acct.Close(context.Background())
	conf, err = mappingsProcessorSpec().ParseYAML(auth, nil)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := newMappingsProcessor(conf, mgr)
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	want, err := li1.auth.Client(ctx, co.ID)
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]*authClients{"second list items output": li2.auth, "accounting output": acct.auth, "mappings processor": mp.auth} {
		if got, err := a.Client(ctx, co.ID); err != nil || got != want {
			t.Errorf("%s: client %p (%v), want the shared %p", name, got, err, want)
		}
	}

	if li1.limiter != li2.limiter {
		t.Error("the two concur_list_items outputs have limiters of their own")
	}
	if li1.limiter == acct.limiter {
		t.Error("concur_list_items shares concur_accounting's limiter")
	}
	if l := mp.auth.shared.apiLimiter(sb.URL(), sharedAPIListItems, concurapi.RateLimiterConfig{Rate: 1000}); l != li1.limiter {
		t.Error("the process's List Item limiter is not the outputs'")
	}
}

// TestListItemsUnknownCompanyFails: as in concur_accounting, the items of a
// company id that never had credentials (none configured, nothing in the
// token store) fail at once with an error naming the company, instead of
// waiting for credentials for ever; the configured company's items are
// written.
func TestListItemsUnknownCompanyFails(t *testing.T) {
	sb := sandbox.New(t)
	co, err := sb.SeedCompany()
	if err != nil {
		t.Fatal(err)
	}
	erp, err := sb.RegisterERP(co.ID)
	if err != nil {
		t.Fatal(err)
	}
	const listID = "6a0e0f5c-56c1-4b0e-9d3c-2b1e5a6f7c04"
	if err := sb.MapList(co.ID, erp, sandbox.ListMapping{ERPListID: "PROJECTS", ConcurListID: listID}); err != nil {
		t.Fatal(err)
	}
	conf, err := listItemsOutputSpec().ParseYAML(fmt.Sprintf(`
company_id: '${! meta("company") }'
erp_id: %s
rate_limit: 1000
auth:
  url: %s
  token_store: %s
  client_id: %s
  client_secret: %s
  companies:
    %s:
      request_token: %s
`, erp, sb.URL(), filepath.Join(t.TempDir(), "tokens"), co.ClientID, co.ClientSecret, co.ID, co.RequestToken), nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := newListItemsOutput(conf, service.MockResources())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close(context.Background())
	const stranger = "7a3c2e11-0000-4000-8000-00000000abcd"
	msg := func(company, code string) *service.Message {
		m := service.NewMessage([]byte(fmt.Sprintf(`{"erpListId":"PROJECTS","shortCode":%q,"value":"Project %s"}`, code, code)))
		m.MetaSetMut("company", company)
		return m
	}
	batch := service.MessageBatch{msg(stranger, "S1"), msg(co.ID, "K1")}
	index := batch.Index()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = o.WriteBatch(ctx, batch)
	var berr *service.BatchError
	if !errors.As(err, &berr) {
		t.Fatalf("WriteBatch: %v, want a batch error", err)
	}
	failed := map[int]string{}
	berr.WalkMessagesIndexedBy(index, func(i int, _ *service.Message, err error) bool {
		if err != nil {
			failed[i] = err.Error()
		}
		return true
	})
	if len(failed) != 1 || !strings.Contains(failed[0], "has no credentials") || !strings.Contains(failed[0], stranger) {
		t.Fatalf("failures %v, want only the stranger's item, failed for its company's missing credentials", failed)
	}
	items, err := sb.ListItems(co.ID, listID)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Code != "K1" {
		t.Errorf("sandbox list holds %v, want K1", items)
	}
}
