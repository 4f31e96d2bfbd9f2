package delivery

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkPublishDeliver publishes events to one subscriber answering 200
// and waits until all are delivered; signing (one RSA private-key operation
// per event) dominates.
func BenchmarkPublishDeliver(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	d, err := New(Config{Key: testSigningKey()})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	d.Subscribe("", srv.URL)
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		d.Publish(event(fmt.Sprint(i), "c"))
	}
	if err := d.WaitIdle(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
