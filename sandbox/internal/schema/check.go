package schema

import (
	"bytes"
	"strings"
	"time"
)

// checker accumulates validation errors.
type checker struct {
	errs []ValidationError
}

// add records one error. The code is the source with array indices removed,
// a dot, and the suffix (required, invalid, duplicate), so codes stay static
// while sources point at the exact element.
func (c *checker) add(source, suffix, msg string) {
	c.errs = append(c.errs, ValidationError{
		Source:       source,
		ErrorMessage: msg,
		ErrorCode:    codeFor(source, suffix),
	})
}

// codeFor derives the static error code for a source path.
func codeFor(source, suffix string) string {
	if source == "" {
		return suffix
	}
	if strings.IndexByte(source, '[') < 0 {
		return source + "." + suffix
	}
	var b strings.Builder
	b.Grow(len(source) + len(suffix) + 1)
	skip := false
	for i := 0; i < len(source); i++ {
		switch c := source[i]; {
		case c == '[':
			skip = true
		case c == ']':
			skip = false
		case !skip:
			b.WriteByte(c)
		}
	}
	b.WriteByte('.')
	b.WriteString(suffix)
	return b.String()
}

// required checks that v is a non-blank string; absent, null and blank
// strings are "required" errors, other kinds "invalid". It reports whether v
// is usable.
func (c *checker) required(source string, v value) bool {
	switch v.kind {
	case kindString:
		if v.blank() {
			c.add(source, "required", source+" is required and must not be blank")
			return false
		}
		return true
	case kindAbsent, kindNull:
		c.add(source, "required", source+" is required")
		return false
	default:
		c.add(source, "invalid", source+" must be a string, got "+v.kind.String())
		return false
	}
}

// optional checks that v, when present and not null, is a string. It reports
// whether v is a non-blank string worth checking further.
func (c *checker) optional(source string, v value) bool {
	switch v.kind {
	case kindAbsent, kindNull:
		return false
	case kindString:
		return !v.blank()
	default:
		c.add(source, "invalid", source+" must be a string, got "+v.kind.String())
		return false
	}
}

// text applies required or optional as the flag says.
func (c *checker) text(source string, v value, required bool) bool {
	if required {
		return c.required(source, v)
	}
	return c.optional(source, v)
}

// optionalBool checks that v, when present and not null, is a boolean.
func (c *checker) optionalBool(source string, v value) {
	switch v.kind {
	case kindAbsent, kindNull, kindBool:
	default:
		c.add(source, "invalid", source+" must be a boolean, got "+v.kind.String())
	}
}

// oneOf checks a usable string against an enumeration and returns the
// matching constant ("" when it matches none).
func (c *checker) oneOf(source string, v value, allowed []string) string {
	b := v.bytes()
	for _, a := range allowed {
		if string(b) == a {
			return a
		}
	}
	c.add(source, "invalid", source+" must be one of "+strings.Join(allowed, ", ")+", got "+quote(b))
	return ""
}

// quote renders a received value for an error message, shortened so a huge
// value cannot bloat the error report.
func quote(b []byte) string {
	const limit = 64
	if len(b) > limit {
		return `"` + string(b[:limit]) + `…"`
	}
	return `"` + string(b) + `"`
}

// validEmail applies the deliberately loose address check described in the
// package documentation: one '@', a non-empty local part, a dotted domain
// with no empty labels, and no whitespace or control characters.
func validEmail(b []byte) bool {
	at := bytes.IndexByte(b, '@')
	if at <= 0 || at != bytes.LastIndexByte(b, '@') {
		return false
	}
	for _, ch := range b {
		if ch <= ' ' || ch == 0x7f {
			return false
		}
	}
	domain := b[at+1:]
	if len(domain) < 3 || bytes.IndexByte(domain, '.') < 0 {
		return false
	}
	return domain[0] != '.' && domain[len(domain)-1] != '.' && !bytes.Contains(domain, []byte(".."))
}

// dateLayout is ISO-8601 simple date format (YYYY-MM-dd), see the Schema page.
const dateLayout = "2006-01-02"

// parseDate parses a simple ISO-8601 date, rejecting impossible calendar
// dates such as 2023-02-30.
func parseDate(b []byte) (time.Time, bool) {
	if len(b) != len(dateLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(dateLayout, string(b))
	return t, err == nil
}
