package concur

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/concurflow/concurflow/concur/ess"
)

// eventsTestKey signs test deliveries; generated once since 2048-bit keys
// are slow under -race. Never mutated.
var eventsTestKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// eventsGot is a message that reached the output.
type eventsGot struct {
	body []byte
	meta map[string]string
}

// eventsHarness is a running stream with a concur_events input and a
// recording output whose verdicts the test can script.
type eventsHarness struct {
	t      *testing.T
	url    string
	client *http.Client

	mu       sync.Mutex
	got      []eventsGot // messages the output accepted
	calls    int         // times the output was called
	failNext int         // the output fails this many more calls
	gate     chan struct{}
}

type eventsOpts struct {
	extraYAML string         // more fields of the concur_events input
	scheme    string         // "https" to build an https URL
	client    *http.Client   // client for posting
	gate      chan struct{}  // when set, the output waits on it per message
	resources string         // resources YAML
	keyFile   string         // PEM of the signing key; default the test key
	metrics   *eventsMetrics // records the stream's metrics when set
}

// eventsFreeAddr returns a loopback address nothing listens on right now.
func eventsFreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// eventsWriteKeyPEM writes the public half of key to a temporary PEM file.
func eventsWriteKeyPEM(t testing.TB, key *rsa.PublicKey) string {
	t.Helper()
	b, err := ess.PublicKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ess.pem")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func eventsStart(t *testing.T, o eventsOpts) *eventsHarness {
	t.Helper()
	addr := eventsFreeAddr(t)
	h := &eventsHarness{t: t, gate: o.gate, client: o.client}
	if h.client == nil {
		h.client = &http.Client{Timeout: 30 * time.Second}
	}
	scheme := o.scheme
	if scheme == "" {
		scheme = "http"
	}
	h.url = scheme + "://" + addr + "/concur/events"

	sb := service.NewStreamBuilder()
	if o.metrics != nil {
		env := service.GlobalEnvironment().Clone()
		if err := env.RegisterMetricsExporter("concur_events_test_metrics", service.NewConfigSpec(),
			func(*service.ParsedConfig, *service.Logger) (service.MetricsExporter, error) { return o.metrics, nil }); err != nil {
			t.Fatal(err)
		}
		sb = env.NewStreamBuilder()
		if err := sb.SetMetricsYAML("concur_events_test_metrics: {}"); err != nil {
			t.Fatal(err)
		}
	}
	if err := sb.SetLoggerYAML("level: none"); err != nil {
		t.Fatal(err)
	}
	if o.resources != "" {
		if err := sb.AddResourcesYAML(o.resources); err != nil {
			t.Fatal(err)
		}
	}
	keyFile := o.keyFile
	if keyFile == "" {
		keyFile = eventsWriteKeyPEM(t, &eventsTestKey().PublicKey)
	}
	input := fmt.Sprintf(`
concur_events:
  address: %s
  public_key_files: [ %q ]
  timeout: 5s
%s`, addr, keyFile, o.extraYAML)
	if err := sb.AddInputYAML(input); err != nil {
		t.Fatal(err)
	}
	if err := sb.AddConsumerFunc(func(ctx context.Context, m *service.Message) error {
		h.mu.Lock()
		h.calls++
		fail := h.failNext > 0
		if fail {
			h.failNext--
		}
		gate := h.gate
		h.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if fail {
			return errors.New("output refused the message")
		}
		b, err := m.AsBytes()
		if err != nil {
			return err
		}
		g := eventsGot{body: append([]byte(nil), b...), meta: map[string]string{}}
		_ = m.MetaWalkMut(func(k string, v any) error {
			g.meta[k] = fmt.Sprint(v)
			return nil
		})
		h.mu.Lock()
		h.got = append(h.got, g)
		h.mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	eventsRunStream(t, sb, addr)
	return h
}

// eventsRunStream builds and runs the stream until the test ends, and waits
// until addr accepts connections.
func eventsRunStream(tb testing.TB, sb *service.StreamBuilder, addr string) {
	tb.Helper()
	stream, err := sb.Build()
	if err != nil {
		tb.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- stream.Run(context.Background()) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := stream.Stop(ctx); err != nil {
			tb.Errorf("stopping stream: %v", err)
		}
		if err := <-ran; err != nil && !errors.Is(err, context.Canceled) {
			tb.Errorf("stream run: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	tb.Fatalf("concur_events did not listen on %s", addr)
}

func (h *eventsHarness) failNextCalls(n int) {
	h.mu.Lock()
	h.failNext = n
	h.mu.Unlock()
}

func (h *eventsHarness) received() []eventsGot {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]eventsGot(nil), h.got...)
}

func (h *eventsHarness) outputCalls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

// post sends body with the given signature header (none when sig is "-")
// and returns the status code.
func (h *eventsHarness) post(body []byte, sig string, hdr ...string) int {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if sig != "-" {
		req.Header.Set(ess.HeaderSignature, sig)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("posting event: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// postSigned signs body with the test key and posts it.
func (h *eventsHarness) postSigned(body []byte) int {
	h.t.Helper()
	return h.post(body, eventsSign(h.t, body))
}

func eventsSign(t testing.TB, body []byte) string {
	t.Helper()
	sig, err := ess.Sign(eventsTestKey(), ess.PKCS1v15, body)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// eventsSample returns an event of the given type shaped like the samples on
// the Accounting Integration Events page.
func eventsSample(id, eventType string) []byte {
	facts := map[string]any{
		"companyId": "company-" + id, "erpId": "erp-" + id, "partnerId": "partner-" + id,
	}
	switch eventType {
	case ess.EventDataStatusUpdated:
		facts["data"] = map[string]any{"requestId": "req-" + id, "status": "SUCCESS"}
	case ess.EventListMappingCreated, ess.EventListMappingDeleted:
		facts["data"] = []any{map[string]any{"erpListId": "erpListId1", "concurListId": "concurListId1"}}
	case ess.EventDataResetRequested:
		facts["data"] = `{"accountingObjects":["ACCOUNT","VENDOR","LIST"]}`
	}
	b, err := json.Marshal(map[string]any{
		"id": id, "correlationId": "corr-" + id, "topic": ess.Topic, "subtopic": nil,
		"eventType": eventType, "timeStamp": "2022-09-08T22:49:41.973Z", "facts": facts,
	})
	if err != nil {
		panic(err)
	}
	return b
}

func TestEventsEveryTypeArrivesWithMetadata(t *testing.T) {
	h := eventsStart(t, eventsOpts{})
	for i, et := range ess.EventTypes() {
		if code := h.postSigned(eventsSample(fmt.Sprint("ev", i), et)); code != http.StatusOK {
			t.Fatalf("%s: status %d, want 200", et, code)
		}
	}
	got := h.received()
	if len(got) != len(ess.EventTypes()) {
		t.Fatalf("received %d messages, want %d", len(got), len(ess.EventTypes()))
	}
	for i, et := range ess.EventTypes() {
		id := fmt.Sprint("ev", i)
		want := map[string]string{
			eventsMetaID: id, eventsMetaType: et, eventsMetaTopic: ess.Topic,
			eventsMetaCompanyID: "company-" + id, eventsMetaErpID: "erp-" + id, eventsMetaPartnerID: "partner-" + id,
			eventsMetaCorrelationID: "corr-" + id, eventsMetaTimestamp: "2022-09-08T22:49:41.973Z",
		}
		for k, v := range want {
			if got[i].meta[k] != v {
				t.Errorf("%s: meta %s = %q, want %q", et, k, got[i].meta[k], v)
			}
		}
		ev, err := ess.Parse(got[i].body)
		if err != nil {
			t.Fatalf("%s: output body is not an event: %v", et, err)
		}
		if et == ess.EventDataResetRequested {
			rr, err := ev.ResetRequest()
			if err != nil || len(rr.AccountingObjects) != 3 || ev.FactsDataIsString() {
				t.Errorf("reset body not normalised: %s (%v)", got[i].body, err)
			}
			if got[i].meta[eventsMetaFactsDataRaw] != `{"accountingObjects":["ACCOUNT","VENDOR","LIST"]}` {
				t.Errorf("raw facts.data meta = %q", got[i].meta[eventsMetaFactsDataRaw])
			}
		} else {
			if !bytes.Equal(got[i].body, eventsSample(id, et)) {
				t.Errorf("%s: body changed:\n%s\n%s", et, got[i].body, eventsSample(id, et))
			}
			if _, ok := got[i].meta[eventsMetaFactsDataRaw]; ok {
				t.Errorf("%s: raw facts.data meta set for non-string data", et)
			}
		}
	}
}

func TestEventsCorrelationFromHeaderWhenEventHasNone(t *testing.T) {
	h := eventsStart(t, eventsOpts{})
	body := []byte(`{"id":"x1","eventType":"mapping.updated","topic":"` + ess.Topic + `","facts":{"companyId":"c"}}`)
	if code := h.post(body, eventsSign(t, body), ess.HeaderCorrelationID, "hdr-corr"); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if got := h.received(); len(got) != 1 || got[0].meta[eventsMetaCorrelationID] != "hdr-corr" {
		t.Errorf("received %+v", got)
	}
}

func TestEventsSignatureFailures(t *testing.T) {
	h := eventsStart(t, eventsOpts{})
	body := eventsSample("sig1", ess.EventMappingUpdated)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := ess.Sign(other, ess.PKCS1v15, body)
	if err != nil {
		t.Fatal(err)
	}
	otherBody := eventsSample("sig2", ess.EventMappingUpdated)
	cases := map[string]string{
		"unsigned":            "-",
		"empty header":        "",
		"not base64":          "%%%",
		"forged bytes":        "AAAA" + strings.Repeat("B", 340),
		"unknown key":         unknown,
		"other body's sig":    eventsSign(t, otherBody),
		"published keys only": eventsSign(t, []byte("something else")),
	}
	for name, sig := range cases {
		if code := h.post(body, sig); code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, code)
		}
	}
	if n := h.outputCalls(); n != 0 {
		t.Errorf("%d messages emitted for refused requests", n)
	}
	// The same event correctly signed still goes through afterwards.
	if code := h.postSigned(body); code != http.StatusOK || len(h.received()) != 1 {
		t.Errorf("signed event after refusals: status %d, received %d", code, len(h.received()))
	}
}

func TestEventsNackedThenRedeliveredOnce(t *testing.T) {
	h := eventsStart(t, eventsOpts{})
	h.failNextCalls(1)
	body := eventsSample("retry1", ess.EventDataStatusUpdated)
	if code := h.postSigned(body); code < 500 {
		t.Fatalf("first delivery: status %d, want 5xx", code)
	}
	if n := len(h.received()); n != 0 {
		t.Fatalf("output accepted %d messages after failing", n)
	}
	if code := h.postSigned(body); code != http.StatusOK {
		t.Fatalf("redelivery: status %d, want 200", code)
	}
	if code := h.postSigned(body); code != http.StatusOK {
		t.Fatalf("second redelivery: status %d, want 200", code)
	}
	if got := h.received(); len(got) != 1 || got[0].meta[eventsMetaID] != "retry1" {
		t.Errorf("received %d messages, want the event once", len(got))
	}
	if n := h.outputCalls(); n != 2 {
		t.Errorf("output called %d times, want 2 (failure + redelivery)", n)
	}
}

func TestEventsDuplicateEmittedOnce(t *testing.T) {
	h := eventsStart(t, eventsOpts{})
	body := eventsSample("dup1", ess.EventListMappingCreated)
	for i := range 3 {
		if code := h.postSigned(body); code != http.StatusOK {
			t.Fatalf("delivery %d: status %d", i, code)
		}
	}
	if got := h.received(); len(got) != 1 {
		t.Errorf("received %d messages, want 1", len(got))
	}
}

func TestEventsConcurrentDuplicateWaitsForFirst(t *testing.T) {
	gate := make(chan struct{})
	h := eventsStart(t, eventsOpts{gate: gate})
	body := eventsSample("inflight1", ess.EventMappingUpdated)
	sig := eventsSign(t, body)
	codes := make(chan int, 2)
	go func() { codes <- h.post(body, sig) }()
	deadline := time.Now().Add(10 * time.Second)
	for h.outputCalls() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	go func() { codes <- h.post(body, sig) }()
	select {
	case c := <-codes:
		t.Fatalf("a request was answered (%d) before the first copy was acknowledged", c)
	case <-time.After(100 * time.Millisecond):
	}
	close(gate)
	for range 2 {
		if c := <-codes; c != http.StatusOK {
			t.Errorf("status %d, want 200", c)
		}
	}
	if n := h.outputCalls(); n != 1 {
		t.Errorf("output called %d times, want 1", n)
	}
}

func TestEventsTimeoutAnswers503ThenDuplicate(t *testing.T) {
	gate := make(chan struct{})
	h := eventsStart(t, eventsOpts{gate: gate, extraYAML: "  timeout: 100ms\n"})
	body := eventsSample("slow1", ess.EventMappingUpdated)
	if code := h.postSigned(body); code != http.StatusServiceUnavailable {
		t.Fatalf("slow pipeline: status %d, want 503", code)
	}
	close(gate) // the pipeline finishes the first copy after the answer
	deadline := time.Now().Add(10 * time.Second)
	for len(h.received()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if code := h.postSigned(body); code != http.StatusOK {
		t.Fatalf("redelivery after late ack: status %d, want 200", code)
	}
	if n := h.outputCalls(); n != 1 {
		t.Errorf("output called %d times, want 1", n)
	}
}

func TestEventsBadRequests(t *testing.T) {
	h := eventsStart(t, eventsOpts{extraYAML: "  max_body_bytes: 2048\n"})
	big := []byte(`{"id":"big","eventType":"mapping.updated","topic":"t","facts":{"x":"` + strings.Repeat("a", 4096) + `"}}`)
	if code := h.postSigned(big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize: status %d, want 413", code)
	}
	// Without a Content-Length the limit is enforced while reading.
	req, err := http.NewRequest(http.MethodPost, h.url, io.MultiReader(bytes.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(ess.HeaderSignature, eventsSign(t, big))
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.ContentLength != 0 || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked oversize: content length %d, status %d, want 413", req.ContentLength, resp.StatusCode)
	}
	for name, body := range map[string]string{
		"not json":      `{"id":`,
		"json array":    `[1,2]`,
		"missing facts": `{"id":"m1","eventType":"mapping.updated","topic":"t"}`,
		"missing id":    `{"eventType":"mapping.updated","topic":"t","facts":{}}`,
	} {
		if code := h.postSigned([]byte(body)); code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, code)
		}
	}
	getReq, _ := http.NewRequest(http.MethodGet, h.url, nil)
	if resp, err := h.client.Do(getReq); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	if n := h.outputCalls(); n != 0 {
		t.Errorf("%d messages emitted for bad requests", n)
	}
	if code := h.postSigned(eventsSample("ok1", ess.EventMappingUpdated)); code != http.StatusOK {
		t.Errorf("good event after bad ones: %d", code)
	}
}

func TestEventsBasicAuthAndUnsigned(t *testing.T) {
	h := eventsStart(t, eventsOpts{extraYAML: `
  allow_unsigned: true
  basic_auth:
    username: concur
    password: s3cret
`})
	body := eventsSample("ba1", ess.EventMappingUpdated)
	if code := h.post(body, "-"); code != http.StatusUnauthorized {
		t.Errorf("no credentials: status %d, want 401", code)
	}
	if code := h.post(body, "-", "Authorization", "Basic Y29uY3VyOndyb25n"); code != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d, want 401", code)
	}
	auth := "Basic Y29uY3VyOnMzY3JldA==" // concur:s3cret
	if code := h.post(body, "-", "Authorization", auth); code != http.StatusOK {
		t.Errorf("unsigned with allow_unsigned: status %d, want 200", code)
	}
	if code := h.post(eventsSample("ba2", ess.EventMappingUpdated), "AAAA", "Authorization", auth); code != http.StatusUnauthorized {
		t.Errorf("bad signature with allow_unsigned: status %d, want 401", code)
	}
	if n := len(h.received()); n != 1 {
		t.Errorf("received %d, want 1", n)
	}
}

func TestEventsCacheDedupe(t *testing.T) {
	h := eventsStart(t, eventsOpts{
		resources: `
cache_resources:
  - label: ess_ids
    memory: {}
`,
		extraYAML: `
  dedupe:
    cache: ess_ids
`,
	})
	body := eventsSample("cache1", ess.EventMappingUpdated)
	h.failNextCalls(1)
	if code := h.postSigned(body); code != http.StatusServiceUnavailable {
		t.Fatalf("nacked: status %d", code)
	}
	for range 2 {
		if code := h.postSigned(body); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
	}
	if n := len(h.received()); n != 1 {
		t.Errorf("received %d, want 1", n)
	}
}

// eventsTestPKI generates a CA and certificates signed by it.
type eventsTestPKI struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
	pem  []byte
}

func newEventsTestPKI(t *testing.T, name string) *eventsTestPKI {
	t.Helper()
	key := eventsTestKey()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &eventsTestPKI{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate for cn (a server one when server is set,
// valid for 127.0.0.1).
func (p *eventsTestPKI) issue(t *testing.T, cn string, server bool) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &p.key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: p.key}
}

func eventsWriteFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// eventsMTLS is a server certificate for 127.0.0.1 and a client CA, written
// to files for the input, with clients that trust the server.
type eventsMTLS struct {
	clientCA *eventsTestPKI
	roots    *x509.CertPool
	yaml     string // the input's tls block
}

func newEventsMTLS(t *testing.T) *eventsMTLS {
	t.Helper()
	serverCA := newEventsTestPKI(t, "server test CA")
	clientCA := newEventsTestPKI(t, "client test CA")
	serverCert := serverCA.issue(t, "127.0.0.1", true)
	keyDER, err := x509.MarshalPKCS8PrivateKey(serverCA.key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := eventsWriteFile(t, "server.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: serverCert.Certificate[0]}))
	keyFile := eventsWriteFile(t, "server.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	caFile := eventsWriteFile(t, "clients.pem", clientCA.pem)
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)
	return &eventsMTLS{clientCA: clientCA, roots: roots, yaml: fmt.Sprintf(`
  tls:
    cert_file: %q
    key_file: %q
    client_ca_file: %q
`, certFile, keyFile, caFile)}
}

// client returns an HTTPS client presenting certs.
func (m *eventsMTLS) client(certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: m.roots, Certificates: certs},
	}}
}

func TestEventsMutualTLS(t *testing.T) {
	m := newEventsMTLS(t)
	rogueCA := newEventsTestPKI(t, "rogue CA")
	clientWith := m.client
	h := eventsStart(t, eventsOpts{scheme: "https", client: clientWith(m.clientCA.issue(t, eventsWebhookCN, false)), extraYAML: m.yaml})

	if code := h.postSigned(eventsSample("tls1", ess.EventMappingUpdated)); code != http.StatusOK {
		t.Fatalf("ESS client certificate: status %d, want 200", code)
	}
	body := eventsSample("tls2", ess.EventMappingUpdated)
	for name, c := range map[string]*http.Client{
		"no client certificate":     clientWith(),
		"certificate of another CA": clientWith(rogueCA.issue(t, eventsWebhookCN, false)),
		"wrong common name":         clientWith(m.clientCA.issue(t, "someone.example", false)),
	} {
		req, _ := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(body))
		req.Header.Set(ess.HeaderSignature, eventsSign(t, body))
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: request succeeded with status %d, want a TLS failure", name, resp.StatusCode)
		}
	}
	if n := len(h.received()); n != 1 {
		t.Errorf("received %d, want 1", n)
	}
}

func TestEventsConfigErrors(t *testing.T) {
	for name, yaml := range map[string]string{
		"client CA without server cert": "tls:\n  client_ca_file: /nonexistent\n",
		"missing key file":              "public_key_files: [ /nonexistent/key.pem ]\n",
		"zero timeout":                  "timeout: 0s\n",
		"zero body limit":               "max_body_bytes: 0\n",
		"unknown cache":                 "dedupe:\n  cache: nope\n",
	} {
		t.Run(name, func(t *testing.T) {
			conf, err := eventsInputSpec().ParseYAML(yaml, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := newEventsInput(conf, service.MockResources()); err == nil {
				t.Error("expected a configuration error")
			}
		})
	}
}

func TestEventsDedupeMemoryIsBounded(t *testing.T) {
	conf, err := eventsInputSpec().ParseYAML("dedupe:\n  window: 1h\n  max_entries: 3\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := eventsDedupeFromParsed(conf.Namespace(eventsFieldDedupe), service.MockResources())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }
	ctx := context.Background()
	ack := func(id string) {
		seen, c, _, err := d.claim(ctx, id)
		if err != nil || seen || c == nil {
			t.Fatalf("claim %s: seen %v claim %v err %v", id, seen, c, err)
		}
		c.release(ctx, nil)
	}
	isSeen := func(id string) bool {
		seen, c, _, _ := d.claim(ctx, id)
		if c != nil {
			c.release(ctx, errors.New("probe only"))
		}
		return seen
	}
	for i := range 10 {
		ack(fmt.Sprint(i))
		if d.size() > 3 {
			t.Fatalf("remembers %d ids, bound is 3", d.size())
		}
	}
	if isSeen("0") || !isSeen("9") || !isSeen("7") {
		t.Error("bound should forget the oldest ids and keep the newest")
	}
	now = now.Add(time.Hour)
	if isSeen("9") || d.size() != 0 {
		t.Errorf("ids should expire after the window; size %d", d.size())
	}
}

// eventsMetrics is a metrics exporter that counts counter increments and
// timer observations by name and label values, e.g.
// "concur_events_received{mapping.updated,accepted}".
type eventsMetrics struct {
	mu     sync.Mutex
	counts map[string]int64
}

func newEventsMetrics() *eventsMetrics { return &eventsMetrics{counts: map[string]int64{}} }

// add records n under name and the values of the component's own labels
// (Benthos adds "label" and "path", which are left out).
func (m *eventsMetrics) add(name string, keys, values []string, n int64) {
	var own []string
	for i, k := range keys {
		if k != "label" && k != "path" && i < len(values) {
			own = append(own, values[i])
		}
	}
	m.mu.Lock()
	m.counts[name+"{"+strings.Join(own, ",")+"}"] += n
	m.mu.Unlock()
}

func (m *eventsMetrics) get(key string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[key]
}

type eventsMetricFunc func(int64)

func (f eventsMetricFunc) Incr(n int64)              { f(n) }
func (f eventsMetricFunc) Timing(int64)              { f(1) }
func (f eventsMetricFunc) Set(int64)                 {}
func (m *eventsMetrics) Close(context.Context) error { return nil }

func (m *eventsMetrics) NewCounterCtor(name string, keys ...string) service.MetricsExporterCounterCtor {
	return func(labels ...string) service.MetricsExporterCounter {
		return eventsMetricFunc(func(n int64) { m.add(name, keys, labels, n) })
	}
}

func (m *eventsMetrics) NewTimerCtor(name string, keys ...string) service.MetricsExporterTimerCtor {
	return func(labels ...string) service.MetricsExporterTimer {
		return eventsMetricFunc(func(n int64) { m.add(name, keys, labels, n) })
	}
}

func (m *eventsMetrics) NewGaugeCtor(string, ...string) service.MetricsExporterGaugeCtor {
	return func(...string) service.MetricsExporterGauge { return eventsMetricFunc(nil) }
}

func TestEventsMetrics(t *testing.T) {
	m := newEventsMetrics()
	h := eventsStart(t, eventsOpts{metrics: m})
	body := eventsSample("m1", ess.EventMappingUpdated)
	h.failNextCalls(1)
	h.postSigned(body)                                           // nacked
	h.postSigned(body)                                           // accepted
	h.postSigned(body)                                           // duplicate
	h.post(body, "AAAA")                                         // bad_signature
	h.postSigned([]byte(`{"id":"x"}`))                           // malformed
	h.postSigned(eventsSample("m2", ess.EventDataStatusUpdated)) // accepted
	for key, want := range map[string]int64{
		"concur_events_received{mapping.updated,nacked}":      1,
		"concur_events_received{mapping.updated,accepted}":    1,
		"concur_events_received{mapping.updated,duplicate}":   1,
		"concur_events_received{unknown,bad_signature}":       1,
		"concur_events_received{unknown,malformed}":           1,
		"concur_events_received{data.statusUpdated,accepted}": 1,
		"concur_events_handler_latency_ns{accepted}":          2,
	} {
		if got := m.get(key); got != want {
			t.Errorf("%s = %d, want %d", key, got, want)
		}
	}
}

// TestEventsCloseAnswersWaitingRequests closes the input while a request
// waits for the pipeline: it is answered 503 and Close returns.
func TestEventsCloseAnswersWaitingRequests(t *testing.T) {
	addr := eventsFreeAddr(t)
	conf, err := eventsInputSpec().ParseYAML(fmt.Sprintf("address: %s\npublic_key_files: [ %q ]\n",
		addr, eventsWriteKeyPEM(t, &eventsTestKey().PublicKey)), nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := newEventsInput(conf, service.MockResources())
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := in.Connect(context.Background()); err != nil {
		t.Fatalf("second Connect: %v", err)
	}
	h := &eventsHarness{t: t, url: "http://" + in.Addr().String() + "/concur/events", client: &http.Client{Timeout: 10 * time.Second}}
	codes := make(chan int, 1)
	go func() { codes <- h.postSigned(eventsSample("closing", ess.EventMappingUpdated)) }()
	// Wait until the handler holds the event; nobody reads it.
	for deadline := time.Now().Add(10 * time.Second); !in.dedupe.inFlight("closing"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("request never reached the handler")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if c := <-codes; c != http.StatusServiceUnavailable {
		t.Errorf("waiting request answered %d, want 503", c)
	}
	if _, _, err := in.Read(ctx); !errors.Is(err, service.ErrEndOfInput) {
		t.Errorf("Read after Close = %v, want ErrEndOfInput", err)
	}
	if err := in.Connect(ctx); !errors.Is(err, service.ErrEndOfInput) {
		t.Errorf("Connect after Close = %v, want ErrEndOfInput", err)
	}
}

// inFlight reports whether a request currently carries id.
func (d *eventsDedupe) inFlight(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.inflight[id]
	return ok
}

// size reports the ids remembered in memory.
func (d *eventsDedupe) size() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.acked)
}
