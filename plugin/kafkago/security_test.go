package kafkago

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Records written with SCRAM-SHA-512 are read back with PLAIN (a snapshot
// read, which also lists offsets through the authenticated client API); a
// wrong password is refused with an error (kfake drops the connection, so
// the error is the connection's, not an authentication message).
func TestSASLRoundTrip(t *testing.T) {
	checkNoLeaks(t)
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(2, "secure"),
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plainuser", "plainpass"),
		kfake.Superuser("SCRAM-SHA-512", "scramuser", "scrampass"),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]

	send, stop := startOutputStream(t, fmt.Sprintf(`
kafka_go:
  addresses: [ %q ]
  topic: secure
  key: ${! content() }
  sasl:
    mechanism: SCRAM-SHA-512
    user: scramuser
    password: scrampass
`, addr))
	var batch service.MessageBatch
	for i := 0; i < 20; i++ {
		batch = append(batch, service.NewMessage([]byte(fmt.Sprintf("m%d", i))))
	}
	if err := send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	stop()

	col := newCollector()
	_, finished, runErr := startStream(t, fmt.Sprintf(`
kafka_go:
  addresses: [ %q ]
  topics: [ secure ]
  consumer_group: g-secure
  snapshot: true
  commit_period: 50ms
  sasl:
    mechanism: PLAIN
    user: plainuser
    password: plainpass
`, addr), func(_ context.Context, b service.MessageBatch) error {
		col.add(b)
		return nil
	})
	waitEnded(t, "snapshot over SASL", finished, runErr)
	if n := len(col.all()); n != 20 {
		t.Fatalf("read %d records, want 20", n)
	}

	conf, err := inputSpec().ParseYAML(fmt.Sprintf(`
addresses: [ %q ]
topics: [ secure ]
consumer_group: g-denied
snapshot: true
timeout: 2s
sasl:
  mechanism: PLAIN
  user: plainuser
  password: wrong
`, addr), nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := newInput(conf, service.MockResources())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = in.Connect(ctx)
	if err == nil {
		_ = in.Close(ctx)
		t.Fatal("connected with a wrong password")
	}
	t.Log(err)
}

// selfSignedTLS returns a server TLS config with a fresh self-signed
// certificate for 127.0.0.1.
func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kfake"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// The output and the input talk TLS to a TLS-only broker.
func TestTLSRoundTrip(t *testing.T) {
	checkNoLeaks(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "tls"), kfake.TLS(selfSignedTLS(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	o := newTestOutput(t, fmt.Sprintf(`
addresses: [ %q ]
topic: tls
tls:
  enabled: true
  skip_cert_verify: true
`, c.ListenAddrs()[0]))
	batch := service.MessageBatch{service.NewMessage([]byte("a")), service.NewMessage([]byte("b"))}
	if err := o.WriteBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}

	col := newCollector()
	_, done, runErr := startStream(t, inputYAML(c, "tls", "g-tls", `
  snapshot: true
  tls:
    enabled: true
    skip_cert_verify: true
`),
		func(_ context.Context, b service.MessageBatch) error {
			col.add(b)
			return nil
		})
	waitEnded(t, "snapshot over TLS", done, runErr)
	if got := col.all(); len(got) != 2 || got[0].value != "a" || got[1].value != "b" {
		t.Fatalf("read %v, want a and b", got)
	}
}
