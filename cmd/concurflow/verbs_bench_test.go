package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/concurflow/concurflow/concur"
)

// BenchmarkDataGetAccounts measures a whole `concurflow data get accounts`
// run in-process over loopback: 5000 accounts in pages of the documented
// 1 MB, JSON lines written to a buffer (CLI start, token refresh from the
// store, every page).
func BenchmarkDataGetAccounts(b *testing.B) {
	const n = 5000
	e := newVerbEnv(b)
	erpID, err := e.srv.RegisterERP(e.co.ID)
	if err != nil {
		b.Fatal(err)
	}
	e.exchange()
	accounts := make([]concur.Account, n)
	for i := range accounts {
		accounts[i] = concur.Account{ID: fmt.Sprintf("acc-%05d", i), Name: fmt.Sprintf("Account %d", i), Type: "EXPENSE"}
	}
	if _, err := e.client().PatchAccounts(context.Background(), erpID, accounts, concur.PatchOptions{}); err != nil {
		b.Fatal(err)
	}
	if err := e.srv.WaitIdle(context.Background()); err != nil {
		b.Fatal(err)
	}
	args := e.verb("data get", "--erp-id", erpID, "accounts")
	var out bytes.Buffer
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out.Reset()
		if r := e.runTo(&out, "", args...); r.code != 0 || bytes.Count(out.Bytes(), []byte("\n")) != n {
			b.Fatalf("exit %d, %d lines: %s", r.code, bytes.Count(out.Bytes(), []byte("\n")), r.err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	b.SetBytes(int64(out.Len()))
}
