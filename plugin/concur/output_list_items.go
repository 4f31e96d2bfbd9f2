package concur

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	concurapi "github.com/concurflow/concurflow/concur"
)

// Field names of the concur_list_items output (company_id, erp_id,
// rate_limit, max_retries and backoff as in concur_accounting).
const (
	liFieldERPListID     = "erp_list_id"
	liFieldCacheResource = "mappings_cache_resource"
	liFieldCacheTTL      = "mappings_cache_ttl"
	liFieldBatching      = "batching"
)

// liRateEndpoint names the List Item API's bucket in the rate limiter: one
// per company, since the API is not bound to an ERP.
const liRateEndpoint = "listItems"

// Record statuses of the concur_list_items_records metric.
const (
	liStatusCreated  = "created"
	liStatusUpdated  = "updated"
	liStatusDeleted  = "deleted"
	liStatusFailed   = "failed"
	liStatusInvalid  = "invalid"
	liStatusUnmapped = "unmapped"
)

func listItemsOutputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Upserts and deletes the items of ERP lists in the SAP Concur lists they are mapped to, with the List Item Bulk v4 API: idempotent, rate-aware, failing exactly the items Concur rejects.").
		Description(`
This is the partner side of the `+"`listMapping.created`"+` and `+"`listMapping.deleted`"+`
events (see the Accounting Integration Events page): once an administrator maps
an ERP list to a Concur list, send that list's items with the List Item API and
keep sending their changes; once the mapping is removed, stop.

Each message is one item of an ERP list, a JSON object:

`+"```json"+`
{"erpListId": "PROJECTS", "shortCode": "P100", "value": "Project 100", "parentCode": "", "deleted": false}
`+"```"+`

`+"`shortCode`"+` and `+"`value`"+` are required (`+"`value`"+` not for a delete);
`+"`parentCode`"+` is the parent item's long code for an item of a connected
list (its ancestors' short codes joined by hyphens, see the List Item Bulk v4
page). The ERP list is read with `+"`"+liFieldERPListID+"`"+` (by default the
body's `+"`erpListId`"+`). A message is a delete when its `+"`deleted`"+` is true or
its metadata `+"`"+acctMetaDelete+"`"+` is `+"`true`"+`. A short code or value with a hyphen
(the List Item pages say hyphens are not supported in item codes or names:
Concur reads them as code separators), a blank short code or value, or a body
that is not such an object fails that message alone, before any request.

### Which Concur list

The output reads the integration's list mappings (GET `+"`/mappings`"+` of
`+"`company_id`"+` and `+"`erp_id`"+`: every file's `+"`listMappings`"+`,
`+"`erpListId`"+` → `+"`concurListId`"+`), cached like the `+"`concur_mappings`"+`
processor caches them and with the same code. Items of an ERP list that is not
mapped are acknowledged without being sent (counted as `+"`unmapped`"+`): once an
administrator removes a mapping, later items of that list stop flowing.

To see mapping changes as soon as Concur announces them, give this output and a
`+"`concur_mappings`"+` processor that receives the events the same
`+"`"+liFieldCacheResource+"`"+` (in one process): that processor drops and refetches
the answer on `+"`mapping.updated`"+`, `+"`listMapping.created`"+` and
`+"`listMapping.deleted`"+`, and this output reads it from there. Without it the
output keeps its own in-memory copy for `+"`"+liFieldCacheTTL+"`"+`.

### Requests and idempotency

A batch is grouped by company and Concur list, input order kept, and sent in
bulk requests of up to 250 items: upserts as a bulk create (POST
`+"`/list/v4/lists/{listId}/bulk`"+`), deletes as a bulk update with
`+"`deleted: true`"+` (PATCH), one request per run of the same kind, and a code
seen twice starts a new request so that each answer maps back to its message.
The List Item API has no idempotency key, so writes are keyed by list and long
code and converge when repeated: an upsert whose create is refused with
`+"`item.duplicate.code`"+` (or `+"`item.duplicate.code.deleted`"+`) is sent again as an update (`+"`value`"+`,
`+"`deleted: false`"+`) of that code, and a delete answered `+"`item.not.found`"+` or
`+"`item.deleted`"+` counts as done. A batch re-sent after a crash or a retry
therefore ends in the same state.

### Failures

Each part of a bulk request succeeds or fails on its own; the answer's
errors are matched to their messages by long code, and exactly those messages
fail (with Concur's error id and message), the rest are acknowledged. If an
answer reports more failures than it names, the unnamed parts of that request
fail too (re-sending them is safe). A 429 (or Concur's 400 rate-limit answer),
a 5xx or a connection failure is retried with back-off, never sooner than the
answer's `+"`retry-after`"+`, within `+"`max_retries`"+` and the back-off; any other
error answer fails the request's messages, and later requests of the same list
in the batch are not sent so that changes never overtake each other. Route
failed messages with a `+"`fallback`"+` output to keep them. Refused credentials
make the writes wait, as in `+"`concur_accounting`"+`; as there, the items of a
company that never had working credentials (none configured for it, no refresh
token in the token store) fail at once, naming the company.

A company's API client and token source are shared by every Concur component of
the process using the same token store and URL, so this output and a
`+"`concur_mappings`"+` processor of the same stream refresh the company's tokens
through one token source and never race a refresh-token rotation.

### Rate limits

The List Item pages show a 429 rate-limit answer but document no rate, so
requests are spaced by a token bucket per company at `+"`rate_limit`"+` requests
per second; a rate-limit answer holds every writer of that company back by
its retry delay. The buckets are shared by every `+"`concur_list_items`"+` output
of the process writing to the same URL (at the lowest `+"`rate_limit`"+` among
them), and kept apart from the Accounting Integration endpoints' buckets:
List Item calls never use up `+"`concur_accounting`"+`'s budget, nor its
`+"`rate_limit`"+` theirs.

### Metrics

`+"`concur_list_items_records`"+` (labels operation: upsert, delete; status:
created, updated, deleted, failed, invalid, unmapped),
`+"`concur_list_items_requests`"+` (labels method, status: the HTTP status or
"error"), `+"`concur_list_items_request_latency_ns`"+`,
`+"`concur_list_items_rate_limit_wait_ns`"+`,
`+"`concur_list_items_mappings_lookups`"+` (label result: hit, miss, failed), plus the
auth metrics.

`+service.OutputPerformanceDocs(true, true)).
		Fields(
			service.NewInterpolatedStringField(acctFieldCompanyID).
				Description("The company UUID the items belong to.").
				Example("09ac834c-46d6-49ff-9653-551d69072d56").
				Example(`${! meta("concur_company_id") }`),
			service.NewInterpolatedStringField(acctFieldERPID).
				Description("The ERP integration UUID whose list mappings say which Concur list an ERP list is mapped to.").
				Example("2fcffbce-a381-4169-a954-c0395eefd6f6"),
			service.NewInterpolatedStringField(liFieldERPListID).
				Description("The ERP list an item belongs to: the `erpListId` of the list mappings.").
				Default(`${! json("erpListId") }`).
				Example(`${! meta("kafka_key") }`),
			authFieldSpec(),
			service.NewStringField(liFieldCacheResource).
				Description("A cache resource holding the integrations' mappings, shared with a `concur_mappings` processor that receives Concur's events (its `cache_resource`), so that mapping changes apply as soon as their event arrives. Empty keeps an in-memory copy per integration for `"+liFieldCacheTTL+"`.").
				Default("").
				Example("concur_mappings_cache"),
			service.NewDurationField(liFieldCacheTTL).
				Description("How long the mappings of an integration are used before they are fetched again (in the cache resource, the TTL of the entries this output writes).").
				Default("1m").
				Example("10m"),
			service.NewFloatField(acctFieldRateLimit).
				Description("List Item API requests per second per company, for all concur_list_items outputs of the process together (the lowest setting applies). The API documents rate-limit answers but no rate; one per second is a cautious default.").
				Default(concurapi.DefaultRate).
				Example(5).
				Advanced(),
			service.NewOutputMaxInFlightField().
				Description("Batches written at once. Keep 1 unless the input's order does not matter: two batches in flight can carry changes of the same item.").
				Default(1),
			service.NewBatchPolicyField(liFieldBatching).
				Description("Batching policy. The default fills bulk requests: flush at 250 items or after one second.").
				Default(map[string]any{"count": concurapi.MaxBulkListItems, "byte_size": 0, "period": "1s", "check": "", "processors": []any{}}),
			acctMaxRetriesFieldSpec(),
			acctBackoffFieldSpec(),
		).
		Example("Items of mapped ERP lists from Kafka", "Each Kafka record is one ERP list item; items of lists no administrator mapped are skipped.", `
input:
  kafka_go:
    addresses: [ localhost:9092 ]
    topics: [ erp.list_items ]
    consumer_group: concurflow-list-items
output:
  concur_list_items:
    company_id: 09ac834c-46d6-49ff-9653-551d69072d56
    erp_id: 2fcffbce-a381-4169-a954-c0395eefd6f6
    auth:
      client_id: ${CONCUR_CLIENT_ID}
      client_secret: ${CONCUR_CLIENT_SECRET}
      request_token: ${CONCUR_REQUEST_TOKEN}
`).
		Example("Mapping changes applied as their events arrive", "Concur's events pass a concur_mappings processor sharing the output's cache resource: a new mapping is used, and a removed one stops the list's items, as soon as the event is received. (pipelines/list_items_sync.yaml adds the full send of a newly mapped list.)", `
input:
  broker:
    inputs:
      - concur_events:
          address: 0.0.0.0:8443
          path: /concur/events
      - kafka_go:
          addresses: [ localhost:9092 ]
          topics: [ erp.list_items ]
          consumer_group: concurflow-list-items
pipeline:
  processors:
    - switch:
        - check: '@concur_event_type.or("") != ""'
          processors:
            - concur_mappings:
                cache_resource: concur_mappings_cache
                auth:
                  client_id: ${CONCUR_CLIENT_ID}
                  client_secret: ${CONCUR_CLIENT_SECRET}
                  request_token: ${CONCUR_REQUEST_TOKEN}
            - mapping: root = deleted()
output:
  concur_list_items:
    company_id: 09ac834c-46d6-49ff-9653-551d69072d56
    erp_id: 2fcffbce-a381-4169-a954-c0395eefd6f6
    mappings_cache_resource: concur_mappings_cache
    auth:
      client_id: ${CONCUR_CLIENT_ID}
      client_secret: ${CONCUR_CLIENT_SECRET}
      request_token: ${CONCUR_REQUEST_TOKEN}
cache_resources:
  - label: concur_mappings_cache
    memory:
      default_ttl: 10m
`)
}

func init() {
	registerBatchOutput("concur_list_items", listItemsOutputSpec(), liFieldBatching,
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchOutput, error) {
			return newListItemsOutput(conf, mgr)
		})
}

// listItemsOutput is the concur_list_items output.
type listItemsOutput struct {
	companyID, erpID, erpListID *service.InterpolatedString

	auth     *authClients
	limiter  *concurapi.RateLimiter
	retry    acctRetry
	mappings *mappingsProcessor // the concur_mappings cache, used for lookups only
	log      *service.Logger

	records       *service.MetricCounter // operation, status
	requests      *service.MetricCounter // method, status
	latency       *service.MetricTimer
	rateLimitWait *service.MetricTimer

	listsMu sync.Mutex
	lists   map[string]*liListMap // by mappings cache key
}

// liListMap is the decoded list mappings of one mappings answer.
type liListMap struct {
	raw      []byte
	concurID map[string]string // erpListId → concurListId
}

func newListItemsOutput(conf *service.ParsedConfig, mgr *service.Resources) (*listItemsOutput, error) {
	o := &listItemsOutput{
		log:           mgr.Logger(),
		records:       mgr.Metrics().NewCounter("concur_list_items_records", "operation", "status"),
		requests:      mgr.Metrics().NewCounter("concur_list_items_requests", "method", "status"),
		latency:       mgr.Metrics().NewTimer("concur_list_items_request_latency_ns"),
		rateLimitWait: mgr.Metrics().NewTimer("concur_list_items_rate_limit_wait_ns"),
		lists:         map[string]*liListMap{},
	}
	if err := reqerrParseInterps(conf,
		reqerrInterp{acctFieldCompanyID, &o.companyID},
		reqerrInterp{acctFieldERPID, &o.erpID},
		reqerrInterp{liFieldERPListID, &o.erpListID},
	); err != nil {
		return nil, err
	}
	rate, err := conf.FieldFloat(acctFieldRateLimit)
	if err != nil {
		return nil, err
	}
	if rate <= 0 {
		return nil, fmt.Errorf("field %s: must be above 0, got %v", acctFieldRateLimit, rate)
	}
	if o.retry, err = acctRetryFromParsed(conf); err != nil {
		return nil, err
	}
	ttl, err := conf.FieldDuration(liFieldCacheTTL)
	if err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("field %s: must be above 0", liFieldCacheTTL)
	}
	resource, err := conf.FieldString(liFieldCacheResource)
	if err != nil {
		return nil, err
	}
	var store mappingsStore
	if resource != "" {
		if !mgr.HasCache(resource) {
			return nil, fmt.Errorf("field %s: cache resource %q not found", liFieldCacheResource, resource)
		}
		store = &mappingsResourceStore{mgr: mgr, name: resource, ttl: ttl}
	} else {
		store = newMappingsMemStore(1000, ttl, time.Now)
	}
	// The API clients, and so the token sources, are the process's shared
	// ones: a concur_mappings processor of the same stream and company
	// refreshes through the same token source, so the two never race a
	// refresh-token rotation.
	if o.auth, err = authFromParsed(conf.Namespace(authField), mgr); err != nil {
		return nil, err
	}
	// One List Item limiter per process and URL: every concur_list_items
	// output of the process shares a company's bucket, apart from the
	// Accounting Integration endpoints' limiter.
	o.limiter = o.auth.shared.apiLimiter(o.auth.url, sharedAPIListItems, concurapi.RateLimiterConfig{Rate: rate, Burst: 1})
	// The mappings are looked up with concur_mappings' own cache code;
	// lookups retry with this output's budget.
	o.mappings = &mappingsProcessor{
		ttl:   ttl,
		store: store,
		reqerrCaller: reqerrCaller{
			auth:    o.auth,
			retry:   o.retry,
			retries: mgr.Metrics().NewCounter("concur_list_items_mappings_fetch_retries"),
			log:     o.log,
		},
		lookups: mgr.Metrics().NewCounter("concur_list_items_mappings_lookups", "result"),
		gen:     map[string]uint64{},
		flights: map[string]*mappingsFlight{},
		results: map[string]*mappingsResult{},
	}
	return o, nil
}

// Connect implements service.BatchOutput; clients are made per company on
// first use.
func (o *listItemsOutput) Connect(context.Context) error { return nil }

// Close implements service.BatchOutput. No goroutine outlives WriteBatch.
func (o *listItemsOutput) Close(context.Context) error {
	o.auth.Close()
	return nil
}

// liItem is one message's item, as read from its body.
type liItem struct {
	ShortCode  string `json:"shortCode"`
	Value      string `json:"value"`
	ParentCode string `json:"parentCode"`
	Deleted    bool   `json:"deleted"`
}

// code is the item's long code.
func (it liItem) code() string {
	return concurapi.BulkListItemCreate{ShortCode: it.ShortCode, ParentCode: it.ParentCode}.Code()
}

func (it liItem) operation() string {
	if it.Deleted {
		return "delete"
	}
	return "upsert"
}

// liOp is one message to write: its batch index and item.
type liOp struct {
	index int
	item  liItem
}

// liListKey identifies the requests of a group: one Concur list of one
// company.
type liListKey struct {
	companyID, listID string
}

// WriteBatch implements service.BatchOutput.
func (o *listItemsOutput) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	fails := &acctFailures{batch: batch}
	companies := acctResolver(batch, o.companyID)
	erps := acctResolver(batch, o.erpID)
	erpListIDs := acctResolver(batch, o.erpListID)

	// Read every message, then resolve each integration's mappings once.
	type pending struct {
		liOp
		companyID, erpID, erpListID string
	}
	var msgs []pending
	for i, msg := range batch {
		p := pending{liOp: liOp{index: i}}
		var err error
		if p.item, err = liReadItem(msg); err != nil {
			o.records.Incr(1, p.item.operation(), liStatusInvalid)
			fails.fail(i, err)
			continue
		}
		if p.companyID, err = resolveNonEmpty(companies, i, acctFieldCompanyID, "company id"); err != nil {
			fails.fail(i, err)
			continue
		}
		if p.erpID, err = resolveNonEmpty(erps, i, acctFieldERPID, "erp id"); err != nil {
			fails.fail(i, err)
			continue
		}
		if p.erpListID, err = resolveNonEmpty(erpListIDs, i, liFieldERPListID, "erp list id"); err != nil {
			fails.fail(i, err)
			continue
		}
		msgs = append(msgs, p)
	}

	type erpKey struct{ companyID, erpID string }
	type erpLists struct {
		concurID map[string]string
		err      error
	}
	mapped := map[erpKey]erpLists{}
	var groups []*liGroup
	byList := map[liListKey]*liGroup{}
	for _, p := range msgs {
		ek := erpKey{p.companyID, p.erpID}
		lists, ok := mapped[ek]
		if !ok {
			lists.concurID, lists.err = o.listMappingsWaiting(ctx, p.companyID, p.erpID)
			if lists.err != nil {
				o.log.With("companyId", p.companyID, "erpId", p.erpID).Warnf("Looking up the list mappings failed: %v", lists.err)
				lists.err = fmt.Errorf("looking up the list mappings: %w", lists.err)
			}
			mapped[ek] = lists
		}
		if lists.err != nil {
			fails.fail(p.index, lists.err)
			continue
		}
		listID, ok := lists.concurID[p.erpListID]
		if !ok {
			o.records.Incr(1, p.item.operation(), liStatusUnmapped)
			o.log.With("companyId", p.companyID, "erpId", p.erpID, "erpListId", p.erpListID).
				Debugf("Skipping item %q: ERP list %s is not mapped to a Concur list", p.item.code(), p.erpListID)
			continue
		}
		lk := liListKey{p.companyID, listID}
		g, ok := byList[lk]
		if !ok {
			g = &liGroup{key: lk}
			byList[lk] = g
			groups = append(groups, g)
		}
		g.ops = append(g.ops, p.liOp)
	}

	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.writeList(ctx, g, fails)
		}()
	}
	wg.Wait()
	if fails.err != nil {
		return fails.err
	}
	return nil
}

// liGroup is the messages of a batch going to one Concur list.
type liGroup struct {
	key liListKey
	ops []liOp
}

// liReadItem reads and checks a message's item.
func liReadItem(msg *service.Message) (liItem, error) {
	var it liItem
	raw, err := msg.AsBytes()
	if err != nil {
		return it, fmt.Errorf("reading message: %w", err)
	}
	if err := json.Unmarshal(raw, &it); err != nil {
		return it, fmt.Errorf("list item is not a JSON object with string shortCode, value and parentCode: %w", err)
	}
	if del, _ := msg.MetaGet(acctMetaDelete); del == "true" {
		it.Deleted = true
	}
	switch {
	case strings.TrimSpace(it.ShortCode) == "":
		return it, errors.New("list item without a shortCode")
	case strings.Contains(it.ShortCode, concurapi.ListItemCodeSeparator):
		return it, fmt.Errorf("list item shortCode %q contains a hyphen, which Concur reads as a code separator", it.ShortCode)
	case !it.Deleted && strings.TrimSpace(it.Value) == "":
		return it, fmt.Errorf("list item %q without a value", it.code())
	case !it.Deleted && strings.Contains(it.Value, concurapi.ListItemCodeSeparator):
		return it, fmt.Errorf("list item %q: value %q contains a hyphen, which the List Item pages say is not supported in item names", it.code(), it.Value)
	case strings.HasPrefix(it.ParentCode, "-") || strings.HasSuffix(it.ParentCode, "-") || strings.Contains(it.ParentCode, "--"):
		return it, fmt.Errorf("list item %q: parentCode %q has an empty short code", it.ShortCode, it.ParentCode)
	}
	return it, nil
}

// listMappingsWaiting is listMappings, waiting while the company's
// credentials are refused (no item is at fault; see concur_accounting).
func (o *listItemsOutput) listMappingsWaiting(ctx context.Context, companyID, erpID string) (map[string]string, error) {
	for {
		m, err := o.listMappings(ctx, companyID, erpID)
		if err == nil || !concurapi.IsCredentialsRefused(err) {
			return m, err
		}
		if o.auth.neverHadCredentials(ctx, companyID) {
			return nil, o.noCredentials(companyID, err)
		}
		if err := o.auth.waitForCredentials(ctx, err); err != nil {
			return nil, err
		}
	}
}

// noCredentials is the error of a company that never had working
// credentials, whose items fail at once (as in concur_accounting): nobody
// set the company up, so waiting cannot help.
func (o *listItemsOutput) noCredentials(companyID string, err error) error {
	return fmt.Errorf("company %s has no credentials (none configured in %s.%s or for all companies that Concur accepted, and no refresh token in the token store %s); "+
		"add it to %s.%s or store its refresh token with `concurflow auth exchange`: %w",
		companyID, authField, authFieldCompanies, o.auth.storeDir, authField, authFieldCompanies, err)
}

// listMappings returns erpListId → concurListId of an integration, from the
// mappings cache.
func (o *listItemsOutput) listMappings(ctx context.Context, companyID, erpID string) (map[string]string, error) {
	key := mappingsKeyPrefix + companyID + "/" + erpID
	raw, err := o.mappings.lookup(ctx, key, companyID, erpID)
	if err != nil {
		o.mappings.lookups.Incr(1, "failed")
		return nil, err
	}
	o.listsMu.Lock()
	defer o.listsMu.Unlock()
	if m, ok := o.lists[key]; ok && string(m.raw) == string(raw) {
		return m.concurID, nil
	}
	var resp concurapi.MappingsResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		return nil, fmt.Errorf("decoding the mappings of erp %s for company %s: %w", erpID, companyID, err)
	}
	m := &liListMap{raw: raw, concurID: map[string]string{}}
	for _, f := range resp.Files {
		for _, lm := range f.ListMappings {
			if lm.ErpListID != "" && lm.ConcurListID != "" {
				m.concurID[lm.ErpListID] = lm.ConcurListID
			}
		}
	}
	o.lists[key] = m
	return m.concurID, nil
}

// liRequest is one bulk request: positions in the group's ops.
type liRequest struct {
	delete bool
	ops    []int
}

// liPlan splits a list's ops into bulk requests: runs of one kind (upsert
// or delete), at most MaxBulkListItems each, no code twice in a request.
func liPlan(ops []liOp) []liRequest {
	var reqs []liRequest
	var codes map[string]bool
	for j, op := range ops {
		n := len(reqs)
		code := op.item.code()
		if n == 0 || reqs[n-1].delete != op.item.Deleted || len(reqs[n-1].ops) == concurapi.MaxBulkListItems || codes[code] {
			reqs = append(reqs, liRequest{delete: op.item.Deleted})
			codes = map[string]bool{}
			n++
		}
		reqs[n-1].ops = append(reqs[n-1].ops, j)
		codes[code] = true
	}
	return reqs
}

// writeList sends a list's ops request by request; once a request fails
// as a whole, the later ones are not sent.
func (o *listItemsOutput) writeList(ctx context.Context, g *liGroup, fails *acctFailures) {
	client, err := o.auth.Client(ctx, g.key.companyID)
	if err != nil {
		for _, op := range g.ops {
			fails.fail(op.index, err)
		}
		return
	}
	reqs := liPlan(g.ops)
	for r, req := range reqs {
		var err error
		settled := false
		if req.delete {
			err = o.deleteItems(ctx, client, g, req.ops, fails)
		} else {
			settled, err = o.upsertItems(ctx, client, g, req.ops, fails)
		}
		if err != nil {
			from := r
			if settled {
				from = r + 1
			}
			for _, later := range reqs[from:] {
				for _, j := range later.ops {
					op := g.ops[j]
					fails.fail(op.index, err)
					o.records.Incr(1, op.item.operation(), liStatusFailed)
				}
			}
			return
		}
	}
}

// upsertItems creates the items of ops and updates those whose code exists.
// A returned error concerns every op of the request unless settled is true:
// then the request's messages have their outcome already (the update of
// existing codes failed after the create succeeded).
func (o *listItemsOutput) upsertItems(ctx context.Context, client *concurapi.Client, g *liGroup, ops []int, fails *acctFailures) (settled bool, err error) {
	parts := make([]concurapi.BulkListItemCreate, len(ops))
	for k, j := range ops {
		it := g.ops[j].item
		parts[k] = concurapi.BulkListItemCreate{ShortCode: it.ShortCode, Value: it.Value, ParentCode: it.ParentCode}
	}
	resp, err := o.send(ctx, client, g.key, "POST", func() (*concurapi.BulkListItemResponse, error) {
		return client.CreateListItems(ctx, g.key.listID, parts)
	})
	if err != nil {
		return false, err
	}
	var existing []int // positions in g.ops to update
	o.settle(g, ops, resp, "upsert", liStatusCreated, fails, func(j int, e *concurapi.BulkListItemError) bool {
		if e.ID == concurapi.ListItemErrDuplicateCode || e.ID == concurapi.ListItemErrDuplicateCodeDeleted {
			existing = append(existing, j)
			return true
		}
		return false
	})
	if len(existing) == 0 {
		return true, nil
	}
	notDeleted := false
	upd := make([]concurapi.BulkListItemUpdate, len(existing))
	for k, j := range existing {
		it := g.ops[j].item
		upd[k] = concurapi.BulkListItemUpdate{Code: it.code(), Value: it.Value, Deleted: &notDeleted}
	}
	resp, err = o.send(ctx, client, g.key, "PATCH", func() (*concurapi.BulkListItemResponse, error) {
		return client.UpdateListItems(ctx, g.key.listID, upd)
	})
	if err != nil {
		for _, j := range existing {
			fails.fail(g.ops[j].index, err)
			o.records.Incr(1, "upsert", liStatusFailed)
		}
		return true, err
	}
	o.settle(g, existing, resp, "upsert", liStatusUpdated, fails, nil)
	return true, nil
}

// deleteItems deletes the items of ops; items already gone count as
// deleted.
func (o *listItemsOutput) deleteItems(ctx context.Context, client *concurapi.Client, g *liGroup, ops []int, fails *acctFailures) error {
	deleted := true
	parts := make([]concurapi.BulkListItemUpdate, len(ops))
	for k, j := range ops {
		parts[k] = concurapi.BulkListItemUpdate{Code: g.ops[j].item.code(), Deleted: &deleted}
	}
	resp, err := o.send(ctx, client, g.key, "PATCH", func() (*concurapi.BulkListItemResponse, error) {
		return client.UpdateListItems(ctx, g.key.listID, parts)
	})
	if err != nil {
		return err
	}
	o.settle(g, ops, resp, "delete", liStatusDeleted, fails, func(_ int, e *concurapi.BulkListItemError) bool {
		if e.ID == concurapi.ListItemErrNotFound || e.ID == concurapi.ListItemErrDeleted {
			o.records.Incr(1, "delete", liStatusDeleted)
			return true
		}
		return false
	})
	return nil
}

// settle maps a bulk answer back to the messages of ops (positions in
// g.ops, in request order): parts named in its errors fail, unless handled
// (given the op's position) takes them over; the rest succeeded with status
// ok. When the answer counts more failures than it names, the parts it does
// not name fail too, since which of them failed is unknown.
func (o *listItemsOutput) settle(g *liGroup, ops []int, resp *concurapi.BulkListItemResponse, operation, ok string,
	fails *acctFailures, handled func(j int, e *concurapi.BulkListItemError) bool) {
	byCode := make(map[string]int, len(ops))
	for _, j := range ops {
		byCode[g.ops[j].item.code()] = j
	}
	named := map[int]bool{}
	var unmatched []string
	for k := range resp.Errors {
		e := &resp.Errors[k]
		j, found := byCode[e.ListItem.Key()]
		if !found || named[j] {
			unmatched = append(unmatched, e.Error())
			continue
		}
		named[j] = true
		if handled != nil && handled(j, e) {
			continue
		}
		fails.fail(g.ops[j].index, fmt.Errorf("concur list %s: %w", g.key.listID, e))
		o.records.Incr(1, operation, liStatusFailed)
	}
	unknown := resp.RecordsFailed > len(named) || len(unmatched) > 0
	if unknown {
		o.log.With("companyId", g.key.companyID, "listId", g.key.listID, "correlationId", resp.CorrelationID).
			Warnf("Concur reported %d failed list items but named %d of this request's (unmatched: %v); failing the unnamed ones so that they are sent again",
				resp.RecordsFailed, len(named), unmatched)
	}
	for _, j := range ops {
		if named[j] {
			continue
		}
		if unknown {
			fails.fail(g.ops[j].index, fmt.Errorf("concur list %s: the bulk answer (%s, %d failed) does not say whether item %q was written",
				g.key.listID, resp.Status, resp.RecordsFailed, g.ops[j].item.code()))
			o.records.Incr(1, operation, liStatusFailed)
			continue
		}
		o.records.Incr(1, operation, ok)
	}
}

// send runs one bulk call, waiting for the company's rate limit and
// retrying within the budget.
func (o *listItemsOutput) send(ctx context.Context, client *concurapi.Client, key liListKey, method string,
	call func() (*concurapi.BulkListItemResponse, error)) (*concurapi.BulkListItemResponse, error) {
	rk := concurapi.RateKey{Endpoint: liRateEndpoint, CompanyID: key.companyID}
	start := time.Now()
	for attempt := 0; ; attempt++ {
		waited, err := o.limiter.Wait(ctx, rk)
		if err != nil {
			return nil, fmt.Errorf("waiting for the list item rate limit of company %s: %w", key.companyID, err)
		}
		o.rateLimitWait.Timing(waited.Nanoseconds())
		t0 := time.Now()
		resp, err := call()
		o.latency.Timing(time.Since(t0).Nanoseconds())
		switch {
		case err == nil:
			o.requests.Incr(1, method, fmt.Sprint(resp.StatusCode))
			o.limiter.Accepted(rk)
			o.log.With("companyId", key.companyID, "listId", key.listID, "correlationId", resp.CorrelationID).
				Debugf("List item bulk %s: %s, %d succeeded, %d failed", method, resp.Status, resp.RecordsSucceeded, resp.RecordsFailed)
			return resp, nil
		case concurapi.IsCredentialsRefused(err) && o.auth.neverHadCredentials(ctx, key.companyID):
			o.requests.Incr(1, method, "error")
			return nil, fmt.Errorf("bulk %s to list %s: %w", method, key.listID, o.noCredentials(key.companyID, err))
		case concurapi.IsCredentialsRefused(err):
			o.requests.Incr(1, method, "error")
			if err := o.auth.waitForCredentials(ctx, err); err != nil {
				return nil, fmt.Errorf("bulk %s to list %s: %w", method, key.listID, err)
			}
			attempt, start = -1, time.Now()
			continue
		case !concurapi.IsRetryable(err):
			o.requests.Incr(1, method, acctStatusLabel(err))
			return nil, fmt.Errorf("bulk %s to list %s (not retried): %w", method, key.listID, err)
		}
		o.requests.Incr(1, method, acctStatusLabel(err))
		d := o.retry.delay(attempt+1, concurapi.RetryAfter(err))
		if errors.Is(err, concurapi.ErrRateLimited) {
			o.limiter.RateLimited(rk)
			o.limiter.Hold(rk, d)
		}
		if (o.retry.maxRetries > 0 && attempt+1 > o.retry.maxRetries) || (o.retry.maxElapsed > 0 && time.Since(start)+d > o.retry.maxElapsed) {
			return nil, fmt.Errorf("bulk %s to list %s: retry budget spent after %d attempts: %w", method, key.listID, attempt+1, err)
		}
		o.log.With("companyId", key.companyID, "listId", key.listID, "correlationId", acctCorrelation(err)).
			Warnf("Retrying list item bulk %s in %v: %v", method, d, err)
		if !errors.Is(err, concurapi.ErrRateLimited) {
			if err := concurapi.SleepContext(ctx, d); err != nil {
				return nil, fmt.Errorf("bulk %s to list %s: %w", method, key.listID, err)
			}
		}
	}
}
