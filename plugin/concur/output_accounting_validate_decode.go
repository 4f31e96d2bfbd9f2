package concur

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/xeipuuv/gojsonschema"
)

// acctDocLoader hands the validator a record already decoded by
// acctDecode. Validate calls only LoadJSON; the embedded Go loader of the
// same document answers the loader's other methods.
type acctDocLoader struct {
	gojsonschema.JSONLoader
	doc any
}

func newAcctDocLoader(doc any) acctDocLoader {
	return acctDocLoader{JSONLoader: gojsonschema.NewGoLoader(doc), doc: doc}
}

// LoadJSON returns the decoded document.
func (l acctDocLoader) LoadJSON() (any, error) { return l.doc, nil }

// acctDecode decodes b, which must be valid JSON (check decodes only what
// the packer has accepted, exactly what json.Valid accepts), into what the
// validator's own loader makes of it: map[string]any, []any, string,
// json.Number, bool and nil, a repeated object key keeping its last value.
// It does not validate again, which is what makes it cheaper than
// encoding/json; strings with escapes or non-ASCII bytes are handed to
// encoding/json, so that escapes and invalid UTF-8 come out the same.
func acctDecode(b []byte) any {
	d := acctJSON{b: b}
	return d.value()
}

// acctJSON is the state of acctDecode: b and the offset of the next byte.
type acctJSON struct {
	b []byte
	i int
}

func (d *acctJSON) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *acctJSON) value() any {
	d.space()
	switch d.b[d.i] {
	case '{':
		m := map[string]any{}
		d.i++
		d.space()
		if d.b[d.i] == '}' {
			d.i++
			return m
		}
		for {
			d.space()
			k := d.str()
			d.space()
			d.i++ // ':'
			m[k] = d.value()
			d.space()
			d.i++ // ',' or '}'
			if d.b[d.i-1] == '}' {
				return m
			}
		}
	case '[':
		a := []any{}
		d.i++
		d.space()
		if d.b[d.i] == ']' {
			d.i++
			return a
		}
		for {
			a = append(a, d.value())
			d.space()
			d.i++ // ',' or ']'
			if d.b[d.i-1] == ']' {
				return a
			}
		}
	case '"':
		return d.str()
	case 't':
		d.i += len("true")
		return true
	case 'f':
		d.i += len("false")
		return false
	case 'n':
		d.i += len("null")
		return nil
	}
	start := d.i
	for d.i < len(d.b) && acctNumberByte(d.b[d.i]) {
		d.i++
	}
	return json.Number(d.b[start:d.i])
}

// acctNumberByte reports whether c can be part of a JSON number.
func acctNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// str decodes the string starting at d.i.
func (d *acctJSON) str() string {
	start := d.i
	slow := false
	for d.i++; ; d.i++ {
		c := d.b[d.i]
		if c == '"' {
			break
		}
		if c == '\\' {
			slow = true
			d.i++
		} else if c >= utf8.RuneSelf {
			slow = true
		}
	}
	d.i++
	if !slow {
		return string(d.b[start+1 : d.i-1])
	}
	var s string
	_ = json.Unmarshal(d.b[start:d.i], &s) // valid, as the whole text is
	return s
}
