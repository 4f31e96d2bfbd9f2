package kafkago

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

// checkNoLeaks fails the test if goroutines of this package or kafka-go are
// still running once every other cleanup has run. Call it first in a test.
func checkNoLeaks(t testing.TB) {
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			buf := make([]byte, 1<<20)
			stacks := string(buf[:runtime.Stack(buf, true)])
			var leaked []string
			for _, g := range strings.Split(stacks, "\n\n") {
				if strings.Contains(g, "segmentio/kafka-go") || strings.Contains(g, "plugin/kafkago.") && !strings.Contains(g, "checkNoLeaks") {
					leaked = append(leaked, g)
				}
			}
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d goroutines leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// newCluster starts a single-broker kfake cluster on 127.0.0.1 with the
// given topics.
func newCluster(t testing.TB, partitions int32, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newClient(t testing.TB, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes n records to each of partitions of topic, valued
// "p<partition>-<i>" with i counting from first.
func produce(t testing.TB, cl *kgo.Client, topic string, partitions int32, first, n int) {
	t.Helper()
	recs := make([]*kgo.Record, 0, int(partitions)*n)
	for i := first; i < first+n; i++ {
		for p := int32(0); p < partitions; p++ {
			recs = append(recs, &kgo.Record{
				Topic:     topic,
				Partition: p,
				Key:       []byte(fmt.Sprintf("k%d", i)),
				Value:     []byte(fmt.Sprintf("p%d-%d", p, i)),
				Headers:   []kgo.RecordHeader{{Key: "origin", Value: []byte("test")}},
			})
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// clusterWithRecords checks for leaks, starts a cluster with topic and
// writes n records to each of its partitions.
func clusterWithRecords(t *testing.T, topic string, partitions int32, n int) (*kfake.Cluster, *kgo.Client) {
	t.Helper()
	checkNoLeaks(t)
	c := newCluster(t, partitions, topic)
	cl := newClient(t, c)
	produce(t, cl, topic, partitions, 0, n)
	return c, cl
}

// committed returns the offsets committed by group for topic, by partition.
func committed(t testing.TB, cl *kgo.Client, group, topic string) map[int32]int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < 16; p++ {
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = []kmsg.OffsetFetchRequestTopic{rt}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	topics := resp.Topics
	if len(topics) == 0 && len(resp.Groups) > 0 {
		for _, g := range resp.Groups {
			for _, gt := range g.Topics {
				for _, p := range gt.Partitions {
					if p.Offset >= 0 {
						out[p.Partition] = p.Offset
					}
				}
			}
		}
		return out
	}
	for _, rt := range topics {
		for _, p := range rt.Partitions {
			if p.Offset >= 0 {
				out[p.Partition] = p.Offset
			}
		}
	}
	return out
}

// delivery is one message as seen by a test consumer.
type delivery struct {
	partition int
	offset    int64
	value     string
}

// collector records what a stream delivered.
type collector struct {
	mu   sync.Mutex
	seen []delivery
	ch   chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1)} }

func (c *collector) add(b service.MessageBatch) {
	c.mu.Lock()
	for _, m := range b {
		v, _ := m.AsBytes()
		p, _ := m.MetaGetMut("kafka_partition")
		o, _ := m.MetaGetMut("kafka_offset")
		c.seen = append(c.seen, delivery{partition: p.(int), offset: o.(int64), value: string(v)})
	}
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

func (c *collector) all() []delivery {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]delivery(nil), c.seen...)
}

// waitFor waits until cond holds for what was delivered.
func (c *collector) waitFor(t testing.TB, what string, cond func([]delivery) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if cond(c.all()) {
			return
		}
		select {
		case <-c.ch:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; delivered %d messages", what, len(c.all()))
		}
	}
}

// distinct counts distinct (partition, offset) pairs.
func distinct(ds []delivery) int {
	set := map[[2]int64]bool{}
	for _, d := range ds {
		set[[2]int64{int64(d.partition), d.offset}] = true
	}
	return len(set)
}

// startStream runs a stream with the given kafka_go input YAML, delivering
// batches to fn. stop stops it and waits for Run; done is closed when Run
// returned, and runErr then reports its error.
func startStream(t testing.TB, inputYAML string, fn service.MessageBatchHandlerFunc) (stop func(), done <-chan struct{}, runErr func() error) {
	t.Helper()
	sb := service.NewStreamBuilder()
	if err := sb.SetLoggerYAML("level: warn"); err != nil {
		t.Fatal(err)
	}
	if err := sb.AddInputYAML(inputYAML); err != nil {
		t.Fatal(err)
	}
	if err := sb.AddBatchConsumerFunc(fn); err != nil {
		t.Fatal(err)
	}
	stream, err := sb.Build()
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{})
	var rerr error
	go func() {
		rerr = stream.Run(context.Background())
		close(ch)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			select {
			case <-ch:
				return
			default:
			}
			if err := stream.StopWithin(20 * time.Second); err != nil {
				t.Errorf("stopping stream: %v", err)
			}
			<-ch
		})
	}
	t.Cleanup(stop)
	return stop, ch, func() error { <-ch; return rerr }
}

// inputYAML is a kafka_go input config for tests: fast heartbeats and
// commits so that rebalances and commits happen within a test's time.
func inputYAML(c *kfake.Cluster, topic, group string, extra string) string {
	return groupInputYAML(c, topic, group, "100ms", "6s", "4s", extra)
}

// groupInputYAML is inputYAML with the given heartbeat interval, session
// timeout and rebalance timeout.
func groupInputYAML(c *kfake.Cluster, topic, group, heartbeat, session, rebalance, extra string) string {
	return fmt.Sprintf(`
kafka_go:
  addresses: [ %q ]
  topics: [ %s ]
  consumer_group: %s
  commit_period: 50ms
  heartbeat_interval: %s
  session_timeout: %s
  rebalance_timeout: %s
  fetch_max_wait: 50ms
%s`, c.ListenAddrs()[0], topic, group, heartbeat, session, rebalance, extra)
}

// startOutputStream runs a stream that feeds batches from the returned send
// function to the output YAML. stop stops it and fails on a Run error.
func startOutputStream(t testing.TB, outputYAML string) (send service.MessageBatchHandlerFunc, stop func()) {
	t.Helper()
	sb := service.NewStreamBuilder()
	if err := sb.SetLoggerYAML("level: warn"); err != nil {
		t.Fatal(err)
	}
	send, err := sb.AddBatchProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.AddOutputYAML(outputYAML); err != nil {
		t.Fatal(err)
	}
	stream, err := sb.Build()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := stream.StopWithin(10 * time.Second); err != nil {
				t.Errorf("stopping output stream: %v", err)
			}
			if err := <-done; err != nil {
				t.Errorf("output stream: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return send, stop
}

// waitEnded waits for a stream whose input ends by itself (snapshot mode).
func waitEnded(t testing.TB, what string, done <-chan struct{}, runErr func() error) {
	t.Helper()
	select {
	case <-done:
		if err := runErr(); err != nil {
			t.Fatalf("%s: stream ended with %v", what, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not end", what)
	}
}

// waitCommitted waits until the group committed want in each of partitions.
func waitCommitted(t testing.TB, cl *kgo.Client, group, topic string, partitions int32, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := committed(t, cl, group, topic)
		ok := true
		for p := int32(0); p < partitions; p++ {
			ok = ok && got[p] == want
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed %v, want %d in each of %d partitions", got, want, partitions)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// expectConfigErrors checks that build rejects every case.
func expectConfigErrors(t *testing.T, cases map[string]string, build func(yaml string) error) {
	t.Helper()
	for name, yaml := range cases {
		t.Run(name, func(t *testing.T) {
			err := build(yaml)
			if err == nil {
				t.Fatal("config accepted")
			}
			t.Log(err)
		})
	}
}
