package kafkago

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// batchSizes records the size of every batch a stream delivered.
type batchSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batchSizes) add(n int) {
	b.mu.Lock()
	b.sizes = append(b.sizes, n)
	b.mu.Unlock()
}

// batchesFor returns how many of the last batches carried the last n
// messages.
func (b *batchSizes) batchesFor(n int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	count, seen := 0, 0
	for i := len(b.sizes) - 1; i >= 0 && seen < n; i-- {
		seen += b.sizes[i]
		count++
	}
	return count
}

// When the pipeline is the bottleneck and many small batches are in flight
// (here: records that trickled in one by one while the output was stuck,
// as after an API outage), the input must go back to full batches once the
// pipeline moves again instead of handing out one small batch for every few
// freed checkpoint slots.
func TestInputBatchesRecoverAfterPipelineStall(t *testing.T) {
	c, cl := clusterWithRecords(t, "stall", 1, 0)

	col := newCollector()
	var sizes batchSizes
	gate := make(chan struct{})
	stop, _, _ := startStream(t, inputYAML(c, "stall", "g-stall", `
  checkpoint_limit: 60
  batching:
    count: 20
    period: 20ms
`), func(ctx context.Context, b service.MessageBatch) error {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
		col.add(b)
		sizes.add(len(b))
		time.Sleep(5 * time.Millisecond) // a slow output: each batch costs
		return nil
	})

	// The output is stuck while records arrive one at a time: each is
	// flushed alone by the batching period.
	const trickle = 30
	for i := 0; i < trickle; i++ {
		produce(t, cl, "stall", 1, i, 1)
		time.Sleep(40 * time.Millisecond)
	}
	const backlog = 1000
	produce(t, cl, "stall", 1, trickle, backlog)
	close(gate)

	total := trickle + backlog
	col.waitFor(t, "every record", func(ds []delivery) bool { return distinct(ds) >= total })
	stop()
	ds := col.all()
	if len(ds) != total {
		t.Fatalf("delivered %d messages (%d distinct), want %d", len(ds), distinct(ds), total)
	}
	checkOrdered(t, ds)
	// With full batches the last 600 records take 30 batches; allow a few
	// partial ones.
	if n := sizes.batchesFor(600); n > 45 {
		t.Fatalf("the last 600 records came in %d batches, want at most 45 (batching count 20)", n)
	}
	t.Logf("last 600 records in %d batches; %d batches in all", sizes.batchesFor(600), len(sizes.sizes))
}
