package concur

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/redpanda-data/benthos/v4/public/service"

	concurapi "github.com/concurflow/concurflow/concur"
)

// Field names of the concur_request_errors processor. company_id, erp_id,
// max_retries and backoff are shared with concur_mappings.
const (
	reqerrFieldCompanyID  = "company_id"
	reqerrFieldERPID      = "erp_id"
	reqerrFieldRequestID  = "request_id"
	reqerrFieldStatus     = "status"
	reqerrFieldOnSuccess  = "on_success"
	reqerrFieldMaxRetries = "max_retries"
	reqerrFieldBackoff    = "backoff"
)

// Values of on_success.
const (
	reqerrOnSuccessPass = "pass"
	reqerrOnSuccessDrop = "drop"
)

// Metadata keys set on every emitted error record.
const (
	reqerrMetaErrorCode        = "concur_error_code"
	reqerrMetaErrorMessage     = "concur_error_message"
	reqerrMetaValidationErrors = "concur_validation_errors"
	reqerrMetaObjectType       = "concur_object_type"
	reqerrMetaRequestID        = "concur_request_id"
	reqerrMetaCompanyID        = "concur_company_id"
	reqerrMetaERPID            = "concur_erp_id"
	reqerrMetaRecordID         = "concur_record_id"
	reqerrMetaValuesInvalid    = "concur_values_invalid"
)

// Default interpolations: metadata first (set by concur_events or by the
// user), then the ESS event body's facts.
const (
	reqerrDefaultCompanyID = `${! meta("concur_company_id").or(json("facts.companyId")).or("") }`
	reqerrDefaultERPID     = `${! meta("concur_erp_id").or(json("facts.erpId")).or("") }`
	reqerrDefaultRequestID = `${! meta("concur_request_id").or(json("facts.data.requestId")).or("") }`
	reqerrDefaultStatus    = `${! meta("concur_request_status").or(json("facts.data.status")).or("") }`
)

// reqerrDefaultBackoff is the small retry budget of one fetch.
func reqerrDefaultBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 200 * time.Millisecond
	b.MaxInterval = 2 * time.Second
	b.MaxElapsedTime = 15 * time.Second
	return b
}

func requestErrorsProcessorSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Turns a Concur request that finished with status ERROR or PARTIAL into one message per rejected record, with Concur's errors in metadata.").
		Description(`
Meant to follow the `+"`concur_events`"+` input: for a `+"`data.statusUpdated`"+`
event whose status is `+"`ERROR`"+` or `+"`PARTIAL`"+`, the processor fetches the
request's processing errors (GET `+"`/requests/{requestId}/errors`"+`, every page,
see the Request Processing page) and replaces the event with one message per
ProcessingError. Any other message works too when `+"`"+reqerrFieldCompanyID+"`"+`,
`+"`"+reqerrFieldERPID+"`"+` and `+"`"+reqerrFieldRequestID+"`"+` resolve to the request;
the defaults read the metadata `+"`concur_company_id`"+`, `+"`concur_erp_id`"+`,
`+"`concur_request_id`"+` and `+"`concur_request_status`"+` first, then the event's
`+"`facts`"+`.

### Emitted messages

The body is the rejected record exactly as Concur holds it: the ProcessingError's
`+"`values`"+` string, which is the record the ERP sent. The metadata of the incoming
message is kept and these keys are added:

- `+"`"+reqerrMetaErrorCode+"`"+`, `+"`"+reqerrMetaErrorMessage+"`"+`: the ProcessingError's code and message
- `+"`"+reqerrMetaValidationErrors+"`"+`: its validationErrors as a JSON array (`+"`[]`"+` when none)
- `+"`"+reqerrMetaObjectType+"`"+`: ACCOUNT, VENDOR, LIST or TAX_DATA
- `+"`"+reqerrMetaRequestID+"`"+`, `+"`"+reqerrMetaCompanyID+"`"+`, `+"`"+reqerrMetaERPID+"`"+`: the request the error belongs to
- `+"`"+reqerrMetaRecordID+"`"+`: the record's `+"`id`"+`, when it has a string one

A `+"`values`"+` that is absent or not valid JSON still yields a message: its body
is the raw string and `+"`"+reqerrMetaValuesInvalid+"`"+` is `+"`true`"+`; nothing is lost.

### Which messages are looked up

- status `+"`ERROR`"+` or `+"`PARTIAL`"+`, or an empty status with a request id: the
  errors are fetched. An error list that turns out empty is treated like SUCCESS.
- status `+"`SUCCESS`"+` or `+"`PROCESSING`"+`, or an empty status without a request id
  (for example other event types): the message is dropped (`+"`"+reqerrFieldOnSuccess+": drop`"+`,
  the default, so that a dead-letter pipeline only sees failures) or passed on
  unchanged (`+"`"+reqerrFieldOnSuccess+": pass`"+`).
- a failed status without company, ERP or request id, or an unknown status: the
  message is marked as failed with an error saying so.

### Failures

Rate limits, 5xx answers and connection failures are retried within
`+"`"+reqerrFieldMaxRetries+"`"+` and the back-off (each retry fetches every page again, so
no record is emitted twice). Other API errors, or a spent budget, mark the
incoming message as failed with the error (use `+"`catch`"+`, or a `+"`fallback`"+` or
`+"`reject_errored`"+` output, to route it); nothing is emitted for it and no other
message is affected.

### Metrics

`+"`concur_request_errors_emitted`"+` (label object_type),
`+"`concur_request_errors_fetches`"+` (label result: ok, failed),
`+"`concur_request_errors_fetch_retries`"+`, plus the auth metrics.`).
		Fields(reqerrIDFields("request")...).
		Fields(
			service.NewInterpolatedStringField(reqerrFieldRequestID).
				Description("The request UUID whose errors are fetched.").
				Default(reqerrDefaultRequestID).
				Example(`${! meta("request_id") }`),
			service.NewInterpolatedStringField(reqerrFieldStatus).
				Description("The request's processing status (PROCESSING, SUCCESS, PARTIAL, ERROR); empty means unknown, and the errors are fetched whenever there is a request id.").
				Default(reqerrDefaultStatus).
				Example("ERROR").
				Example(""),
			service.NewStringEnumField(reqerrFieldOnSuccess, reqerrOnSuccessDrop, reqerrOnSuccessPass).
				Description("What happens to a message that yields no error records: `drop` it, or `pass` it on unchanged.").
				Default(reqerrOnSuccessDrop).
				Example(reqerrOnSuccessPass),
			authFieldSpec(),
		).
		Fields(reqerrRetryFields()...).
		Example("Dead-letter file of rejected records", "Receives Concur's events and writes every record Concur rejected, with its errors, to a file for the ERP team.", `
input:
  concur_events:
    address: 0.0.0.0:8443
    path: /concur/events
pipeline:
  processors:
    - concur_request_errors:
        auth:
          client_id: ${CONCUR_CLIENT_ID}
          client_secret: ${CONCUR_CLIENT_SECRET}
          request_token: ${CONCUR_REQUEST_TOKEN}
    - mapping: |
        root.record = this
        root.objectType = @concur_object_type
        root.requestId = @concur_request_id
        root.errorCode = @concur_error_code
        root.errorMessage = @concur_error_message
        root.validationErrors = @concur_validation_errors.parse_json()
output:
  file:
    path: ./rejected/${! meta("concur_object_type").lowercase() }.ndjson
    codec: lines
`)
}

// reqerrIDFields are the company and ERP fields shared by both processors;
// of names what they identify.
func reqerrIDFields(of string) []*service.ConfigField {
	return []*service.ConfigField{
		service.NewInterpolatedStringField(reqerrFieldCompanyID).
			Description("The company UUID of the " + of + ".").
			Default(reqerrDefaultCompanyID).
			Example("09ac834c-46d6-49ff-9653-551d69072d56"),
		service.NewInterpolatedStringField(reqerrFieldERPID).
			Description("The ERP integration UUID of the " + of + ".").
			Default(reqerrDefaultERPID).
			Example("2fcffbce-a381-4169-a954-c0395eefd6f6"),
	}
}

// reqerrRetryFields are the retry fields shared by both processors.
func reqerrRetryFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewIntField(reqerrFieldMaxRetries).
			Description("Retries of one lookup after rate limits, 5xx answers or connection failures, before the message fails. 0 means bounded by the back-off's max_elapsed_time only.").
			Default(3).
			Example(0).
			Advanced(),
		service.NewBackOffField(reqerrFieldBackoff, false, reqerrDefaultBackoff()).
			Advanced(),
	}
}

// reqerrRetryFromParsed reads the retry fields.
func reqerrRetryFromParsed(conf *service.ParsedConfig) (acctRetry, error) {
	var r acctRetry
	var err error
	if r.maxRetries, err = conf.FieldInt(reqerrFieldMaxRetries); err != nil {
		return r, err
	}
	bo, err := conf.FieldBackOff(reqerrFieldBackoff)
	if err != nil {
		return r, err
	}
	r.initial, r.maxDelay, r.maxElapsed = bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime
	if r.initial <= 0 || r.maxDelay < r.initial {
		return r, fmt.Errorf("field %s: initial_interval must be above 0 and at most max_interval", reqerrFieldBackoff)
	}
	if r.maxRetries <= 0 && r.maxElapsed <= 0 {
		return r, fmt.Errorf("fields %s and %s.max_elapsed_time: at least one must bound the retries", reqerrFieldMaxRetries, reqerrFieldBackoff)
	}
	return r, nil
}

// reqerrWithRetry runs fn until it succeeds, fails with an error that is not
// retryable, or the budget is spent; onRetry is told of every retry.
func reqerrWithRetry(ctx context.Context, r acctRetry, onRetry func(attempt int, err error), fn func() error) error {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !concurapi.IsRetryable(err) {
			return err
		}
		d := r.delay(attempt, concurapi.RetryAfter(err))
		if (r.maxRetries > 0 && attempt > r.maxRetries) || (r.maxElapsed > 0 && time.Since(start)+d > r.maxElapsed) {
			return fmt.Errorf("retry budget spent after %d attempts: %w", attempt, err)
		}
		onRetry(attempt, err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// reqerrCaller makes the API calls of a processor: a client per company,
// transient failures retried within a budget and counted.
type reqerrCaller struct {
	auth    *authClients
	retry   acctRetry
	retries *service.MetricCounter
	log     *service.Logger
}

// newReqerrCaller reads the auth and retry fields; retries is the name of
// the retry counter.
func newReqerrCaller(conf *service.ParsedConfig, mgr *service.Resources, retries string) (reqerrCaller, error) {
	c := reqerrCaller{retries: mgr.Metrics().NewCounter(retries), log: mgr.Logger()}
	var err error
	if c.retry, err = reqerrRetryFromParsed(conf); err != nil {
		return c, err
	}
	if c.auth, err = authFromParsed(conf.Namespace(authField), mgr); err != nil {
		return c, err
	}
	return c, nil
}

// call runs fn with the company's client until it succeeds, fails with an
// error that is not retryable, or the budget is spent; what names the call
// in logs.
func (c reqerrCaller) call(ctx context.Context, companyID, what string, fn func(*concurapi.Client) error) error {
	client, err := c.auth.Client(ctx, companyID)
	if err != nil {
		return err
	}
	err = reqerrWithRetry(ctx, c.retry, func(attempt int, err error) {
		c.retries.Incr(1)
		c.log.With("companyId", companyID).Warnf("%s failed (attempt %d), retrying: %v", what, attempt, err)
	}, func() error { return fn(client) })
	// Refused credentials fail the message (it is not retried: the token
	// source holds further token requests back), and are reported once per
	// company like the output's.
	var refused *concurapi.CredentialsRefusedError
	if errors.As(err, &refused) {
		c.auth.reportRefused(refused, "Messages needing its API fail until a token request succeeds")
	}
	return err
}

// Close releases the HTTP connections; clients hold no goroutines.
func (c reqerrCaller) Close(ctx context.Context) error {
	c.auth.Close()
	return nil
}

func init() {
	err := service.RegisterProcessor("concur_request_errors", requestErrorsProcessorSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.Processor, error) {
			return newRequestErrorsProcessor(conf, mgr)
		})
	if err != nil {
		panic(err)
	}
}

// requestErrorsProcessor is the concur_request_errors processor.
type requestErrorsProcessor struct {
	companyID, erpID, requestID, status *service.InterpolatedString
	dropSuccess                         bool
	reqerrCaller

	emitted *service.MetricCounter // object_type
	fetches *service.MetricCounter // result
}

// reqerrInterp pairs a field name with where its parsed value goes.
type reqerrInterp struct {
	name string
	dst  **service.InterpolatedString
}

// reqerrParseInterps parses the interpolated string fields fs.
func reqerrParseInterps(conf *service.ParsedConfig, fs ...reqerrInterp) error {
	for _, f := range fs {
		v, err := conf.FieldInterpolatedString(f.name)
		if err != nil {
			return err
		}
		*f.dst = v
	}
	return nil
}

func newRequestErrorsProcessor(conf *service.ParsedConfig, mgr *service.Resources) (*requestErrorsProcessor, error) {
	p := &requestErrorsProcessor{
		emitted: mgr.Metrics().NewCounter("concur_request_errors_emitted", "object_type"),
		fetches: mgr.Metrics().NewCounter("concur_request_errors_fetches", "result"),
	}
	if err := reqerrParseInterps(conf,
		reqerrInterp{reqerrFieldCompanyID, &p.companyID},
		reqerrInterp{reqerrFieldERPID, &p.erpID},
		reqerrInterp{reqerrFieldRequestID, &p.requestID},
		reqerrInterp{reqerrFieldStatus, &p.status},
	); err != nil {
		return nil, err
	}
	onSuccess, err := conf.FieldString(reqerrFieldOnSuccess)
	if err != nil {
		return nil, err
	}
	p.dropSuccess = onSuccess == reqerrOnSuccessDrop
	if p.reqerrCaller, err = newReqerrCaller(conf, mgr, "concur_request_errors_fetch_retries"); err != nil {
		return nil, err
	}
	return p, nil
}

// reqerrTarget is the request a message refers to.
type reqerrTarget struct {
	companyID, erpID, requestID string
	status                      concurapi.ProcessingStatus
}

// target resolves the interpolated fields of msg.
func (p *requestErrorsProcessor) target(msg *service.Message) (reqerrTarget, error) {
	var t reqerrTarget
	var status string
	for _, f := range []struct {
		name string
		in   *service.InterpolatedString
		dst  *string
	}{
		{reqerrFieldCompanyID, p.companyID, &t.companyID},
		{reqerrFieldERPID, p.erpID, &t.erpID},
		{reqerrFieldRequestID, p.requestID, &t.requestID},
		{reqerrFieldStatus, p.status, &status},
	} {
		v, err := f.in.TryString(msg)
		if err != nil {
			return t, fmt.Errorf("resolving %s: %w", f.name, err)
		}
		*f.dst = v
	}
	t.status = concurapi.ProcessingStatus(status)
	return t, nil
}

// Process replaces a failed request's message with its rejected records.
func (p *requestErrorsProcessor) Process(ctx context.Context, msg *service.Message) (service.MessageBatch, error) {
	t, err := p.target(msg)
	if err != nil {
		return nil, err
	}
	switch t.status {
	case concurapi.StatusSuccess, concurapi.StatusProcessing:
		return p.noErrors(msg), nil
	case "":
		if t.requestID == "" {
			return p.noErrors(msg), nil
		}
	case concurapi.StatusError, concurapi.StatusPartial:
	default:
		return nil, fmt.Errorf("request %q has unknown status %q", t.requestID, t.status)
	}
	switch {
	case t.requestID == "":
		return nil, fmt.Errorf("request status %s without a request id", t.status)
	case t.companyID == "" || t.erpID == "":
		return nil, fmt.Errorf("request %s: company id %q or erp id %q is empty", t.requestID, t.companyID, t.erpID)
	}
	perrs, err := p.fetch(ctx, t)
	if err != nil {
		p.fetches.Incr(1, "failed")
		return nil, err
	}
	p.fetches.Incr(1, "ok")
	if len(perrs) == 0 {
		if t.status != "" {
			p.log.With("requestId", t.requestID, "companyId", t.companyID).
				Warnf("Request has status %s but Concur lists no processing errors", t.status)
		}
		return p.noErrors(msg), nil
	}
	out := make(service.MessageBatch, 0, len(perrs))
	for _, pe := range perrs {
		m, err := reqerrMessage(msg, t, pe)
		if err != nil {
			return nil, err
		}
		p.emitted.Incr(1, string(pe.ObjectType))
		out = append(out, m)
	}
	return out, nil
}

// noErrors applies on_success.
func (p *requestErrorsProcessor) noErrors(msg *service.Message) service.MessageBatch {
	if p.dropSuccess {
		return nil
	}
	return service.MessageBatch{msg}
}

// fetch lists every processing error of the request, starting over on a
// retry so that nothing is listed twice.
func (p *requestErrorsProcessor) fetch(ctx context.Context, t reqerrTarget) ([]concurapi.ProcessingError, error) {
	var perrs []concurapi.ProcessingError
	err := p.call(ctx, t.companyID, "Fetching errors of request "+t.requestID, func(client *concurapi.Client) error {
		perrs = perrs[:0]
		for pe, err := range client.RequestErrors(ctx, t.erpID, t.requestID) {
			if err != nil {
				return err
			}
			perrs = append(perrs, pe)
		}
		return nil
	})
	if err != nil {
		return nil, err // the client's error names the request and company
	}
	return perrs, nil
}

// reqerrMessage builds the message of one rejected record from a copy of
// the incoming one.
func reqerrMessage(in *service.Message, t reqerrTarget, pe concurapi.ProcessingError) (*service.Message, error) {
	verrs := pe.ValidationErrors
	if verrs == nil {
		verrs = []concurapi.ValidationError{}
	}
	vj, err := json.Marshal(verrs)
	if err != nil {
		return nil, fmt.Errorf("encoding validation errors of request %s: %w", t.requestID, err)
	}
	m := in.Copy()
	m.SetBytes([]byte(pe.RawValues))
	for k, v := range map[string]string{
		reqerrMetaErrorCode:        pe.ErrorCode,
		reqerrMetaErrorMessage:     pe.ErrorMessage,
		reqerrMetaValidationErrors: string(vj),
		reqerrMetaObjectType:       string(pe.ObjectType),
		reqerrMetaRequestID:        reqerrOr(pe.RequestID, t.requestID),
		reqerrMetaCompanyID:        reqerrOr(pe.CompanyID, t.companyID),
		reqerrMetaERPID:            reqerrOr(pe.ErpID, t.erpID),
	} {
		m.MetaSet(k, v)
	}
	if id := pe.ID(); id != "" {
		m.MetaSet(reqerrMetaRecordID, id)
	} else {
		m.MetaDelete(reqerrMetaRecordID)
	}
	if json.Valid([]byte(pe.RawValues)) {
		m.MetaDelete(reqerrMetaValuesInvalid)
	} else {
		m.MetaSet(reqerrMetaValuesInvalid, "true")
	}
	return m, nil
}

// reqerrOr returns a, or b when a is empty.
func reqerrOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
