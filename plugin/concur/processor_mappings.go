package concur

import (
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
	"github.com/redpanda-data/benthos/v4/public/service"

	concurapi "github.com/concurflow/concurflow/concur"
)

// Field names of the concur_mappings processor (company_id, erp_id,
// max_retries and backoff are shared with concur_request_errors).
const (
	mappingsFieldMapping       = "mapping"
	mappingsFieldTargetPath    = "target_path"
	mappingsFieldTargetMeta    = "target_meta"
	mappingsFieldCacheResource = "cache_resource"
	mappingsFieldCacheTTL      = "cache_ttl"
	mappingsFieldCacheSize     = "cache_size"
	mappingsFieldInvalidateOn  = "invalidate_on"
)

// mappingsMetaEventType is the metadata key concur_events sets to the
// event type.
const mappingsMetaEventType = "concur_event_type"

// mappingsKeyPrefix prefixes cache keys, so that a shared cache resource can
// hold other data too.
const mappingsKeyPrefix = "concur_mappings/"

func mappingsProcessorSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Attaches the Configuration Settings and Mappings of a Concur ERP integration to messages, cached and refreshed when Concur announces a change.").
		Description(`
For each message the processor resolves `+"`"+reqerrFieldCompanyID+"`"+` and
`+"`"+reqerrFieldERPID+"`"+` (by default the `+"`concur_company_id`"+` and
`+"`concur_erp_id`"+` metadata, else an ESS event body's `+"`facts`"+`), gets that
integration's MappingsResponse (GET `+"`/mappings`"+`, see the Mappings page: company
edition, ledger, features, files with payment types, list mappings, invoice
liability account and billable field, invoice policies), optionally narrows it
with the Bloblang `+"`"+mappingsFieldMapping+"`"+` (where `+"`this`"+` is the whole
MappingsResponse), and attaches the result:

- `+"`"+mappingsFieldTargetMeta+"`"+` (default `+"`concur_mappings`"+`): a metadata key holding the
  result as structured metadata (one read-only value shared by the messages of
  an answer; Benthos copies it for components that change it), read with `+"`metadata(\"concur_mappings\")`"+` or
  `+"`@concur_mappings`"+`; outputs that write metadata serialise it as JSON.
- `+"`"+mappingsFieldTargetPath+"`"+`: a dot path in the message's JSON object body
  where the result is set (e.g. `+"`concur.mappings`"+`), intermediate objects created.
  A body that is not a JSON object fails the message.

Empty `+"`"+mappingsFieldTargetMeta+"`"+` and `+"`"+mappingsFieldTargetPath+"`"+` are not allowed
together. A `+"`"+mappingsFieldMapping+"`"+` that deletes the root leaves the message
as it was.

### Caching and invalidation

Answers are cached per company and ERP, by default in memory for
`+"`"+mappingsFieldCacheTTL+"`"+` with at most `+"`"+mappingsFieldCacheSize+"`"+` integrations
(least recently used dropped first); with `+"`"+mappingsFieldCacheResource+"`"+` a Benthos
cache resource is used instead (keys `+"`concur_mappings/<company>/<erp>`"+`, the answer's
JSON as value, `+"`"+mappingsFieldCacheTTL+"`"+` as TTL), so that replicas share it.
Concurrent misses of one integration make one API call.

A message that is an event in `+"`"+mappingsFieldInvalidateOn+"`"+` (by default
`+"`mapping.updated`"+`, `+"`listMapping.created`"+` and `+"`listMapping.deleted`"+`, the
Accounting Integration Events page's mapping events), recognised by its
`+"`"+mappingsMetaEventType+"`"+` metadata (set by `+"`concur_events`"+`) or else its body's
`+"`eventType`"+`, drops its integration's cache entry before the lookup: the event
itself leaves with the fresh mappings, and so does everything after it. A fetch
that was already under way when the entry was dropped is not cached. With a
shared cache resource this holds within one process; other replicas see the
change once they process the event themselves or the TTL expires.

### Failures

Rate limits, 5xx answers and connection failures are retried within
`+"`"+reqerrFieldMaxRetries+"`"+` and the back-off. Other API errors, a spent budget, empty
company or ERP ids and mapping errors mark the message as failed (route it with
`+"`catch`"+` or a `+"`fallback`"+` output); it is passed on unchanged otherwise.

### Metrics

`+"`concur_mappings_lookups`"+` (label result: hit, miss, failed),
`+"`concur_mappings_invalidations`"+` (label event_type),
`+"`concur_mappings_fetch_retries`"+`, plus the auth metrics.`).
		Fields(reqerrIDFields("integration")...).
		Fields(
			service.NewBloblangField(mappingsFieldMapping).
				Description("A Bloblang mapping selecting the part of the MappingsResponse to attach; `this` is the whole response. It runs once per answer fetched, not per message, so message functions (`content()`, `metadata()`) are not available in it. Empty attaches the whole response.").
				Default("").
				Example(`root = this.files.filter(f -> f.fileId == "DEFAULT").index(0).listMappings`).
				Example(`root = this.ledger.code`),
			service.NewStringField(mappingsFieldTargetPath).
				Description("Dot path in the JSON object body where the result is set; empty leaves the body alone.").
				Default("").
				Example("concur.mappings"),
			service.NewStringField(mappingsFieldTargetMeta).
				Description("Metadata key set to the result (structured); empty sets none.").
				Default("concur_mappings").
				Example(""),
			service.NewStringField(mappingsFieldCacheResource).
				Description("Name of a cache resource to keep the answers in instead of the processor's own memory, e.g. to share them between replicas.").
				Default("").
				Example("concur_mappings_cache"),
			service.NewDurationField(mappingsFieldCacheTTL).
				Description("How long an answer is used before it is fetched again (mapping events drop it sooner).").
				Default("10m").
				Example("1h"),
			service.NewIntField(mappingsFieldCacheSize).
				Description("Most integrations the in-memory cache holds; the least recently used is dropped first. Ignored with `"+mappingsFieldCacheResource+"`.").
				Default(1000).
				Example(10).
				Advanced(),
			service.NewStringListField(mappingsFieldInvalidateOn).
				Description("Event types that drop their integration's cached answer.").
				Default([]any{"mapping.updated", "listMapping.created", "listMapping.deleted"}).
				Advanced(),
			authFieldSpec(),
		).
		Fields(reqerrRetryFields()...).
		LintRule(`root = if this.`+mappingsFieldTargetPath+`.or("") == "" && this.`+mappingsFieldTargetMeta+`.or("concur_mappings") == "" { [ "at least one of `+mappingsFieldTargetPath+` and `+mappingsFieldTargetMeta+` must be set" ] }`).
		Example("List mappings on every mapping event", "Receives Concur's events and writes the integration's current list mappings whenever an administrator changes them.", `
input:
  concur_events:
    address: 0.0.0.0:8443
    path: /concur/events
pipeline:
  processors:
    - switch:
        - check: '@concur_event_type.or("").has_prefix("listMapping.") || @concur_event_type == "mapping.updated"'
          processors:
            - concur_mappings:
                mapping: 'root = this.files.filter(f -> f.fileId == "DEFAULT").index(0).listMappings.or([])'
                target_path: listMappings
                target_meta: ""
                auth:
                  client_id: ${CONCUR_CLIENT_ID}
                  client_secret: ${CONCUR_CLIENT_SECRET}
                  request_token: ${CONCUR_REQUEST_TOKEN}
        - processors:
            - mapping: root = deleted()
output:
  file:
    path: ./list_mappings.ndjson
    codec: lines
`).
		Example("Ledger code on ERP records, cache shared", "Enriches account records with the integration's ledger code before they go to Concur, with the answers kept in a cache resource.", `
input:
  file:
    paths: [ ./exports/accounts.ndjson ]
    scanner:
      lines:
        max_buffer_size: 4000000 # records up to 200 KB; the default 64 KiB ends the file at a longer line
pipeline:
  processors:
    - concur_mappings:
        company_id: 09ac834c-46d6-49ff-9653-551d69072d56
        erp_id: 2fcffbce-a381-4169-a954-c0395eefd6f6
        mapping: 'root = this.ledger.code.or("")'
        target_meta: ledger_code
        cache_resource: concur_mappings_cache
        cache_ttl: 30m
        auth:
          client_id: ${CONCUR_CLIENT_ID}
          client_secret: ${CONCUR_CLIENT_SECRET}
          request_token: ${CONCUR_REQUEST_TOKEN}
    - mapping: |
        root = this
        root.number = metadata("ledger_code") + "-" + this.number.or("")
cache_resources:
  - label: concur_mappings_cache
    memory:
      default_ttl: 30m
output:
  stdout: {}
`)
}

func init() {
	err := service.RegisterProcessor("concur_mappings", mappingsProcessorSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.Processor, error) {
			return newMappingsProcessor(conf, mgr)
		})
	if err != nil {
		panic(err)
	}
}

// mappingsProcessor is the concur_mappings processor.
type mappingsProcessor struct {
	companyID, erpID *service.InterpolatedString
	mapping          *bloblang.Executor // nil: the whole answer
	targetPath       []string
	targetMeta       string
	invalidateOn     map[string]bool
	ttl              time.Duration
	store            mappingsStore
	reqerrCaller

	lookups       *service.MetricCounter // result
	invalidations *service.MetricCounter // event_type

	mu         sync.Mutex
	gen        map[string]uint64 // bumped by every invalidation of a key
	flights    map[string]*mappingsFlight
	results    map[string]*mappingsResult
	maxResults int
}

// mappingsFlight is one fetch that concurrent misses of a key wait for.
type mappingsFlight struct {
	done chan struct{}
	raw  []byte
	err  error
}

func newMappingsProcessor(conf *service.ParsedConfig, mgr *service.Resources) (*mappingsProcessor, error) {
	p := &mappingsProcessor{
		lookups:       mgr.Metrics().NewCounter("concur_mappings_lookups", "result"),
		invalidations: mgr.Metrics().NewCounter("concur_mappings_invalidations", "event_type"),
		gen:           map[string]uint64{},
		flights:       map[string]*mappingsFlight{},
		results:       map[string]*mappingsResult{},
	}
	if err := reqerrParseInterps(conf,
		reqerrInterp{reqerrFieldCompanyID, &p.companyID},
		reqerrInterp{reqerrFieldERPID, &p.erpID},
	); err != nil {
		return nil, err
	}
	src, err := conf.FieldString(mappingsFieldMapping)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(src) != "" {
		if p.mapping, err = conf.FieldBloblang(mappingsFieldMapping); err != nil {
			return nil, err
		}
	}
	path, err := conf.FieldString(mappingsFieldTargetPath)
	if err != nil {
		return nil, err
	}
	if path != "" {
		p.targetPath = strings.Split(path, ".")
		for _, seg := range p.targetPath {
			if seg == "" {
				return nil, fmt.Errorf("field %s: %q has an empty segment", mappingsFieldTargetPath, path)
			}
		}
	}
	if p.targetMeta, err = conf.FieldString(mappingsFieldTargetMeta); err != nil {
		return nil, err
	}
	if p.targetMeta == "" && p.targetPath == nil {
		return nil, fmt.Errorf("fields %s and %s: at least one must be set", mappingsFieldTargetPath, mappingsFieldTargetMeta)
	}
	events, err := conf.FieldStringList(mappingsFieldInvalidateOn)
	if err != nil {
		return nil, err
	}
	p.invalidateOn = make(map[string]bool, len(events))
	for _, ev := range events {
		p.invalidateOn[ev] = true
	}
	if p.ttl, err = conf.FieldDuration(mappingsFieldCacheTTL); err != nil {
		return nil, err
	}
	if p.ttl <= 0 {
		return nil, fmt.Errorf("field %s: must be above 0", mappingsFieldCacheTTL)
	}
	if p.maxResults, err = conf.FieldInt(mappingsFieldCacheSize); err != nil {
		return nil, err
	}
	if p.maxResults < 1 {
		return nil, fmt.Errorf("field %s: must be at least 1", mappingsFieldCacheSize)
	}
	resource, err := conf.FieldString(mappingsFieldCacheResource)
	if err != nil {
		return nil, err
	}
	if resource != "" {
		if !mgr.HasCache(resource) {
			return nil, fmt.Errorf("field %s: cache resource %q not found", mappingsFieldCacheResource, resource)
		}
		p.store = &mappingsResourceStore{mgr: mgr, name: resource, ttl: p.ttl}
	} else {
		p.store = newMappingsMemStore(p.maxResults, p.ttl, time.Now)
	}
	if p.reqerrCaller, err = newReqerrCaller(conf, mgr, "concur_mappings_fetch_retries"); err != nil {
		return nil, err
	}
	return p, nil
}

// Process attaches the mappings of the message's integration.
func (p *mappingsProcessor) Process(ctx context.Context, msg *service.Message) (service.MessageBatch, error) {
	companyID, err := p.companyID.TryString(msg)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", reqerrFieldCompanyID, err)
	}
	erpID, err := p.erpID.TryString(msg)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", reqerrFieldERPID, err)
	}
	if companyID == "" || erpID == "" {
		return nil, fmt.Errorf("looking up mappings: company id %q or erp id %q is empty", companyID, erpID)
	}
	key := mappingsKeyPrefix + companyID + "/" + erpID
	if ev := mappingsEventType(msg); p.invalidateOn[ev] {
		if err := p.invalidate(ctx, key); err != nil {
			return nil, err
		}
		p.invalidations.Incr(1, ev)
		p.log.With("companyId", companyID, "erpId", erpID, "eventType", ev).Debugf("Dropped cached Concur mappings")
	}
	raw, err := p.lookup(ctx, key, companyID, erpID)
	if err != nil {
		p.lookups.Incr(1, "failed")
		return nil, err
	}
	v, deleted, err := p.result(key, raw)
	if err != nil {
		return nil, fmt.Errorf("mappings of erp %s for company %s: %w", erpID, companyID, err)
	}
	if deleted {
		return service.MessageBatch{msg}, nil
	}
	if p.targetPath != nil {
		body, err := msg.AsStructuredMut()
		if err != nil {
			return nil, fmt.Errorf("%s: body is not JSON: %w", mappingsFieldTargetPath, err)
		}
		if err := mappingsSetPath(body, p.targetPath, service.ImmutableAny{V: v}.Copy()); err != nil {
			return nil, fmt.Errorf("%s: %w", mappingsFieldTargetPath, err)
		}
		msg.SetStructuredMut(body)
	}
	if p.targetMeta != "" {
		// Shared by every message of the answer; a reader that mutates
		// metadata gets its own copy.
		msg.MetaSetImmut(p.targetMeta, service.ImmutableAny{V: v})
	}
	return service.MessageBatch{msg}, nil
}

// mappingsResult is the decoded and mapped value of one answer.
type mappingsResult struct {
	raw     []byte
	value   any
	deleted bool
}

// result decodes raw and applies the mapping, once per answer: the last
// result of each key is kept and shared by the messages, read-only.
func (p *mappingsProcessor) result(key string, raw []byte) (any, bool, error) {
	p.mu.Lock()
	r, ok := p.results[key]
	p.mu.Unlock()
	if !ok || !bytes.Equal(r.raw, raw) {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, false, fmt.Errorf("decoding the answer: %w", err)
		}
		r = &mappingsResult{raw: raw, value: v}
		if p.mapping != nil {
			var err error
			if r.value, err = p.mapping.Query(v); errors.Is(err, bloblang.ErrRootDeleted) {
				r.value, r.deleted = nil, true
			} else if err != nil {
				return nil, false, fmt.Errorf("field %s: %w", mappingsFieldMapping, err)
			}
		}
		p.mu.Lock()
		if _, ok := p.results[key]; !ok && len(p.results) >= p.maxResults {
			for k := range p.results { // drop any one: a miss costs one decode
				delete(p.results, k)
				break
			}
		}
		p.results[key] = r
		p.mu.Unlock()
	}
	return r.value, r.deleted, nil
}

// mappingsEventType is the message's ESS event type: the concur_event_type
// metadata, else a JSON body's eventType, else "".
func mappingsEventType(msg *service.Message) string {
	if ev, ok := msg.MetaGet(mappingsMetaEventType); ok {
		return ev
	}
	body, err := msg.AsStructured()
	if err != nil {
		return ""
	}
	obj, _ := body.(map[string]any)
	ev, _ := obj["eventType"].(string)
	return ev
}

// mappingsSetPath sets path in the object root to v, creating objects.
func mappingsSetPath(root any, path []string, v any) error {
	obj, ok := root.(map[string]any)
	if !ok {
		return fmt.Errorf("body is a %T, not a JSON object", root)
	}
	for i, seg := range path[:len(path)-1] {
		next, exists := obj[seg]
		if !exists || next == nil {
			child := map[string]any{}
			obj[seg] = child
			obj = child
			continue
		}
		if obj, ok = next.(map[string]any); !ok {
			return fmt.Errorf("%s is a %T, not an object", strings.Join(path[:i+1], "."), next)
		}
	}
	obj[path[len(path)-1]] = v
	return nil
}

// invalidate drops key from the cache; fetches under way are not cached.
func (p *mappingsProcessor) invalidate(ctx context.Context, key string) error {
	p.mu.Lock()
	p.gen[key]++
	delete(p.flights, key)
	p.mu.Unlock()
	if err := p.store.del(ctx, key); err != nil {
		return fmt.Errorf("dropping cached mappings %s: %w", key, err)
	}
	return nil
}

// lookup returns the cached answer of key or fetches it, one fetch per key
// at a time.
func (p *mappingsProcessor) lookup(ctx context.Context, key, companyID, erpID string) ([]byte, error) {
	raw, ok, err := p.store.get(ctx, key)
	if err != nil {
		p.log.Warnf("Reading cached Concur mappings %s failed, fetching them: %v", key, err)
	} else if ok {
		p.lookups.Incr(1, "hit")
		return raw, nil
	}
	p.mu.Lock()
	if f, ok := p.flights[key]; ok {
		p.mu.Unlock()
		select {
		case <-f.done:
			if f.err == nil {
				p.lookups.Incr(1, "hit")
			}
			return f.raw, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &mappingsFlight{done: make(chan struct{})}
	p.flights[key] = f
	gen := p.gen[key]
	p.mu.Unlock()

	f.raw, f.err = p.fetch(ctx, companyID, erpID)
	if f.err == nil {
		p.lookups.Incr(1, "miss")
		p.cacheFetched(ctx, key, gen, f.raw)
	}
	// The flight ends only once its answer is cached: a lookup arriving in
	// between finds one or the other, never neither (which would fetch
	// again).
	p.mu.Lock()
	if p.flights[key] == f {
		delete(p.flights, key)
	}
	p.mu.Unlock()
	close(f.done)
	return f.raw, f.err
}

// cacheFetched caches a fetched answer unless key was invalidated since the
// fetch began (generation gen); an invalidation that lands while the answer
// is being stored drops it again, so no answer older than a mapping event
// stays cached.
func (p *mappingsProcessor) cacheFetched(ctx context.Context, key string, gen uint64, raw []byte) {
	p.mu.Lock()
	current := p.gen[key] == gen
	p.mu.Unlock()
	if !current {
		return
	}
	if err := p.store.set(ctx, key, raw); err != nil {
		p.log.Warnf("Caching Concur mappings %s failed: %v", key, err)
		return
	}
	p.mu.Lock()
	current = p.gen[key] == gen
	p.mu.Unlock()
	if !current {
		if err := p.store.del(ctx, key); err != nil {
			p.log.Warnf("Dropping stale Concur mappings %s failed: %v", key, err)
		}
	}
}

// fetch gets the mappings from Concur within the retry budget.
func (p *mappingsProcessor) fetch(ctx context.Context, companyID, erpID string) ([]byte, error) {
	var raw []byte
	err := p.call(ctx, companyID, "Fetching mappings of erp "+erpID, func(client *concurapi.Client) error {
		var err error
		raw, err = client.MappingsRaw(ctx, erpID)
		return err
	})
	if err != nil {
		return nil, err // the client's error names the company and ERP
	}
	return raw, nil
}

// mappingsStore is where answers are cached.
type mappingsStore interface {
	get(ctx context.Context, key string) (raw []byte, ok bool, err error)
	set(ctx context.Context, key string, raw []byte) error
	del(ctx context.Context, key string) error
}

// mappingsResourceStore keeps answers in a Benthos cache resource.
type mappingsResourceStore struct {
	mgr  *service.Resources
	name string
	ttl  time.Duration
}

func (s *mappingsResourceStore) get(ctx context.Context, key string) (raw []byte, ok bool, err error) {
	aerr := s.mgr.AccessCache(ctx, s.name, func(c service.Cache) { raw, err = c.Get(ctx, key) })
	switch {
	case aerr != nil:
		return nil, false, aerr
	case errors.Is(err, service.ErrKeyNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return raw, true, nil
}

func (s *mappingsResourceStore) set(ctx context.Context, key string, raw []byte) error {
	var err error
	if aerr := s.mgr.AccessCache(ctx, s.name, func(c service.Cache) { err = c.Set(ctx, key, raw, &s.ttl) }); aerr != nil {
		return aerr
	}
	return err
}

func (s *mappingsResourceStore) del(ctx context.Context, key string) error {
	var err error
	if aerr := s.mgr.AccessCache(ctx, s.name, func(c service.Cache) { err = c.Delete(ctx, key) }); aerr != nil {
		return aerr
	}
	if errors.Is(err, service.ErrKeyNotFound) {
		return nil
	}
	return err
}

// mappingsMemStore is a bounded LRU cache with a TTL.
type mappingsMemStore struct {
	size int
	ttl  time.Duration
	now  func() time.Time

	mu      sync.Mutex
	order   *list.List // of *mappingsMemEntry, most recently used first
	entries map[string]*list.Element
}

type mappingsMemEntry struct {
	key     string
	raw     []byte
	expires time.Time
}

func newMappingsMemStore(size int, ttl time.Duration, now func() time.Time) *mappingsMemStore {
	return &mappingsMemStore{size: size, ttl: ttl, now: now, order: list.New(), entries: map[string]*list.Element{}}
}

func (s *mappingsMemStore) get(_ context.Context, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.entries[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*mappingsMemEntry)
	if !s.now().Before(e.expires) {
		s.order.Remove(el)
		delete(s.entries, key)
		return nil, false, nil
	}
	s.order.MoveToFront(el)
	return e.raw, true, nil
}

func (s *mappingsMemStore) set(_ context.Context, key string, raw []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &mappingsMemEntry{key: key, raw: raw, expires: s.now().Add(s.ttl)}
	if el, ok := s.entries[key]; ok {
		el.Value = e
		s.order.MoveToFront(el)
		return nil
	}
	s.entries[key] = s.order.PushFront(e)
	for s.order.Len() > s.size {
		last := s.order.Back()
		s.order.Remove(last)
		delete(s.entries, last.Value.(*mappingsMemEntry).key)
	}
	return nil
}

func (s *mappingsMemStore) del(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.entries[key]; ok {
		s.order.Remove(el)
		delete(s.entries, key)
	}
	return nil
}
