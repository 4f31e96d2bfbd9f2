package concur

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/concurflow/concurflow/concur/ess"
)

// Field names of the concur_events input.
const (
	eventsFieldAddress         = "address"
	eventsFieldPath            = "path"
	eventsFieldTLS             = "tls"
	eventsFieldTLSCertFile     = "cert_file"
	eventsFieldTLSKeyFile      = "key_file"
	eventsFieldTLSClientCAFile = "client_ca_file"
	eventsFieldTLSClientCNs    = "allowed_common_names"
	eventsFieldBasicAuth       = "basic_auth"
	eventsFieldBasicUser       = "username"
	eventsFieldBasicPassword   = "password"
	eventsFieldMaxBodyBytes    = "max_body_bytes"
	eventsFieldPublicKeyFiles  = "public_key_files"
	eventsFieldAllowUnsigned   = "allow_unsigned"
	eventsFieldTimeout         = "timeout"
	eventsFieldDedupe          = "dedupe"
	eventsFieldDedupeWindow    = "window"
	eventsFieldDedupeMax       = "max_entries"
	eventsFieldDedupeCache     = "cache"
)

// Metadata keys the concur_events input sets on every message.
const (
	eventsMetaID            = "concur_event_id"
	eventsMetaType          = "concur_event_type"
	eventsMetaTopic         = "concur_topic"
	eventsMetaCompanyID     = "concur_company_id"
	eventsMetaErpID         = "concur_erp_id"
	eventsMetaPartnerID     = "concur_partner_id"
	eventsMetaCorrelationID = "concur_correlation_id"
	eventsMetaTimestamp     = "concur_timestamp"
	eventsMetaFactsDataRaw  = "concur_facts_data_raw"
)

// Outcomes counted by the concur_events_received metric.
const (
	eventsOutcomeAccepted     = "accepted"
	eventsOutcomeDuplicate    = "duplicate"
	eventsOutcomeBadSignature = "bad_signature"
	eventsOutcomeMalformed    = "malformed"
	eventsOutcomeNacked       = "nacked"
	eventsOutcomeTimedOut     = "timed_out"
	eventsOutcomeRejected     = "rejected" // auth, method, size, shutdown
)

// eventsWebhookCN is the common name of the client certificate ESS presents
// (see the ESS Authentication section of the Event Subscription page).
const eventsWebhookCN = "webhook.api.concursolutions.com"

func eventsInputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Receives SAP Concur Event Subscription Service (ESS) webhook events on its own HTTP(S) server, verifies their signature and acknowledges them only once the pipeline has.").
		Description(`
The input runs its own HTTP server and accepts ESS deliveries as `+"`POST`"+`
requests on `+"`"+eventsFieldPath+"`"+`. Each request is checked in this order:
basic auth when configured (`+"`401`"+`), method (`+"`405`"+`), body size
(`+"`413`"+` as soon as `+"`"+eventsFieldMaxBodyBytes+"`"+` is exceeded; the body is never
read whole beyond it), the `+"`Concur-Signature`"+` header (`+"`401`"+`), and
finally that the body is an ESS event: a JSON object with `+"`id`"+`,
`+"`eventType`"+`, `+"`topic`"+` and a `+"`facts`"+` object (`+"`400`"+`). Rejected
requests emit nothing and are logged.

### Signature

ESS signs every delivery. The signature is verified against the PEM files listed
in `+"`"+eventsFieldPublicKeyFiles+"`"+` (`+"`PUBLIC KEY`"+`, `+"`RSA PUBLIC KEY`"+` or
`+"`CERTIFICATE`"+` blocks), tried first, and the two public keys published on the
Event Subscription page (embedded). The page names no algorithm: RSA over SHA-256 with
PKCS #1 v1.5 or PSS padding is accepted, base64 encoded. With
`+"`"+eventsFieldAllowUnsigned+"`"+` requests without the header are accepted (a warning is
logged at start); a signature that is present but wrong is still refused.

### Delivery guarantees

ESS delivers at least once and retries on `+"`5xx`"+`, `+"`401`"+`, `+"`403`"+`, `+"`429`"+`
and I/O errors for 72 hours, with a 60 second answer limit. This input answers
`+"`200`"+` only after the message was acknowledged by the output, and `+"`503`"+`
when it was rejected (nacked), when `+"`"+eventsFieldTimeout+"`"+` passes first, or when
the input shuts down, so ESS delivers it again. Events are deduplicated by
`+"`id`"+`: a redelivery of an event that was already acknowledged is answered
`+"`200`"+` without being emitted again, and a redelivery that arrives while the
first copy is still in the pipeline waits for that copy's outcome (and is
emitted itself if the first copy failed). Acknowledged ids are remembered for
`+"`"+eventsFieldDedupe+"."+eventsFieldDedupeWindow+"`"+` (default 72 h, ESS's retention), in memory for at
most `+"`"+eventsFieldDedupe+"."+eventsFieldDedupeMax+"`"+` ids (the oldest are forgotten first), or in the
`+"`cache`"+` resource named by `+"`"+eventsFieldDedupe+"."+eventsFieldDedupeCache+"`"+` to share them between
instances and restarts. An event that times out is still acknowledged if the
pipeline later succeeds, so its redelivery is then answered `+"`200`"+`.

### Message

The body is the event JSON. When `+"`facts.data`"+` was sent as a JSON string that
holds JSON (as `+"`data.resetRequested`"+` does) it is replaced by the parsed value,
and the original string is kept in the metadata key `+"`"+eventsMetaFactsDataRaw+"`"+`;
otherwise the body is passed on byte for byte. Metadata: `+"`"+eventsMetaID+"`"+`,
`+"`"+eventsMetaType+"`"+`, `+"`"+eventsMetaTopic+"`"+`, `+"`"+eventsMetaCompanyID+"`"+`,
`+"`"+eventsMetaErpID+"`"+`, `+"`"+eventsMetaPartnerID+"`"+`, `+"`"+eventsMetaCorrelationID+"`"+`
(from the event, or the `+"`Concur-Correlationid`"+` header when the event has
none) and `+"`"+eventsMetaTimestamp+"`"+`; pass the correlation id on to later Concur API
calls, as the ESS Troubleshooting section asks.

### TLS and mutual TLS

ESS requires an HTTPS endpoint with a certificate from a known authority and
always connects with mutual TLS as `+"`"+eventsWebhookCN+"`"+`. Set
`+"`"+eventsFieldTLS+"."+eventsFieldTLSCertFile+"`"+` and `+"`"+eventsFieldTLS+"."+eventsFieldTLSKeyFile+"`"+` to serve HTTPS, and
`+"`"+eventsFieldTLS+"."+eventsFieldTLSClientCAFile+"`"+` to require a client certificate signed by those
authorities; its subject common name must then be one of
`+"`"+eventsFieldTLS+"."+eventsFieldTLSClientCNs+"`"+`, otherwise the handshake fails. Without TLS fields
the server speaks plain HTTP, for use behind a TLS-terminating proxy.

### Metrics

`+"`concur_events_received`"+` counts requests by `+"`event_type`"+` (`+"`unknown`"+` when the
body was not read or parsed) and `+"`outcome`"+`: accepted, duplicate,
bad_signature, malformed, nacked, timed_out, rejected.
`+"`concur_events_handler_latency_ns`"+` times each request by `+"`outcome`"+`.
`).
		Fields(
			service.NewStringField(eventsFieldAddress).
				Description("The address to listen on, `host:port`. The default listens on loopback only; use `0.0.0.0:8443` to accept ESS directly.").
				Default("127.0.0.1:8080").
				Example("0.0.0.0:8443"),
			service.NewStringField(eventsFieldPath).
				Description("The path ESS posts events to; other paths answer `404`.").
				Default("/concur/events"),
			service.NewObjectField(eventsFieldTLS,
				service.NewStringField(eventsFieldTLSCertFile).
					Description("PEM certificate chain of the server. Together with `key_file` it switches the server to HTTPS.").
					Default("").
					Example("/etc/concurflow/tls/server.crt"),
				service.NewStringField(eventsFieldTLSKeyFile).
					Description("PEM private key of the server certificate.").
					Default("").
					Example("/etc/concurflow/tls/server.key"),
				service.NewStringField(eventsFieldTLSClientCAFile).
					Description("PEM certificates of the authorities client certificates must chain to. When set, a client certificate is required (mutual TLS).").
					Default("").
					Example("/etc/concurflow/tls/digicert-chain.pem"),
				service.NewStringListField(eventsFieldTLSClientCNs).
					Description("Subject common names accepted in client certificates when `client_ca_file` is set. An empty list accepts any certificate the authorities signed.").
					Default([]any{eventsWebhookCN}).
					Example([]any{eventsWebhookCN}),
			).Description("HTTPS and mutual TLS settings. Leave empty to serve plain HTTP behind a TLS-terminating proxy.").Advanced(),
			service.NewObjectField(eventsFieldBasicAuth,
				service.NewStringField(eventsFieldBasicUser).
					Description("Username requests must present. Empty disables basic auth.").
					Default("").
					Example("concur"),
				service.NewStringField(eventsFieldBasicPassword).
					Description("Password requests must present.").
					Default("").
					Example("${CONCUR_EVENTS_PASSWORD}").
					Secret(),
			).Description("Optional HTTP basic auth, for endpoints registered with credentials.").Advanced(),
			service.NewIntField(eventsFieldMaxBodyBytes).
				Description("Largest request body accepted; larger ones are answered `413`.").
				Default(1<<20).
				Example(262144).
				Advanced(),
			service.NewStringListField(eventsFieldPublicKeyFiles).
				Description("PEM files of further public keys or certificates to verify `Concur-Signature` with, in addition to the keys published on the Event Subscription page (for example the sandbox's key, or a key Concur rotates to).").
				Default([]any{}).
				Example([]any{"/etc/concurflow/ess-sandbox.pem"}),
			service.NewBoolField(eventsFieldAllowUnsigned).
				Description("Accept requests without a `Concur-Signature` header. For local testing only; a warning is logged.").
				Default(false).
				Advanced(),
			service.NewDurationField(eventsFieldTimeout).
				Description("How long a request waits for the pipeline to acknowledge its event before answering `503`. Keep it well below ESS's 60 s.").
				Default("20s").
				Example("5s"),
			service.NewObjectField(eventsFieldDedupe,
				service.NewDurationField(eventsFieldDedupeWindow).
					Description("How long an acknowledged event id is remembered.").
					Default("72h").
					Example("24h"),
				service.NewIntField(eventsFieldDedupeMax).
					Description("Most ids remembered in memory; the oldest are forgotten first. Ignored when `cache` is set.").
					Default(100000).
					Example(1000000),
				service.NewStringField(eventsFieldDedupeCache).
					Description("Name of a `cache` resource to remember acknowledged ids in instead of memory.").
					Default("").
					Example("ess_ids"),
			).Description("Deduplication of redelivered events by id.").Advanced(),
		).
		Example("Receive ESS events over mutual TLS",
			"Serve HTTPS to ESS, require its client certificate and route events by type.",
			`
input:
  concur_events:
    address: 0.0.0.0:8443
    tls:
      cert_file: /etc/concurflow/tls/server.crt
      key_file: /etc/concurflow/tls/server.key
      client_ca_file: /etc/concurflow/tls/digicert-chain.pem
output:
  switch:
    cases:
      - check: meta("concur_event_type") == "data.statusUpdated"
        output:
          kafka_go:
            addresses: [ localhost:9092 ]
            topic: concur-request-status
      - output:
          file:
            path: /var/lib/concurflow/events.ndjson
            codec: lines
`)
}

func init() {
	err := service.RegisterInput("concur_events", eventsInputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.Input, error) {
			return newEventsInput(conf, mgr)
		})
	if err != nil {
		panic(err)
	}
}

// eventsInput is the concur_events input: an HTTP server whose handlers hand
// events to Read and answer with the pipeline's outcome.
type eventsInput struct {
	address       string
	path          string
	tlsConfig     *tls.Config
	basicUser     string
	basicPassword string
	maxBody       int64
	keys          []*rsa.PublicKey
	allowUnsigned bool
	timeout       time.Duration
	dedupe        *eventsDedupe
	log           *service.Logger
	received      *service.MetricCounter
	latency       *service.MetricTimer

	msgs     chan eventsPending
	shutdown chan struct{}

	mu       sync.Mutex
	server   *http.Server
	served   chan struct{}
	boundTo  net.Addr
	closeOne sync.Once
}

// eventsPending is an event handed from a request handler to Read. Its
// acknowledgement resolves the claim on the event id (so redeliveries see the
// outcome even after the handler stopped waiting) and is then sent to
// outcome, which has room for it.
type eventsPending struct {
	msg     *service.Message
	claim   *eventsClaim
	outcome chan error
}

func newEventsInput(conf *service.ParsedConfig, mgr *service.Resources) (*eventsInput, error) {
	in := &eventsInput{
		log:      mgr.Logger(),
		received: mgr.Metrics().NewCounter("concur_events_received", "event_type", "outcome"),
		latency:  mgr.Metrics().NewTimer("concur_events_handler_latency_ns", "outcome"),
		msgs:     make(chan eventsPending),
		shutdown: make(chan struct{}),
	}
	var err error
	if in.address, err = conf.FieldString(eventsFieldAddress); err != nil {
		return nil, err
	}
	if in.path, err = conf.FieldString(eventsFieldPath); err != nil {
		return nil, err
	}
	if in.tlsConfig, err = eventsTLSFromParsed(conf.Namespace(eventsFieldTLS)); err != nil {
		return nil, err
	}
	if in.basicUser, err = conf.FieldString(eventsFieldBasicAuth, eventsFieldBasicUser); err != nil {
		return nil, err
	}
	if in.basicPassword, err = conf.FieldString(eventsFieldBasicAuth, eventsFieldBasicPassword); err != nil {
		return nil, err
	}
	maxBody, err := conf.FieldInt(eventsFieldMaxBodyBytes)
	if err != nil {
		return nil, err
	}
	if maxBody <= 0 {
		return nil, fmt.Errorf("%s must be positive, got %d", eventsFieldMaxBodyBytes, maxBody)
	}
	in.maxBody = int64(maxBody)
	files, err := conf.FieldStringList(eventsFieldPublicKeyFiles)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading ESS public key file %s: %w", f, err)
		}
		keys, err := ess.ParsePublicKeysPEM(b)
		if err != nil {
			return nil, fmt.Errorf("reading ESS public key file %s: %w", f, err)
		}
		in.keys = append(in.keys, keys...)
	}
	// Configured keys first: they are usually the ones in use when set
	// (sandbox, rotation), and each key tried costs an RSA operation.
	in.keys = append(in.keys, ess.PublishedKeys()...)
	if in.allowUnsigned, err = conf.FieldBool(eventsFieldAllowUnsigned); err != nil {
		return nil, err
	}
	if in.allowUnsigned {
		in.log.Warn("concur_events: allow_unsigned is set; events without a Concur-Signature are accepted. Use this for local testing only.")
	}
	if in.timeout, err = conf.FieldDuration(eventsFieldTimeout); err != nil {
		return nil, err
	}
	if in.timeout <= 0 {
		return nil, fmt.Errorf("%s must be positive, got %v", eventsFieldTimeout, in.timeout)
	}
	if in.dedupe, err = eventsDedupeFromParsed(conf.Namespace(eventsFieldDedupe), mgr); err != nil {
		return nil, err
	}
	return in, nil
}

// eventsTLSFromParsed builds the server TLS config, nil for plain HTTP.
func eventsTLSFromParsed(conf *service.ParsedConfig) (*tls.Config, error) {
	certFile, err := conf.FieldString(eventsFieldTLSCertFile)
	if err != nil {
		return nil, err
	}
	keyFile, err := conf.FieldString(eventsFieldTLSKeyFile)
	if err != nil {
		return nil, err
	}
	caFile, err := conf.FieldString(eventsFieldTLSClientCAFile)
	if err != nil {
		return nil, err
	}
	cns, err := conf.FieldStringList(eventsFieldTLSClientCNs)
	if err != nil {
		return nil, err
	}
	if certFile == "" && keyFile == "" {
		if caFile != "" {
			return nil, fmt.Errorf("tls.%s needs tls.%s and tls.%s", eventsFieldTLSClientCAFile, eventsFieldTLSCertFile, eventsFieldTLSKeyFile)
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading server certificate %s: %w", certFile, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if caFile == "" {
		return cfg, nil
	}
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading client CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("client CA file %s holds no PEM certificate", caFile)
	}
	cfg.ClientCAs = pool
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	if len(cns) > 0 {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no client certificate")
			}
			if cn := cs.PeerCertificates[0].Subject.CommonName; !slices.Contains(cns, cn) {
				return fmt.Errorf("client certificate common name %q is not allowed", cn)
			}
			return nil
		}
	}
	return cfg, nil
}

// Connect starts the server. It is a no-op once the server runs.
func (in *eventsInput) Connect(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	select {
	case <-in.shutdown:
		return service.ErrEndOfInput
	default:
	}
	if in.server != nil {
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", in.address)
	if err != nil {
		return fmt.Errorf("listening for ESS events on %s: %w", in.address, err)
	}
	if in.tlsConfig != nil {
		ln = tls.NewListener(ln, in.tlsConfig)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(in.path, in.serveEvent)
	in.server = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// TLS handshake failures (wrong client certificates) are expected
		// noise; log them at debug level rather than on stderr.
		ErrorLog: log.New(eventsDebugWriter{in.log}, "concur_events: ", 0),
	}
	in.boundTo = ln.Addr()
	in.served = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			in.log.Errorf("concur_events: server on %s stopped: %v", ln.Addr(), err)
		}
	}(in.server, in.served)
	in.log.Infof("concur_events: receiving ESS events on %s%s (TLS %v)", ln.Addr(), in.path, in.tlsConfig != nil)
	return nil
}

// Read returns the next event a request handed over; its AckFunc answers
// that request.
func (in *eventsInput) Read(ctx context.Context) (*service.Message, service.AckFunc, error) {
	select {
	case p := <-in.msgs:
		return p.msg, func(ctx context.Context, err error) error {
			p.claim.release(ctx, err)
			select {
			case p.outcome <- err:
			default: // acknowledged twice; the first outcome stands
			}
			return nil
		}, nil
	case <-in.shutdown:
		return nil, nil, service.ErrEndOfInput
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// Close stops accepting requests, answers waiting ones 503 and waits for the
// server to stop.
func (in *eventsInput) Close(ctx context.Context) error {
	in.closeOne.Do(func() { close(in.shutdown) })
	in.mu.Lock()
	srv, served := in.server, in.served
	in.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	select {
	case <-served:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("stopping ESS event server: %w", err)
	}
	return nil
}

// serveEvent handles one ESS delivery.
func (in *eventsInput) serveEvent(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	eventType, outcome, status, msg := in.handle(r)
	in.received.Incr(1, eventType, outcome)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
	in.latency.Timing(time.Since(start).Nanoseconds(), outcome)
}

// handle decides the answer to one request: event type for metrics,
// outcome, status code and a short text for the response body.
func (in *eventsInput) handle(r *http.Request) (eventType, outcome string, status int, text string) {
	const unknown = "unknown"
	if in.basicUser != "" {
		user, pass, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(in.basicUser)) != 1 ||
			subtle.ConstantTimeCompare([]byte(pass), []byte(in.basicPassword)) != 1 {
			in.log.Warnf("concur_events: request from %s refused: bad basic auth", r.RemoteAddr)
			return unknown, eventsOutcomeRejected, http.StatusUnauthorized, "unauthorized"
		}
	}
	if r.Method != http.MethodPost {
		return unknown, eventsOutcomeRejected, http.StatusMethodNotAllowed, "use POST"
	}
	if r.ContentLength > in.maxBody {
		in.log.Warnf("concur_events: request from %s refused: body of %d bytes exceeds %d", r.RemoteAddr, r.ContentLength, in.maxBody)
		return unknown, eventsOutcomeRejected, http.StatusRequestEntityTooLarge, "body too large"
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, in.maxBody+1))
	if err != nil {
		in.log.Warnf("concur_events: reading request from %s: %v", r.RemoteAddr, err)
		return unknown, eventsOutcomeRejected, http.StatusBadRequest, "unreadable body"
	}
	if int64(len(body)) > in.maxBody {
		in.log.Warnf("concur_events: request from %s refused: body exceeds %d bytes", r.RemoteAddr, in.maxBody)
		return unknown, eventsOutcomeRejected, http.StatusRequestEntityTooLarge, "body too large"
	}

	sig := r.Header.Get(ess.HeaderSignature)
	if sig != "" || !in.allowUnsigned {
		if err := ess.Verify(in.keys, body, sig); err != nil {
			in.log.Warnf("concur_events: request from %s refused: %v", r.RemoteAddr, err)
			return unknown, eventsOutcomeBadSignature, http.StatusUnauthorized, "bad signature"
		}
	}

	ev, err := ess.Parse(body)
	if err != nil {
		in.log.Errorf("concur_events: request from %s is not an ESS event: %v", r.RemoteAddr, err)
		return unknown, eventsOutcomeMalformed, http.StatusBadRequest, "not an ESS event"
	}
	msg, err := eventsMessage(ev, body, r.Header.Get(ess.HeaderCorrelationID))
	if err != nil {
		in.log.Errorf("concur_events: event %s: %v", ev.ID, err)
		return ev.EventType, eventsOutcomeMalformed, http.StatusBadRequest, "not an ESS event"
	}
	outcome, status, text = in.deliver(r.Context(), ev.ID, msg)
	return ev.EventType, outcome, status, text
}

// deliver hands msg to the pipeline unless its id was already acknowledged,
// and waits for the outcome within the timeout.
func (in *eventsInput) deliver(ctx context.Context, id string, msg *service.Message) (outcome string, status int, text string) {
	timer := time.NewTimer(in.timeout)
	defer timer.Stop()
	for {
		seen, claim, wait, err := in.dedupe.claim(ctx, id)
		if err != nil {
			in.log.Errorf("concur_events: checking event %s for duplicates: %v", id, err)
			return eventsOutcomeRejected, http.StatusServiceUnavailable, "deduplication unavailable"
		}
		if seen {
			in.log.Debugf("concur_events: event %s already acknowledged", id)
			return eventsOutcomeDuplicate, http.StatusOK, "duplicate"
		}
		if claim != nil {
			return in.emit(ctx, timer, claim, msg)
		}
		select { // another request carries this id: wait for its outcome
		case <-wait:
		case <-timer.C:
			return eventsOutcomeTimedOut, http.StatusServiceUnavailable, "timed out waiting for an earlier delivery"
		case <-in.shutdown:
			return eventsOutcomeRejected, http.StatusServiceUnavailable, "shutting down"
		case <-ctx.Done():
			return eventsOutcomeRejected, http.StatusServiceUnavailable, "client went away"
		}
	}
}

// emit hands the claimed event to Read and waits for its acknowledgement.
func (in *eventsInput) emit(ctx context.Context, timer *time.Timer, claim *eventsClaim, msg *service.Message) (outcome string, status int, text string) {
	p := eventsPending{msg: msg, claim: claim, outcome: make(chan error, 1)}
	select {
	case in.msgs <- p:
	case <-timer.C:
		claim.release(ctx, errors.New("not read in time"))
		return eventsOutcomeTimedOut, http.StatusServiceUnavailable, "timed out"
	case <-in.shutdown:
		claim.release(ctx, errors.New("shutting down"))
		return eventsOutcomeRejected, http.StatusServiceUnavailable, "shutting down"
	case <-ctx.Done():
		claim.release(ctx, ctx.Err())
		return eventsOutcomeRejected, http.StatusServiceUnavailable, "client went away"
	}
	// From here the pipeline owns the outcome: its AckFunc resolves the
	// claim even when this request has stopped waiting.
	select {
	case err := <-p.outcome:
		if err != nil {
			in.log.Warnf("concur_events: event %s rejected by the pipeline: %v", claim.id, err)
			return eventsOutcomeNacked, http.StatusServiceUnavailable, "not processed"
		}
		return eventsOutcomeAccepted, http.StatusOK, "ok"
	case <-timer.C:
		in.log.Warnf("concur_events: event %s not acknowledged within %v", claim.id, in.timeout)
		return eventsOutcomeTimedOut, http.StatusServiceUnavailable, "timed out"
	case <-in.shutdown:
		return eventsOutcomeRejected, http.StatusServiceUnavailable, "shutting down"
	case <-ctx.Done():
		return eventsOutcomeRejected, http.StatusServiceUnavailable, "client went away"
	}
}

// eventsMessage builds the message: the body with facts.data normalised and
// the event's identifiers as metadata.
func eventsMessage(ev *ess.Event, body []byte, headerCorrelation string) (*service.Message, error) {
	out := body
	if ev.FactsDataIsString() {
		var err error
		if out, err = eventsNormaliseFactsData(body, ev.FactsData()); err != nil {
			return nil, err
		}
	}
	msg := service.NewMessage(out)
	correlation := ev.CorrelationID
	if correlation == "" {
		correlation = headerCorrelation
	}
	for k, v := range map[string]string{
		eventsMetaID:            ev.ID,
		eventsMetaType:          ev.EventType,
		eventsMetaTopic:         ev.Topic,
		eventsMetaCompanyID:     ev.Facts.CompanyID,
		eventsMetaErpID:         ev.Facts.ErpID,
		eventsMetaPartnerID:     ev.Facts.PartnerID,
		eventsMetaCorrelationID: correlation,
		eventsMetaTimestamp:     ev.TimeStamp,
	} {
		msg.MetaSetMut(k, v)
	}
	if ev.FactsDataIsString() {
		var raw string
		if err := json.Unmarshal(ev.Facts.Data, &raw); err == nil {
			msg.MetaSetMut(eventsMetaFactsDataRaw, raw)
		}
	}
	return msg, nil
}

// eventsNormaliseFactsData rewrites body with facts.data replaced by data,
// keeping every other member (including unknown ones) as sent.
func eventsNormaliseFactsData(body []byte, data json.RawMessage) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("normalising facts.data: %w", err)
	}
	var facts map[string]json.RawMessage
	if err := json.Unmarshal(top["facts"], &facts); err != nil {
		return nil, fmt.Errorf("normalising facts.data: %w", err)
	}
	facts["data"] = data
	f, err := eventsMarshal(facts)
	if err != nil {
		return nil, fmt.Errorf("normalising facts.data: %w", err)
	}
	top["facts"] = f
	out, err := eventsMarshal(top)
	if err != nil {
		return nil, fmt.Errorf("normalising facts.data: %w", err)
	}
	return out, nil
}

// eventsMarshal encodes v as compact JSON without HTML escaping, so strings
// keep the characters ESS sent.
func eventsMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Addr returns the address the server listens on, nil before Connect.
func (in *eventsInput) Addr() net.Addr {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.boundTo
}

// eventsDebugWriter sends the HTTP server's own log lines to the Benthos
// logger at debug level.
type eventsDebugWriter struct{ log *service.Logger }

func (w eventsDebugWriter) Write(p []byte) (int, error) {
	w.log.Debug(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
