package concur

import (
	"testing"

	"github.com/google/uuid"
)

func TestIdempotencyKey(t *testing.T) {
	body := []byte(`{"data":[{"id":"1"}]}`)
	k := IdempotencyKey("c", "e", "accounts", body)
	if k != IdempotencyKey("c", "e", "accounts", body) {
		t.Fatal("not deterministic")
	}
	u, err := uuid.Parse(k)
	if err != nil || u.Version() != 5 || u.Variant() != uuid.RFC4122 {
		t.Fatalf("key %s: version %d variant %v err %v", k, u.Version(), u.Variant(), err)
	}
	others := []string{
		IdempotencyKey("c2", "e", "accounts", body),
		IdempotencyKey("c", "e2", "accounts", body),
		IdempotencyKey("c", "e", "vendors", body),
		IdempotencyKey("c", "e", "accounts", []byte(`{"data":[{"id":"2"}]}`)),
		IdempotencyKey("ce", "", "accounts", body), // length prefixes keep tuples apart
	}
	for _, o := range others {
		if o == k {
			t.Fatalf("distinct inputs share key %s", k)
		}
	}
	// Pinned so an accidental change of the derivation (which would make a
	// restarted pipeline re-apply requests) fails loudly.
	if want := "bcf7d84a-280f-5b59-8e4b-9886e10ab170"; k != want {
		t.Fatalf("key is %s, was %s", k, want)
	}
}

func TestIdempotencyNamespace(t *testing.T) {
	if got := uuid.NewSHA1(uuid.NameSpaceURL, []byte("concurflow/if-none-match")).String(); got != IdempotencyNamespace {
		t.Fatalf("namespace constant %s, derived %s", IdempotencyNamespace, got)
	}
}

func BenchmarkIdempotencyKey(b *testing.B) {
	body := make([]byte, MaxBodyBytes)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for range b.N {
		IdempotencyKey("09ac834c-46d6-49ff-9653-551d69072d56", "2fcffbce-a381-4169-a954-c0395eefd6f6", "accounts", body)
	}
}
