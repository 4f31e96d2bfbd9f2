package ess

import (
	"crypto/rsa"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	body := []byte(`{"correlationId":"c","id":"b406d1ab-a41c-461c-9404-0bd958e86ae2","topic":"public.concur.spend.accountingintegration","subtopic":null,"eventType":"data.resetRequested","timeStamp":"2021-03-18T23:11:51.034Z","facts":{"companyId":"49d30324-7f69-4f9c-b3fa-ca7639e1fc35","erpId":"261a88ef-44f2-4102-b303-db4ac2a4a8ba","partnerId":"4f434150-5a74-4d43-8050-f7b57d0c8840","data":"{\"accountingObjects\":[\"ACCOUNT\",\"VENDOR\",\"LIST\"]}"}}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		ev, err := Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		_ = ev.FactsData()
	}
}

// BenchmarkVerify verifies with the signing key listed after the two
// published keys, the worst case of a configured key order (five RSA
// operations), and with it listed first (one).
func BenchmarkVerify(b *testing.B) {
	key := testKey(b)
	body := []byte(`{"id":"1","eventType":"mapping.updated","topic":"t","facts":{}}`)
	sig, err := Sign(key, PKCS1v15, body)
	if err != nil {
		b.Fatal(err)
	}
	for name, keys := range map[string][]*rsa.PublicKey{
		"key-first": append([]*rsa.PublicKey{&key.PublicKey}, PublishedKeys()...),
		"key-last":  append(PublishedKeys(), &key.PublicKey),
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if err := Verify(keys, body, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
