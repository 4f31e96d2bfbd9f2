package concur

import (
	"crypto/sha1"
	"encoding/binary"
	"hash"

	"github.com/google/uuid"
)

// IdempotencyNamespace is the RFC 9562 name-space UUID under which
// IdempotencyKey derives its keys: the version 5 UUID of
// "concurflow/if-none-match" in the URL name space. It is fixed forever,
// since changing it would change every key.
const IdempotencyNamespace = "bc74123f-df21-5715-ae13-913f9b4f7706"

var idempotencyNS = uuid.MustParse(IdempotencyNamespace)

// IdempotencyKey derives the if-none-match value for one write request: a
// version 5 (SHA-1, name-based) UUID per RFC 9562 of the company id, ERP id,
// endpoint (object) and the exact body bytes. Each part is written with a
// length prefix so different tuples never share a name. The same request
// always yields the same key, so a request re-sent after a crash is refused
// with 412 instead of being applied twice.
//
// Version 5 was chosen over a SHA-256 version 8 UUID because every UUID
// parser accepts it; SHA-1's weakness does not matter here, as whoever could
// craft colliding ERP records already controls what is written.
func IdempotencyKey(companyID, erpID, object string, body []byte) string {
	h := sha1.New()
	h.Write(idempotencyNS[:])
	writeField(h, []byte(companyID))
	writeField(h, []byte(erpID))
	writeField(h, []byte(object))
	writeField(h, body)
	var sum [sha1.Size]byte
	var u uuid.UUID
	copy(u[:], h.Sum(sum[:0]))
	u[6] = (u[6] & 0x0f) | 0x50 // version 5
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 9562 variant
	return u.String()
}

func writeField(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}
