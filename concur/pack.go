package concur

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Size limits of the Accounting Integration v4 write endpoints. The Accounts,
// Vendors, List Names and Tax Data pages say "the total request payload size
// should not exceed 4 MB" and "any given ERP record size should not exceed
// 200 KB" without saying whether they mean decimal or binary units; the
// conservative (decimal, smaller) reading is used.
const (
	// MaxBodyBytes is the largest request body the packer produces.
	MaxBodyBytes = 4_000_000
	// MaxRecordBytes is the largest single record the packer accepts.
	MaxRecordBytes = 200_000
)

// Record key fields: accounts, vendors and list names are keyed by "id";
// tax data entries carry no id and are keyed by "countryCode" (see the Schema
// page, ERP Tax Data).
const (
	KeyFieldID          = "id"
	KeyFieldCountryCode = "countryCode"
)

// ErrInvalidRecord is matched (errors.Is) by every per-record packing error.
var ErrInvalidRecord = errors.New("invalid record")

// RecordError is a packing error for one record. Index is the record's
// position in the slice given to Pack.
type RecordError struct {
	Index int
	Err   error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("record %d: %v", e.Index, e.Err)
}

// Unwrap returns the underlying error.
func (e *RecordError) Unwrap() error { return e.Err }

// PackInput is one record to pack: Raw is the record exactly as it should be
// sent (a JSON object); Delete asks for the delete form
// {"id":…,"isDeleted":true} whatever else Raw holds.
type PackInput struct {
	Raw    []byte
	Delete bool
}

// Body is one request body produced by Pack.
type Body struct {
	// Bytes is the encoded body: {"data":[r1,r2,…]}, with "deleteAll":true
	// first when DeleteAll is set.
	Bytes []byte
	// Indexes are the positions (in the input slice) of the records carried,
	// in the order they appear in data.
	Indexes []int
	// DeleteAll reports whether the body carries "deleteAll":true.
	DeleteAll bool
}

// PackOptions configure a Packer. Zero values select the documented limits
// and the "id" key field.
type PackOptions struct {
	// MaxBodyBytes caps every body (default MaxBodyBytes).
	MaxBodyBytes int
	// MaxRecordBytes caps every record as sent (default MaxRecordBytes).
	MaxRecordBytes int
	// KeyField is the field that must hold a non-empty string in every
	// record (default KeyFieldID).
	KeyField string
	// AllowDelete permits deletes (isDeleted:true or PackInput.Delete). Tax
	// data has no per-record delete, so its packer sets this false.
	AllowDelete bool
}

// Packer turns records into size-bounded request bodies. It is stateless
// after construction and safe for concurrent use.
type Packer struct {
	maxBody   int
	maxRecord int
	keyField  string
	allowDel  bool
}

// NewPacker returns a Packer for opts.
func NewPacker(opts PackOptions) *Packer {
	p := &Packer{
		maxBody:   opts.MaxBodyBytes,
		maxRecord: opts.MaxRecordBytes,
		keyField:  opts.KeyField,
		allowDel:  opts.AllowDelete,
	}
	if p.maxBody <= 0 {
		p.maxBody = MaxBodyBytes
	}
	if p.maxRecord <= 0 {
		p.maxRecord = MaxRecordBytes
	}
	if p.keyField == "" {
		p.keyField = KeyFieldID
	}
	return p
}

// PackerFor returns the packer with the documented limits for an endpoint
// path segment ("accounts", "vendors", "lists" or "taxData").
func PackerFor(endpoint string) *Packer {
	if endpoint == "taxData" {
		return NewPacker(PackOptions{KeyField: KeyFieldCountryCode})
	}
	return NewPacker(PackOptions{AllowDelete: true})
}

var (
	prefixData      = []byte(`{"data":[`)
	prefixDeleteAll = []byte(`{"deleteAll":true,"data":[`)
	suffixBody      = []byte(`]}`)
)

// Key returns the key field's value of a record (its id, or countryCode for
// tax data) and whether the record asks to be deleted ("isDeleted":true). It
// fails with an error matching ErrInvalidRecord when raw is not a JSON object
// whose key field is a non-empty string. Keys match exactly (encoding/json
// would also accept "ID"); when a key repeats, the last one wins.
func (p *Packer) Key(raw []byte) (key string, deleted bool, err error) {
	keyVal, deleted, err := p.scan(raw)
	if err != nil {
		return "", false, err
	}
	if bytes.IndexByte(keyVal, '\\') < 0 {
		return string(keyVal[1 : len(keyVal)-1]), deleted, nil
	}
	if err := json.Unmarshal(keyVal, &key); err != nil {
		return "", false, fmt.Errorf("%w: %q: %v", ErrInvalidRecord, p.keyField, err)
	}
	if key == "" {
		return "", false, fmt.Errorf("%w: %q must be a non-empty string", ErrInvalidRecord, p.keyField)
	}
	return key, deleted, nil
}

// scan validates raw (accepting exactly what json.Valid accepts) and returns
// the raw JSON string of the key field and the isDeleted flag, reading raw
// once and without allocating.
func (p *Packer) scan(raw []byte) (keyVal []byte, deleted bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false, fmt.Errorf("%w: not a JSON object", ErrInvalidRecord)
	}
	// Walk the top-level members, validating each value.
	i := skipSpace(raw, 1)
	if i < len(raw) && raw[i] == '}' {
		i++
	} else {
		for {
			if i >= len(raw) || raw[i] != '"' {
				return nil, false, errNotValidJSON()
			}
			end := validString(raw, i)
			if end < 0 {
				return nil, false, errNotValidJSON()
			}
			name := raw[i+1 : end-1]
			if bytes.IndexByte(name, '\\') >= 0 {
				var s string
				if err := json.Unmarshal(raw[i:end], &s); err != nil {
					return nil, false, fmt.Errorf("%w: %v", ErrInvalidRecord, err)
				}
				name = []byte(s)
			}
			i = skipSpace(raw, end)
			if i >= len(raw) || raw[i] != ':' {
				return nil, false, errNotValidJSON()
			}
			i = skipSpace(raw, i+1)
			vend := validValue(raw, i, 2)
			if vend < 0 {
				return nil, false, errNotValidJSON()
			}
			// Comparisons rather than a switch on string(name), which
			// would copy the name.
			if string(name) == p.keyField {
				keyVal = raw[i:vend]
			} else if string(name) == "isDeleted" {
				deleted = string(raw[i:vend]) == "true"
			}
			i = skipSpace(raw, vend)
			if i < len(raw) && raw[i] == ',' {
				i = skipSpace(raw, i+1)
				continue
			}
			if i < len(raw) && raw[i] == '}' {
				i++
				break
			}
			return nil, false, errNotValidJSON()
		}
	}
	if i != len(raw) {
		return nil, false, errNotValidJSON()
	}
	if len(keyVal) < 3 || keyVal[0] != '"' {
		return nil, false, fmt.Errorf("%w: %q must be a non-empty string", ErrInvalidRecord, p.keyField)
	}
	return keyVal, deleted, nil
}

func errNotValidJSON() error { return fmt.Errorf("%w: not valid JSON", ErrInvalidRecord) }

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// DeleteForm returns the delete record {"id":<id>,"isDeleted":true}.
func DeleteForm(id string) []byte {
	enc, _ := json.Marshal(id) // a string always marshals
	b := make([]byte, 0, len(enc)+25)
	b = append(b, `{"id":`...)
	b = append(b, enc...)
	return append(b, `,"isDeleted":true}`...)
}

// Pack checks every record and packs the valid ones, in input order, into
// as few bodies as a greedy fill allows: a body is closed when the next
// record would push it over the maximum. Record bytes are copied as given
// (surrounding whitespace trimmed), never re-encoded; deletes are rewritten to
// the delete form. When deleteAll is set, the first body carries
// "deleteAll":true. Invalid records are reported in errs (sorted by index)
// and carried by no body.
func (p *Packer) Pack(records []PackInput, deleteAll bool) (bodies []Body, errs []*RecordError) {
	type planned struct {
		raw  []byte
		body int
	}
	plan := make([]planned, len(records))
	var sizes []int // encoded size of each body so far
	var counts []int
	cur := -1
	for i, in := range records {
		plan[i].body = -1
		raw := bytes.TrimSpace(in.Raw)
		_, deleted, err := p.scan(raw)
		if err != nil {
			errs = append(errs, &RecordError{Index: i, Err: err})
			continue
		}
		if deleted || in.Delete {
			if !p.allowDel {
				errs = append(errs, &RecordError{Index: i, Err: fmt.Errorf("%w: this object has no per-record delete", ErrInvalidRecord)})
				continue
			}
			key, _, err := p.Key(raw)
			if err != nil {
				errs = append(errs, &RecordError{Index: i, Err: err})
				continue
			}
			raw = DeleteForm(key)
		}
		if len(raw) > p.maxRecord {
			errs = append(errs, &RecordError{Index: i, Err: fmt.Errorf("%w: %d bytes exceeds the %d-byte record limit", ErrInvalidRecord, len(raw), p.maxRecord)})
			continue
		}
		first := deleteAll && len(sizes) == 0
		empty := bodySize(0, first)
		if empty+len(raw) > p.maxBody {
			errs = append(errs, &RecordError{Index: i, Err: fmt.Errorf("%w: %d bytes cannot fit a body of at most %d bytes", ErrInvalidRecord, len(raw), p.maxBody)})
			continue
		}
		if cur < 0 || sizes[cur]+1+len(raw) > p.maxBody {
			sizes = append(sizes, empty+len(raw))
			counts = append(counts, 1)
			cur++
		} else {
			sizes[cur] += 1 + len(raw)
			counts[cur]++
		}
		plan[i] = planned{raw: raw, body: cur}
	}
	if cur < 0 {
		return nil, errs
	}
	bodies = make([]Body, len(sizes))
	idx := make([]int, 0, len(records)-len(errs)) // one backing array for all Indexes
	for b := range bodies {
		withDeleteAll := deleteAll && b == 0
		buf := make([]byte, 0, sizes[b])
		if withDeleteAll {
			buf = append(buf, prefixDeleteAll...)
		} else {
			buf = append(buf, prefixData...)
		}
		bodies[b] = Body{Bytes: buf, DeleteAll: withDeleteAll}
	}
	start := 0
	for b := range bodies {
		bodies[b].Indexes = idx[start : start : start+counts[b]]
		start += counts[b]
	}
	for i, pl := range plan {
		if pl.body < 0 {
			continue
		}
		body := &bodies[pl.body]
		if len(body.Indexes) > 0 {
			body.Bytes = append(body.Bytes, ',')
		}
		body.Bytes = append(body.Bytes, pl.raw...)
		body.Indexes = append(body.Indexes, i)
	}
	for b := range bodies {
		bodies[b].Bytes = append(bodies[b].Bytes, suffixBody...)
	}
	return bodies, errs
}

// bodySize is the encoded size of a body holding n record bytes (commas
// excluded).
func bodySize(n int, deleteAll bool) int {
	if deleteAll {
		return len(prefixDeleteAll) + n + len(suffixBody)
	}
	return len(prefixData) + n + len(suffixBody)
}
