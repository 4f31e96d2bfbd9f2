package concur

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	concurapi "github.com/concurflow/concurflow/concur"
)

// The coalescing writer of concur_accounting.
//
// WriteBatch does not send anything itself: it queues every record on the
// writer of its company, ERP and object (an acctEndpoint) and waits until
// each of its messages is settled. Each endpoint has one sender goroutine
// that, whenever the rate limiter grants the endpoint a slot, packs what is
// queued, from any number of input batches, into one body of at most
// 4,000,000 bytes and sends it. So requests go out at the rate limit and as
// full as the queue allows, however small the input batches are.
//
// Ordering rules, per record id (country code for tax data):
//
//   - Last value wins in the queue: a newer value of an id that is still
//     queued replaces the queued one in place, and the replaced message is
//     settled with the newer one (acknowledged when it is, failed when it
//     fails).
//   - Newer means later in its partition: messages carry an ordering key (a
//     Kafka partition) and offset. A value older than one the endpoint has
//     already taken for the id (batches written concurrently with
//     max_in_flight above 1 reach the writer in any order, and a redelivered
//     batch arrives after newer ones) is never sent: it is settled with the
//     newer value. Without offsets, arrival order decides.
//   - Ids in flight: a request holds its ids until Concur reports its final
//     status (or the status cannot be learnt within await_timeout). While
//     one request is PROCESSING the next may be sent only with other ids;
//     a record whose id is in flight waits in the queue.
//
// Messages are acknowledged when their request is accepted (await:
// accepted) or final (await: final), never earlier. A crash loses nothing
// that was acknowledged; what was not is delivered again and re-sent in
// bodies that may be packed differently (a different if-none-match key),
// which is harmless: writes are upserts and deletes of whole records, so
// the last value per id still wins. A body re-sent exactly is answered 412.

// acctEndpointIdle is how long an endpoint writer without queued or
// in-flight records lives on; its goroutine then ends and its state (the
// newest position per id) is dropped.
const acctEndpointIdle = 2 * time.Minute

// acctFullBody is the queued record bytes at which a body counts as full
// (90 % of the limit): enough to send while another request is processing.
const acctFullBody = concurapi.MaxBodyBytes * 9 / 10

// acctLastTTL is how long the newest position of an id is remembered after
// its last value was settled, to recognise older values arriving late.
const acctLastTTL = 2 * time.Minute

// acctPos is where a record was read: an ordering key (a partition) and an
// offset in it.
type acctPos struct {
	key    string
	offset int64
	ok     bool // the offset is known
}

// before reports whether p was read before q from the same partition.
func (p acctPos) before(q acctPos) bool {
	return p.ok && q.ok && p.key == q.key && p.offset < q.offset
}

// parseAcctPos builds a position from the resolved ordering fields; an
// empty offset means unknown.
func parseAcctPos(key, offset string) (acctPos, error) {
	if offset == "" {
		return acctPos{}, nil
	}
	n, err := strconv.ParseInt(offset, 10, 64)
	if err != nil {
		return acctPos{}, fmt.Errorf("ordering offset %q is not an integer", offset)
	}
	return acctPos{key: key, offset: n, ok: true}, nil
}

// acctTracker follows the messages of one WriteBatch through the writers.
type acctTracker struct {
	fails *acctFailures
	mu    sync.Mutex
	left  int
	done  chan struct{}
}

func newAcctTracker(fails *acctFailures, n int) *acctTracker {
	t := &acctTracker{fails: fails, left: n, done: make(chan struct{})}
	if n == 0 {
		close(t.done)
	}
	return t
}

// settle ends message i: acknowledged when err is nil.
func (t *acctTracker) settle(i int, err error) {
	if err != nil {
		t.fails.fail(i, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.left--
	if t.left == 0 {
		close(t.done)
	}
}

// acctOwner is a message waiting for a record's outcome.
type acctOwner struct {
	t *acctTracker
	i int
	// replaced: the message's own value was replaced by a newer one of the
	// same id, whose outcome it shares.
	replaced bool
}

// acctItem is one record value on its way to Concur, with the messages it
// settles: the one it came from and those whose older values it replaced.
type acctItem struct {
	id     string
	rec    []byte // as sent
	pos    acctPos
	owners []acctOwner
	// done owners are settled; err is their outcome. Owners attached to a
	// request in flight after that (older values arriving late) are
	// settled alike when it is released. Both guarded by the endpoint's mu.
	done int
	err  error
	// next is a newer value of the id that may not replace this one (see
	// acctMustFollow): it is queued once this one is sent.
	next *acctItem
}

// acctMustFollow reports whether the newer record next may not replace the
// queued record prev of the same id, but must reach Concur after it: a
// vendor's type cannot be changed (the Vendors page), so a vendor whose type
// differs from the queued value's, or that follows or precedes a delete,
// is sent after it, for Concur to judge the change as it would have one
// value at a time. Every other newer value simply replaces the older one:
// writes are whole-record upserts and deletes.
func acctMustFollow(obj concurapi.Object, prev, next []byte) bool {
	if obj != concurapi.ObjectVendors {
		return false
	}
	return acctVendorType(prev) != acctVendorType(next)
}

// acctVendorType returns a vendor record's type, "" for a delete.
func acctVendorType(rec []byte) string {
	var v struct {
		Type      string `json:"type"`
		IsDeleted bool   `json:"isDeleted"`
	}
	if json.Unmarshal(rec, &v) != nil || v.IsDeleted {
		return ""
	}
	return v.Type
}

// settleOwners settles owners with the outcome err of the item's value.
func (it *acctItem) settleOwners(owners []acctOwner, err error) {
	for _, ow := range owners {
		e := err
		if e != nil && ow.replaced {
			e = fmt.Errorf("%w (id %s), and that value failed: %w", errAcctSuperseded, it.id, err)
		}
		ow.t.settle(ow.i, e)
	}
}

// settle settles the owners of it not settled yet with err, and records err
// for owners attached later.
func (ep *acctEndpoint) settle(it *acctItem, err error) {
	ep.mu.Lock()
	owners := it.owners[it.done:]
	it.done, it.err = len(it.owners), err
	ep.mu.Unlock()
	it.settleOwners(owners, err)
}

// replacedOwners returns owners marked as replaced.
func replacedOwners(owners []acctOwner) []acctOwner {
	for i := range owners {
		owners[i].replaced = true
	}
	return owners
}

// acctLast is the newest position taken for an id.
type acctLast struct {
	pos acctPos
	at  time.Time // when it was taken or last settled
}

// acctEndpoint is the writer of one company, ERP and object.
type acctEndpoint struct {
	o      *accountingOutput
	key    acctGroupKey
	rk     concurapi.RateKey
	gated  bool // the run's first request must finish before anything else
	wake   chan struct{}
	closed bool // retired: a new endpoint takes its place (guarded by o.epMu)

	mu        sync.Mutex
	queue     []*acctItem // queued records in arrival order
	pending   map[string]*acctItem
	inflight  map[string]*acctItem
	ready     int // queued ids not in flight
	bytes     int // record bytes queued (ready or not)
	requests  int // requests sent and not yet final
	last      map[string]acctLast
	lastSweep time.Time
	idleSince time.Time
}

// endpoint returns the writer of key, starting it when there is none.
// Callers hold o.epMu.
func (o *accountingOutput) endpointLocked(key acctGroupKey) *acctEndpoint {
	if ep, ok := o.endpoints[key]; ok {
		return ep
	}
	ep := &acctEndpoint{
		o:         o,
		key:       key,
		rk:        concurapi.RateKey{Endpoint: string(key.object), CompanyID: key.companyID, ERPID: key.erpID},
		gated:     o.fullSync || (key.object == concurapi.ObjectTaxData && o.taxReplace),
		wake:      make(chan struct{}, 1),
		pending:   map[string]*acctItem{},
		inflight:  map[string]*acctItem{},
		last:      map[string]acctLast{},
		idleSince: time.Now(),
	}
	o.endpoints[key] = ep
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		ep.run(o.runCtx)
	}()
	return ep
}

// enqueue adds records to the endpoint. Callers hold o.epMu.
func (ep *acctEndpoint) enqueue(items []*acctItem) {
	ep.mu.Lock()
	now := time.Now()
	var superseded []*acctItem
	for _, it := range items {
		if l, ok := ep.last[it.id]; ok && it.pos.before(l.pos) {
			// An older value than one already taken: never sent.
			switch {
			case ep.pending[it.id] != nil:
				p := ep.pending[it.id]
				p.owners = append(p.owners, replacedOwners(it.owners)...)
			case ep.inflight[it.id] != nil:
				f := ep.inflight[it.id]
				f.owners = append(f.owners, replacedOwners(it.owners)...)
			default:
				superseded = append(superseded, it)
			}
			continue
		}
		ep.last[it.id] = acctLast{pos: it.pos, at: now}
		if p := ep.pending[it.id]; p != nil {
			for p.next != nil {
				p = p.next
			}
			if acctMustFollow(ep.key.object, p.rec, it.rec) {
				p.next = it
				ep.bytes += len(it.rec)
				continue
			}
			ep.bytes += len(it.rec) - len(p.rec)
			p.rec, p.pos = it.rec, it.pos
			p.owners = append(replacedOwners(p.owners), it.owners...)
			continue
		}
		ep.pending[it.id] = it
		ep.queue = append(ep.queue, it)
		ep.bytes += len(it.rec)
		if ep.inflight[it.id] == nil {
			ep.ready++
		}
	}
	ep.mu.Unlock()
	objLabel := string(ep.key.object)
	for _, it := range superseded {
		// Its newer value was already settled: so is this one.
		ep.o.metrics.records.Incr(int64(len(it.owners)), objLabel, "superseded")
		it.settleOwners(it.owners, nil)
	}
	ep.signal()
}

func (ep *acctEndpoint) signal() {
	select {
	case ep.wake <- struct{}{}:
	default:
	}
}

// take removes from the queue, in order, the records whose ids are not in
// flight, as many as fit one body, marks them in flight and returns the
// body and its records.
func (ep *acctEndpoint) take(deleteAll bool) ([]byte, []*acctItem) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.sweepLocked(time.Now()) // a busy endpoint never idles to sweep
	prefix := acctPrefixData
	if deleteAll {
		prefix = acctPrefixDeleteAll
	}
	size := len(prefix) + len(acctSuffix)
	var taken, follow []*acctItem
	rest := ep.queue[:0]
	full := false
	for _, it := range ep.queue {
		if full || ep.inflight[it.id] != nil {
			rest = append(rest, it)
			continue
		}
		add := len(it.rec)
		if len(taken) > 0 {
			add++ // the comma
		}
		if size+add > concurapi.MaxBodyBytes {
			full = true
			rest = append(rest, it)
			continue
		}
		size += add
		ep.bytes -= len(it.rec)
		taken = append(taken, it)
		delete(ep.pending, it.id)
		ep.inflight[it.id] = it
		ep.ready--
		if it.next != nil {
			// The value that had to follow this one is queued now; it
			// waits while this one is in flight.
			ep.pending[it.id] = it.next
			follow = append(follow, it.next)
			it.next = nil
		}
	}
	rest = append(rest, follow...) // after the loop: rest shares queue's array
	for i := len(rest); i < len(ep.queue); i++ {
		ep.queue[i] = nil
	}
	ep.queue = rest
	if len(taken) == 0 {
		return nil, nil
	}
	ep.requests++
	body := make([]byte, 0, size)
	body = append(body, prefix...)
	for i, it := range taken {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, it.rec...)
	}
	return append(body, acctSuffix...), taken
}

// release ends a request: its ids leave the flight, and records of them
// that waited become sendable.
func (ep *acctEndpoint) release(items []*acctItem) {
	type late struct {
		it     *acctItem
		owners []acctOwner
	}
	var lates []late
	ep.mu.Lock()
	now := time.Now()
	for _, it := range items {
		if it.done > 0 && it.done < len(it.owners) {
			lates = append(lates, late{it, it.owners[it.done:]})
			it.done = len(it.owners)
		}
		if ep.inflight[it.id] == it {
			delete(ep.inflight, it.id)
			if ep.pending[it.id] != nil {
				ep.ready++
			}
		}
		if l, ok := ep.last[it.id]; ok {
			l.at = now
			ep.last[it.id] = l
		}
	}
	ep.requests--
	if ep.requests == 0 && len(ep.queue) == 0 {
		ep.idleSince = now
	}
	ep.mu.Unlock()
	for _, l := range lates {
		ep.o.metrics.records.Incr(int64(len(l.owners)), string(ep.key.object), "superseded")
		l.it.settleOwners(l.owners, l.it.err)
	}
	ep.signal()
}

// sweepLocked forgets the positions of ids settled more than acctLastTTL
// ago. Callers hold ep.mu.
func (ep *acctEndpoint) sweepLocked(now time.Time) {
	if now.Sub(ep.lastSweep) < acctLastTTL/4 {
		return
	}
	ep.lastSweep = now
	for id, l := range ep.last {
		if now.Sub(l.at) >= acctLastTTL && ep.pending[id] == nil && ep.inflight[id] == nil {
			delete(ep.last, id)
		}
	}
}

// idle reports whether the endpoint has had nothing to do for
// acctEndpointIdle.
func (ep *acctEndpoint) idle(now time.Time) bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.sweepLocked(now)
	return len(ep.queue) == 0 && ep.requests == 0 && now.Sub(ep.idleSince) >= ep.o.endpointIdle
}

// retire removes an idle endpoint; it reports false when work arrived
// meanwhile.
func (o *accountingOutput) retire(ep *acctEndpoint) bool {
	o.epMu.Lock()
	defer o.epMu.Unlock()
	if !ep.idle(time.Now()) {
		return false
	}
	ep.closed = true
	delete(o.endpoints, ep.key)
	o.limiter.ForgetIdle(ep.rk)
	return true
}

// run is the endpoint's sender: one request at a time, at the rate limit,
// each carrying what is queued when its slot comes.
func (ep *acctEndpoint) run(ctx context.Context) {
	o := ep.o
	idle := time.NewTicker(o.endpointIdle / 4)
	defer idle.Stop()
	var requests sync.WaitGroup
	defer requests.Wait()
	for {
		ep.mu.Lock()
		ready := ep.ready > 0
		// While a request is processing, the next waits until it can be
		// filled (or nothing is processing any more): with a backlog,
		// requests go out full at the rate limit; when Concur processes
		// slowly, fewer and fuller requests instead of many small ones
		// queued behind each other; when it is quick, nothing changes.
		if ep.requests > 0 && ep.bytes < acctFullBody {
			ready = false
		}
		ep.mu.Unlock()
		if !ready {
			select {
			case <-ep.wake:
			case <-idle.C:
				if o.retire(ep) {
					return
				}
			case <-ctx.Done():
				return
			}
			continue
		}

		first := false
		if ep.gated {
			o.epMu.Lock()
			first = !o.gateDone[ep.key]
			o.epMu.Unlock()
		}
		client, err := o.auth.Client(ctx, ep.key.companyID)
		if err == nil {
			var waited time.Duration
			waited, err = o.limiter.Wait(ctx, ep.rk)
			o.metrics.rateLimitWait.Timing(waited.Nanoseconds(), string(ep.key.object))
			if err != nil {
				err = fmt.Errorf("waiting for the %s rate limit of company %s: %w", ep.key.object, ep.key.companyID, err)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if _, items := ep.take(false); len(items) > 0 {
				ep.fail(items, err)
				ep.release(items)
			}
			continue
		}
		deleteAll := first && ep.key.object.Patchable()
		body, items := ep.take(deleteAll)
		if len(items) == 0 {
			continue // cannot happen: only this goroutine takes
		}
		method := acctMethod(ep.key.object, first)
		res, err := o.send(ctx, client, ep.key, method, body, true)
		if err != nil {
			if ctx.Err() != nil {
				// Stopping: the messages stay unacknowledged and are
				// delivered again.
				return
			}
			ep.fail(items, err)
			ep.release(items)
			continue
		}
		o.metrics.records.Incr(int64(len(items)), string(ep.key.object), "accepted")
		if first {
			// Nothing else is sent until the run's first request is final.
			err := ep.follow(ctx, client, items, res, true)
			o.epMu.Lock()
			o.gateDone[ep.key] = err == nil
			o.epMu.Unlock()
			if ctx.Err() != nil {
				return
			}
			continue
		}
		if o.await == acctAwaitAccepted {
			for _, it := range items {
				ep.settle(it, nil)
			}
		}
		requests.Add(1)
		go func() {
			defer requests.Done()
			_ = ep.follow(ctx, client, items, res, o.await == acctAwaitFinal)
		}()
	}
}

// fail fails every message of items with err.
func (ep *acctEndpoint) fail(items []*acctItem, err error) {
	n := 0
	for _, it := range items {
		n += len(it.owners)
		ep.settle(it, err)
	}
	ep.o.metrics.records.Incr(int64(n), string(ep.key.object), "failed")
}

// follow waits for the final status of an accepted request and releases
// its ids. With settle (await: final, or the gated first request) it then
// settles the messages: failing exactly the records Concur rejected, or
// all of them when the final status could not be learnt, which it returns
// as an error. When the output stops meanwhile, the messages stay
// unsettled (unacknowledged).
func (ep *acctEndpoint) follow(ctx context.Context, client *concurapi.Client, items []*acctItem, res acctSent, settle bool) error {
	defer ep.release(items)
	o := ep.o
	if res.status == nil {
		// Already applied (412): the earlier request's status is unknown.
		if settle {
			for _, it := range items {
				ep.settle(it, nil)
			}
		}
		return nil
	}
	ids := make([]string, len(items))
	for j, it := range items {
		ids[j] = it.id
	}
	var failed map[int]error
	err := o.awaitFinal(ctx, client, ep.key, ids, res.status, func(j int, err error) {
		if failed == nil {
			failed = map[int]error{}
		}
		failed[j] = err
	})
	switch {
	case err != nil && ctx.Err() != nil:
		return err
	case err != nil:
		if settle {
			ep.fail(items, err)
		} else {
			o.log.With("object", string(ep.key.object), "companyId", ep.key.companyID).
				Warnf("Could not learn the outcome of an acknowledged request: %v", err)
		}
		return err
	}
	if settle {
		for j, it := range items {
			ep.settle(it, failed[j])
		}
	} else {
		for j, ferr := range failed {
			o.log.With("object", string(ep.key.object), "companyId", ep.key.companyID, "id", items[j].id).
				Warnf("Concur rejected a record already acknowledged (await: accepted): %v", ferr)
		}
	}
	return nil
}

// errAcctSuperseded is the cause given to a message replaced by a newer
// value that failed.
var errAcctSuperseded = errors.New("a newer value of the same record replaced this one in the queue")

var (
	acctPrefixData      = []byte(`{"data":[`)
	acctPrefixDeleteAll = []byte(`{"deleteAll":true,"data":[`)
	acctSuffix          = []byte(`]}`)
)

// acctPrepare checks one record and returns its key and the bytes to send:
// the record as given (surrounding whitespace trimmed), or the delete form.
func acctPrepare(packer *concurapi.Packer, obj concurapi.Object, in concurapi.PackInput) (string, []byte, error) {
	raw := bytes.TrimSpace(in.Raw)
	key, deleted, err := packer.Key(raw)
	if err != nil {
		return "", nil, err
	}
	if deleted || in.Delete {
		if !obj.Patchable() {
			return "", nil, fmt.Errorf("%w: this object has no per-record delete", concurapi.ErrInvalidRecord)
		}
		raw = concurapi.DeleteForm(key)
	}
	if len(raw) > concurapi.MaxRecordBytes {
		return "", nil, fmt.Errorf("%w: %d bytes exceeds the %d-byte record limit", concurapi.ErrInvalidRecord, len(raw), concurapi.MaxRecordBytes)
	}
	return key, raw, nil
}
