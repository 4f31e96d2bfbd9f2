package kafkago

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/segmentio/kafka-go"
)

// errOffsetReset asks the consumer to reconnect at once so that its next
// offset is checked against the partition's bounds again.
var errOffsetReset = errors.New("offset out of range")

// partitionConsumer reads one partition for one generation of the group. It
// fetches from the partition leader over its own connection, groups the
// records into batches, hands them to ReadBatch in offset order and tracks
// their acknowledgements.
type partitionConsumer struct {
	in        *input
	topic     string
	partition int
	label     string // partition as a metric label
	start     int64  // assigned offset; kafka.FirstOffset/LastOffset if none was committed
	end       int64  // snapshot: offset to read up to; -1 otherwise
	cp        *checkpointer
	exited    chan struct{} // closed when run has returned

	// Owned by the run goroutine.
	batcher      *service.Batcher // nil without a batching policy
	noopBatching bool
	pending      service.MessageBatch // without a batching policy
	pendingN     int                  // messages added to batcher but not flushed
	pendingBytes int                  // their total value size
	pendingFirst int64                // offset of the first of them
	pendingNext  int64                // offset after the last of them

	mu            sync.Mutex
	resolved      bool  // the start offset is absolute and cp is seeded
	lastCommitted int64 // last offset committed (or the resolved start)
	reachedEnd    bool  // snapshot: everything up to end was handed out
}

func newPartitionConsumer(in *input, topic string, partition int, start int64) *partitionConsumer {
	end := int64(-1)
	if in.cfg.snapshot {
		end = in.ends[topicPartition{topic, partition}]
	}
	return &partitionConsumer{
		in:           in,
		topic:        topic,
		partition:    partition,
		label:        strconv.Itoa(partition),
		start:        start,
		end:          end,
		cp:           newCheckpointer(start),
		exited:       make(chan struct{}),
		noopBatching: in.cfg.batching.IsNoop(),
	}
}

// run consumes the partition until ctx (the generation) is done, then waits
// for in-flight messages to be acknowledged so that the final commit covers
// them.
func (p *partitionConsumer) run(ctx context.Context) {
	defer close(p.exited)
	defer p.drain()

	if !p.noopBatching {
		batcher, err := p.in.cfg.batching.NewBatcher(p.in.res)
		if err != nil {
			// The policy was checked when the input was created; this cannot
			// fail for a reason a retry would fix.
			p.in.log.Errorf("Creating batcher for %s/%d: %v", p.topic, p.partition, err)
			<-ctx.Done()
			return
		}
		p.batcher = batcher
		defer func() { _ = batcher.Close(context.Background()) }()
	}

	next := p.start
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if attempt > 0 && !sleepCtx(ctx, backoff(attempt)) {
			return
		}
		conn, off, err := p.connect(ctx, next)
		if err != nil {
			p.in.met.fetchErrors.Incr(1)
			p.in.log.Warnf("Connecting to leader of %s/%d: %v", p.topic, p.partition, err)
			continue
		}
		next = off
		p.resolve(off)
		progressed, err := p.consume(ctx, conn, &next)
		_ = conn.Close()
		if ctx.Err() != nil {
			return
		}
		if progressed || errors.Is(err, errOffsetReset) {
			attempt = 0
		}
		if err != nil && !errors.Is(err, errOffsetReset) {
			p.in.met.fetchErrors.Incr(1)
			p.in.log.Warnf("Fetching %s/%d at offset %d: %v", p.topic, p.partition, next, err)
		}
	}
}

// connect dials the partition leader and resolves offset (which may be
// relative, or outside the log after retention) to an absolute offset.
func (p *partitionConsumer) connect(ctx context.Context, offset int64) (*kafka.Conn, int64, error) {
	dialer := p.in.cfg.conn.dialer()
	var (
		conn *kafka.Conn
		err  error
	)
	for _, addr := range p.in.cfg.conn.addresses {
		if conn, err = dialer.DialLeader(ctx, "tcp", addr, p.topic, p.partition); err == nil {
			break
		}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("dialing leader: %w", err)
	}
	_ = conn.SetDeadline(time.Now().Add(p.in.cfg.conn.timeout))
	first, last, err := conn.ReadOffsets()
	if err != nil {
		_ = conn.Close()
		return nil, 0, fmt.Errorf("reading log bounds: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	switch {
	case offset == kafka.FirstOffset:
		offset = first
	case offset == kafka.LastOffset:
		offset = last
	case offset < first || offset > last:
		reset := first
		if p.in.cfg.startOffset == kafka.LastOffset {
			reset = last
		}
		p.in.log.Warnf("Offset %d of %s/%d is outside the log [%d, %d]; continuing at %d", offset, p.topic, p.partition, first, last, reset)
		offset = reset
	}
	if _, err := conn.Seek(offset, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
		_ = conn.Close()
		return nil, 0, fmt.Errorf("seeking to %d: %w", offset, err)
	}
	return conn, offset, nil
}

// resolve seeds the checkpointer with the first absolute offset.
func (p *partitionConsumer) resolve(offset int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resolved {
		return
	}
	p.resolved = true
	p.lastCommitted = offset
	p.cp.setStart(offset)
}

// consume fetches until ctx is done or the connection fails. It reports
// whether any fetch succeeded. *next is the offset of the next record to
// hand out.
func (p *partitionConsumer) consume(ctx context.Context, conn *kafka.Conn, next *int64) (bool, error) {
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	cfg := kafka.ReadBatchConfig{
		MinBytes: p.in.cfg.fetchMinBytes,
		MaxBytes: p.in.cfg.fetchMaxBytes,
		MaxWait:  p.in.cfg.fetchMaxWait,
	}
	progressed := false
	var msgs []kafka.Message
	for {
		if p.end >= 0 && *next >= p.end {
			if err := p.flush(ctx, next); err != nil {
				return progressed, err
			}
			p.mu.Lock()
			p.reachedEnd = true
			p.mu.Unlock()
			<-ctx.Done()
			return progressed, nil
		}
		if p.pendingN > 0 && p.periodDue() && p.partialDue() {
			if err := p.flush(ctx, next); err != nil {
				return progressed, err
			}
		}
		if !p.reserve(ctx, next) {
			return progressed, nil
		}
		cfg.MaxWait = p.in.cfg.fetchMaxWait
		if p.pendingN > 0 && p.batcher != nil {
			// Wake up for the period, unless it is already due and the
			// batch is held back (see partialDue): then poll no faster
			// than fetch_max_wait.
			if d, timed := p.batcher.UntilNext(); timed && d > time.Millisecond {
				cfg.MaxWait = min(cfg.MaxWait, d)
			}
		}
		// The connection keeps its own position, which runs ahead of *next
		// when a flush could not hand messages out and rewound *next.
		if _, err := conn.Seek(*next, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
			return progressed, fmt.Errorf("seeking to %d: %w", *next, err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(cfg.MaxWait + p.in.cfg.conn.timeout))
		batch := conn.ReadBatchWith(cfg)
		hwm := batch.HighWaterMark()
		msgs = msgs[:0]
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			msgs = append(msgs, m)
		}
		fetchErr := batch.Close()
		_ = conn.SetReadDeadline(time.Time{})
		if err := p.hand(ctx, msgs, next); err != nil {
			return progressed, err
		}
		emptyFetch := len(msgs) == 0 && (fetchErr == nil || errors.Is(fetchErr, kafka.RequestTimedOut))
		if p.end >= 0 && emptyFetch && hwm >= p.end && *next < p.end {
			// A fetch returns records whenever any exist at or after the
			// offset asked for, so an empty fetch with the high-water mark
			// at or past the snapshot's end means the rest up to the end
			// was compacted away.
			*next = p.end
		}
		if ctx.Err() != nil {
			return progressed, nil
		}
		switch {
		case fetchErr == nil, errors.Is(fetchErr, kafka.RequestTimedOut):
			// kafka-go reports a fetch that found no new records within
			// its max wait as RequestTimedOut.
			progressed = true
		case errors.Is(fetchErr, kafka.OffsetOutOfRange):
			return progressed, errOffsetReset
		default:
			return progressed, fetchErr
		}
		p.in.met.lag.Set(max(hwm-*next, 0), p.topic, p.label)
	}
}

// periodDue reports whether pending messages should be flushed after a
// fetch: always without a batching policy (a fetch is a batch), else when the
// policy's period has elapsed.
func (p *partitionConsumer) periodDue() bool {
	if p.batcher == nil {
		return true
	}
	d, timed := p.batcher.UntilNext()
	return timed && d <= time.Millisecond
}

// hand adds fetched records to the batcher, flushing whenever they fill a
// batch; at the checkpoint limit or once the period elapsed it flushes a
// partial batch only as reserve and partialDue allow.
func (p *partitionConsumer) hand(ctx context.Context, msgs []kafka.Message, next *int64) error {
	// Counted once per fetch: each Incr is a metrics lookup.
	received := 0
	defer func() {
		if received > 0 {
			p.in.met.received.Incr(int64(received))
		}
	}()
	for i := range msgs {
		m := &msgs[i]
		if m.Offset < *next {
			continue // a compressed batch may start before the requested offset
		}
		if p.end >= 0 && m.Offset >= p.end {
			break
		}
		if !p.reserve(ctx, next) {
			return nil
		}
		if p.pendingN == 0 {
			p.pendingFirst = m.Offset
		}
		p.pendingN++
		p.pendingBytes += len(m.Value)
		p.pendingNext = m.Offset + 1
		*next = m.Offset + 1
		received++
		msg := toServiceMessage(p.topic, p.partition, m)
		if p.batcher == nil {
			p.pending = append(p.pending, msg)
		} else if p.batcher.Add(msg) && (p.filled() || p.partialDue()) {
			// Add also reports an elapsed period, which after a long
			// hand-off to a busy pipeline is every time: that alone must
			// not cut batches short (see partialDue).
			if err := p.flush(ctx, next); err != nil {
				return err
			}
		}
	}
	return nil
}

// reserve waits until one more message may be put in flight. At the
// checkpoint limit, pending messages are handed out as a batch only if they
// alone fill the limit or partialDue says so; otherwise reserve waits for
// acknowledgements, so that the freed room goes into the pending batch
// instead of into a small batch of its own. It returns false once ctx is
// done.
func (p *partitionConsumer) reserve(ctx context.Context, next *int64) bool {
	limit := p.in.cfg.checkpointLimit
	for {
		_, inFlight := p.cp.state()
		if inFlight+p.pendingN < limit {
			return true
		}
		if p.pendingN == 0 {
			if p.cp.waitBelow(ctx, limit) == 0 {
				return false
			}
			continue
		}
		wanted := p.in.demand.wanted()
		if inFlight == 0 || p.partialDue() {
			if err := p.flush(ctx, next); err != nil {
				if ctx.Err() == nil {
					p.in.log.Errorf("%v; reading again from offset %d", err, *next)
				}
				return false
			}
			continue
		}
		select {
		case <-ctx.Done():
			return false
		case <-p.cp.freed:
		case <-wanted:
		}
	}
}

// filled reports whether the pending messages fill a batch of the batching
// policy by its count, byte_size or check, as opposed to its period having
// elapsed. With a check and an elapsed period the cause is unknown; it
// counts as the period.
func (p *partitionConsumer) filled() bool {
	pol := p.in.cfg.batching
	switch {
	case pol.Count > 0 && p.pendingN >= pol.Count:
		return true
	case pol.ByteSize > 0 && p.pendingBytes >= pol.ByteSize:
		return true
	case pol.Check != "":
		return !p.periodDue()
	}
	return false
}

// partialDue reports whether pending messages that do not fill a batch (the
// period elapsed, a fetch ended without a batching policy, or the checkpoint
// limit was reached) should be handed out now: only while ReadBatch waits
// because the pipeline has nothing of this input left to work on. While the
// pipeline is busy with earlier batches a small batch would only queue
// behind them, and would cost a downstream request (or write) as much as a
// full one; handed out each time the hand-off or an acknowledgement made
// room for it, batches would stay small for good. Held back, they keep
// growing until they fill a batch or the pipeline asks.
func (p *partitionConsumer) partialDue() bool {
	select {
	case <-p.in.demand.wanted():
		return true
	default:
		return false
	}
}

// flush hands the pending messages to ReadBatch as one batch. If they cannot
// be handed out (ctx done, batching processors failed) *next is rewound to
// the first of them so that nothing is skipped.
func (p *partitionConsumer) flush(ctx context.Context, next *int64) error {
	if p.pendingN == 0 {
		return nil
	}
	n, first, last := p.pendingN, p.pendingFirst, p.pendingNext
	p.pendingN, p.pendingBytes = 0, 0
	batch := p.pending
	p.pending = nil
	if p.batcher != nil {
		var err error
		if batch, err = p.batcher.Flush(ctx); err != nil {
			*next = first
			return fmt.Errorf("flushing batch of %s/%d: %w", p.topic, p.partition, err)
		}
	}
	ack := p.cp.track(last, n)
	if len(batch) == 0 {
		ack() // batching processors dropped every message
		return nil
	}
	rb := readBatch{batch: batch, from: p, ack: func(_ context.Context, err error) error {
		if err == nil {
			ack()
		}
		return nil
	}}
	select {
	case p.in.batches <- rb:
		return nil
	case <-ctx.Done():
		p.cp.untrackLast()
		*next = first
		return ctx.Err()
	}
}

// drain waits for in-flight messages to be acknowledged, at most half the
// rebalance timeout, or until Close stops waiting.
func (p *partitionConsumer) drain() {
	if _, n := p.cp.state(); n == 0 {
		return
	}
	t := time.NewTimer(p.in.cfg.rebalanceTimeout / 2)
	defer t.Stop()
	for {
		_, n := p.cp.state()
		if n == 0 {
			return
		}
		select {
		case <-p.cp.freed:
		case <-t.C:
			p.in.log.Warnf("Letting go of %s/%d with %d messages unacknowledged; they will be delivered again", p.topic, p.partition, n)
			return
		case <-p.in.hardStop:
			return
		}
	}
}

// released reports whether the consumer has stopped: its partition was let
// go of and its checkpoint is no longer committed.
func (p *partitionConsumer) released() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// committable returns the offset to commit if it moved since the last commit.
func (p *partitionConsumer) committable() (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.resolved {
		return 0, false
	}
	off, _ := p.cp.state()
	return off, off != p.lastCommitted
}

func (p *partitionConsumer) markCommitted(off int64) {
	p.mu.Lock()
	p.lastCommitted = off
	p.mu.Unlock()
}

// snapshotComplete reports whether the partition was read to its snapshot
// end and everything read was acknowledged and committed.
func (p *partitionConsumer) snapshotComplete() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	committed, inFlight := p.cp.state()
	return p.reachedEnd && inFlight == 0 && committed == p.lastCommitted
}

// toServiceMessage converts a record, headers first so that the kafka_*
// fields win over headers of the same name.
func toServiceMessage(topic string, partition int, m *kafka.Message) *service.Message {
	msg := service.NewMessage(m.Value)
	for _, h := range m.Headers {
		msg.MetaSetMut(h.Key, string(h.Value))
	}
	msg.MetaSetMut("kafka_topic", topic)
	msg.MetaSetMut("kafka_partition", partition)
	msg.MetaSetMut("kafka_offset", m.Offset)
	msg.MetaSetMut("kafka_key", string(m.Key))
	msg.MetaSetMut("kafka_timestamp", m.Time.UTC().Format(time.RFC3339Nano))
	msg.MetaSetMut("kafka_timestamp_unix", m.Time.Unix())
	return msg
}

// backoff is the wait before reconnect attempt n (n >= 1).
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond << min(n-1, 6)
	return min(d, 5*time.Second)
}
