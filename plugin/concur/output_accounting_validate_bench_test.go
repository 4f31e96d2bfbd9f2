package concur_test

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/concurflow/concurflow/sandbox"
)

// acctVendor250 is an ACCOUNTING vendor of about 250 bytes.
func acctVendor250(i int) []byte {
	return fmt.Appendf(nil, `{"id":"VEN-%09d","type":"ACCOUNTING","currencyCode":"EUR","name":"Vendor %09d","companyName":"Vendor %09d GmbH","phone":"+49 30 555 0100","address":{"addr1":"Hauptstrasse 12","city":"Berlin","postalCode":"10115","country":"DE"}}`, i, i, i)
}

// BenchmarkAccountingValidate measures what schema pre-validation costs the
// output: b.N records, sent in batches of 1,000 from a batch producer, into
// a loopback stub answering 202 without reading them (so the output's own
// work dominates), with validate on and off. ns/op is per record.
func BenchmarkAccountingValidate(b *testing.B) {
	for _, obj := range []struct {
		name   string
		record func(int) []byte
	}{
		{"accounts", acctAccount150},
		{"vendors", acctVendor250},
	} {
		for _, validate := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/validate=%v", obj.name, validate), func(b *testing.B) {
				acctBenchValidate(b, obj.name, obj.record, validate)
			})
		}
	}
}

func acctBenchValidate(b *testing.B, object string, record func(int) []byte, validate bool) {
	const batchSize = 1000
	e := newAcctEnv(b, 1, sandbox.WithRateLimit(false))
	sink := &acctStubSink{sb: e.sb}
	srv := httptest.NewServer(sink)
	b.Cleanup(srv.Close)
	sink.self = srv.URL
	e.url = srv.URL
	s := e.start(fmt.Sprintf("rate_limit: 1000000\nrate_limit_margin: 0s\nvalidate: %v", validate), false)

	n := max(b.N, batchSize)
	batches := make([]service.MessageBatch, 0, (n+batchSize-1)/batchSize)
	size := 0
	for i := 0; i < n; i += batchSize {
		var batch service.MessageBatch
		for j := i; j < min(i+batchSize, n); j++ {
			rec := record(j)
			size += len(rec)
			batch = append(batch, e.msg(0, object, string(rec)))
		}
		batches = append(batches, batch)
	}
	b.SetBytes(int64(size / n))
	b.ResetTimer()
	start := time.Now()
	for _, batch := range batches {
		if err := s.sendErr(batch); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
	if got := sink.records.Load(); got != int64(n) {
		b.Fatalf("stub received %d records, want %d", got, n)
	}
}
