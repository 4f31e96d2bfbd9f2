package kafkago

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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

// shortSessionCluster checks for leaks and starts a cluster that accepts
// session timeouts as short as the crash test's, with n records in each
// partition of topic.
func shortSessionCluster(t *testing.T, topic string, partitions int32, n int) (*kfake.Cluster, *kgo.Client) {
	t.Helper()
	checkNoLeaks(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl := newClient(t, c)
	produce(t, cl, topic, partitions, 0, n)
	return c, cl
}

// shortSessionYAML is the crash test's group timing (2 s session and
// rebalance timeouts, so a revoked partition waits 1 s for acknowledgements)
// with small batches and checkpoint limit.
func shortSessionYAML(c *kfake.Cluster, topic, group string) string {
	return groupInputYAML(c, topic, group, "200ms", "2s", "2s", `
  checkpoint_limit: 50
  batching:
    count: 10
    period: 20ms
`)
}

// A member whose pipeline is stuck with messages in flight when a rebalance
// revokes its partitions lets go of them after half the rebalance timeout;
// the new owner reads the unacknowledged messages again, the stuck member
// keeps working once its pipeline moves, and every offset ends up delivered
// and committed.
func TestInputRebalanceWithStuckPipeline(t *testing.T) {
	const perPartition = 300
	c, cl := shortSessionCluster(t, "stuck", 2, perPartition)
	cfg := shortSessionYAML(c, "stuck", "g-stuck")

	colA, colB := newCollector(), newCollector()
	release := make(chan struct{})
	stopA, _, _ := startStream(t, cfg, func(ctx context.Context, b service.MessageBatch) error {
		colA.add(b)
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	})
	colA.waitFor(t, "member A to start", func(ds []delivery) bool { return len(ds) > 0 })

	stopB, _, _ := startStream(t, cfg, func(_ context.Context, b service.MessageBatch) error {
		colB.add(b)
		return nil
	})
	colB.waitFor(t, "member B to take a partition over", func(ds []delivery) bool { return len(ds) > 0 })
	close(release)

	all := func() []delivery { return append(colA.all(), colB.all()...) }
	colB.waitFor(t, "every offset", func([]delivery) bool { return distinct(all()) >= 2*perPartition })
	waitCommitted(t, cl, "g-stuck", "stuck", 2, perPartition)
	stopA()
	stopB()
}

// ghostMember joins group as a member that never syncs nor sends a
// heartbeat, like a consumer killed with SIGKILL right after it joined: the
// group rebalances once when it joins and again when its session expires.
func ghostMember(t *testing.T, cl *kgo.Client, group, topic string) {
	t.Helper()
	meta := kmsg.ConsumerMemberMetadata{Topics: []string{topic}}
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = group
	req.SessionTimeoutMillis = 2000
	req.RebalanceTimeoutMillis = 2000
	req.ProtocolType = "consumer"
	proto := kmsg.NewJoinGroupRequestProtocol()
	proto.Name = "range"
	proto.Metadata = meta.AppendTo(nil)
	req.Protocols = []kmsg.JoinGroupRequestProtocol{proto}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range 2 {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Errorf("ghost member joining: %v", err)
			return
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); errors.Is(err, kerr.MemberIDRequired) {
			req.MemberID = resp.MemberID
			continue
		} else if err != nil {
			t.Errorf("ghost member joining: %v", err)
		}
		return
	}
}

// The crash test's stall: a member whose pipeline holds unacknowledged
// messages goes through two rebalances in a row (a killed member joins,
// then its session expires). It lets go of its partitions, gets them all
// back, and must deliver and commit every offset once its pipeline moves.
func TestInputRebalancesWhilePipelineHoldsMessages(t *testing.T) {
	const perPartition = 300
	c, cl := shortSessionCluster(t, "ghost", 3, perPartition)

	col := newCollector()
	release := make(chan struct{})
	stop, _, _ := startStream(t, shortSessionYAML(c, "ghost", "g-ghost"), func(ctx context.Context, b service.MessageBatch) error {
		col.add(b)
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		time.Sleep(time.Millisecond)
		return nil
	})
	col.waitFor(t, "the first batch", func(ds []delivery) bool { return len(ds) > 0 })

	ghostMember(t, cl, "g-ghost", "ghost")
	// Let the ghost's session expire while the pipeline is still stuck.
	time.Sleep(3 * time.Second)
	close(release)

	col.waitFor(t, "every offset", func(ds []delivery) bool { return distinct(ds) >= 3*perPartition })
	waitCommitted(t, cl, "g-ghost", "ghost", 3, perPartition)
	stop()
}

// The crash test's collapse: with several partitions feeding a slow
// pipeline, each partition's hand-off waits longer than the batching period,
// and the batcher then reports the period as elapsed on every message it is
// given. Batches must still fill up to the policy's count while the
// pipeline is busy.
func TestInputBatchesStayFullWhenHandOffWaits(t *testing.T) {
	const partitions, perPartition = 4, 1000
	c, _ := clusterWithRecords(t, "busy", partitions, perPartition)

	var sizes batchSizes
	col := newCollector()
	stop, _, _ := startStream(t, inputYAML(c, "busy", "g-busy", `
  checkpoint_limit: 1000
  batching:
    count: 50
    period: 5ms
`), func(_ context.Context, b service.MessageBatch) error {
		col.add(b)
		sizes.add(len(b))
		time.Sleep(20 * time.Millisecond) // each batch costs, whatever its size
		return nil
	})
	// 60 batches are enough to tell: full ones carry 3,000 records.
	col.waitFor(t, "60 batches or every record", func(ds []delivery) bool {
		sizes.mu.Lock()
		n := len(sizes.sizes)
		sizes.mu.Unlock()
		return n >= 60 || len(ds) >= partitions*perPartition
	})
	stop()
	sizes.mu.Lock()
	defer sizes.mu.Unlock()
	records := 0
	for _, n := range sizes.sizes {
		records += n
	}
	if avg := records / len(sizes.sizes); avg < 25 {
		t.Fatalf("%d records in %d batches (%d on average), want near the batching count 50 (at least 25)", records, len(sizes.sizes), avg)
	}
	t.Logf("%d records in %d batches", records, len(sizes.sizes))
	checkOrdered(t, col.all())
}
