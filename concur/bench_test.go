package concur

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// BenchmarkTokenContextParallel measures handing out a cached access token
// from many goroutines (the hot path of every request).
func BenchmarkTokenContextParallel(b *testing.B) {
	ts, err := NewTokenSource(TokenSourceConfig{CompanyID: testCompany, ClientID: "c", ClientSecret: "s", AuthURL: "http://127.0.0.1:1", Store: NewMemoryStore()})
	if err != nil {
		b.Fatal(err)
	}
	ts.mu.Lock()
	ts.access = &oauth2.Token{AccessToken: "a", Expiry: time.Now().Add(time.Hour)}
	ts.refreshAt = ts.access.Expiry.Add(-DefaultRefreshSkew)
	ts.mu.Unlock()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ts.TokenContext(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPatch4MB measures sending a 4 MB PATCH body through the client
// (token transport included) to a loopback server that discards it.
func BenchmarkPatch4MB(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		writeJSON(w, http.StatusAccepted, statusAnswer)
	}))
	defer srv.Close()
	c, err := NewClient(ClientConfig{CompanyID: testCompany, TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "a"}), BaseURL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	var body bytes.Buffer
	body.WriteString(`{"data":[`)
	for i := 0; body.Len() < 4<<20-200; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"id":"%08d","name":"Account %08d","number":"%08d","type":"EXPENSE"}`, i, i, i)
	}
	body.WriteString(`]}`)
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Patch(context.Background(), testERP, ObjectAccounts, body.Bytes(), "k"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAccountsPages measures reading accounts over 1 MB pages (the
// documented page size): HTTP, decoding and the iterator.
func BenchmarkAccountsPages(b *testing.B) {
	var page bytes.Buffer
	page.WriteString(`{"data":[`)
	n := 0
	for ; page.Len() < 1<<20-200; n++ {
		if n > 0 {
			page.WriteByte(',')
		}
		fmt.Fprintf(&page, `{"id":"%08d","name":"Account %08d","number":"%08d","type":"EXPENSE"}`, n, n, n)
	}
	first := page.String() + `],"links":{"next":{"href":"/v4/companies/` + testCompany + `/erps/` + testERP + `/accounts?next=2"}}}`
	last := page.String() + `]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("next") == "" {
			writeJSON(w, http.StatusOK, first)
			return
		}
		writeJSON(w, http.StatusOK, last)
	}))
	defer srv.Close()
	c, err := NewClient(ClientConfig{CompanyID: testCompany, TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "a"}), BaseURL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(first) + len(last)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		count := 0
		for _, err := range c.Accounts(context.Background(), testERP) {
			if err != nil {
				b.Fatal(err)
			}
			count++
		}
		if count != 2*n {
			b.Fatalf("read %d accounts, want %d", count, 2*n)
		}
	}
	b.ReportMetric(float64(2*n), "records/op")
}
