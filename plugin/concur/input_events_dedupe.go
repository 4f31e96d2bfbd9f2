package concur

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// eventsDedupe remembers which ESS event ids are in the pipeline and which
// were acknowledged, so redeliveries are not emitted twice. Acknowledged ids
// live in memory (bounded, oldest forgotten first) or in a cache resource.
type eventsDedupe struct {
	window time.Duration
	max    int
	cache  string
	res    *service.Resources
	log    *service.Logger
	now    func() time.Time

	mu       sync.Mutex
	inflight map[string]*eventsClaim
	acked    map[string]time.Time // id -> expiry, memory store only
	order    []eventsAckedID      // acked ids by expiry, oldest from head
	head     int
}

type eventsAckedID struct {
	id      string
	expires time.Time
}

// eventsClaim is the right to emit one event id; release ends it.
type eventsClaim struct {
	d    *eventsDedupe
	id   string
	done chan struct{}
	once sync.Once
}

func eventsDedupeFromParsed(conf *service.ParsedConfig, mgr *service.Resources) (*eventsDedupe, error) {
	d := &eventsDedupe{
		res:      mgr,
		log:      mgr.Logger(),
		now:      time.Now,
		inflight: map[string]*eventsClaim{},
		acked:    map[string]time.Time{},
	}
	var err error
	if d.window, err = conf.FieldDuration(eventsFieldDedupeWindow); err != nil {
		return nil, err
	}
	if d.max, err = conf.FieldInt(eventsFieldDedupeMax); err != nil {
		return nil, err
	}
	if d.cache, err = conf.FieldString(eventsFieldDedupeCache); err != nil {
		return nil, err
	}
	if d.window <= 0 {
		return nil, fmt.Errorf("%s.%s must be positive, got %v", eventsFieldDedupe, eventsFieldDedupeWindow, d.window)
	}
	if d.cache == "" && d.max <= 0 {
		return nil, fmt.Errorf("%s.%s must be positive, got %d", eventsFieldDedupe, eventsFieldDedupeMax, d.max)
	}
	if d.cache != "" && !mgr.HasCache(d.cache) {
		return nil, fmt.Errorf("%s.%s: cache resource %q not found", eventsFieldDedupe, eventsFieldDedupeCache, d.cache)
	}
	return d, nil
}

// claim looks id up. Exactly one result is set: seen when it was already
// acknowledged, a claim when the caller should emit it, or a channel closed
// when the request already emitting it has an outcome.
func (d *eventsDedupe) claim(ctx context.Context, id string) (seen bool, c *eventsClaim, wait <-chan struct{}, err error) {
	d.mu.Lock()
	if other, ok := d.inflight[id]; ok {
		d.mu.Unlock()
		return false, nil, other.done, nil
	}
	if d.cache == "" {
		d.pruneLocked()
		if exp, ok := d.acked[id]; ok && d.now().Before(exp) {
			d.mu.Unlock()
			return true, nil, nil, nil
		}
	}
	c = &eventsClaim{d: d, id: id, done: make(chan struct{})}
	d.inflight[id] = c
	d.mu.Unlock()

	if d.cache != "" {
		seen, err = d.cacheHas(ctx, id)
		if err != nil || seen {
			c.end()
			return seen, nil, nil, err
		}
	}
	return false, c, nil, nil
}

// release ends the claim; a nil err records the id as acknowledged.
func (c *eventsClaim) release(ctx context.Context, err error) {
	if err == nil {
		if serr := c.d.remember(ctx, c.id); serr != nil {
			c.d.log.Errorf("concur_events: remembering event %s as acknowledged: %v", c.id, serr)
		}
	}
	c.end()
}

func (c *eventsClaim) end() {
	c.once.Do(func() {
		c.d.mu.Lock()
		if c.d.inflight[c.id] == c {
			delete(c.d.inflight, c.id)
		}
		c.d.mu.Unlock()
		close(c.done)
	})
}

func (d *eventsDedupe) remember(ctx context.Context, id string) error {
	if d.cache != "" {
		var err error
		if aerr := d.res.AccessCache(ctx, d.cache, func(c service.Cache) {
			err = c.Set(ctx, id, []byte("1"), &d.window)
		}); aerr != nil {
			return fmt.Errorf("accessing cache %s: %w", d.cache, aerr)
		}
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	exp := d.now().Add(d.window)
	d.acked[id] = exp
	d.order = append(d.order, eventsAckedID{id, exp})
	for len(d.acked) > d.max {
		d.popOldestLocked()
	}
	return nil
}

func (d *eventsDedupe) cacheHas(ctx context.Context, id string) (bool, error) {
	var err error
	if aerr := d.res.AccessCache(ctx, d.cache, func(c service.Cache) {
		_, err = c.Get(ctx, id)
	}); aerr != nil {
		return false, fmt.Errorf("accessing cache %s: %w", d.cache, aerr)
	}
	if errors.Is(err, service.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading cache %s: %w", d.cache, err)
	}
	return true, nil
}

// pruneLocked forgets ids whose window has passed.
func (d *eventsDedupe) pruneLocked() {
	now := d.now()
	for d.head < len(d.order) && !now.Before(d.order[d.head].expires) {
		d.popOldestLocked()
	}
}

func (d *eventsDedupe) popOldestLocked() {
	if d.head >= len(d.order) {
		return
	}
	old := d.order[d.head]
	d.order[d.head] = eventsAckedID{}
	d.head++
	if exp, ok := d.acked[old.id]; ok && exp.Equal(old.expires) {
		delete(d.acked, old.id)
	}
	if d.head > len(d.order)/2 {
		d.order = append(d.order[:0], d.order[d.head:]...)
		d.head = 0
	}
}
