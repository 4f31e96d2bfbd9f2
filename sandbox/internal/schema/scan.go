package schema

import (
	"encoding/json"
	"strconv"
)

// kind is the JSON type of a decoded value.
type kind uint8

const (
	kindAbsent kind = iota
	kindNull
	kindString
	kindNumber
	kindBool
	kindObject
	kindArray
)

// String names the kind as a validation message would.
func (k kind) String() string {
	switch k {
	case kindAbsent:
		return "absent"
	case kindNull:
		return "null"
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindBool:
		return "a boolean"
	case kindObject:
		return "an object"
	default:
		return "an array"
	}
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack; it
// matches the limit encoding/json applies.
const maxDepth = 10000

// value is one JSON value: its kind and its raw bytes (strings keep their
// quotes). It aliases the input; nothing is copied.
type value struct {
	raw  []byte
	kind kind
	esc  bool // a string containing escape sequences
}

// text returns a string value's decoded text.
func (v value) text() string {
	if v.kind != kindString {
		return ""
	}
	if !v.esc {
		return string(v.raw[1 : len(v.raw)-1])
	}
	var s string
	if err := json.Unmarshal(v.raw, &s); err != nil {
		// The scanner has validated the literal; this cannot happen.
		return string(v.raw[1 : len(v.raw)-1])
	}
	return s
}

// blank reports whether a string value holds only whitespace (or nothing).
func (v value) blank() bool {
	if v.kind != kindString {
		return false
	}
	var s []byte
	if v.esc {
		s = []byte(v.text())
	} else {
		s = v.raw[1 : len(v.raw)-1]
	}
	for _, c := range s {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}

// bytes returns a string value's content without quotes, decoded only when it
// holds escapes (so usually without allocating).
func (v value) bytes() []byte {
	if v.kind != kindString {
		return nil
	}
	if v.esc {
		return []byte(v.text())
	}
	return v.raw[1 : len(v.raw)-1]
}

// boolean returns a boolean value's truth; false for any other kind.
func (v value) boolean() bool {
	return v.kind == kindBool && v.raw[0] == 't'
}

// number returns a number value as float64.
func (v value) number() (float64, bool) {
	if v.kind != kindNumber {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v.raw), 64)
	return f, err == nil
}

// scanner is a strict, allocation-free JSON reader over one document. Callers
// walk objects with objectStart/nextField and arrays with arrayStart/nextElem,
// reading leaves (and skipping containers they do not descend into) with
// value. Any syntax error sets bad and every later call then fails.
type scanner struct {
	b   []byte
	i   int
	bad bool
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end of input.
func (s *scanner) peek() byte {
	s.ws()
	if s.bad || s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// end reports whether only whitespace remains and no error occurred.
func (s *scanner) end() bool {
	s.ws()
	return !s.bad && s.i == len(s.b)
}

// value reads one complete value of any kind, validating it.
func (s *scanner) value() value {
	return s.valueDepth(0)
}

func (s *scanner) valueDepth(depth int) value {
	if depth > maxDepth {
		s.bad = true
		return value{}
	}
	c := s.peek()
	start := s.i
	var k kind
	esc := false
	switch {
	case c == '"':
		esc = s.str()
		k = kindString
	case c == '{':
		s.i++
		k = kindObject
		if s.peek() == '}' {
			s.i++
			break
		}
		for !s.bad {
			if s.peek() != '"' {
				s.bad = true
				break
			}
			s.str()
			if s.peek() != ':' {
				s.bad = true
				break
			}
			s.i++
			s.valueDepth(depth + 1)
			c := s.peek()
			s.i++
			if c == '}' {
				break
			}
			if c != ',' {
				s.bad = true
			}
		}
	case c == '[':
		s.i++
		k = kindArray
		if s.peek() == ']' {
			s.i++
			break
		}
		for !s.bad {
			s.valueDepth(depth + 1)
			c := s.peek()
			s.i++
			if c == ']' {
				break
			}
			if c != ',' {
				s.bad = true
			}
		}
	case c == 't':
		s.lit("true")
		k = kindBool
	case c == 'f':
		s.lit("false")
		k = kindBool
	case c == 'n':
		s.lit("null")
		k = kindNull
	case c == '-' || (c >= '0' && c <= '9'):
		s.num()
		k = kindNumber
	default:
		s.bad = true
	}
	if s.bad {
		return value{}
	}
	return value{raw: s.b[start:s.i], kind: k, esc: esc}
}

func (s *scanner) lit(l string) {
	if len(s.b)-s.i < len(l) || string(s.b[s.i:s.i+len(l)]) != l {
		s.bad = true
		return
	}
	s.i += len(l)
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *scanner) num() {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if s.digits() == 0 {
		s.bad = true
		return
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			s.bad = true
			return
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			s.bad = true
		}
	}
}

// str consumes a string literal starting at the opening quote and reports
// whether it contained escapes.
func (s *scanner) str() (esc bool) {
	s.i++ // opening quote
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return esc
		case c == '\\':
			esc = true
			s.i++
			if s.i >= len(s.b) {
				s.bad = true
				return esc
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 {
					s.bad = true
					return esc
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						s.bad = true
						return esc
					}
				}
				s.i += 5
			default:
				s.bad = true
				return esc
			}
		case c < 0x20:
			s.bad = true
			return esc
		default:
			s.i++
		}
	}
	s.bad = true
	return esc
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// objectStart consumes '{' and reports whether an object starts here.
func (s *scanner) objectStart() bool {
	if s.peek() != '{' {
		s.bad = true
		return false
	}
	s.i++
	return true
}

// nextField advances to the next member of the current object and returns
// its key (decoded) with the scanner positioned on the member's value. It
// returns false after the closing brace or on a syntax error. first must be
// true on the first call for an object.
func (s *scanner) nextField(first bool) ([]byte, bool) {
	c := s.peek()
	if c == '}' {
		s.i++
		return nil, false
	}
	if !first {
		if c != ',' {
			s.bad = true
			return nil, false
		}
		s.i++
		c = s.peek()
	}
	if c != '"' {
		s.bad = true
		return nil, false
	}
	start := s.i
	esc := s.str()
	end := s.i
	if s.bad || s.peek() != ':' {
		s.bad = true
		return nil, false
	}
	s.i++
	return value{raw: s.b[start:end], kind: kindString, esc: esc}.bytes(), true
}

// arrayStart consumes '[' and reports whether an array starts here.
func (s *scanner) arrayStart() bool {
	if s.peek() != '[' {
		s.bad = true
		return false
	}
	s.i++
	return true
}

// nextElem advances to the next element of the current array, returning false
// after the closing bracket or on a syntax error. first must be true on the
// first call for an array.
func (s *scanner) nextElem(first bool) bool {
	c := s.peek()
	if c == ']' {
		s.i++
		return false
	}
	if s.bad || c == 0 {
		s.bad = true
		return false
	}
	if !first {
		if c != ',' {
			s.bad = true
			return false
		}
		s.i++
	}
	return true
}
