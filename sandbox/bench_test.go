package sandbox_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/concurflow/concurflow/sandbox"
)

// BenchmarkPatchIngest measures PATCH payload ingested per second — sent,
// accepted, validated and applied — with rate limiting off. Each iteration
// is one ~1 MB PATCH of accounts; the timer covers waiting for the last
// request to be processed.
func BenchmarkPatchIngest(b *testing.B) {
	e := newEnv(b, sandbox.WithRateLimit(false))
	srv, co, erp := e.srv, e.co, e.erp

	var body bytes.Buffer
	body.WriteString(`{"data":[`)
	for i := 0; body.Len() < 1<<20; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"id":"ACC-%07d","name":"Account number %d for benchmarking","number":"%07d","type":"EXPENSE"}`, i, i, i)
	}
	body.WriteString(`]}`)
	payload := body.Bytes()
	url := e.api("/accounts")

	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for range b.N {
		req, _ := http.NewRequest(http.MethodPatch, url, bytes.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	if err := srv.WaitIdle(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	reqs, _ := srv.Requests(co.ID, erp)
	for _, r := range reqs {
		if r.Status != sandbox.StatusSuccess {
			b.Fatalf("request %s: %s", r.ID, r.Status)
		}
	}
}

// BenchmarkPasswordGrant measures token exchanges per second against one
// partner app connected to 1000 companies, each iteration a password grant
// for the next company.
func BenchmarkPasswordGrant(b *testing.B) {
	srv := newServer(b)
	e := &env{t: b, srv: srv}
	cos := make([]sandbox.Company, 1000)
	for i := range cos {
		co, err := srv.SeedCompany()
		if err != nil {
			b.Fatal(err)
		}
		cos[i] = co
	}
	b.ResetTimer()
	for i := range b.N {
		if status, tb := e.tokenRequest(passwordForm(cos[i%len(cos)])); status != http.StatusOK {
			b.Fatalf("password grant: %d %+v", status, tb)
		}
	}
}
