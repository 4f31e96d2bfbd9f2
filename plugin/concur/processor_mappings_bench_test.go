package concur

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	concurapi "github.com/concurflow/concurflow/concur"
	"github.com/concurflow/concurflow/sandbox"
)

// benchSandbox is a sandbox with one company and ERP, and the auth YAML of
// a processor pointing at it.
func benchSandbox(b *testing.B) (*sandbox.Server, sandbox.Company, string, string) {
	b.Helper()
	sb := sandbox.New(b, sandbox.WithRateLimit(false))
	co, err := sb.SeedCompany()
	if err != nil {
		b.Fatal(err)
	}
	erp, err := sb.RegisterERP(co.ID)
	if err != nil {
		b.Fatal(err)
	}
	auth := fmt.Sprintf("auth: { url: %s, token_store: %s, client_id: %s, client_secret: %s, request_token: %s }\n",
		sb.URL(), filepath.Join(b.TempDir(), "tokens"), co.ClientID, co.ClientSecret, co.RequestToken)
	return sb, co, erp, auth
}

// BenchmarkMappingsCached measures messages through concur_mappings when the
// answer is cached (the steady state): decode and attach per message.
func BenchmarkMappingsCached(b *testing.B) {
	sb, co, erp, auth := benchSandbox(b)
	for i := range 20 {
		if err := sb.MapList(co.ID, erp, sandbox.ListMapping{ERPListID: fmt.Sprint("list", i), ConcurListID: fmt.Sprint("c", i),
			FieldMappings: json.RawMessage(`[{"formTypeCode":"allocation","fields":[{"alternateFieldId":"F","level":1}]}]`)}); err != nil {
			b.Fatal(err)
		}
	}
	conf, err := mappingsProcessorSpec().ParseYAML(auth, nil)
	if err != nil {
		b.Fatal(err)
	}
	p, err := newMappingsProcessor(conf, service.MockResources())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m := service.NewMessage([]byte(`{"id":"A1"}`))
			m.MetaSet("concur_company_id", co.ID)
			m.MetaSet("concur_erp_id", erp)
			if _, err := p.Process(ctx, m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkRequestErrors measures concur_request_errors turning a request
// with 1,000 rejected vendors (several 1 MB-bounded pages) into messages.
func BenchmarkRequestErrors(b *testing.B) {
	sb, co, erp, auth := benchSandbox(b)
	const n = 1000
	var recs []string
	for i := range n {
		recs = append(recs, fmt.Sprintf(`{"id":"V%05d","type":"ACCOUNTING","name":"Vendor %d","companyName":"Acme","address":{"addr1":"%s"}}`, i, i, strings.Repeat("x", 200)))
	}
	tokens, err := concurapi.NewTokenSource(concurapi.TokenSourceConfig{CompanyID: co.ID, ClientID: co.ClientID, ClientSecret: co.ClientSecret,
		RequestToken: co.RequestToken, AuthURL: sb.URL(), Store: concurapi.NewMemoryStore()})
	if err != nil {
		b.Fatal(err)
	}
	client, err := concurapi.NewClient(concurapi.ClientConfig{CompanyID: co.ID, TokenSource: tokens})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st, err := client.Patch(ctx, erp, concurapi.ObjectVendors, []byte(`{"data":[`+strings.Join(recs, ",")+`]}`), "")
	if err != nil {
		b.Fatal(err)
	}
	if err := sb.WaitIdle(ctx); err != nil {
		b.Fatal(err)
	}
	conf, err := requestErrorsProcessorSpec().ParseYAML(auth, nil)
	if err != nil {
		b.Fatal(err)
	}
	p, err := newRequestErrorsProcessor(conf, service.MockResources())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	ev := fmt.Sprintf(`{"eventType":"data.statusUpdated","facts":{"companyId":%q,"erpId":%q,"data":{"requestId":%q,"status":"ERROR"}}}`, co.ID, erp, st.RequestID)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		out, err := p.Process(ctx, service.NewMessage([]byte(ev)))
		if err != nil || len(out) != n {
			b.Fatalf("%d messages, error %v", len(out), err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}
