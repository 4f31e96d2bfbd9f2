package kafkago

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// consumeAll reads every record of topic from the start until n were read.
func consumeAll(t *testing.T, c *kfake.Cluster, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, c, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records from %s", len(recs), n, topic)
		}
		recs = append(recs, fs.Records()...)
	}
	return recs
}

// newTestOutput builds the output from YAML without a stream, for tests that
// inspect the error of one WriteBatch.
func newTestOutput(t *testing.T, yaml string) *output {
	t.Helper()
	conf, err := outputSpec().ParseYAML(yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := newOutput(conf, service.MockResources())
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close(context.Background()) })
	return o
}

// failedIndexes returns the indexes of batch that err marks as failed.
func failedIndexes(t *testing.T, err error) map[int]bool {
	t.Helper()
	var berr *service.BatchError
	if !errors.As(err, &berr) {
		t.Fatalf("error %v is not a batch error", err)
	}
	out := map[int]bool{}
	berr.WalkMessages(func(i int, _ *service.Message, err error) bool {
		if err != nil {
			out[i] = true
		}
		return true
	})
	return out
}

func TestOutputKeepsPerKeyOrderAndHeaders(t *testing.T) {
	checkNoLeaks(t)
	c := newCluster(t, 4, "events")

	send, stop := startOutputStream(t, fmt.Sprintf(`
kafka_go:
  addresses: [ %q ]
  topic: events
  key: ${! meta("company") }
  metadata:
    include_prefixes: [ "concur_" ]
  compression: snappy
`, c.ListenAddrs()[0]))

	const companies, perCompany, batchSize = 7, 60, 30
	seq := map[string]int{}
	var batch service.MessageBatch
	for i := 0; i < companies*perCompany; i++ {
		company := fmt.Sprintf("company-%d", i%companies)
		m := service.NewMessage([]byte(fmt.Sprintf("%s/%d", company, seq[company])))
		seq[company]++
		m.MetaSetMut("company", company)
		m.MetaSetMut("concur_request_id", fmt.Sprint(i))
		m.MetaSetMut("internal", "not a header")
		batch = append(batch, m)
		if len(batch) == batchSize {
			if err := send(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	stop()

	recs := consumeAll(t, c, "events", companies*perCompany)
	partitionOf := map[string]int32{}
	next := map[string]int{}
	byPartition := map[int32][]*kgo.Record{}
	for _, r := range recs {
		byPartition[r.Partition] = append(byPartition[r.Partition], r)
	}
	for _, rs := range byPartition {
		for _, r := range rs {
			company := string(r.Key)
			if p, ok := partitionOf[company]; ok && p != r.Partition {
				t.Fatalf("%s written to partitions %d and %d", company, p, r.Partition)
			}
			partitionOf[company] = r.Partition
			if want := fmt.Sprintf("%s/%d", company, next[company]); string(r.Value) != want {
				t.Fatalf("partition %d: got %q, want %q next", r.Partition, r.Value, want)
			}
			next[company]++
			if len(r.Headers) != 1 || r.Headers[0].Key != "concur_request_id" {
				t.Fatalf("headers %v, want only concur_request_id", r.Headers)
			}
		}
	}
	if len(byPartition) < 2 {
		t.Errorf("all keys landed in %d partition(s); the test needs a spread", len(byPartition))
	}
}

// A partition that rejects its records fails exactly the messages bound for
// it; the rest of the batch is written once.
func TestOutputPartitionErrorFailsOnlyItsMessages(t *testing.T) {
	checkNoLeaks(t)
	c := newCluster(t, 3, "accounts")
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		preq := req.(*kmsg.ProduceRequest)
		if len(preq.Topics) != 1 || len(preq.Topics[0].Partitions) != 1 || preq.Topics[0].Partitions[0].Partition != 1 {
			return nil, nil, false
		}
		c.KeepControl()
		resp := preq.ResponseKind().(*kmsg.ProduceResponse)
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = preq.Topics[0].Topic
		rp := kmsg.NewProduceResponseTopicPartition()
		rp.Partition = 1
		rp.ErrorCode = kerr.MessageTooLarge.Code
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})

	o := newTestOutput(t, fmt.Sprintf(`
addresses: [ %q ]
topic: accounts
key: ${! meta("key") }
`, c.ListenAddrs()[0]))

	hash := &kafka.Hash{}
	var batch service.MessageBatch
	wantFailed := map[int]bool{}
	for i := 0; i < 30; i++ {
		key := fmt.Sprintf("acct-%d", i)
		m := service.NewMessage([]byte(key))
		m.MetaSetMut("key", key)
		batch = append(batch, m)
		if hash.Balance(kafka.Message{Key: []byte(key)}, 0, 1, 2) == 1 {
			wantFailed[i] = true
		}
	}
	if len(wantFailed) == 0 || len(wantFailed) == len(batch) {
		t.Fatalf("test keys put %d of %d messages in partition 1", len(wantFailed), len(batch))
	}
	err := o.WriteBatch(context.Background(), batch)
	got := failedIndexes(t, err)
	if fmt.Sprint(got) != fmt.Sprint(wantFailed) {
		t.Fatalf("failed indexes %v, want %v", got, wantFailed)
	}

	recs := consumeAll(t, c, "accounts", len(batch)-len(wantFailed))
	if len(recs) != len(batch)-len(wantFailed) {
		t.Fatalf("%d records written, want %d", len(recs), len(batch)-len(wantFailed))
	}
	for _, r := range recs {
		if r.Partition == 1 {
			t.Fatalf("record %q in the failing partition", r.Value)
		}
	}
}

// Messages for a missing topic fail (auto-creation is off); the others are
// written. An oversized message fails alone with a clear error.
func TestOutputMissingTopicAndOversizedMessage(t *testing.T) {
	checkNoLeaks(t)
	c := newCluster(t, 2, "present")
	o := newTestOutput(t, fmt.Sprintf(`
addresses: [ %q ]
topic: ${! meta("topic") }
max_batch_bytes: 1000
timeout: 2s
`, c.ListenAddrs()[0]))

	var batch service.MessageBatch
	for i, topic := range []string{"present", "absent", "present", "absent", "present", "present"} {
		body := fmt.Sprintf("m%d", i)
		if i == 5 {
			body = strings.Repeat("x", 2000)
		}
		m := service.NewMessage([]byte(body))
		m.MetaSetMut("topic", topic)
		batch = append(batch, m)
	}
	err := o.WriteBatch(context.Background(), batch)
	got := failedIndexes(t, err)
	if want := map[int]bool{1: true, 3: true, 5: true}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("failed indexes %v, want %v (error %v)", got, want, err)
	}
	if !strings.Contains(err.Error(), "absent") && !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("error does not say what failed: %v", err)
	}
	recs := consumeAll(t, c, "present", 3)
	if len(recs) != 3 {
		t.Fatalf("%d records written to present, want 3", len(recs))
	}
}

func TestOutputConfigErrors(t *testing.T) {
	cases := map[string]string{
		"no addresses":      "addresses: []\ntopic: a",
		"bad balancer":      "addresses: [ \"127.0.0.1:1\" ]\ntopic: a\nbalancer: sticky",
		"bad acks":          "addresses: [ \"127.0.0.1:1\" ]\ntopic: a\nrequired_acks: two",
		"bad compression":   "addresses: [ \"127.0.0.1:1\" ]\ntopic: a\ncompression: brotli",
		"bad interpolation": "addresses: [ \"127.0.0.1:1\" ]\ntopic: ${! meta( }",
		"zero attempts":     "addresses: [ \"127.0.0.1:1\" ]\ntopic: a\nmax_attempts: 0",
		"scram needs user":  "addresses: [ \"127.0.0.1:1\" ]\ntopic: a\nsasl:\n  mechanism: SCRAM-SHA-256",
	}
	expectConfigErrors(t, cases, func(yaml string) error {
		conf, err := outputSpec().ParseYAML(yaml, nil)
		if err == nil {
			_, err = newOutput(conf, service.MockResources())
		}
		return err
	})
}

// The specs lint as Benthos component specs and every field is documented.
func TestSpecsLint(t *testing.T) {
	for name, spec := range map[string]*service.ConfigSpec{"input": inputSpec(), "output": outputSpec()} {
		env := service.NewEmptyEnvironment()
		var err error
		if name == "input" {
			err = env.RegisterBatchInput("kafka_go", spec, func(*service.ParsedConfig, *service.Resources) (service.BatchInput, error) {
				return nil, errors.New("not built in this test")
			})
		} else {
			err = env.RegisterBatchOutput("kafka_go", spec, func(*service.ParsedConfig, *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
				return nil, service.BatchPolicy{}, 0, errors.New("not built in this test")
			})
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	sb := service.NewStreamBuilder()
	if err := sb.AddInputYAML("kafka_go:\n  addresses: [ \"127.0.0.1:1\" ]\n  topics: [ a ]\n  consumer_group: g\n  no_such_field: 1\n"); err == nil {
		t.Error("an unknown input field passed lint")
	}
	if err := sb.AddOutputYAML("kafka_go:\n  addresses: [ \"127.0.0.1:1\" ]\n  topic: a\n  balancer: sticky\n"); err == nil {
		t.Error("an unknown balancer passed lint")
	}
}

// With the broker gone, every message of the batch fails within the
// configured timeouts.
func TestOutputBrokerStopped(t *testing.T) {
	checkNoLeaks(t)
	c := newCluster(t, 1, "gone")
	o := newTestOutput(t, fmt.Sprintf(`
addresses: [ %q ]
topic: gone
timeout: 500ms
max_attempts: 1
`, c.ListenAddrs()[0]))
	c.Close()
	batch := service.MessageBatch{service.NewMessage([]byte("a")), service.NewMessage([]byte("b"))}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := o.WriteBatch(ctx, batch)
	if got := failedIndexes(t, err); len(got) != 2 {
		t.Fatalf("failed indexes %v, want both (error %v)", got, err)
	}
	if ctx.Err() != nil {
		t.Fatal("write did not give up before the test's deadline")
	}
}
