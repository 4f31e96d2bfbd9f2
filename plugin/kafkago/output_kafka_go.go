package kafkago

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/segmentio/kafka-go"
)

// Output field names.
const (
	fieldTopic        = "topic"
	fieldKey          = "key"
	fieldBalancer     = "balancer"
	fieldMetadata     = "metadata"
	fieldRequiredAcks = "required_acks"
	fieldCompression  = "compression"
	fieldMaxAttempts  = "max_attempts"
	fieldBatchBytes   = "max_batch_bytes"
	fieldAutoCreate   = "allow_auto_topic_creation"
	fieldMaxInFlight  = "max_in_flight"
)

func outputSpec() *service.ConfigSpec {
	fields := connectionFields()
	fields = append(fields,
		service.NewInterpolatedStringField(fieldTopic).
			Description("The topic to write each message to.").
			Example("erp.accounts").
			Example(`erp.${! meta("entity") }`),
		service.NewInterpolatedStringField(fieldKey).
			Description("The record key. An empty key is written as no key (and the `hash` balancer then spreads such records round-robin).").
			Default("").
			Example(`${! json("companyId") }`),
		service.NewStringEnumField(fieldBalancer, "hash", "round_robin", "least_bytes", "crc32", "murmur2").
			Description("How a record's partition is chosen: `hash` (FNV-1a of the key, as Sarama does), `crc32` (as librdkafka's default), `murmur2` (as the Java client's default), `round_robin` or `least_bytes` (ignore the key). The key-based ones keep every record of one key in one partition, and so in order.").
			Default("hash"),
		service.NewMetadataFilterField(fieldMetadata).
			Description("Which metadata fields are written as record headers. By default none are.").
			Optional(),
		service.NewStringEnumField(fieldRequiredAcks, "all", "one", "none").
			Description("Which acknowledgement a write waits for: from all in-sync replicas, from the leader only, or none (a write then counts as done once sent).").
			Default("all"),
		service.NewStringEnumField(fieldCompression, "none", "gzip", "snappy", "lz4", "zstd").
			Description("The compression codec of record batches.").
			Default("none"),
		service.NewIntField(fieldMaxAttempts).
			Description("How often a record batch is tried against a retriable broker error before its messages fail.").
			Default(3).
			Advanced(),
		service.NewIntField(fieldBatchBytes).
			Description("The largest produce request, in bytes, for one partition; a larger batch is split. A single message above it fails on its own.").
			Default(1048576).
			Advanced(),
		service.NewBoolField(fieldAutoCreate).
			Description("Let the brokers create a missing topic (if they allow it). When false, messages for a missing topic fail.").
			Default(false).
			Advanced(),
		service.NewOutputMaxInFlightField().
			Description("The most batches written at once. Keep 1 (the default) to keep the order of records of one key across batches: with more, two batches may be written concurrently and a retried batch may land after a later one.").
			Default(1),
		service.NewBatchPolicyField(fieldBatching),
	)
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Writes messages to Kafka topics, partitioned by key (segmentio/kafka-go).").
		Description(`
Every message becomes one record of the interpolated `+"`topic`"+` with the interpolated `+"`key`"+`, its metadata (as selected by `+"`metadata`"+`) as headers. The records of a batch are grouped by topic and partition and written with one produce request per partition.

### Delivery guarantees

A batch is acknowledged once every record was acknowledged by the brokers as `+"`required_acks`"+` says. If some records fail (a partition rejects them, a topic is missing, a message is too large, an interpolation fails) exactly those messages fail and are retried or rejected by the pipeline; the others are not written again.

### Ordering

Records with the same key go to the same partition (with a key-based `+"`balancer`"+`, while the partition count stays the same) and are written in the order of the batch. With `+"`max_in_flight: 1`"+` this holds across batches as well; with more, batches in flight at once may interleave.

### Metrics

`+"`kafka_go_output_sent`"+` (records written) and `+"`kafka_go_output_errors`"+` (records failed).`).
		Fields(fields...).
		Example("Publish Concur events", "Writes each event to a topic, keyed by company so that one company's events stay in order.", `
output:
  kafka_go:
    addresses: [ "127.0.0.1:9092" ]
    topic: concur.events
    key: ${! meta("company_id") }
    metadata:
      include_prefixes: [ "concur_" ]
    compression: zstd
    batching:
      count: 100
      period: 500ms
`)
}

func init() {
	err := service.RegisterBatchOutput("kafka_go", outputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			out, err := newOutput(conf, mgr)
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			maxInFlight, err := conf.FieldMaxInFlight()
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			return out, out.policy, maxInFlight, nil
		})
	if err != nil {
		panic(err)
	}
}

// defaultWriterBatchSize is the most records per produce request when the
// batching policy sets no larger count. kafka-go preallocates this many.
const defaultWriterBatchSize = 100

// output is the kafka_go batch output.
type output struct {
	conn        connConfig
	topic       *service.InterpolatedString
	key         *service.InterpolatedString
	meta        *service.MetadataFilter
	balancer    kafka.Balancer
	acks        kafka.RequiredAcks
	compression kafka.Compression
	maxAttempts int
	batchBytes  int64
	autoCreate  bool
	policy      service.BatchPolicy
	log         *service.Logger
	sent        *service.MetricCounter
	failed      *service.MetricCounter

	mu        sync.RWMutex
	writer    *kafka.Writer
	transport *kafka.Transport
}

func newOutput(conf *service.ParsedConfig, res *service.Resources) (*output, error) {
	o := &output{log: res.Logger()}
	var err error
	if o.conn, err = parseConnConfig(conf); err != nil {
		return nil, err
	}
	if o.topic, err = conf.FieldInterpolatedString(fieldTopic); err != nil {
		return nil, err
	}
	if o.key, err = conf.FieldInterpolatedString(fieldKey); err != nil {
		return nil, err
	}
	if conf.Contains(fieldMetadata) {
		if o.meta, err = conf.FieldMetadataFilter(fieldMetadata); err != nil {
			return nil, err
		}
	}
	bal, err := conf.FieldString(fieldBalancer)
	if err != nil {
		return nil, err
	}
	if o.balancer, err = balancerFor(bal); err != nil {
		return nil, err
	}
	acks, err := conf.FieldString(fieldRequiredAcks)
	if err != nil {
		return nil, err
	}
	switch acks {
	case "all":
		o.acks = kafka.RequireAll
	case "one":
		o.acks = kafka.RequireOne
	case "none":
		o.acks = kafka.RequireNone
	default:
		return nil, fmt.Errorf("field required_acks: unknown value %q", acks)
	}
	codec, err := conf.FieldString(fieldCompression)
	if err != nil {
		return nil, err
	}
	if o.compression, err = compressionFor(codec); err != nil {
		return nil, err
	}
	if o.maxAttempts, err = conf.FieldInt(fieldMaxAttempts); err != nil {
		return nil, err
	}
	if o.maxAttempts < 1 {
		return nil, errors.New("field max_attempts: must be at least 1")
	}
	bb, err := conf.FieldInt(fieldBatchBytes)
	if err != nil {
		return nil, err
	}
	if bb < 1 {
		return nil, errors.New("field max_batch_bytes: must be positive")
	}
	o.batchBytes = int64(bb)
	if o.autoCreate, err = conf.FieldBool(fieldAutoCreate); err != nil {
		return nil, err
	}
	if o.policy, err = conf.FieldBatchPolicy(fieldBatching); err != nil {
		return nil, err
	}
	m := res.Metrics()
	o.sent = m.NewCounter("kafka_go_output_sent")
	o.failed = m.NewCounter("kafka_go_output_errors")
	return o, nil
}

func balancerFor(name string) (kafka.Balancer, error) {
	switch name {
	case "hash":
		return &kafka.Hash{}, nil
	case "round_robin":
		return &kafka.RoundRobin{}, nil
	case "least_bytes":
		return &kafka.LeastBytes{}, nil
	case "crc32":
		return kafka.CRC32Balancer{}, nil
	case "murmur2":
		return kafka.Murmur2Balancer{}, nil
	}
	return nil, fmt.Errorf("field balancer: unknown value %q", name)
}

func compressionFor(name string) (kafka.Compression, error) {
	switch name {
	case "none":
		return 0, nil
	case "gzip":
		return kafka.Gzip, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	}
	return 0, fmt.Errorf("field compression: unknown value %q", name)
}

// Connect creates the writer. kafka-go connects lazily; a broker that cannot
// be reached shows up as write errors.
func (o *output) Connect(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.writer != nil {
		return nil
	}
	o.transport = o.conn.transport()
	o.writer = &kafka.Writer{
		Addr:     kafka.TCP(o.conn.addresses...),
		Balancer: o.balancer,
		// Benthos does the batching: each WriteBatch call becomes one produce
		// request per partition (more if it exceeds BatchSize or BatchBytes),
		// sent as soon as the call has sorted its messages: the 1ns batch
		// timer fires once the call releases the partition.
		BatchSize:              max(o.policy.Count, defaultWriterBatchSize),
		BatchBytes:             o.batchBytes,
		BatchTimeout:           time.Nanosecond,
		MaxAttempts:            o.maxAttempts,
		ReadTimeout:            o.conn.timeout,
		WriteTimeout:           o.conn.timeout,
		RequiredAcks:           o.acks,
		Compression:            o.compression,
		Transport:              o.transport,
		AllowAutoTopicCreation: o.autoCreate,
		ErrorLogger:            kafka.LoggerFunc(func(f string, args ...any) { o.log.Debugf(f, args...) }),
	}
	return nil
}

// WriteBatch writes the batch and fails exactly the messages not written.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	o.mu.RLock()
	w := o.writer
	o.mu.RUnlock()
	if w == nil {
		return service.ErrNotConnected
	}

	errs := make([]error, len(batch))
	msgs := make([]kafka.Message, len(batch))
	var order []string // topics in order of first appearance
	byTopic := map[string][]int{}
	topics := batch.InterpolationExecutor(o.topic)
	keys := batch.InterpolationExecutor(o.key)
	for i := range batch {
		m, err := o.record(batch[i], topics, keys, i)
		if err != nil {
			errs[i] = err
			continue
		}
		msgs[i] = m
		if _, seen := byTopic[m.Topic]; !seen {
			order = append(order, m.Topic)
		}
		byTopic[m.Topic] = append(byTopic[m.Topic], i)
	}

	// Topics are written concurrently; within a topic kafka-go writes each
	// partition's records in batch order.
	var wg sync.WaitGroup
	for _, topic := range order {
		idx := byTopic[topic]
		wg.Add(1)
		go func() {
			defer wg.Done()
			group := make([]kafka.Message, len(idx))
			for j, i := range idx {
				group[j] = msgs[i]
			}
			err := w.WriteMessages(ctx, group...)
			if err == nil {
				return
			}
			var werrs kafka.WriteErrors
			if errors.As(err, &werrs) && len(werrs) == len(idx) {
				for j, i := range idx {
					if werrs[j] != nil {
						errs[i] = fmt.Errorf("writing to topic %s: %w", topic, werrs[j])
					}
				}
				return
			}
			for _, i := range idx {
				errs[i] = fmt.Errorf("writing to topic %s: %w", topic, err)
			}
		}()
	}
	wg.Wait()

	var berr *service.BatchError
	nFailed := 0
	for i, err := range errs {
		if err == nil {
			continue
		}
		if berr == nil {
			berr = service.NewBatchError(batch, err)
		}
		berr = berr.Failed(i, err)
		nFailed++
	}
	o.sent.Incr(int64(len(batch) - nFailed))
	if berr == nil {
		return nil
	}
	o.failed.Incr(int64(nFailed))
	return berr
}

// record builds the Kafka record of message i of a batch.
func (o *output) record(msg *service.Message, topics, keys *service.MessageBatchInterpolationExecutor, i int) (kafka.Message, error) {
	var m kafka.Message
	topic, err := topics.TryString(i)
	if err != nil {
		return m, fmt.Errorf("interpolating topic: %w", err)
	}
	if topic == "" {
		return m, errors.New("interpolated topic is empty")
	}
	key, err := keys.TryBytes(i)
	if err != nil {
		return m, fmt.Errorf("interpolating key: %w", err)
	}
	value, err := msg.AsBytes()
	if err != nil {
		return m, fmt.Errorf("reading message: %w", err)
	}
	m = kafka.Message{Topic: topic, Value: value}
	if len(key) > 0 {
		m.Key = key
	}
	if o.meta != nil {
		_ = o.meta.Walk(msg, func(k, v string) error {
			m.Headers = append(m.Headers, kafka.Header{Key: k, Value: []byte(v)})
			return nil
		})
	}
	if size := recordSize(m); size > o.batchBytes {
		return kafka.Message{}, fmt.Errorf("record of %d bytes exceeds max_batch_bytes (%d)", size, o.batchBytes)
	}
	return m, nil
}

// recordSize approximates the encoded size of a record the way kafka-go
// checks it against BatchBytes (key, value and headers plus overhead).
func recordSize(m kafka.Message) int64 {
	n := int64(len(m.Key) + len(m.Value) + 30)
	for _, h := range m.Headers {
		n += int64(len(h.Key) + len(h.Value) + 10)
	}
	return n
}

// Close flushes and closes the writer and its connections.
func (o *output) Close(ctx context.Context) error {
	o.mu.Lock()
	w, tr := o.writer, o.transport
	o.writer, o.transport = nil, nil
	o.mu.Unlock()
	if w == nil {
		return nil
	}
	err := w.Close()
	tr.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("closing kafka writer: %w", err)
	}
	return nil
}
