package concur

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// acctInterp is an interpolated field of concur_accounting together with a
// fast path for the simple metadata references most configs use (see
// parseAcctMetaTemplate). The fast path gives exactly what the Bloblang
// interpolation gives, and hands a message to the interpolation whenever it
// meets a metadata value it cannot stringify identically.
type acctInterp struct {
	expr *service.InterpolatedString
	fast *acctMetaTemplate // nil: the field is not a recognised simple form
}

// parseAcctInterp reads the interpolated string field name of conf, and its
// raw text to recognise a simple form.
func parseAcctInterp(conf *service.ParsedConfig, name string) (acctInterp, error) {
	expr, err := conf.FieldInterpolatedString(name)
	if err != nil {
		return acctInterp{}, err
	}
	f := acctInterp{expr: expr}
	if _, static := expr.Static(); static {
		return f, nil
	}
	raw, err := conf.FieldString(name)
	if err != nil {
		return acctInterp{}, err
	}
	f.fast = parseAcctMetaTemplate(raw)
	return f, nil
}

// resolver returns a function resolving the field for message i of batch
// (see acctResolver).
func (f acctInterp) resolver(batch service.MessageBatch) func(i int) (string, error) {
	if f.fast == nil {
		return acctResolver(batch, f.expr)
	}
	t := f.fast
	var slow func(int) (string, error) // built on first need
	return func(i int) (string, error) {
		if s, ok := t.resolve(batch[i]); ok {
			return s, nil
		}
		if slow == nil {
			slow = acctResolver(batch, f.expr)
		}
		return slow(i)
	}
}

// acctMetaKey is one metadata key a reference reads.
type acctMetaKey struct {
	key string
	// str: meta("key"), the value as a string, null when missing or empty;
	// else metadata("key") or @key, the value as stored.
	str bool
}

// acctMetaRef is one recognised reference: keys tried in order (a key
// followed by .or(other key)…), the first that is not null giving the
// value, then the .or("…") literal when there is one.
type acctMetaRef struct {
	keys  []acctMetaKey
	hasOr bool
	or    string // the .or("…") literal, with hasOr
}

// acctMetaTemplate is a recognised field: refs joined by seps (len(refs)-1
// literal separators).
type acctMetaTemplate struct {
	refs []acctMetaRef
	seps []string
}

// resolve resolves t for msg; false when a value has a type whose Bloblang
// string form is not reproduced here (the caller then interpolates).
func (t *acctMetaTemplate) resolve(msg *service.Message) (string, bool) {
	if len(t.refs) == 1 {
		return t.refs[0].resolve(msg)
	}
	var b strings.Builder
	for j := range t.refs {
		if j > 0 {
			b.WriteString(t.seps[j-1])
		}
		s, ok := t.refs[j].resolve(msg)
		if !ok {
			return "", false
		}
		b.WriteString(s)
	}
	return b.String(), true
}

func (r *acctMetaRef) resolve(msg *service.Message) (string, bool) {
	for _, k := range r.keys {
		if k.str {
			// meta(): Bloblang returns null for a missing key and for a
			// value whose string form is empty; MetaGet stringifies as
			// it does.
			if s, ok := msg.MetaGet(k.key); ok && s != "" {
				return s, true
			}
			continue
		}
		if v, ok := msg.MetaGetMut(k.key); ok && v != nil {
			return acctBloblString(v)
		}
	}
	return r.null(), true
}

// null is what the reference gives for a null value: the .or literal, else
// the interpolation of null.
func (r *acctMetaRef) null() string {
	if r.hasOr {
		return r.or
	}
	return "null"
}

// acctBloblString is the interpolated form of a non-nil metadata value, as
// Benthos's value.IToBytes writes it (JSON for the types it has no case for,
// which for Go's integer types is their decimal form); false for types left
// to the interpolation (floats other than float64, structured values, …).
func acctBloblString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case []byte:
		return string(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case int:
		return strconv.FormatInt(int64(t), 10), true
	case int32:
		return strconv.FormatInt(int64(t), 10), true
	case int16:
		return strconv.FormatInt(int64(t), 10), true
	case int8:
		return strconv.FormatInt(int64(t), 10), true
	case uint64:
		return strconv.FormatUint(t, 10), true
	case uint:
		return strconv.FormatUint(uint64(t), 10), true
	case uint32:
		return strconv.FormatUint(uint64(t), 10), true
	case uint16:
		return strconv.FormatUint(uint64(t), 10), true
	case uint8:
		return strconv.FormatUint(uint64(t), 10), true
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64), true
	case json.Number:
		return t.String(), true
	case bool:
		return strconv.FormatBool(t), true
	case time.Time:
		return t.Format(time.RFC3339Nano), true
	}
	return "", false
}

// parseAcctMetaTemplate recognises raw as one or more interpolations
// `${! REF }`, REF being KEY, optionally followed by .or(KEY) any number of
// times and then by .or("literal"), with spaces or tabs around REF; KEY is
// metadata("k"), meta("k"), @k or @"k" (k not empty).
// Literal text is accepted only between two interpolations (the ordering_key
// default joins topic and partition with a slash) and without a "$"; text
// before the first or after the last is not recognised. nil when raw is
// anything else.
func parseAcctMetaTemplate(raw string) *acctMetaTemplate {
	t := &acctMetaTemplate{}
	rest := raw
	for {
		ref, after, ok := parseAcctInterpolation(rest)
		if !ok {
			return nil
		}
		t.refs = append(t.refs, ref)
		if after == "" {
			return t
		}
		n := strings.IndexByte(after, '$')
		if n < 0 {
			return nil // trailing text
		}
		t.seps = append(t.seps, after[:n])
		rest = after[n:]
	}
}

// parseAcctInterpolation parses `${! REF }` at the start of s.
func parseAcctInterpolation(s string) (acctMetaRef, string, bool) {
	var ref acctMetaRef
	s, ok := strings.CutPrefix(s, "${!")
	if !ok {
		return ref, "", false
	}
	s = strings.TrimLeft(s, " \t")
	var k acctMetaKey
	if k, s, ok = parseAcctKey(s); !ok {
		return ref, "", false
	}
	ref.keys = append(ref.keys, k)
	for !ref.hasOr {
		after, found := strings.CutPrefix(s, ".or(")
		if !found {
			break
		}
		if strings.HasPrefix(after, `"`) {
			if ref.or, s, ok = parseAcctCallArg(s[len(".or"):]); !ok {
				return ref, "", false
			}
			ref.hasOr = true
			continue
		}
		if k, after, ok = parseAcctKey(after); !ok {
			return ref, "", false
		}
		if s, ok = strings.CutPrefix(after, ")"); !ok {
			return ref, "", false
		}
		ref.keys = append(ref.keys, k)
	}
	s = strings.TrimLeft(s, " \t")
	s, ok = strings.CutPrefix(s, "}")
	return ref, s, ok
}

// parseAcctKey parses metadata("k"), meta("k"), @k or @"k" (k not empty) at
// the start of s.
func parseAcctKey(s string) (acctMetaKey, string, bool) {
	var k acctMetaKey
	var ok bool
	switch {
	case strings.HasPrefix(s, "metadata("):
		if k.key, s, ok = parseAcctCallArg(s[len("metadata"):]); !ok {
			return k, "", false
		}
	case strings.HasPrefix(s, "meta("):
		k.str = true
		if k.key, s, ok = parseAcctCallArg(s[len("meta"):]); !ok {
			return k, "", false
		}
	case strings.HasPrefix(s, "@"):
		s = s[1:]
		if strings.HasPrefix(s, `"`) {
			if k.key, s, ok = parseAcctQuoted(s); !ok {
				return k, "", false
			}
		} else {
			n := 0
			for n < len(s) && acctIdentChar(s[n]) {
				n++
			}
			k.key, s = s[:n], s[n:]
		}
	default:
		return k, "", false
	}
	if k.key == "" {
		return k, "", false // the whole metadata object
	}
	return k, s, true
}

// parseAcctCallArg parses `("literal")` at the start of s.
func parseAcctCallArg(s string) (string, string, bool) {
	s, ok := strings.CutPrefix(s, "(")
	if !ok {
		return "", "", false
	}
	v, s, ok := parseAcctQuoted(s)
	if !ok {
		return "", "", false
	}
	s, ok = strings.CutPrefix(s, ")")
	return v, s, ok
}

// parseAcctQuoted parses a double-quoted string literal at the start of s as
// Bloblang does (up to the first unescaped quote, then strconv.Unquote). A
// triple-quoted literal is not recognised.
func parseAcctQuoted(s string) (string, string, bool) {
	if !strings.HasPrefix(s, `"`) || strings.HasPrefix(s, `"""`) {
		return "", "", false
	}
	escaped := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n':
			return "", "", false
		case c == '"' && !escaped:
			v, err := strconv.Unquote(s[:i+1])
			if err != nil {
				return "", "", false
			}
			return v, s[i+1:], true
		case c == '\\':
			escaped = !escaped
		default:
			escaped = false
		}
	}
	return "", "", false
}

func acctIdentChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}
