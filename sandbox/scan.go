package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
)

// A small scanner over JSON already known to be valid (json.Valid), so
// write bodies are walked once instead of decoded by reflection: the
// ingestion path splits a 4 MB body and re-renders each record without
// encoding/json.

// skipWS returns the index of the first non-space byte at or after i.
func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the index just past the JSON value starting at i.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default: // number, true, false, null
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\r' && b[i] != '\t' {
			i++
		}
		return i
	}
}

// stringEnd returns the index just past the string starting at b[i] == '"'.
func stringEnd(b []byte, i int) int {
	for j := i + 1; ; {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		q := j + k
		escapes := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			escapes++
		}
		if escapes%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// members calls fn with the key (unescaped) and raw
// value of every member of the object at b, in order. It returns false when
// b is not an object.
func members(b []byte, fn func(key, val []byte)) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	for i < len(b) && b[i] == '"' {
		kEnd := stringEnd(b, i)
		key := b[i+1 : kEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var unescaped string
			if json.Unmarshal(b[i:kEnd], &unescaped) == nil {
				key = []byte(unescaped)
			}
		}
		i = skipWS(b, kEnd)
		i = skipWS(b, i+1) // ':'
		vEnd := valueEnd(b, i)
		fn(key, b[i:vEnd])
		i = skipWS(b, vEnd)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return true
}

// elements splits the array at b into its raw elements. It returns false
// when b is not an array.
func elements(b []byte) ([][]byte, bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	var out [][]byte
	i = skipWS(b, i+1)
	for i < len(b) && b[i] != ']' {
		end := valueEnd(b, i)
		out = append(out, b[i:end])
		i = skipWS(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return out, true
}

var errNotObject = errors.New("record is not a JSON object")

// fieldSet renders the members named in order from src, a valid JSON
// object, as an object with exactly those members: absent ones as null,
// nested objects rendered by sub[name].
type fieldSet struct {
	names []string
	sub   map[string]*fieldSet
}

var (
	accountFields = &fieldSet{names: []string{"id", "number", "name", "type"}}
	listFields    = &fieldSet{names: []string{"id", "name"}}
	addressFields = &fieldSet{names: []string{"addr1", "addr2", "addr3", "state", "country", "postalCode", "city", "note"}}
	vendorFields  = &fieldSet{
		names: []string{"id", "type", "currencyCode", "lastName", "firstName", "name", "employeeId", "companyName", "email", "taxId", "phone", "accountNumber", "address"},
		sub:   map[string]*fieldSet{"address": addressFields},
	}
)

func (fs *fieldSet) render(dst, src []byte) ([]byte, error) {
	var buf [16][]byte // every field set has at most 16 names
	vals := buf[:len(fs.names)]
	ok := members(src, func(key, val []byte) {
		for i, n := range fs.names {
			if string(key) == n {
				vals[i] = val
				return
			}
		}
	})
	if !ok {
		return dst, errNotObject
	}
	dst = append(dst, '{')
	for i, n := range fs.names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, n...)
		dst = append(dst, '"', ':')
		v := vals[i]
		switch {
		case v == nil:
			dst = append(dst, "null"...)
		case fs.sub[n] != nil && len(v) > 0 && v[0] == '{':
			var err error
			if dst, err = fs.sub[n].render(dst, v); err != nil {
				return dst, err
			}
		default:
			dst = append(dst, bytes.TrimSpace(v)...)
		}
	}
	return append(dst, '}'), nil
}
