package ess

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Scheme is the RSA signature scheme used by Sign; both use SHA-256.
type Scheme int

const (
	// PKCS1v15 is RSASSA-PKCS1-v1_5 with SHA-256 (the default).
	PKCS1v15 Scheme = iota
	// PSS is RSASSA-PSS with SHA-256 and a salt as long as the hash.
	PSS
)

// String names the scheme.
func (s Scheme) String() string {
	switch s {
	case PKCS1v15:
		return "pkcs1v15"
	case PSS:
		return "pss"
	default:
		return fmt.Sprintf("Scheme(%d)", int(s))
	}
}

// Signature verification errors; Verify wraps exactly one of them.
var (
	ErrMissingSignature   = errors.New("missing signature")
	ErrMalformedSignature = errors.New("malformed signature")
	ErrSignatureMismatch  = errors.New("signature does not match any trusted key")
	ErrNoPublicKeys       = errors.New("no public keys to verify with")
)

// Sign signs the raw body with key and returns the standard base64 encoding
// of the signature, the value of the Concur-Signature header.
func Sign(key *rsa.PrivateKey, scheme Scheme, body []byte) (string, error) {
	if key == nil {
		return "", errors.New("signing ESS body: nil key")
	}
	digest := sha256.Sum256(body)
	var (
		sig []byte
		err error
	)
	switch scheme {
	case PKCS1v15:
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	case PSS:
		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	default:
		return "", fmt.Errorf("signing ESS body: unknown scheme %v", scheme)
	}
	if err != nil {
		return "", fmt.Errorf("signing ESS body with %v: %w", scheme, err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// Verify checks a Concur-Signature header value against the raw body with
// every key in turn, PKCS #1 v1.5 first and then PSS. It returns nil when one
// key verifies, and otherwise an error wrapping ErrMissingSignature,
// ErrMalformedSignature (not base64), ErrNoPublicKeys or ErrSignatureMismatch.
func Verify(keys []*rsa.PublicKey, body []byte, signature string) error {
	signature = strings.TrimSpace(signature)
	if signature == "" {
		return fmt.Errorf("verifying ESS signature: %w", ErrMissingSignature)
	}
	sig, err := decodeSignature(signature)
	if err != nil {
		return fmt.Errorf("verifying ESS signature: %w: %v", ErrMalformedSignature, err)
	}
	if len(keys) == 0 {
		return fmt.Errorf("verifying ESS signature: %w", ErrNoPublicKeys)
	}
	digest := sha256.Sum256(body)
	for _, k := range keys {
		if k == nil || k.Size() != len(sig) {
			continue
		}
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) == nil {
			return nil
		}
		if rsa.VerifyPSS(k, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil {
			return nil
		}
	}
	return fmt.Errorf("verifying ESS signature: %w", ErrSignatureMismatch)
}

// decodeSignature accepts standard and URL-safe base64, padded or not.
func decodeSignature(s string) ([]byte, error) {
	encodings := []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding}
	var firstErr error
	for _, enc := range encodings {
		b, err := enc.DecodeString(s)
		if err == nil && len(b) > 0 {
			return b, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = errors.New("empty after decoding")
	}
	return nil, firstErr
}

// ParsePublicKeysPEM reads every PEM block of pemBytes: "PUBLIC KEY" (PKIX),
// "RSA PUBLIC KEY" (PKCS #1) or "CERTIFICATE" (its subject key). Keys must be
// RSA. Any other block type, trailing garbage or an empty input is an error.
func ParsePublicKeysPEM(pemBytes []byte) ([]*rsa.PublicKey, error) {
	var keys []*rsa.PublicKey
	rest := pemBytes
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		k, err := publicKeyFromBlock(block)
		if err != nil {
			return nil, fmt.Errorf("parsing PEM block %d: %w", len(keys)+1, err)
		}
		keys = append(keys, k)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("parsing PEM public keys: unexpected data after block %d", len(keys))
	}
	if len(keys) == 0 {
		return nil, errors.New("parsing PEM public keys: no PEM block found")
	}
	return keys, nil
}

func publicKeyFromBlock(block *pem.Block) (*rsa.PublicKey, error) {
	var pub any
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PUBLIC KEY: %w", err)
		}
		pub = k
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("RSA PUBLIC KEY: %w", err)
		}
		pub = k
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CERTIFICATE: %w", err)
		}
		pub = c.PublicKey
	default:
		return nil, fmt.Errorf("unsupported block type %q", block.Type)
	}
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s holds a %T, not an RSA key", block.Type, pub)
	}
	return k, nil
}

// publishedKeysPEM holds the two public keys printed in the ESS
// Authentication section of the Event Subscription Service v4 page: the one
// in use after October 22, 2025 first, then the earlier one.
const publishedKeysPEM = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuE2x914aLmJa9GSzVVcT
e6CEi3afbs84RIEhRoLO8oK2nBKKS0fyRfZtzUZIiD0kcjBjeLrMjJpC5oI6f709
DpGQSgL1ytzP9dnIp/n1lcCk88NA+ihJlHwB6gNX6lMbftTbCpxvkY6PZmjZfnw/
/Ito5iM2P2IY7oxK8GsYWXLnnMDw9ONnvxfPLoZLGxYXXs+zR2yGFiZ0wPRY6QJ+
NT0xusN2nacPPwtgQQoD/oh7QMaBhXZ7WLSM0Gm68/c2lzMjQjtXgwAyy1+5h4EH
YhasT+p98Q0P3LpMcX9wZN3hMqbhRiRaJAQffCdYgk2Kv6EjE2l88K8kXdsocIZc
iQIDAQAB
-----END PUBLIC KEY-----
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2wJd8TVDGUxD00bCqemz
cptSfm7VGNa8Bm2DIpmqobzN6jv/HNzI3HPjeqcP1GtA4vjoFkFRaW2Qs286cI7e
9GcLbJP4mzww97LfbZYGTI+9SAlxDKEZl/AWbwTi6P8lOxho8fQ4Sv4eSK7hyL3l
I82XdBYJ2JWRpEQ1hZOui1f0BlFyqFVrEbzolE6S0eeP3gb1szFELz8ES5T4/T0o
Tz1KZE2knMsugAz760Mlmc7EuLutnNhfCZQypNUZ9fI2CMSZWHZa8IH9MCz/ywuE
NYp3hlsu0Q+oYeAwpDKyoWNLcV8pKaStVnP+3yn+/J3/oK4Rtqz/lKRrepxwTVRA
1wIDAQAB
-----END PUBLIC KEY-----
`

// publishedKeys parses publishedKeysPEM once; the result is never mutated.
var publishedKeys = sync.OnceValue(func() []*rsa.PublicKey {
	keys, err := ParsePublicKeysPEM([]byte(publishedKeysPEM))
	if err != nil {
		panic("ess: embedded published keys do not parse: " + err.Error())
	}
	return keys
})

// PublishedKeys returns the two public keys ESS signs deliveries with, as
// published on the Event Subscription Service v4 page. The slice is a fresh
// copy; the keys are shared and must not be modified.
func PublishedKeys() []*rsa.PublicKey {
	return append([]*rsa.PublicKey(nil), publishedKeys()...)
}

// PublicKeyPEM encodes key as a PEM "PUBLIC KEY" block, the form the Event
// Subscription Service v4 page publishes its keys in.
func PublicKeyPEM(key *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
