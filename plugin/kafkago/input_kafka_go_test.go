package kafkago

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// checkOrdered fails if any partition's offsets were not strictly increasing.
func checkOrdered(t *testing.T, ds []delivery) {
	t.Helper()
	last := map[int]int64{}
	for _, d := range ds {
		if prev, ok := last[d.partition]; ok && d.offset <= prev {
			t.Fatalf("partition %d: offset %d delivered after %d", d.partition, d.offset, prev)
		}
		last[d.partition] = d.offset
		if want := fmt.Sprintf("p%d-%d", d.partition, d.offset); d.value != want {
			t.Fatalf("partition %d offset %d: value %q, want %q", d.partition, d.offset, d.value, want)
		}
	}
}

func TestInputOrderMetadataAndCommit(t *testing.T) {
	c, cl := clusterWithRecords(t, "orders", 3, 200)

	col := newCollector()
	var first *service.Message
	stop, _, _ := startStream(t, inputYAML(c, "orders", "g-order", `
  batching:
    count: 7
    period: 100ms
`), func(_ context.Context, b service.MessageBatch) error {
		col.mu.Lock()
		if first == nil {
			first = b[0].Copy()
		}
		col.mu.Unlock()
		parts := map[any]bool{}
		for _, m := range b {
			p, _ := m.MetaGetMut("kafka_partition")
			parts[p] = true
		}
		if len(parts) != 1 {
			return errors.New("batch mixes partitions")
		}
		col.add(b)
		return nil
	})
	col.waitFor(t, "600 messages", func(ds []delivery) bool { return len(ds) >= 600 })
	stop()

	ds := col.all()
	if len(ds) != 600 || distinct(ds) != 600 {
		t.Fatalf("delivered %d (%d distinct), want exactly 600", len(ds), distinct(ds))
	}
	checkOrdered(t, ds)

	for k, want := range map[string]string{"kafka_topic": "orders", "kafka_key": "k0", "origin": "test"} {
		if got, _ := first.MetaGet(k); got != want {
			t.Errorf("metadata %s = %q, want %q", k, got, want)
		}
	}
	ts, _ := first.MetaGet("kafka_timestamp")
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("kafka_timestamp %q: %v", ts, err)
	}
	if unix, _ := first.MetaGet("kafka_timestamp_unix"); unix == "" || unix == "0" {
		t.Errorf("kafka_timestamp_unix = %q", unix)
	}

	got := committed(t, cl, "g-order", "orders")
	for p := int32(0); p < 3; p++ {
		if got[p] != 200 {
			t.Errorf("partition %d committed %d, want 200", p, got[p])
		}
	}
}

// Messages not acknowledged when the stream stops are not committed and are
// delivered again to the next member; acknowledged ones are not.
func TestInputCommitsOnlyAcknowledged(t *testing.T) {
	c, cl := clusterWithRecords(t, "acks", 2, 50)

	// The first stream acknowledges offsets below 20 and blocks on the rest
	// until the stream stops, which rejects them.
	col := newCollector()
	release := make(chan struct{})
	stop, _, _ := startStream(t, inputYAML(c, "acks", "g-acks", `
  batching:
    count: 5
    period: 100ms
`), func(ctx context.Context, b service.MessageBatch) error {
		col.add(b)
		o, _ := b[len(b)-1].MetaGetMut("kafka_offset")
		if o.(int64) < 20 {
			return nil
		}
		select {
		case <-ctx.Done():
		case <-release:
		}
		return errors.New("stopped before acknowledging")
	})
	col.waitFor(t, "a blocked batch in each partition", func(ds []delivery) bool {
		n := 0
		for _, d := range ds {
			if d.offset >= 20 {
				n++
			}
		}
		return n >= 5
	})
	// Let the commit period pass so that acknowledged offsets are committed
	// before the stop; then stop with the rest in flight.
	time.Sleep(200 * time.Millisecond)
	close(release)
	stop()

	got := committed(t, cl, "g-acks", "acks")
	for p := int32(0); p < 2; p++ {
		if got[p] > 20 {
			t.Fatalf("partition %d committed %d although only offsets < 20 were acknowledged", p, got[p])
		}
	}

	// The second stream must see every offset from the committed one on.
	col2 := newCollector()
	stop2, _, _ := startStream(t, inputYAML(c, "acks", "g-acks", ""), func(_ context.Context, b service.MessageBatch) error {
		col2.add(b)
		return nil
	})
	want := 0
	for p := int32(0); p < 2; p++ {
		want += 50 - int(got[p])
	}
	col2.waitFor(t, "redelivery", func(ds []delivery) bool { return len(ds) >= want })
	stop2()
	ds := col2.all()
	checkOrdered(t, ds)
	if len(ds) != want {
		t.Fatalf("second stream delivered %d, want %d", len(ds), want)
	}
	firstSeen := map[int]int64{}
	for _, d := range ds {
		if _, ok := firstSeen[d.partition]; !ok {
			firstSeen[d.partition] = d.offset
		}
	}
	for p := 0; p < 2; p++ {
		if want := got[int32(p)]; firstSeen[p] != want {
			t.Errorf("partition %d resumed at %d, want committed offset %d", p, firstSeen[p], want)
		}
		if firstSeen[p] > 20 {
			t.Errorf("partition %d skipped unacknowledged offsets", p)
		}
	}
	if after := committed(t, cl, "g-acks", "acks"); after[0] != 50 || after[1] != 50 {
		t.Errorf("after second stream committed %v, want 50 and 50", after)
	}
}

func TestInputNackRedelivers(t *testing.T) {
	c, cl := clusterWithRecords(t, "nacks", 2, 30)

	col := newCollector()
	nacked := 0
	stop, _, _ := startStream(t, inputYAML(c, "nacks", "g-nacks", `
  checkpoint_limit: 4
  batching:
    count: 2
    period: 100ms
`), func(_ context.Context, b service.MessageBatch) error {
		col.add(b)
		for _, m := range b {
			p, _ := m.MetaGetMut("kafka_partition")
			o, _ := m.MetaGetMut("kafka_offset")
			if p.(int) == 1 && o.(int64) == 10 && nacked < 3 {
				nacked++
				return errors.New("downstream refused")
			}
		}
		return nil
	})
	col.waitFor(t, "every offset", func(ds []delivery) bool { return distinct(ds) >= 60 })
	waitCommitted(t, cl, "g-nacks", "nacks", 2, 30)
	stop()

	n10 := 0
	for _, d := range col.all() {
		if d.partition == 1 && d.offset == 10 {
			n10++
		}
	}
	if n10 != 4 {
		t.Errorf("offset 10 of partition 1 delivered %d times, want 4 (3 nacks + 1 ack)", n10)
	}
}

// A second member joining the group takes partitions over; stopping the
// first hands everything to the second. Nothing is lost.
func TestInputRebalanceLosesNothing(t *testing.T) {
	c, cl := clusterWithRecords(t, "rebal", 4, 100)

	colA, colB := newCollector(), newCollector()
	slow := func(col *collector) service.MessageBatchHandlerFunc {
		return func(_ context.Context, b service.MessageBatch) error {
			col.add(b)
			time.Sleep(2 * time.Millisecond)
			return nil
		}
	}
	cfg := inputYAML(c, "rebal", "g-rebal", `
  batching:
    count: 10
    period: 100ms
`)
	stopA, _, _ := startStream(t, cfg, slow(colA))
	colA.waitFor(t, "member A to start", func(ds []delivery) bool { return len(ds) > 0 })

	stopB, _, _ := startStream(t, cfg, slow(colB))
	// Keep producing until member B has been given partitions and read
	// from them: it only sees records its partitions had not committed.
	extra := 0
	for len(colB.all()) == 0 {
		if extra == 2000 {
			t.Fatal("member B never received a message")
		}
		produce(t, cl, "rebal", 4, 100+extra, 1)
		extra++
		time.Sleep(10 * time.Millisecond)
	}
	stopA()
	produce(t, cl, "rebal", 4, 100+extra, 50)
	perPartition := int64(150 + extra)

	all := func() []delivery { return append(colA.all(), colB.all()...) }
	colB.waitFor(t, "every offset", func([]delivery) bool { return distinct(all()) >= 4*int(perPartition) })
	waitCommitted(t, cl, "g-rebal", "rebal", 4, perPartition)
	stopB()
	checkOrdered(t, colA.all())
	if n := distinct(all()); n != 4*int(perPartition) {
		t.Fatalf("%d distinct offsets delivered, want %d", n, 4*perPartition)
	}
}

func TestInputSnapshotEndsAtHighWaterMark(t *testing.T) {
	c, cl := clusterWithRecords(t, "snap", 3, 40)

	col := newCollector()
	producedMore := false
	_, done, runErr := startStream(t, inputYAML(c, "snap", "g-snap", `
  snapshot: true
`), func(_ context.Context, b service.MessageBatch) error {
		if !producedMore {
			// Records written after the input connected are past the
			// snapshot's end.
			producedMore = true
			produce(t, cl, "snap", 3, 40, 10)
		}
		col.add(b)
		return nil
	})
	waitEnded(t, "snapshot", done, runErr)
	ds := col.all()
	checkOrdered(t, ds)
	if len(ds) != 120 {
		t.Fatalf("snapshot delivered %d messages, want 120", len(ds))
	}
	for _, d := range ds {
		if d.offset >= 40 {
			t.Fatalf("snapshot delivered offset %d past the high-water mark", d.offset)
		}
	}
	got := committed(t, cl, "g-snap", "snap")
	for p := int32(0); p < 3; p++ {
		if got[p] != 40 {
			t.Errorf("partition %d committed %d, want 40", p, got[p])
		}
	}
}

func TestInputConfigErrors(t *testing.T) {
	base := `
addresses: [ "127.0.0.1:1" ]
topics: [ a ]
`
	cases := map[string]string{
		"missing group":         `consumer_group: ""`,
		"bad start_from":        "consumer_group: g\nstart_from: middle",
		"zero checkpoint limit": "consumer_group: g\ncheckpoint_limit: 0",
		"fetch bounds":          "consumer_group: g\nfetch_min_bytes: 100\nfetch_max_bytes: 10",
		"bad sasl mechanism":    "consumer_group: g\nsasl:\n  mechanism: KERBEROS",
		"no addresses":          "consumer_group: g\naddresses: []",
		"negative commit":       "consumer_group: g\ncommit_period: -1s",
	}
	expectConfigErrors(t, cases, func(extra string) error {
		conf, err := inputSpec().ParseYAML(base+extra, nil)
		if err == nil {
			_, err = newInput(conf, service.MockResources())
		}
		return err
	})
	conf, err := inputSpec().ParseYAML(base+"consumer_group: g", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newInput(conf, service.MockResources()); err != nil {
		t.Fatalf("minimal config rejected: %v", err)
	}
}

// A compacted topic replays as its latest record per key: the snapshot skips
// the offsets compaction removed and still ends.
func TestInputSnapshotOfCompactedTopic(t *testing.T) {
	checkNoLeaks(t)
	c := newCluster(t, 1, "unused")
	cl := newClient(t, c)
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "compacted", 1, 1
	policy := kmsg.NewCreateTopicsRequestTopicConfig()
	policy.Name, policy.Value = "cleanup.policy", kmsg.StringPtr("compact")
	rt.Configs = append(rt.Configs, policy)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("creating compacted topic: %v %v", err, resp)
	}
	// One batch per record: 5 keys written 3 times, then a last batch,
	// which compaction always keeps.
	for round := 0; round < 3; round++ {
		for k := 0; k < 5; k++ {
			rec := &kgo.Record{Topic: "compacted", Key: []byte(fmt.Sprintf("k%d", k)), Value: []byte(fmt.Sprintf("k%d-v%d", k, round))}
			if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	last := &kgo.Record{Topic: "compacted", Key: []byte("k9"), Value: []byte("k9-v0")}
	if err := cl.ProduceSync(context.Background(), last).FirstErr(); err != nil {
		t.Fatal(err)
	}
	c.Compact()

	var got []string
	_, done, runErr := startStream(t, inputYAML(c, "compacted", "g-compacted", "  snapshot: true\n"),
		func(_ context.Context, b service.MessageBatch) error {
			for _, m := range b {
				v, _ := m.AsBytes()
				got = append(got, string(v))
			}
			return nil
		})
	waitEnded(t, "snapshot of compacted topic", done, runErr)
	want := "[k0-v2 k1-v2 k2-v2 k3-v2 k4-v2 k9-v0]"
	if fmt.Sprint(got) != want {
		t.Fatalf("snapshot read %v, want %s", got, want)
	}
	if off := committed(t, cl, "g-compacted", "compacted"); off[0] != 16 {
		t.Errorf("committed %v, want 16", off)
	}
}

// At most checkpoint_limit messages of a partition are out unacknowledged;
// acknowledging frees room for more, in order.
func TestInputCheckpointLimitBoundsInFlight(t *testing.T) {
	c, _ := clusterWithRecords(t, "limit", 1, 50)
	conf, err := inputSpec().ParseYAML(fmt.Sprintf(`
addresses: [ %q ]
topics: [ limit ]
consumer_group: g-limit
checkpoint_limit: 5
fetch_max_wait: 50ms
heartbeat_interval: 100ms
`, c.ListenAddrs()[0]), nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := newInput(conf, service.MockResources())
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = in.Close(context.Background()) }()

	read := func(timeout time.Duration) (service.MessageBatch, service.AckFunc, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return in.ReadBatch(ctx)
	}
	var acks []service.AckFunc
	var offsets []int64
	for len(offsets) < 5 {
		b, ack, err := read(20 * time.Second)
		if err != nil {
			t.Fatalf("after %d messages: %v", len(offsets), err)
		}
		for _, m := range b {
			o, _ := m.MetaGetMut("kafka_offset")
			offsets = append(offsets, o.(int64))
		}
		acks = append(acks, ack)
	}
	if len(offsets) != 5 {
		t.Fatalf("%d messages out, limit is 5", len(offsets))
	}
	if _, _, err := read(500 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read past the checkpoint limit: %v", err)
	}
	for _, ack := range acks {
		if err := ack(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	b, _, err := read(20 * time.Second)
	if err != nil {
		t.Fatalf("no more messages after acknowledging: %v", err)
	}
	if o, _ := b[0].MetaGetMut("kafka_offset"); o.(int64) != 5 || len(b) > 5 {
		t.Fatalf("after acknowledging got %d messages from offset %v, want at most 5 from offset 5", len(b), o)
	}
}
