package parquet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/xitongsys/parquet-go/encoding"
	pq "github.com/xitongsys/parquet-go/parquet"
)

// store holds the non-null values of one column (or a dictionary) in
// typed, pointer-free slices: a row group of boxed values would cost one
// allocation per value and make every garbage collection scan them all.
type store struct {
	typ   pq.Type
	width int // FIXED_LEN_BYTE_ARRAY length
	b     []bool
	i32   []int32
	i64   []int64
	f32   []float32
	f64   []float64
	buf   []byte // BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY and INT96 bytes, concatenated
	off   []int  // start of value i in buf is off[i], end off[i+1]
}

func newStore(typ pq.Type, width, hint int) *store {
	s := &store{typ: typ, width: width}
	switch typ {
	case pq.Type_BOOLEAN:
		s.b = make([]bool, 0, hint)
	case pq.Type_INT32:
		s.i32 = make([]int32, 0, hint)
	case pq.Type_INT64:
		s.i64 = make([]int64, 0, hint)
	case pq.Type_FLOAT:
		s.f32 = make([]float32, 0, hint)
	case pq.Type_DOUBLE:
		s.f64 = make([]float64, 0, hint)
	default:
		s.off = make([]int, 1, hint+1)
	}
	return s
}

// len is the number of values held.
func (s *store) len() int {
	switch s.typ {
	case pq.Type_BOOLEAN:
		return len(s.b)
	case pq.Type_INT32:
		return len(s.i32)
	case pq.Type_INT64:
		return len(s.i64)
	case pq.Type_FLOAT:
		return len(s.f32)
	case pq.Type_DOUBLE:
		return len(s.f64)
	}
	return len(s.off) - 1
}

// bytesAt returns the bytes of value i of a byte-array-like column.
func (s *store) bytesAt(i int) []byte { return s.buf[s.off[i]:s.off[i+1]] }

// int64At widens value i of an INT32 or INT64 column.
func (s *store) int64At(i int) int64 {
	if s.typ == pq.Type_INT32 {
		return int64(s.i32[i])
	}
	return s.i64[i]
}

func (s *store) appendBytes(p []byte) {
	s.buf = append(s.buf, p...)
	s.off = append(s.off, len(s.buf))
}

// appendFrom appends value i of src (a dictionary of the same type).
func (s *store) appendFrom(src *store, i int) {
	switch s.typ {
	case pq.Type_BOOLEAN:
		s.b = append(s.b, src.b[i])
	case pq.Type_INT32:
		s.i32 = append(s.i32, src.i32[i])
	case pq.Type_INT64:
		s.i64 = append(s.i64, src.i64[i])
	case pq.Type_FLOAT:
		s.f32 = append(s.f32, src.f32[i])
	case pq.Type_DOUBLE:
		s.f64 = append(s.f64, src.f64[i])
	default:
		s.appendBytes(src.bytesAt(i))
	}
}

// appendAny appends values decoded by the library's decoders
// (DELTA_BINARY_PACKED and BYTE_STREAM_SPLIT).
func (s *store) appendAny(vals []any) error {
	var ok bool
	for _, v := range vals {
		switch s.typ {
		case pq.Type_INT32:
			s.i32, ok = appendAs(s.i32, v)
		case pq.Type_INT64:
			s.i64, ok = appendAs(s.i64, v)
		case pq.Type_FLOAT:
			s.f32, ok = appendAs(s.f32, v)
		case pq.Type_DOUBLE:
			s.f64, ok = appendAs(s.f64, v)
		default:
			ok = false
		}
		if !ok {
			return fmt.Errorf("decoder returned %T for a %s column", v, s.typ)
		}
	}
	return nil
}

// appendAs appends v to dst if it holds a T.
func appendAs[T any](dst []T, v any) ([]T, bool) {
	x, ok := v.(T)
	if !ok {
		return dst, false
	}
	return append(dst, x), true
}

// appendPlain decodes n PLAIN-encoded values, checking every length
// against the data so that corrupt input fails cleanly.
func (s *store) appendPlain(data []byte, n int) error {
	if n == 0 {
		return nil
	}
	short := func() error { return fmt.Errorf("PLAIN %s page holds fewer than %d values", s.typ, n) }
	switch s.typ {
	case pq.Type_BOOLEAN:
		if (n+7)/8 > len(data) {
			return short()
		}
		for i := 0; i < n; i++ {
			s.b = append(s.b, data[i/8]>>(uint(i)%8)&1 == 1)
		}
	case pq.Type_INT32:
		if n > len(data)/4 {
			return short()
		}
		for i := 0; i < n; i++ {
			s.i32 = append(s.i32, int32(binary.LittleEndian.Uint32(data[4*i:])))
		}
	case pq.Type_INT64:
		if n > len(data)/8 {
			return short()
		}
		for i := 0; i < n; i++ {
			s.i64 = append(s.i64, int64(binary.LittleEndian.Uint64(data[8*i:])))
		}
	case pq.Type_FLOAT:
		if n > len(data)/4 {
			return short()
		}
		for i := 0; i < n; i++ {
			s.f32 = append(s.f32, math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])))
		}
	case pq.Type_DOUBLE:
		if n > len(data)/8 {
			return short()
		}
		for i := 0; i < n; i++ {
			s.f64 = append(s.f64, math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:])))
		}
	case pq.Type_INT96, pq.Type_FIXED_LEN_BYTE_ARRAY:
		w := 12
		if s.typ == pq.Type_FIXED_LEN_BYTE_ARRAY {
			w = s.width
		}
		if w <= 0 {
			return fmt.Errorf("FIXED_LEN_BYTE_ARRAY column has length %d", w)
		}
		if n > len(data)/w {
			return short()
		}
		for i := 0; i < n; i++ {
			s.appendBytes(data[w*i : w*i+w])
		}
	case pq.Type_BYTE_ARRAY:
		for i := 0; i < n; i++ {
			if len(data) < 4 {
				return fmt.Errorf("PLAIN byte array %d of %d truncated", i, n)
			}
			l := binary.LittleEndian.Uint32(data)
			if uint64(l) > uint64(len(data)-4) {
				return fmt.Errorf("PLAIN byte array %d of %d: length %d exceeds the %d bytes left", i, n, l, len(data)-4)
			}
			s.appendBytes(data[4 : 4+l])
			data = data[4+l:]
		}
	default:
		return fmt.Errorf("unknown physical type %s", s.typ)
	}
	return nil
}

// readDeltaLengths reads one DELTA_BINARY_PACKED block of lengths with the
// library's decoder and checks them.
func readDeltaLengths(r *bytes.Reader, what string) ([]int, error) {
	vals, err := encoding.ReadDeltaBinaryPackedINT64(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out := make([]int, len(vals))
	for i, v := range vals {
		n, ok := v.(int64)
		if !ok || n < 0 || n > int64(r.Size()) {
			return nil, fmt.Errorf("%s: bad length %v", what, v)
		}
		out[i] = int(n)
	}
	return out, nil
}

// appendDeltaByteArray decodes n byte arrays encoded as DELTA_LENGTH_BYTE_ARRAY
// (lengths, then the bytes) or, with prefixed set, DELTA_BYTE_ARRAY (prefix
// lengths, then suffixes as DELTA_LENGTH_BYTE_ARRAY), copying the bytes
// straight into the store.
func (s *store) appendDeltaByteArray(data []byte, n int, prefixed bool) error {
	if n == 0 {
		return nil
	}
	r := bytes.NewReader(data)
	var prefixes []int
	if prefixed {
		var err error
		if prefixes, err = readDeltaLengths(r, "prefix lengths"); err != nil {
			return err
		}
	}
	lengths, err := readDeltaLengths(r, "lengths")
	if err != nil {
		return err
	}
	if len(lengths) < n || prefixed && len(prefixes) < n {
		return fmt.Errorf("got %d lengths for %d values", len(lengths), n)
	}
	rest := data[len(data)-r.Len():]
	prev := -1 // index of the previous value of this page in s
	for i := 0; i < n; i++ {
		l := lengths[i]
		if l > len(rest) {
			return fmt.Errorf("value %d of %d: length %d exceeds the %d bytes left", i, n, l, len(rest))
		}
		if prefixed {
			p := prefixes[i]
			if p > 0 && (prev < 0 || p > s.off[prev+1]-s.off[prev]) {
				return fmt.Errorf("value %d of %d: prefix length %d exceeds the previous value", i, n, p)
			}
			if p > 0 {
				s.buf = append(s.buf, s.buf[s.off[prev]:s.off[prev]+p]...)
			}
			s.buf = append(s.buf, rest[:l]...)
			s.off = append(s.off, len(s.buf))
		} else {
			s.appendBytes(rest[:l])
		}
		rest = rest[l:]
		prev = len(s.off) - 2
	}
	return nil
}
