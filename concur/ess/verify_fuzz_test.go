package ess

import (
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"testing"
)

// FuzzVerify feeds arbitrary bodies and signature headers to Verify: it
// never panics, fails only with its typed errors, and accepts a signature
// only for a body that was really signed with a known key.
func FuzzVerify(f *testing.F) {
	key := testKey(f)
	keys := []*rsa.PublicKey{&key.PublicKey}
	signed := map[string]bool{}
	for _, body := range []string{`{"id":"1"}`, `{"id":"2","eventType":"mapping.updated","topic":"` + Topic + `","facts":{}}`, ``} {
		for _, scheme := range []Scheme{PKCS1v15, PSS} {
			sig, err := Sign(key, scheme, []byte(body))
			if err != nil {
				f.Fatal(err)
			}
			signed[body] = true
			f.Add([]byte(body), sig)
			raw, _ := base64.StdEncoding.DecodeString(sig)
			f.Add([]byte(body), base64.RawURLEncoding.EncodeToString(raw))
			f.Add([]byte(body+" "), sig)
			f.Add([]byte(body), sig[:len(sig)/2])
		}
	}
	f.Add([]byte(`{}`), "")
	f.Add([]byte(`{}`), "!!not-base64!!")
	f.Add([]byte(`{}`), base64.StdEncoding.EncodeToString(make([]byte, 256)))
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		err := Verify(keys, body, sig)
		if err == nil {
			if !signed[string(body)] {
				t.Fatalf("Verify accepted %q for a body never signed: %q", sig, body)
			}
			return
		}
		for _, want := range []error{ErrMissingSignature, ErrMalformedSignature, ErrSignatureMismatch} {
			if errors.Is(err, want) {
				return
			}
		}
		t.Fatalf("Verify(%q, %q) = %v, not a typed error", body, sig, err)
	})
}
