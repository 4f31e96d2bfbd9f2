package kafkago

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kgo"
)

const benchPartitions = 4

var benchValue = bytes.Repeat([]byte("v"), 200)

// produceBench writes n 200-byte records spread over the partitions.
func produceBench(b *testing.B, cl *kgo.Client, topic string, n int) {
	b.Helper()
	const chunk = 20000
	recs := make([]*kgo.Record, 0, chunk)
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % benchPartitions), Key: []byte(fmt.Sprint(i)), Value: benchValue})
		if len(recs) == chunk || i == n-1 {
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
}

// BenchmarkInput measures messages consumed and committed per second: b.N
// records of 200 bytes in 4 partitions, read by a stream that acknowledges
// at once, until the group's committed offsets cover all of them.
func BenchmarkInput(b *testing.B) {
	for _, bc := range []struct{ name, extra string }{
		{"fetch_batches", ""},
		{"batching_500", "  batching:\n    count: 500\n    period: 50ms\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := newCluster(b, benchPartitions, "bench")
			cl := newClient(b, c, kgo.ProducerBatchMaxBytes(1<<20))
			produceBench(b, cl, "bench", b.N)

			var got atomic.Int64
			b.ResetTimer()
			start := time.Now()
			stop, _, _ := startStream(b, inputYAML(c, "bench", "g-bench", "  checkpoint_limit: 10000\n"+bc.extra),
				func(_ context.Context, batch service.MessageBatch) error {
					got.Add(int64(len(batch)))
					return nil
				})
			for {
				if got.Load() >= int64(b.N) {
					var sum int64
					for _, off := range committed(b, cl, "g-bench", "bench") {
						sum += off
					}
					if sum >= int64(b.N) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			stop()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
		})
	}
}

// BenchmarkOutput measures messages written per second: batches of 500
// records of 200 bytes, keyed, to 4 partitions with required_acks all.
func BenchmarkOutput(b *testing.B) {
	c := newCluster(b, benchPartitions, "bench")
	send, stop := startOutputStream(b, fmt.Sprintf(`
kafka_go:
  addresses: [ %q ]
  topic: bench
  key: ${! meta("key") }
`, c.ListenAddrs()[0]))

	const batchSize = 500
	b.ResetTimer()
	start := time.Now()
	for sent := 0; sent < b.N; {
		n := min(batchSize, b.N-sent)
		batch := make(service.MessageBatch, n)
		for i := range batch {
			batch[i] = service.NewMessage(benchValue)
			batch[i].MetaSetMut("key", fmt.Sprint(sent+i))
		}
		if err := send(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	stop()
}
