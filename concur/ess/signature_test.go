package ess

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignVerifyRoundTrip(t *testing.T) {
	key := testKey(t)
	body := []byte(`{"id":"1","eventType":"mapping.updated","topic":"` + Topic + `","facts":{}}`)
	for _, scheme := range []Scheme{PKCS1v15, PSS} {
		t.Run(scheme.String(), func(t *testing.T) {
			sig, err := Sign(key, scheme, body)
			if err != nil {
				t.Fatal(err)
			}
			keys := append(PublishedKeys(), &key.PublicKey)
			if err := Verify(keys, body, sig); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			raw, _ := base64.StdEncoding.DecodeString(sig)
			if err := Verify(keys, body, base64.RawURLEncoding.EncodeToString(raw)); err != nil {
				t.Errorf("URL-safe unpadded encoding should verify: %v", err)
			}
			tampered := append([]byte(nil), body...)
			tampered[len(tampered)-2] = ' '
			if err := Verify(keys, tampered, sig); !errors.Is(err, ErrSignatureMismatch) {
				t.Errorf("tampered body: err = %v, want ErrSignatureMismatch", err)
			}
		})
	}
}

func TestVerifyFailures(t *testing.T) {
	key, other := testKey(t), testKey(t)
	body := []byte(`{"id":"1"}`)
	sig, err := Sign(key, PKCS1v15, body)
	if err != nil {
		t.Fatal(err)
	}
	forged := base64.StdEncoding.EncodeToString(make([]byte, 256))
	cases := []struct {
		name string
		keys []*rsa.PublicKey
		sig  string
		want error
	}{
		{"missing", []*rsa.PublicKey{&key.PublicKey}, "", ErrMissingSignature},
		{"blank", []*rsa.PublicKey{&key.PublicKey}, "  ", ErrMissingSignature},
		{"not base64", []*rsa.PublicKey{&key.PublicKey}, "!!not-base64!!", ErrMalformedSignature},
		{"unknown key", append(PublishedKeys(), &other.PublicKey), sig, ErrSignatureMismatch},
		{"forged bytes", []*rsa.PublicKey{&key.PublicKey}, forged, ErrSignatureMismatch},
		{"short signature", []*rsa.PublicKey{&key.PublicKey}, base64.StdEncoding.EncodeToString([]byte("abc")), ErrSignatureMismatch},
		{"no keys", nil, sig, ErrNoPublicKeys},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Verify(c.keys, body, c.sig); !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestPublishedKeys(t *testing.T) {
	keys := PublishedKeys()
	if len(keys) != 2 {
		t.Fatalf("got %d published keys, want 2", len(keys))
	}
	for i, k := range keys {
		if k.Size() != 256 || k.E != 65537 {
			t.Errorf("key %d: size %d bytes, e %d", i, k.Size(), k.E)
		}
	}
	keys[0] = nil
	if PublishedKeys()[0] == nil {
		t.Error("PublishedKeys returned a shared slice")
	}
}

func TestParsePublicKeysPEM(t *testing.T) {
	key := testKey(t)
	pemBytes, err := PublicKeyPEM(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ParsePublicKeysPEM(append([]byte(publishedKeysPEM), pemBytes...))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 || !keys[2].Equal(&key.PublicKey) {
		t.Fatalf("parsed %d keys, last equal = %v", len(keys), len(keys) == 3 && keys[2].Equal(&key.PublicKey))
	}

	pkcs1 := "-----BEGIN RSA PUBLIC KEY-----\n" + base64.StdEncoding.EncodeToString(x509MarshalPKCS1(&key.PublicKey)) + "\n-----END RSA PUBLIC KEY-----\n"
	if keys, err := ParsePublicKeysPEM([]byte(pkcs1)); err != nil || !keys[0].Equal(&key.PublicKey) {
		t.Errorf("RSA PUBLIC KEY block: %v", err)
	}

	for name, bad := range map[string]string{
		"empty":       "",
		"no pem":      "hello",
		"private key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		"garbage der": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
		"trailing":    string(pemBytes) + "junk",
	} {
		if _, err := ParsePublicKeysPEM([]byte(bad)); err == nil {
			t.Errorf("%s: expected an error", name)
		}
	}
}

// TestWebhookCertificate parses the client certificate ESS presents in mutual
// TLS, published beside the Event Subscription Service v4 page.
func TestWebhookCertificate(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "reference", "concur", "ess", "2026.webhook.api.concursolutions.com.pem")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s not present", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ParsePublicKeysPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].Size() != 256 {
		t.Errorf("unexpected certificate keys: %d", len(keys))
	}
}

func TestSignRejectsBadInput(t *testing.T) {
	if _, err := Sign(nil, PKCS1v15, nil); err == nil {
		t.Error("nil key: expected error")
	}
	if _, err := Sign(testKey(t), Scheme(7), nil); err == nil || !strings.Contains(err.Error(), "unknown scheme") {
		t.Errorf("unknown scheme: err = %v", err)
	}
}

func x509MarshalPKCS1(k *rsa.PublicKey) []byte { return x509.MarshalPKCS1PublicKey(k) }
