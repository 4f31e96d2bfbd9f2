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

// Input field names.
const (
	fieldTopics            = "topics"
	fieldConsumerGroup     = "consumer_group"
	fieldStartFrom         = "start_from"
	fieldFetchMinBytes     = "fetch_min_bytes"
	fieldFetchMaxBytes     = "fetch_max_bytes"
	fieldFetchMaxWait      = "fetch_max_wait"
	fieldCheckpointLimit   = "checkpoint_limit"
	fieldCommitPeriod      = "commit_period"
	fieldSnapshot          = "snapshot"
	fieldHeartbeatInterval = "heartbeat_interval"
	fieldSessionTimeout    = "session_timeout"
	fieldRebalanceTimeout  = "rebalance_timeout"
	fieldBatching          = "batching"
)

const (
	startEarliest = "earliest"
	startLatest   = "latest"
)

func inputSpec() *service.ConfigSpec {
	fields := connectionFields()
	fields = append(fields,
		service.NewStringListField(fieldTopics).
			Description("Topics to consume. An item may hold several comma-separated topics.").
			Example([]string{"erp.accounts"}),
		service.NewStringField(fieldConsumerGroup).
			Description("The consumer group whose committed offsets the input resumes from and commits to. Instances with the same group share the partitions.").
			Example("concurflow-accounts"),
		service.NewStringEnumField(fieldStartFrom, startEarliest, startLatest).
			Description("Where to start a partition that has no committed offset in the group (or whose committed offset is no longer in the log).").
			Default(startEarliest),
		service.NewIntField(fieldFetchMinBytes).
			Description("The least data, in bytes, a broker gathers before it answers a fetch (it answers anyway after `fetch_max_wait`).").
			Default(1).
			Advanced(),
		service.NewIntField(fieldFetchMaxBytes).
			Description("The most data, in bytes, one fetch of one partition returns. It bounds the memory held per partition.").
			Default(4194304).
			Advanced(),
		service.NewDurationField(fieldFetchMaxWait).
			Description("How long a broker may hold a fetch while waiting for `fetch_min_bytes`. It is also how late a `batching.period` may fire while no data arrives.").
			Default("250ms").
			Advanced(),
		service.NewIntField(fieldCheckpointLimit).
			Description("The most messages of one partition that may be in flight (delivered but not yet acknowledged). Reading that partition pauses at the limit.").
			Default(1024),
		service.NewDurationField(fieldCommitPeriod).
			Description("How often acknowledged offsets are committed to the group. Offsets are also committed when partitions are revoked and when the input closes.").
			Default("1s").
			Advanced(),
		service.NewBoolField(fieldSnapshot).
			Description("Read every partition assigned to this member only up to the high-water mark it had when the input connected, commit, and then end the input: a compacted topic replayed as a bounded snapshot (for resyncs). Usually combined with `start_from: earliest` and a fresh `consumer_group`.").
			Default(false),
		service.NewDurationField(fieldHeartbeatInterval).
			Description("How often the member sends heartbeats to the group coordinator; also how quickly it notices a rebalance.").
			Default("3s").
			Advanced(),
		service.NewDurationField(fieldSessionTimeout).
			Description("How long the coordinator waits without heartbeats before it evicts the member.").
			Default("30s").
			Advanced(),
		service.NewDurationField(fieldRebalanceTimeout).
			Description("How long the coordinator waits for members to rejoin during a rebalance. A revoked partition waits up to half of it for its in-flight messages to be acknowledged before it commits and lets go.").
			Default("30s").
			Advanced(),
		service.NewBatchPolicyField(fieldBatching).
			Description("Groups the messages of one partition into batches. When it is not set, each fetch of a partition becomes one batch (at most `checkpoint_limit` messages; several fetches while the pipeline is behind)."),
	)
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Consumes Kafka topics in a consumer group with at-least-once delivery and order kept per partition (segmentio/kafka-go).").
		Description(`
Joins `+"`consumer_group`"+` and reads the partitions assigned to this member. Messages of a partition are delivered in offset order, in batches that never mix partitions.

### Delivery guarantees

At least once. An offset is committed only when it and every earlier offset of its partition were acknowledged; acknowledgements may arrive out of order, the committed offset only moves over an unbroken run. A rejected (nacked) batch is delivered again (only its failed messages, when the error says which), and the committed offset does not pass it until it is acknowledged; batches of the same partition read meanwhile may be delivered before the retry, so order per partition is strict only while nothing is rejected. At most `+"`checkpoint_limit`"+` messages per partition are in flight.

When a rebalance revokes a partition, reading it stops, the member waits for its in-flight messages (at most half of `+"`rebalance_timeout`"+`), commits the acknowledged offsets and hands the partition over; whatever was not acknowledged is read again by the new owner. Batches of a partition let go of that were read but not yet delivered to the pipeline are dropped; acknowledgements arriving after the hand-over are not committed. The same happens when the input closes. Duplicates are therefore possible after a rebalance, a crash or a shutdown with messages in flight; losses are not.

### Batches

A batch holds messages of one partition and is complete when the `+"`batching`"+` policy's count, byte size or check says so. A batch cut short — by the policy's period, by the end of a fetch when there is no policy, or by `+"`checkpoint_limit`"+` — is handed out only while the pipeline waits for input (or when it alone fills `+"`checkpoint_limit`"+`). While the pipeline is busy with earlier batches it keeps growing instead: a small batch would only queue behind them and cost a downstream request as much as a full one, and batches would otherwise stay small for good after a stall. A period therefore fires late while the pipeline is busy, by up to `+"`fetch_max_wait`"+` after it asks for more; without a policy, several fetches may make one batch.

### Snapshot mode

With `+"`snapshot: true`"+` the input records each partition's high-water mark when it connects, reads its partitions up to there, waits for every message to be acknowledged, commits and ends (the stream shuts down once it has drained). Partitions created after the input connected are not read. If several members share the group, each ends once the partitions assigned to it are done.

### Metadata

Each message carries:

`+"```text"+`
- kafka_topic
- kafka_partition
- kafka_offset
- kafka_key
- kafka_timestamp (RFC 3339 with fractional seconds, UTC)
- kafka_timestamp_unix (seconds)
- every record header, by its name
`+"```"+`

### Metrics

`+"`kafka_go_input_received`"+` (messages), `+"`kafka_go_input_commits`"+`, `+"`kafka_go_input_commit_errors`"+`, `+"`kafka_go_input_rebalances`"+` (generations joined) `+"`kafka_go_input_fetch_errors`"+` and the gauge `+"`kafka_go_input_lag`"+` (labels `+"`topic`"+`, `+"`partition`"+`: high-water mark minus next offset to read).`).
		Fields(fields...).
		Example("Consume ERP accounts", "Reads a topic of account records in a consumer group.", `
input:
  kafka_go:
    addresses: [ "127.0.0.1:9092" ]
    topics: [ erp.accounts ]
    consumer_group: concurflow-accounts
    start_from: earliest
    checkpoint_limit: 1024
    batching:
      count: 500
      period: 1s
`).
		Example("Resync snapshot", "Replays a compacted topic of current ERP records up to its end and stops.", `
input:
  kafka_go:
    addresses: [ "127.0.0.1:9092" ]
    topics: [ erp.accounts.compacted ]
    consumer_group: concurflow-resync-2026-11-22
    start_from: earliest
    snapshot: true
`)
}

func init() {
	err := service.RegisterBatchInput("kafka_go", inputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchInput, error) {
			in, err := newInput(conf, mgr)
			if err != nil {
				return nil, err
			}
			return service.AutoRetryNacksBatched(in), nil
		})
	if err != nil {
		panic(err)
	}
}

// inputConfig is the parsed input configuration.
type inputConfig struct {
	conn              connConfig
	topics            []string
	group             string
	startOffset       int64 // kafka.FirstOffset or kafka.LastOffset
	fetchMinBytes     int
	fetchMaxBytes     int
	fetchMaxWait      time.Duration
	checkpointLimit   int
	commitPeriod      time.Duration
	snapshot          bool
	heartbeatInterval time.Duration
	sessionTimeout    time.Duration
	rebalanceTimeout  time.Duration
	batching          service.BatchPolicy
}

func parseInputConfig(conf *service.ParsedConfig) (inputConfig, error) {
	var (
		c   inputConfig
		err error
	)
	if c.conn, err = parseConnConfig(conf); err != nil {
		return c, err
	}
	if c.topics, err = splitListField(conf, fieldTopics); err != nil {
		return c, err
	}
	if len(c.topics) == 0 {
		return c, errors.New("field topics: at least one topic is required")
	}
	if c.group, err = conf.FieldString(fieldConsumerGroup); err != nil {
		return c, err
	}
	if c.group == "" {
		return c, errors.New("field consumer_group: must not be empty")
	}
	start, err := conf.FieldString(fieldStartFrom)
	if err != nil {
		return c, err
	}
	switch start {
	case startEarliest:
		c.startOffset = kafka.FirstOffset
	case startLatest:
		c.startOffset = kafka.LastOffset
	default:
		return c, fmt.Errorf("field start_from: unknown value %q", start)
	}
	if c.fetchMinBytes, err = conf.FieldInt(fieldFetchMinBytes); err != nil {
		return c, err
	}
	if c.fetchMaxBytes, err = conf.FieldInt(fieldFetchMaxBytes); err != nil {
		return c, err
	}
	if c.fetchMinBytes < 1 || c.fetchMaxBytes < c.fetchMinBytes {
		return c, fmt.Errorf("fields fetch_min_bytes (%d) and fetch_max_bytes (%d): need 1 <= min <= max", c.fetchMinBytes, c.fetchMaxBytes)
	}
	if c.checkpointLimit, err = conf.FieldInt(fieldCheckpointLimit); err != nil {
		return c, err
	}
	if c.checkpointLimit < 1 {
		return c, errors.New("field checkpoint_limit: must be at least 1")
	}
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{fieldFetchMaxWait, &c.fetchMaxWait},
		{fieldCommitPeriod, &c.commitPeriod},
		{fieldHeartbeatInterval, &c.heartbeatInterval},
		{fieldSessionTimeout, &c.sessionTimeout},
		{fieldRebalanceTimeout, &c.rebalanceTimeout},
	}
	for _, d := range durations {
		if *d.dst, err = conf.FieldDuration(d.name); err != nil {
			return c, err
		}
		if *d.dst <= 0 {
			return c, fmt.Errorf("field %s: must be positive", d.name)
		}
	}
	if c.snapshot, err = conf.FieldBool(fieldSnapshot); err != nil {
		return c, err
	}
	if c.batching, err = conf.FieldBatchPolicy(fieldBatching); err != nil {
		return c, err
	}
	return c, nil
}

// input is the kafka_go batch input. Nacks are retried by the
// service.AutoRetryNacksBatched wrapper around it, so its ack functions only
// ever see successes; a batch that is never acknowledged is never committed.
type input struct {
	cfg inputConfig
	log *service.Logger
	res *service.Resources
	met inputMetrics

	// batches carries batches from partition consumers to ReadBatch. Its
	// small buffer lets partitions fetch ahead while the pipeline takes the
	// previous batch (it doubled throughput on loopback); a batch left in it
	// at Close was never delivered, so it is neither acknowledged nor
	// committed.
	batches chan readBatch
	// demand signals partition consumers that ReadBatch waits for a batch.
	demand *demand

	mu       sync.Mutex
	group    *kafka.ConsumerGroup
	stop     context.CancelFunc
	runDone  chan struct{} // closed when run returns
	hardStop chan struct{} // closed by Close: stop waiting for acknowledgements
	ended    chan struct{} // snapshot: closed once everything is committed
	endOnce  sync.Once
	ends     map[topicPartition]int64 // snapshot: offsets to read up to
}

// batchesBuffer is how many batches may wait for ReadBatch.
const batchesBuffer = 4

type readBatch struct {
	batch service.MessageBatch
	ack   service.AckFunc
	from  *partitionConsumer
}

type topicPartition struct {
	topic     string
	partition int
}

type inputMetrics struct {
	received    *service.MetricCounter
	commits     *service.MetricCounter
	commitErrs  *service.MetricCounter
	rebalances  *service.MetricCounter
	lag         *service.MetricGauge
	fetchErrors *service.MetricCounter
}

func newInput(conf *service.ParsedConfig, res *service.Resources) (*input, error) {
	cfg, err := parseInputConfig(conf)
	if err != nil {
		return nil, err
	}
	if !cfg.batching.IsNoop() {
		b, err := cfg.batching.NewBatcher(res)
		if err != nil {
			return nil, fmt.Errorf("field batching: %w", err)
		}
		_ = b.Close(context.Background())
	}
	m := res.Metrics()
	return &input{
		cfg: cfg,
		log: res.Logger(),
		res: res,
		met: inputMetrics{
			received:    m.NewCounter("kafka_go_input_received"),
			commits:     m.NewCounter("kafka_go_input_commits"),
			commitErrs:  m.NewCounter("kafka_go_input_commit_errors"),
			rebalances:  m.NewCounter("kafka_go_input_rebalances"),
			lag:         m.NewGauge("kafka_go_input_lag", "topic", "partition"),
			fetchErrors: m.NewCounter("kafka_go_input_fetch_errors"),
		},
		batches:  make(chan readBatch, batchesBuffer),
		demand:   newDemand(),
		hardStop: make(chan struct{}),
		ended:    make(chan struct{}),
	}, nil
}

// Connect joins the consumer group; in snapshot mode it first records the
// high-water mark of every partition of the topics.
func (in *input) Connect(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.group != nil {
		return nil
	}
	if in.cfg.snapshot && in.ends == nil {
		ends, err := highWaterMarks(ctx, in.cfg.conn, in.cfg.topics)
		if err != nil {
			return fmt.Errorf("reading high-water marks for snapshot: %w", err)
		}
		in.ends = ends
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                in.cfg.group,
		Brokers:           in.cfg.conn.addresses,
		Dialer:            in.cfg.conn.dialer(),
		Topics:            in.cfg.topics,
		HeartbeatInterval: in.cfg.heartbeatInterval,
		SessionTimeout:    in.cfg.sessionTimeout,
		RebalanceTimeout:  in.cfg.rebalanceTimeout,
		JoinGroupBackoff:  time.Second,
		StartOffset:       in.cfg.startOffset,
		Timeout:           in.cfg.conn.timeout,
		ErrorLogger:       kafka.LoggerFunc(func(f string, args ...any) { in.log.Debugf(f, args...) }),
	})
	if err != nil {
		return fmt.Errorf("creating consumer group %s: %w", in.cfg.group, err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	in.group, in.stop, in.runDone = group, stop, make(chan struct{})
	go in.run(runCtx, group, in.runDone)
	return nil
}

// run hands each generation of the group to its partition consumers until
// the group is closed.
func (in *input) run(ctx context.Context, group *kafka.ConsumerGroup, done chan<- struct{}) {
	defer close(done)
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return
			}
			in.log.Warnf("Joining consumer group %s: %v", in.cfg.group, err)
			continue
		}
		in.met.rebalances.Incr(1)
		in.startGeneration(gen)
	}
}

// startGeneration starts one consumer per assigned partition and the
// generation's committer. kafka-go ends the generation as soon as any of them
// returns, so each runs until the generation's context is done.
func (in *input) startGeneration(gen *kafka.Generation) {
	var parts []*partitionConsumer
	for topic, assigned := range gen.Assignments {
		for _, a := range assigned {
			p := newPartitionConsumer(in, topic, a.ID, a.Offset)
			parts = append(parts, p)
		}
	}
	in.log.Infof("Consumer group %s generation %d: %d partitions assigned", in.cfg.group, gen.ID, len(parts))
	for _, p := range parts {
		gen.Start(p.run)
	}
	gen.Start(func(ctx context.Context) { in.commitLoop(ctx, gen, parts) })
}

// commitLoop commits acknowledged offsets every commit period and, once the
// generation ends, after every partition consumer has drained.
func (in *input) commitLoop(ctx context.Context, gen *kafka.Generation, parts []*partitionConsumer) {
	t := time.NewTicker(in.cfg.commitPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			for _, p := range parts {
				<-p.exited
			}
			in.commit(gen, parts)
			in.checkSnapshotEnd(parts)
			return
		case <-t.C:
			in.commit(gen, parts)
			in.checkSnapshotEnd(parts)
		}
	}
}

// commit sends the committable offset of every partition that moved since
// the last successful commit.
func (in *input) commit(gen *kafka.Generation, parts []*partitionConsumer) {
	offsets := map[string]map[int]int64{}
	var moved []*partitionConsumer
	for _, p := range parts {
		off, ok := p.committable()
		if !ok {
			continue
		}
		if offsets[p.topic] == nil {
			offsets[p.topic] = map[int]int64{}
		}
		offsets[p.topic][p.partition] = off
		moved = append(moved, p)
	}
	if len(moved) == 0 {
		return
	}
	if err := gen.CommitOffsets(offsets); err != nil {
		in.met.commitErrs.Incr(1)
		in.log.Errorf("Committing offsets for group %s generation %d: %v", in.cfg.group, gen.ID, err)
		return
	}
	in.met.commits.Incr(1)
	for _, p := range moved {
		p.markCommitted(offsets[p.topic][p.partition])
	}
}

// checkSnapshotEnd ends the input once every partition of the generation was
// read to its end and everything read was acknowledged and committed.
func (in *input) checkSnapshotEnd(parts []*partitionConsumer) {
	if !in.cfg.snapshot {
		return
	}
	for _, p := range parts {
		if !p.snapshotComplete() {
			return
		}
	}
	in.endOnce.Do(func() {
		in.log.Infof("Snapshot of %v complete", in.cfg.topics)
		close(in.ended)
	})
}

// ReadBatch returns the next batch of one partition. Batches of a partition
// this member has let go of (its consumer stopped waiting for
// acknowledgements after a rebalance) are dropped unread: they were never
// delivered, their offsets are not committed, and the partition's new owner
// reads them again. Delivering them would only spend the pipeline's time on
// duplicates, out of order with the new owner's batches.
func (in *input) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	in.mu.Lock()
	runDone := in.runDone
	in.mu.Unlock()
	if runDone == nil {
		return nil, nil, service.ErrNotConnected
	}
	for {
		b, err := in.nextBatch(ctx, runDone)
		if err != nil {
			return nil, nil, err
		}
		if b.from.released() {
			in.log.Debugf("Dropping %d undelivered messages of %s/%d, which this member let go of", len(b.batch), b.from.topic, b.from.partition)
			continue
		}
		return b.batch, b.ack, nil
	}
}

// nextBatch waits for a batch from the partition consumers. While none is
// ready it signals demand, so that partial batches held back are handed out.
func (in *input) nextBatch(ctx context.Context, runDone <-chan struct{}) (readBatch, error) {
	select {
	case b := <-in.batches:
		return b, nil
	default:
	}
	in.demand.begin()
	defer in.demand.end()
	select {
	case b := <-in.batches:
		return b, nil
	case <-in.ended:
		return readBatch{}, service.ErrEndOfInput
	case <-runDone:
		return readBatch{}, service.ErrNotConnected
	case <-ctx.Done():
		return readBatch{}, ctx.Err()
	}
}

// Close leaves the group: partition consumers stop reading and commit what
// was acknowledged. Benthos calls Close only once every acknowledgement in
// flight has been resolved, so Close does not wait for more: whatever is
// still unacknowledged (a batch read but never delivered during shutdown, a
// nack awaiting retry) is not committed and will be read again. Close returns
// once every goroutine of the input has stopped.
func (in *input) Close(ctx context.Context) error {
	in.mu.Lock()
	group, stop, runDone := in.group, in.stop, in.runDone
	in.group = nil
	in.mu.Unlock()
	if group == nil {
		return nil
	}
	close(in.hardStop)
	stop()
	_ = group.Close()
	<-runDone
	return nil
}

// highWaterMarks lists the high-water mark of every partition of topics.
func highWaterMarks(ctx context.Context, conn connConfig, topics []string) (map[topicPartition]int64, error) {
	tr := conn.transport()
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(conn.addresses...), Timeout: conn.timeout, Transport: tr}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, err
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, t := range meta.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("topic %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			req.Topics[t.Name] = append(req.Topics[t.Name], kafka.LastOffsetOf(p.ID))
		}
	}
	resp, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, err
	}
	ends := map[topicPartition]int64{}
	for topic, parts := range resp.Topics {
		for _, p := range parts {
			if p.Error != nil {
				return nil, fmt.Errorf("topic %s partition %d: %w", topic, p.Partition, p.Error)
			}
			ends[topicPartition{topic, p.Partition}] = p.LastOffset
		}
	}
	return ends, nil
}
