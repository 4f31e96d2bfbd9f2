package concur

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/concurflow/concurflow/concur/ess"
)

// eventsBenchStream runs concur_events into a drop output and returns the
// URL to post to and a keep-alive client.
func eventsBenchStream(b *testing.B) (string, *http.Client) {
	b.Helper()
	addr := eventsFreeAddr(b)
	sb := service.NewStreamBuilder()
	if err := sb.SetLoggerYAML("level: none"); err != nil {
		b.Fatal(err)
	}
	if err := sb.AddInputYAML(fmt.Sprintf("concur_events:\n  address: %s\n  public_key_files: [ %q ]\n",
		addr, eventsWriteKeyPEM(b, &eventsTestKey().PublicKey))); err != nil {
		b.Fatal(err)
	}
	if err := sb.AddOutputYAML("drop: {}"); err != nil {
		b.Fatal(err)
	}
	eventsRunStream(b, sb, addr)
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	b.Cleanup(tr.CloseIdleConnections)
	return "http://" + addr + "/concur/events", &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

type eventsSigned struct {
	body []byte
	sig  string
}

// eventsBenchBodies signs n distinct data.statusUpdated events (signing is
// done before the timer starts; it costs far more than verifying).
func eventsBenchBodies(b *testing.B, prefix string, n int) []eventsSigned {
	b.Helper()
	out := make([]eventsSigned, n)
	for i := range out {
		body := eventsSample(fmt.Sprintf("%s-%d", prefix, i), ess.EventDataStatusUpdated)
		out[i] = eventsSigned{body, eventsSign(b, body)}
	}
	return out
}

func eventsBenchPost(b *testing.B, client *http.Client, url string, ev eventsSigned) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(ev.body))
	if err != nil {
		b.Error(err)
		return
	}
	req.Header.Set(ess.HeaderSignature, ev.sig)
	resp, err := client.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Errorf("status %d", resp.StatusCode)
	}
}

// BenchmarkEventsInputThroughput posts signed events from 32 concurrent
// senders through concur_events to a drop output; events/s is end to end.
func BenchmarkEventsInputThroughput(b *testing.B) {
	url, client := eventsBenchStream(b)
	events := eventsBenchBodies(b, fmt.Sprint("tp", b.N), b.N)
	work := make(chan eventsSigned, len(events))
	for _, ev := range events {
		work <- ev
	}
	close(work)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for ev := range work {
				eventsBenchPost(b, client, url, ev)
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkEventsInputLatencyAt1000PerSecond sends signed events at a steady
// 1,000 per second and reports the handler latency seen by the sender.
func BenchmarkEventsInputLatencyAt1000PerSecond(b *testing.B) {
	url, client := eventsBenchStream(b)
	events := eventsBenchBodies(b, fmt.Sprint("lat", b.N), b.N)
	lat := make([]time.Duration, len(events))
	b.ResetTimer()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := range events {
		<-tick.C
		wg.Go(func() {
			t0 := time.Now()
			eventsBenchPost(b, client, url, events[i])
			lat[i] = time.Since(t0)
		})
	}
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
