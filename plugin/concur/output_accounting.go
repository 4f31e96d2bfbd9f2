package concur

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redpanda-data/benthos/v4/public/service"

	concurapi "github.com/concurflow/concurflow/concur"
)

// Field names of the concur_accounting output.
const (
	acctFieldCompanyID    = "company_id"
	acctFieldERPID        = "erp_id"
	acctFieldObject       = "object"
	acctFieldRateLimit    = "rate_limit"
	acctFieldRateMargin   = "rate_limit_margin"
	acctFieldRateMarginMx = "rate_limit_margin_max"
	acctFieldBatching     = "batching"
	acctFieldAwait        = "await"
	acctFieldPollInterval = "await_poll_interval"
	acctFieldAwaitTimeout = "await_timeout"
	acctFieldTaxDataMode  = "tax_data_mode"
	acctFieldFullSync     = "full_sync"
	acctFieldMaxRetries   = "max_retries"
	acctFieldBackoff      = "backoff"
	acctFieldOrderKey     = "ordering_key"
	acctFieldOrderOffset  = "ordering_offset"
)

// Values of the await and tax_data_mode fields.
const (
	acctAwaitAccepted = "accepted"
	acctAwaitFinal    = "final"
	acctTaxAdd        = "add"
	acctTaxReplace    = "replace"
)

// acctMetaDelete is the metadata key that turns a message into a delete.
const acctMetaDelete = "concur_delete"

// acctDefaultBatchBytes leaves room under the 4,000,000-byte body limit for
// the commas between records, the envelope and the one message Benthos adds
// past byte_size before it flushes.
const acctDefaultBatchBytes = 3_900_000

func accountingOutputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Services").
		Summary("Writes ERP accounts, vendors, list names or tax data to SAP Concur's Accounting Integration v4 API in size-packed, rate-limited, idempotent requests.").
		Description(`
Each message is one record in the API's JSON shape: an account, vendor or list
name object with a string `+"`id`"+`, or for `+"`taxData`"+` one country entry
(an element of the tax data `+"`data`"+` array, keyed by `+"`countryCode`"+`).
Records are queued per company, ERP and object, from every batch in flight,
and one sender per company, ERP and object packs what is queued into a
request body `+"`{\"data\":[…]}`"+` of at most 4,000,000 bytes whenever the rate
limit grants it a request: requests go out at the limit and as full as the
queue allows, however the input batches its messages. Record bytes are sent
as they are, never re-encoded. A record
that is not a JSON object with a non-empty string key, or is larger than
200,000 bytes, or (with `+"`"+acctFieldValidate+"`"+`, the default) does not match its
object's JSON Schema, fails on its own before any request is made; the rest of
the batch goes on. The limits are
the Accounts, Vendors, List Names and Tax Data pages' "4 MB" and "200 KB", read
in decimal units to stay on the safe side.

### Deletes

A record with `+"`\"isDeleted\": true`"+`, or a message with metadata
`+"`"+acctMetaDelete+"`"+` set to `+"`true`"+`, is sent in the delete form
`+"`{\"id\":…,\"isDeleted\":true}`"+`. Tax data has no per-record delete: such
messages fail; use `+"`tax_data_mode: replace`"+` instead.

### Full synchronisation and tax data replacement

With `+"`full_sync: true`"+` the first request of the run for each company, ERP
and object carries `+"`\"deleteAll\": true`"+`, and nothing else is sent for that
object until Concur reports that request's final status. With
`+"`tax_data_mode: replace`"+` (or `+"`full_sync`"+` on tax data) the run's first
tax data request is a PUT, which replaces all cached tax data, and later ones
are POSTs. A run is the lifetime of the output; if the first request fails, the
next one tries again.

### Ordering

Per record id (country code for tax data), the last value read is the one
Concur ends with, with any `+"`max_in_flight`"+`:

- In the queue a newer value of an id replaces a queued older one (last
  value wins, fewer bytes); the replaced message is acknowledged or failed
  with the value that replaced it. Vendors are the exception where the
  type differs (or a delete is involved): a vendor's type cannot be
  changed, so such a value is sent after the queued one, for Concur to
  judge the change as it would one value at a time.
- Of two values of an id from the same sequence (`+"`"+acctFieldOrderKey+"`"+`, a Kafka
  partition by default), the one with the higher `+"`"+acctFieldOrderOffset+"`"+` wins,
  whichever reaches the output first: batches written concurrently, or one
  redelivered after newer ones were written, are never sent over newer
  values (counted as status superseded). Positions are remembered for two
  minutes after an id's last write. Without offsets, arrival order decides.
- A request holds its ids until Concur reports its final status (the
  output polls it every `+"`"+acctFieldPollInterval+"`"+`, with `+"`await: accepted`"+` too, up to
  `+"`"+acctFieldAwaitTimeout+"`"+`). While it
  is PROCESSING the next request may be sent, but only with other ids: a
  record whose id is in flight waits in the queue. The next request is
  then sent once its records fill 90 % of a body, or when nothing is
  processing any more: with a backlog requests go out full at the rate
  limit, and when Concur processes slowly the output sends fewer, fuller
  requests rather than many small ones queued behind each other.

### Delivery guarantees

Every request carries an `+"`if-none-match`"+` key derived from the company, ERP,
object, exact body bytes and the run (a version 5 UUID), so a request
retried after its answer was lost (a reset connection, a timeout) is
answered 412 and counted as already applied rather than written twice.
Records redelivered after a crash or restart are written again, in input
order, and end with the last value per id: writes are whole-record upserts
and deletes. They are deliberately not deduplicated across runs: with
requests packed from whatever is queued, a later run can re-send an older
value of an id before it gets to the newest one, and if the body carrying
the newest one were answered 412 (because an earlier run had sent the same
bytes before that older value), Concur would keep the older value. With
`+"`await: accepted`"+` (the default) messages are acknowledged once Concur
answers 202. With `+"`await: final`"+` the output polls the request's status
until SUCCESS, PARTIAL or ERROR and fails exactly the messages whose records
Concur rejected, with Concur's error text; a 412 is then acknowledged without
per-record results, since the earlier request's id is unknown. Route failed
messages with a `+"`fallback`"+` or `+"`switch`"+` output to keep them.

### Rate limits and retries

Each write endpoint is documented as callable once per second; the output keeps
one token bucket per endpoint, company and ERP, shared by every
`+"`concur_accounting`"+` of the process writing to the same API (the strictest
settings of them apply), at `+"`"+acctFieldRateLimit+"`"+` requests per second plus a margin. The
margin adapts: it starts at `+"`"+acctFieldRateMargin+"`"+`, grows by 25ms on
every rate-limit answer (up to `+"`"+acctFieldRateMarginMx+"`"+`) and shrinks by 0.25ms on
every accepted request, so it settles just above the jitter of the link at
about one refused request in a hundred. A bucket's margin is the larger of
its own, learnt from its answers, and a floor learnt the same way from the
answers of all buckets: jitter mostly comes from the path (a busy CPU, the
network), and a bucket sending a few requests a minute would not learn it
alone. Each interval counts from when the previous request's headers
were written rather than from its slot, so a request that left late (a new
connection, a token refresh) does not leave the next one too close. A 429
(or Concur's
400 rate-limit answer), a 5xx or a connection failure is retried with
exponential back-off and full jitter, never sooner than the answer's
`+"`retry-after`"+`, within `+"`"+acctFieldMaxRetries+"`"+` and the back-off's
`+"`max_elapsed_time`"+`; when the budget is spent the messages fail so that the
input redelivers them (the repeat is safe thanks to the idempotency key). Any
other 4xx is not retried: the messages of that request fail with Concur's
error text. Every Concur component of the process shares one API client,
and so one token source, per company: two of them never race a
refresh-token rotation.

### Refused credentials

When the token endpoint refuses a company's credentials (its refresh token
revoked or expired and no usable request token, or a wrong client id or
secret), no record is at fault, so no message fails and nothing reaches a
`+"`fallback`"+`: the write of that company waits, which holds the input back
(nothing is lost), and resumes by itself once a token request succeeds. The
token source asks again after 5 seconds, doubling up to 5 minutes, and
re-reads the token store every 5 seconds meanwhile, so storing a new refresh
token with `+"`concurflow auth exchange`"+` heals a running stream within
seconds. One ERROR per company is logged when it starts, naming the company
and that command, repeated every 5 minutes while it lasts; the gauge
`+"`concur_auth_failed`"+` (label company) is 1 meanwhile. A stream stopped while
waiting leaves the messages unacknowledged, so the input delivers them again.
Other companies' messages in the same batch are written, but the batch is
acknowledged only once the waiting company's are too; once such batches fill
`+"`max_in_flight`"+` the whole stream waits.

A company that never had working credentials is different: no token was
ever obtained for it and the token store holds none (typically a company id
that is not configured, in a stream that sets no request token for all
companies). Waiting cannot help, so its records fail at once with an error
naming the company, and reach a `+"`fallback`"+`.

### Batching inside a fallback

Wrapped in a `+"`fallback`"+` (or any output that routes failed messages), this
output's own `+"`"+acctFieldBatching+"`"+` merges input batches, and Benthos can then
only fail each input batch as a whole: one rejected record sends every message
of its input batch to the next output, with that record's error, although the
others were applied. Only the failed records are routed when either the input
delivers single messages, or this output's `+"`"+acctFieldBatching+"`"+` is off
(`+"`count: 0, byte_size: 0, period: \"\"`"+`) and batches are formed before the
fallback: by the input's batching policy, or by a `+"`broker`"+`'s `+"`batching`"+`
around the `+"`fallback`"+`. `+"`reject_errored`"+` and `+"`switch`"+` do not help here: they
route messages that failed processing, not writes.

### Metrics

`+"`concur_accounting_records`"+` (labels object, status: accepted, applied,
failed, invalid, superseded), `+"`concur_accounting_requests`"+` (labels object, status: the
HTTP status or "error"), `+"`concur_accounting_bytes_sent`"+`,
`+"`concur_accounting_request_latency_ns`"+`, `+"`concur_accounting_rate_limit_wait_ns`"+`,
`+"`concur_accounting_already_applied`"+` (412 answers),
`+"`concur_accounting_schema_rejected`"+` (label object: records that failed
`+"`"+acctFieldValidate+"`"+`, also counted as invalid), plus the auth metrics
`+"`concur_token_refreshes`"+`, `+"`concur_refresh_token_expiry_seconds`"+` and
`+"`concur_auth_failed`"+` (label company). Logs carry the request id and the correlation id.

`+service.OutputPerformanceDocs(true, true)).
		Fields(
			service.NewInterpolatedStringField(acctFieldCompanyID).
				Description("The company UUID the records belong to; messages of several companies may share a batch.").
				Example("09ac834c-46d6-49ff-9653-551d69072d56").
				Example(`${! meta("concur_company_id") }`),
			service.NewInterpolatedStringField(acctFieldERPID).
				Description("The ERP integration UUID (erpId) of the company that the records are written to.").
				Example("2fcffbce-a381-4169-a954-c0395eefd6f6").
				Example(`${! meta("erp_id") }`),
			service.NewInterpolatedStringField(acctFieldObject).
				Description("The object the records are: `accounts`, `vendors`, `lists` or `taxData` (`tax_data` is accepted too). Lint rejects any other fixed value; a value interpolated per message that is none of these fails that message with an error naming them.").
				LintRule(`root = if this.type() == "string" && !this.contains("${") && !["accounts", "vendors", "lists", "taxData", "tax_data"].contains(this) { [ "object %q is not one of accounts, vendors, lists or taxData".format(this) ] }`).
				Example("accounts").
				Example(`${! meta("object") }`),
			authFieldSpec(),
			service.NewFloatField(acctFieldRateLimit).
				Description("Write requests per second per endpoint, company and ERP. The API documents one per second; lower it to leave room for other clients of the same company.").
				Default(concurapi.DefaultRate).
				Example(0.5).
				Advanced(),
			service.NewDurationField(acctFieldRateMargin).
				Description("Smallest extra spacing added to every interval of `"+acctFieldRateLimit+"`, and where each endpoint, company and ERP starts. Concur counts a call when its gateway reads it; the output spaces a request from when the previous one's headers were written, but delays on the way (the network, a busy CPU on either side) can still bring two requests closer together than one interval, and a 429 costs at least its one-second retry-after. The margin adapts per endpoint, company and ERP and, as a floor under all of them, over all answers: every 429 adds 25ms, up to `"+acctFieldRateMarginMx+"`; every accepted request takes off 0.25ms, down to this value.").
				Default("10ms").
				Example("0s").
				Example("50ms").
				Advanced(),
			service.NewDurationField(acctFieldRateMarginMx).
				Description("Largest margin the adaptation may reach (see `"+acctFieldRateMargin+"`). Set it to `"+acctFieldRateMargin+"` or lower for a fixed margin of `"+acctFieldRateMargin+"`.").
				Default("250ms").
				Example("1s").
				Example("50ms").
				Advanced(),
			service.NewOutputMaxInFlightField().Default(8),
			service.NewBatchPolicyField(acctFieldBatching).
				Description("Batching policy of the messages handed to the output. Requests are packed from every batch in flight whatever this says; batching matters for inputs that deliver single messages, where it keeps enough records in flight to fill requests (`max_in_flight` batches at a time). The default flushes at 3,900,000 bytes of records or after one second, whichever comes first.").
				Default(map[string]any{"count": 0, "byte_size": acctDefaultBatchBytes, "period": "1s", "check": "", "processors": []any{}}),
			service.NewStringEnumField(acctFieldAwait, acctAwaitAccepted, acctAwaitFinal).
				Description("When a message is acknowledged: `accepted` once Concur answers 202, `final` once the request's processing finished, failing exactly the records Concur rejected.").
				Default(acctAwaitAccepted).
				Example(acctAwaitFinal),
			service.NewDurationField(acctFieldPollInterval).
				Description("How often the request status is polled while awaiting a final status.").
				Default("1s").
				Example("250ms").
				Advanced(),
			service.NewDurationField(acctFieldAwaitTimeout).
				Description("How long to wait for a final status before failing the messages (they are then redelivered; the repeat is answered 412).").
				Default("5m").
				Example("30m").
				Advanced(),
			service.NewStringEnumField(acctFieldTaxDataMode, acctTaxAdd, acctTaxReplace).
				Description("For `taxData`: `add` POSTs every request; `replace` makes the run's first request a PUT replacing all cached tax data, and sends nothing more until it finished.").
				Default(acctTaxAdd).
				Example(acctTaxReplace),
			service.NewBoolField(acctFieldFullSync).
				Description("Make the run's first request for each company, ERP and object carry `deleteAll: true` (a PUT for tax data), and send nothing more for that object until it finished: the stream then holds the complete data set.").
				Default(false).
				Example(true),
			service.NewInterpolatedStringField(acctFieldOrderKey).
				Description("Names the sequence a message was read from (a Kafka partition), for `"+acctFieldOrderOffset+"`. The default fits every Kafka input.").
				Default(`${! metadata("kafka_topic").or("") }/${! metadata("kafka_partition").or("") }`).
				Example(`${! metadata("source") }`).
				Advanced(),
			service.NewInterpolatedStringField(acctFieldOrderOffset).
				Description("The message's position in the sequence named by `"+acctFieldOrderKey+"` (a Kafka offset), an integer, or empty when unknown. Of two values of the same record id from the same sequence the later one is written, whichever reaches the output first: batches written concurrently (`max_in_flight` above 1) or redelivered after a failure arrive in any order. Without offsets, arrival order decides.").
				Default(`${! metadata("kafka_offset").or("") }`).
				Example(`${! metadata("line") }`).
				Advanced(),
			acctValidateFieldSpec(),
			acctMaxRetriesFieldSpec(),
			acctBackoffFieldSpec(),
		).
		Example("Full account sync from an NDJSON export", "Replaces the accounts cached in Concur with the file's, one record per line.", `
input:
  file:
    paths: [ ./exports/accounts.ndjson ]
    scanner:
      lines:
        max_buffer_size: 4000000 # records up to 200 KB; the default 64 KiB ends the file at a longer line
output:
  concur_accounting:
    company_id: 09ac834c-46d6-49ff-9653-551d69072d56
    erp_id: 2fcffbce-a381-4169-a954-c0395eefd6f6
    object: accounts
    full_sync: true
    await: final
    auth:
      client_id: ${CONCUR_CLIENT_ID}
      client_secret: ${CONCUR_CLIENT_SECRET}
      request_token: ${CONCUR_REQUEST_TOKEN}
`).
		Example("Vendors of many companies from Kafka", "Company and ERP come from record metadata; deletes are flagged by the producer.", `
input:
  kafka_go:
    addresses: [ localhost:9092 ]
    topics: [ erp.vendors ]
    consumer_group: concurflow
pipeline:
  processors:
    - mapping: |
        meta concur_delete = if this.deleted == true { "true" }
        root = this.without("deleted")
output:
  concur_accounting:
    company_id: ${! meta("kafka_key").split("/").index(0) }
    erp_id: ${! meta("kafka_key").split("/").index(1) }
    object: vendors
    auth:
      client_id: ${CONCUR_CLIENT_ID}
      client_secret: ${CONCUR_CLIENT_SECRET}
      token_store: /var/lib/concurflow/tokens
`)
}

func init() {
	registerBatchOutput("concur_accounting", accountingOutputSpec(), acctFieldBatching,
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchOutput, error) {
			return newAccountingOutput(conf, mgr)
		})
}

// acctMetrics are the output's metrics.
type acctMetrics struct {
	records        *service.MetricCounter // object, status
	requests       *service.MetricCounter // object, status
	bytesSent      *service.MetricCounter // object
	latency        *service.MetricTimer   // object
	rateLimitWait  *service.MetricTimer   // object
	alreadyApplied *service.MetricCounter // object
}

func newAcctMetrics(m *service.Metrics) acctMetrics {
	return acctMetrics{
		records:        m.NewCounter("concur_accounting_records", "object", "status"),
		requests:       m.NewCounter("concur_accounting_requests", "object", "status"),
		bytesSent:      m.NewCounter("concur_accounting_bytes_sent", "object"),
		latency:        m.NewTimer("concur_accounting_request_latency_ns", "object"),
		rateLimitWait:  m.NewTimer("concur_accounting_rate_limit_wait_ns", "object"),
		alreadyApplied: m.NewCounter("concur_accounting_already_applied", "object"),
	}
}

// acctRetry is the retry budget of one request.
type acctRetry struct {
	maxRetries int
	initial    time.Duration
	maxDelay   time.Duration
	maxElapsed time.Duration
}

// acctRetryFromParsed reads the max_retries and backoff fields, which must
// bound the retries by a count, a time or both.
func acctRetryFromParsed(conf *service.ParsedConfig) (acctRetry, error) {
	var r acctRetry
	var err error
	if r.maxRetries, err = conf.FieldInt(acctFieldMaxRetries); err != nil {
		return r, err
	}
	bo, err := conf.FieldBackOff(acctFieldBackoff)
	if err != nil {
		return r, err
	}
	r.initial, r.maxDelay, r.maxElapsed = bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime
	if r.initial <= 0 || r.maxDelay < r.initial {
		return r, fmt.Errorf("field %s: initial_interval must be above 0 and at most max_interval", acctFieldBackoff)
	}
	if r.maxRetries <= 0 && r.maxElapsed <= 0 {
		return r, fmt.Errorf("fields %s and %s.max_elapsed_time: at least one must bound the retries", acctFieldMaxRetries, acctFieldBackoff)
	}
	return r, nil
}

// delay returns the back-off before retry n (1-based): full jitter over an
// exponentially growing cap, never less than retryAfter.
func (r acctRetry) delay(n int, retryAfter time.Duration) time.Duration {
	ceiling := r.initial
	for i := 1; i < n && ceiling < r.maxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, r.maxDelay)
	d := ceiling/2 + rand.N(ceiling/2+1)
	return max(d, retryAfter)
}

// accountingOutput is the concur_accounting output.
type accountingOutput struct {
	companyID acctInterp
	erpID     acctInterp
	object    acctInterp

	auth         *authClients
	limiter      *concurapi.RateLimiter
	await        string
	pollInterval time.Duration
	awaitTimeout time.Duration
	taxReplace   bool
	fullSync     bool
	retry        acctRetry
	validator    *acctValidator // nil with validate: false

	orderKey    acctInterp
	orderOffset acctInterp

	log     *service.Logger
	metrics acctMetrics

	// The coalescing writers (output_accounting_writer.go), stopped by
	// Close through runCtx.
	runCtx    context.Context
	runCancel context.CancelFunc
	wg        sync.WaitGroup

	epMu      sync.Mutex
	endpoints map[acctGroupKey]*acctEndpoint
	// gateDone records, with full_sync or tax_data_mode replace, which
	// company, ERP and object had the run's first request finish. Kept for
	// the output's lifetime: forgetting one would repeat its deleteAll.
	gateDone map[acctGroupKey]bool
	// endpointIdle is acctEndpointIdle (shorter in tests).
	endpointIdle time.Duration
	// runID makes the idempotency keys of this run its own (see
	// "Delivery guarantees"): a retried request is answered 412, a body
	// that a later run packs alike is applied again.
	runID string
}

func newAccountingOutput(conf *service.ParsedConfig, mgr *service.Resources) (*accountingOutput, error) {
	o := &accountingOutput{
		log:          mgr.Logger(),
		metrics:      newAcctMetrics(mgr.Metrics()),
		endpoints:    map[acctGroupKey]*acctEndpoint{},
		gateDone:     map[acctGroupKey]bool{},
		endpointIdle: acctEndpointIdle,
		runID:        uuid.NewString(),
	}
	var err error
	if o.companyID, err = parseAcctInterp(conf, acctFieldCompanyID); err != nil {
		return nil, err
	}
	if o.erpID, err = parseAcctInterp(conf, acctFieldERPID); err != nil {
		return nil, err
	}
	if o.object, err = parseAcctInterp(conf, acctFieldObject); err != nil {
		return nil, err
	}
	if obj, static := o.object.expr.Static(); static {
		if _, err := concurapi.ParseObject(obj); err != nil {
			return nil, fmt.Errorf("field %s: %w", acctFieldObject, err)
		}
	}
	rate, err := conf.FieldFloat(acctFieldRateLimit)
	if err != nil {
		return nil, err
	}
	if rate <= 0 {
		return nil, fmt.Errorf("field %s: must be above 0, got %v", acctFieldRateLimit, rate)
	}
	margin, err := conf.FieldDuration(acctFieldRateMargin)
	if err != nil {
		return nil, err
	}
	if margin < 0 {
		return nil, fmt.Errorf("field %s: must not be negative", acctFieldRateMargin)
	}
	maxMargin, err := conf.FieldDuration(acctFieldRateMarginMx)
	if err != nil {
		return nil, err
	}
	limiterConf := concurapi.RateLimiterConfig{Rate: rate, Burst: 1, Margin: margin, MaxMargin: maxMargin}
	if o.orderKey, err = parseAcctInterp(conf, acctFieldOrderKey); err != nil {
		return nil, err
	}
	if o.orderOffset, err = parseAcctInterp(conf, acctFieldOrderOffset); err != nil {
		return nil, err
	}
	if o.await, err = conf.FieldString(acctFieldAwait); err != nil {
		return nil, err
	}
	if o.pollInterval, err = conf.FieldDuration(acctFieldPollInterval); err != nil {
		return nil, err
	}
	if o.awaitTimeout, err = conf.FieldDuration(acctFieldAwaitTimeout); err != nil {
		return nil, err
	}
	mode, err := conf.FieldString(acctFieldTaxDataMode)
	if err != nil {
		return nil, err
	}
	o.taxReplace = mode == acctTaxReplace
	if o.fullSync, err = conf.FieldBool(acctFieldFullSync); err != nil {
		return nil, err
	}
	if validate, err := conf.FieldBool(acctFieldValidate); err != nil {
		return nil, err
	} else if validate {
		o.validator = newAcctValidator(mgr.Metrics())
	}
	if o.retry, err = acctRetryFromParsed(conf); err != nil {
		return nil, err
	}
	if o.auth, err = authFromParsed(conf.Namespace(authField), mgr); err != nil {
		return nil, err
	}
	// One limiter per process and API: several outputs writing to the same
	// endpoint share its one request per second.
	o.limiter = o.auth.shared.limiter(o.auth.url, limiterConf)
	o.runCtx, o.runCancel = context.WithCancel(context.Background())
	return o, nil
}

// Connect implements service.BatchOutput. Clients are created lazily per
// company, so there is nothing to connect.
func (o *accountingOutput) Connect(ctx context.Context) error { return nil }

// Close implements service.BatchOutput: it stops the endpoint writers and
// waits for them. Messages still queued or awaiting a status stay
// unacknowledged, so the input delivers them again.
func (o *accountingOutput) Close(ctx context.Context) error {
	o.runCancel()
	done := make(chan struct{})
	go func() {
		o.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	o.auth.Close()
	return nil
}

// acctGroupKey identifies the requests a group of records goes into.
type acctGroupKey struct {
	companyID string
	erpID     string
	object    concurapi.Object
}

// acctGroup is the messages of a batch going to one company, ERP and object.
type acctGroup struct {
	key     acctGroupKey
	indexes []int // positions in the batch, in input order
}

// acctFailures collects per-message failures of one WriteBatch; safe for
// concurrent use by the group goroutines.
type acctFailures struct {
	mu    sync.Mutex
	batch service.MessageBatch
	err   *service.BatchError
}

func (f *acctFailures) fail(i int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = service.NewBatchError(f.batch, fmt.Errorf("writing to Concur: %w", err))
	}
	f.err.Failed(i, err)
}

// WriteBatch implements service.BatchOutput: it checks every message,
// queues the valid records on the writers of their company, ERP and object
// and waits until each message is settled (see output_accounting_writer.go).
func (o *accountingOutput) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	fails := &acctFailures{batch: batch}
	groups := o.groupBatch(batch, fails)
	orderKeys := o.orderKey.resolver(batch)
	orderOffsets := o.orderOffset.resolver(batch)
	type queued struct {
		key   acctGroupKey
		items []*acctItem
	}
	var all []queued
	n := 0
	for _, g := range groups {
		items := o.prepareGroup(batch, g, fails, orderKeys, orderOffsets)
		if len(items) > 0 {
			all = append(all, queued{g.key, items})
			n += len(items)
		}
	}
	t := newAcctTracker(fails, n)
	for _, q := range all {
		for _, it := range q.items {
			it.owners[0].t = t
		}
	}
	o.epMu.Lock()
	if o.runCtx.Err() != nil {
		o.epMu.Unlock()
		return errors.New("writing to Concur: the output is closed")
	}
	for _, q := range all {
		o.endpointLocked(q.key).enqueue(q.items)
	}
	o.epMu.Unlock()
	select {
	case <-t.done:
	case <-ctx.Done():
		return ctx.Err()
	case <-o.runCtx.Done():
		return errors.New("writing to Concur: the output closed before Concur accepted the messages")
	}
	if fails.err != nil {
		return fails.err
	}
	return nil
}

// groupBatch splits a batch by company, ERP and object, in order of first
// appearance, failing messages whose fields do not resolve.
func (o *accountingOutput) groupBatch(batch service.MessageBatch, fails *acctFailures) []*acctGroup {
	byKey := map[acctGroupKey]*acctGroup{}
	var groups []*acctGroup
	companyIDs := o.companyID.resolver(batch)
	erpIDs := o.erpID.resolver(batch)
	objects := o.object.resolver(batch)
	for i := range batch {
		var key acctGroupKey
		var err error
		if key.companyID, err = resolveNonEmpty(companyIDs, i, acctFieldCompanyID, "company id"); err != nil {
			fails.fail(i, err)
			continue
		}
		if key.erpID, err = resolveNonEmpty(erpIDs, i, acctFieldERPID, "erp id"); err != nil {
			fails.fail(i, err)
			continue
		}
		obj, err := objects(i)
		if err == nil {
			key.object, err = concurapi.ParseObject(obj)
		}
		if err != nil {
			fails.fail(i, fmt.Errorf("resolving %s: %w", acctFieldObject, err))
			continue
		}
		g, ok := byKey[key]
		if !ok {
			g = &acctGroup{key: key}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.indexes = append(g.indexes, i)
	}
	return groups
}

// acctResolver returns a function resolving f for message i of batch: the
// static value when f has no interpolation, else one executor for the whole
// batch (batch.TryInterpolatedString would convert the batch on every call).
func acctResolver(batch service.MessageBatch, f *service.InterpolatedString) func(i int) (string, error) {
	if v, ok := f.Static(); ok {
		return func(int) (string, error) { return v, nil }
	}
	exec := batch.InterpolationExecutor(f)
	return exec.TryString
}

// resolveNonEmpty resolves field for message i; an empty value (named what)
// is an error too.
func resolveNonEmpty(resolve func(int) (string, error), i int, field, what string) (string, error) {
	v, err := resolve(i)
	if err == nil && v == "" {
		err = errors.New("empty " + what)
	}
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", field, err)
	}
	return v, nil
}

// prepareGroup checks the records of one group and returns them ready to
// queue, each owned by its message (the tracker is set by the caller);
// messages that fail the checks are failed through fails.
func (o *accountingOutput) prepareGroup(batch service.MessageBatch, g *acctGroup, fails *acctFailures,
	orderKeys, orderOffsets func(int) (string, error),
) []*acctItem {
	obj := g.key.object
	objLabel := string(obj)
	packer := concurapi.PackerFor(string(obj))
	inputs := make([]concurapi.PackInput, len(g.indexes))
	unreadable := make([]bool, len(g.indexes))
	for j, i := range g.indexes {
		raw, err := batch[i].AsBytes()
		if err != nil {
			fails.fail(i, fmt.Errorf("reading message: %w", err))
			unreadable[j] = true
			continue
		}
		del, _ := batch[i].MetaGet(acctMetaDelete)
		inputs[j] = concurapi.PackInput{Raw: raw, Delete: del == "true"}
	}
	for j, err := range o.validator.checkGroup(obj, g.indexes, inputs, packer) {
		if err != nil && !unreadable[j] {
			fails.fail(g.indexes[j], err)
			o.metrics.records.Incr(1, objLabel, "invalid")
			unreadable[j] = true
		}
	}
	items := make([]*acctItem, 0, len(g.indexes))
	for j, i := range g.indexes {
		if unreadable[j] {
			continue
		}
		id, rec, err := acctPrepare(packer, obj, inputs[j])
		if err != nil {
			fails.fail(i, fmt.Errorf("%s record rejected before sending: %w", obj, err))
			o.metrics.records.Incr(1, objLabel, "invalid")
			continue
		}
		var pos acctPos
		key, err := orderKeys(i)
		if err == nil {
			var off string
			if off, err = orderOffsets(i); err == nil {
				pos, err = parseAcctPos(key, off)
			}
		}
		if err != nil {
			fails.fail(i, fmt.Errorf("resolving %s: %w", acctFieldOrderOffset, err))
			o.metrics.records.Incr(1, objLabel, "invalid")
			continue
		}
		items = append(items, &acctItem{id: id, rec: rec, pos: pos, owners: []acctOwner{{i: i}}})
	}
	return items
}

// acctMaxRetriesFieldSpec and acctBackoffFieldSpec are the retry fields
// of concur_accounting and concur_list_items, read by acctRetryFromParsed.
func acctMaxRetriesFieldSpec() *service.ConfigField {
	return service.NewIntField(acctFieldMaxRetries).
		Description("Retries of one request after rate limits, 5xx answers or connection failures, before its messages fail. 0 means bounded by the back-off's max_elapsed_time only.").
		Default(10).
		Example(3).
		Advanced()
}

func acctBackoffFieldSpec() *service.ConfigField {
	return service.NewBackOffField(acctFieldBackoff, false, nil).Advanced()
}

// acctMethod names the request kind used for logs and to pick the call.
func acctMethod(obj concurapi.Object, first bool) string {
	switch {
	case obj.Patchable():
		return "PATCH"
	case first:
		return "PUT"
	default:
		return "POST"
	}
}

// acctSent is the outcome of one successful send.
type acctSent struct {
	status         *concurapi.RequestStatus // nil when already applied (412)
	alreadyApplied bool
}

// send writes one body, waiting for the rate limiter (unless slotTaken: the
// caller already waited for the first attempt's slot) and retrying within
// the budget. A nil error means Concur accepted the body (202) or had
// already accepted it (412).
func (o *accountingOutput) send(ctx context.Context, client *concurapi.Client, key acctGroupKey, method string, body []byte, slotTaken bool) (acctSent, error) {
	objLabel := string(key.object)
	rk := concurapi.RateKey{Endpoint: string(key.object), CompanyID: key.companyID, ERPID: key.erpID}
	idemKey := concurapi.IdempotencyKey(key.companyID, key.erpID, method+" "+string(key.object)+" run "+o.runID, body)
	start := time.Now()
	for attempt := 0; ; attempt++ {
		if !slotTaken {
			waited, err := o.limiter.Wait(ctx, rk)
			if err != nil {
				return acctSent{}, fmt.Errorf("waiting for the %s rate limit of company %s: %w", key.object, key.companyID, err)
			}
			o.metrics.rateLimitWait.Timing(waited.Nanoseconds(), objLabel)
		}
		slotTaken = false
		t0 := time.Now()
		var st *concurapi.RequestStatus
		var err error
		// The gateway counts the call when it reads its headers: the next
		// slot is spaced from when they were written (see Departed).
		var wrote atomic.Int64
		callCtx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			WroteHeaders: func() { wrote.Store(time.Now().UnixNano()) },
		})
		switch method {
		case "PUT":
			st, err = client.ReplaceTaxData(callCtx, key.erpID, body, idemKey)
		case "POST":
			st, err = client.AddTaxData(callCtx, key.erpID, body, idemKey)
		default:
			st, err = client.Patch(callCtx, key.erpID, key.object, body, idemKey)
		}
		if w := wrote.Load(); w != 0 {
			o.limiter.Departed(rk, time.Unix(0, w))
		}
		o.metrics.latency.Timing(time.Since(t0).Nanoseconds(), objLabel)
		o.metrics.bytesSent.Incr(int64(len(body)), objLabel)
		o.metrics.requests.Incr(1, objLabel, acctStatusLabel(err))
		switch {
		case err == nil:
			o.limiter.Accepted(rk)
			o.log.With("requestId", st.RequestID, "correlationId", st.CorrelationID, "object", objLabel, "companyId", key.companyID).
				Debugf("Concur accepted %s of %d bytes", method, len(body))
			return acctSent{status: st}, nil
		case errors.Is(err, concurapi.ErrAlreadyAccepted):
			o.metrics.alreadyApplied.Incr(1, objLabel)
			o.log.With("ifNoneMatch", idemKey, "correlationId", acctCorrelation(err), "object", objLabel, "companyId", key.companyID).
				Infof("Concur already accepted this %s request (412); counting it as applied", method)
			return acctSent{alreadyApplied: true}, nil
		case concurapi.IsCredentialsRefused(err) && o.auth.neverHadCredentials(ctx, key.companyID):
			// Nobody set this company up: waiting cannot help.
			return acctSent{}, fmt.Errorf("%s %s: %w", method, key.object, o.auth.neverWorkedError(key.companyID, err))
		case concurapi.IsCredentialsRefused(err):
			// Not the records' fault: wait for new credentials, then
			// start over with a fresh retry budget.
			if err := o.auth.waitForCredentials(ctx, err); err != nil {
				return acctSent{}, fmt.Errorf("%s %s for company %s: %w", method, key.object, key.companyID, err)
			}
			attempt, start = -1, time.Now()
			continue
		case !concurapi.IsRetryable(err):
			return acctSent{}, fmt.Errorf("%s %s for company %s, erp %s (not retried): %w", method, key.object, key.companyID, key.erpID, err)
		}
		retryAfter := concurapi.RetryAfter(err)
		d := o.retry.delay(attempt+1, retryAfter)
		if errors.Is(err, concurapi.ErrRateLimited) {
			// Requests of this bucket were too close for the server: widen
			// its margin, and every writer of it backs off, not only this one.
			o.limiter.RateLimited(rk)
			o.limiter.Hold(rk, d)
		}
		spent := o.retry.maxRetries > 0 && attempt+1 > o.retry.maxRetries
		if o.retry.maxElapsed > 0 && time.Since(start)+d > o.retry.maxElapsed {
			spent = true
		}
		if spent {
			return acctSent{}, fmt.Errorf("%s %s for company %s, erp %s: retry budget spent after %d attempts: %w", method, key.object, key.companyID, key.erpID, attempt+1, err)
		}
		o.log.With("correlationId", acctCorrelation(err), "object", objLabel, "companyId", key.companyID).
			Warnf("Retrying %s in %v: %v", method, d, err)
		if !errors.Is(err, concurapi.ErrRateLimited) {
			if err := concurapi.SleepContext(ctx, d); err != nil {
				return acctSent{}, fmt.Errorf("%s %s for company %s: %w", method, key.object, key.companyID, err)
			}
		}
		// A rate-limited retry waits in the limiter, behind the hold.
	}
}

func acctStatusLabel(err error) string {
	if err == nil {
		return "202"
	}
	var apiErr *concurapi.APIError
	if errors.As(err, &apiErr) {
		return fmt.Sprint(apiErr.StatusCode)
	}
	return "error"
}

func acctCorrelation(err error) string {
	var apiErr *concurapi.APIError
	if errors.As(err, &apiErr) {
		return apiErr.CorrelationID
	}
	return ""
}

// awaitFinal polls the request until its status is final and fails, through
// failRecord (given the record's index in inputs), exactly the records that
// Concur reports as failed. It returns an error only when the final status
// could not be learnt; then every record of the body should fail.
func (o *accountingOutput) awaitFinal(ctx context.Context, client *concurapi.Client, key acctGroupKey, ids []string,
	st *concurapi.RequestStatus, failRecord func(j int, err error),
) error {
	objLabel := string(key.object)
	parent := ctx
	ctx, cancel := context.WithTimeout(parent, o.awaitTimeout)
	defer func() { cancel() }()
	// waitRefused waits for new credentials when err refuses them; the
	// wait does not count against await_timeout.
	waitRefused := func(err error) (retry bool, werr error) {
		if !concurapi.IsCredentialsRefused(err) {
			return false, nil
		}
		if werr := o.auth.waitForCredentials(parent, err); werr != nil {
			return false, fmt.Errorf("awaiting request %s: %w", st.RequestID, werr)
		}
		cancel()
		ctx, cancel = context.WithTimeout(parent, o.awaitTimeout)
		return true, nil
	}
	for !st.Status.Final() {
		if err := concurapi.SleepContext(ctx, o.pollInterval); err != nil {
			return fmt.Errorf("awaiting request %s of company %s: %w", st.RequestID, key.companyID, err)
		}
		next, err := client.RequestStatus(ctx, key.erpID, st.RequestID)
		if err != nil {
			if concurapi.IsRetryable(err) {
				continue
			}
			retry, werr := waitRefused(err)
			if werr != nil {
				return werr
			}
			if retry {
				continue
			}
			return fmt.Errorf("awaiting request %s: %w", st.RequestID, err)
		}
		next.RequestID = st.RequestID
		st = next
	}
	log := o.log.With("requestId", st.RequestID, "correlationId", st.CorrelationID, "object", objLabel, "companyId", key.companyID)
	if st.Status == concurapi.StatusSuccess {
		o.metrics.records.Incr(int64(len(ids)), objLabel, "applied")
		log.Debugf("Request finished: %s", st.Status)
		return nil
	}

	// Map failed records back to messages by their key.
	packer := concurapi.PackerFor(string(key.object))
	byKey := make(map[string][]int, len(ids))
	for j, id := range ids {
		byKey[id] = append(byKey[id], j)
	}
	var failed map[int][]string
	var unmatched []string
	for reading := true; reading; {
		reading = false
		failed, unmatched = map[int][]string{}, nil
		for pe, err := range client.RequestErrors(ctx, key.erpID, st.RequestID) {
			if err != nil {
				retry, werr := waitRefused(err)
				if werr != nil {
					return werr
				}
				if !retry {
					return fmt.Errorf("reading errors of request %s (status %s): %w", st.RequestID, st.Status, err)
				}
				reading = true // from the first page again
				break
			}
			text := acctProcessingErrorText(pe)
			k, _, kerr := packer.Key([]byte(pe.RawValues))
			js, ok := byKey[k]
			if kerr != nil || !ok {
				unmatched = append(unmatched, text)
				continue
			}
			for _, j := range js {
				failed[j] = append(failed[j], text)
			}
		}
	}
	if len(unmatched) > 0 || (len(failed) == 0 && st.Status == concurapi.StatusError) {
		// Errors that name no record of ours: fail the whole body rather
		// than acknowledge records that may not have been applied.
		msg := strings.Join(unmatched, "; ")
		if msg == "" {
			msg = "no record errors reported"
		}
		log.Errorf("Request finished %s: %s", st.Status, msg)
		for j := range ids {
			failed[j] = append(failed[j], msg)
		}
	}
	nFailed := 0
	for j := range ids {
		texts, ok := failed[j]
		if !ok {
			continue
		}
		nFailed++
		failRecord(j, fmt.Errorf("concur rejected %s record (request %s, status %s): %s", key.object, st.RequestID, st.Status, strings.Join(texts, "; ")))
	}
	o.metrics.records.Incr(int64(nFailed), objLabel, "failed")
	o.metrics.records.Incr(int64(len(ids)-nFailed), objLabel, "applied")
	log.Infof("Request finished %s: %d of %d records failed", st.Status, nFailed, len(ids))
	return nil
}

// acctProcessingErrorText formats Concur's error for one record.
func acctProcessingErrorText(pe concurapi.ProcessingError) string {
	var b strings.Builder
	b.WriteString(pe.ErrorCode)
	if pe.ErrorMessage != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(pe.ErrorMessage)
	}
	for _, v := range pe.ValidationErrors {
		b.WriteString("; ")
		b.WriteString(v.Error())
	}
	return b.String()
}
