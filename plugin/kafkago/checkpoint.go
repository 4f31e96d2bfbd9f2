package kafkago

import (
	"context"
	"sync"
)

// checkpointer tracks the messages of one partition that are in flight and
// computes the offset that may be committed: the offset after the longest
// run of acknowledged messages starting at the partition's start offset.
// Batches are tracked in offset order and may be acknowledged in any order.
type checkpointer struct {
	mu        sync.Mutex
	pending   []*span // tracked batches in offset order, oldest first
	committed int64   // next offset after the acknowledged prefix
	inFlight  int     // messages tracked but not yet acknowledged
	freed     chan struct{}
}

// span is one tracked batch: offsets up to (excluding) next.
type span struct {
	next  int64
	n     int
	acked bool
}

func newCheckpointer(start int64) *checkpointer {
	return &checkpointer{committed: start, freed: make(chan struct{}, 1)}
}

// track registers n messages ending before offset next and returns the
// function that acknowledges them. Calling it more than once is harmless.
func (c *checkpointer) track(next int64, n int) func() {
	s := &span{next: next, n: n}
	c.mu.Lock()
	c.pending = append(c.pending, s)
	c.inFlight += n
	c.mu.Unlock()
	return func() { c.ack(s) }
}

func (c *checkpointer) ack(s *span) {
	c.mu.Lock()
	if s.acked {
		c.mu.Unlock()
		return
	}
	s.acked = true
	c.inFlight -= s.n
	i := 0
	for i < len(c.pending) && c.pending[i].acked {
		c.committed = c.pending[i].next
		i++
	}
	if i > 0 {
		clear(c.pending[:i])
		c.pending = c.pending[i:]
	}
	c.mu.Unlock()
	select {
	case c.freed <- struct{}{}:
	default:
	}
}

// state returns the committable offset and the number of messages in flight.
func (c *checkpointer) state() (committed int64, inFlight int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.committed, c.inFlight
}

// waitBelow blocks until fewer than limit messages are in flight, returning
// how many more may be tracked, or 0 once ctx is done.
func (c *checkpointer) waitBelow(ctx context.Context, limit int) int {
	for {
		_, n := c.state()
		if n < limit {
			return limit - n
		}
		select {
		case <-ctx.Done():
			return 0
		case <-c.freed:
		}
	}
}

// setStart sets the committable offset before anything was tracked.
func (c *checkpointer) setStart(offset int64) {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.committed = offset
	}
	c.mu.Unlock()
}

// untrackLast forgets the most recently tracked batch, which was never
// handed out, without moving the committable offset.
func (c *checkpointer) untrackLast() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.pending); n > 0 && !c.pending[n-1].acked {
		c.inFlight -= c.pending[n-1].n
		c.pending[n-1] = nil
		c.pending = c.pending[:n-1]
	}
}

// demand is level-triggered: its channel is closed while ReadBatch waits
// for a batch and none is ready, i.e. while the pipeline has nothing of this
// input to work on. Partition consumers hold partial batches back while the
// pipeline is busy and hand them out at once when it asks.
type demand struct {
	mu      sync.Mutex
	ch      chan struct{}
	waiters int
}

func newDemand() *demand { return &demand{ch: make(chan struct{})} }

// wanted returns a channel that is closed while a reader waits.
func (d *demand) wanted() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch
}

// begin marks a reader as waiting; end marks it as served.
func (d *demand) begin() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.waiters == 0 {
		close(d.ch)
	}
	d.waiters++
}

func (d *demand) end() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.waiters--
	if d.waiters == 0 {
		d.ch = make(chan struct{})
	}
}
