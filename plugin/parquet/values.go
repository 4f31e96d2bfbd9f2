package parquet

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"
	"unicode/utf8"

	pq "github.com/xitongsys/parquet-go/parquet"
)

// leafKind is how a primitive value is rendered as JSON, decided once per
// column from its physical type and its logical (or legacy converted) type.
type leafKind uint8

const (
	lkBool leafKind = iota
	lkInt32
	lkUint32
	lkInt64
	lkUint64
	lkFloat32
	lkFloat64
	lkString // UTF8/STRING, ENUM and JSON byte arrays: a JSON string
	lkBase64 // un-annotated or BSON byte arrays: base64 (standard, padded)
	lkDecimal
	lkDate
	lkTimeMillis
	lkTimeMicros
	lkTimeNanos
	lkTimestampMillis
	lkTimestampMicros
	lkTimestampNanos
	lkInt96
	lkUUID
	lkInterval
)

// leafKindOf classifies a primitive schema element. The logical type wins
// over the converted type when both are set.
func leafKindOf(el *pq.SchemaElement) (leafKind, int32) {
	phys := el.GetType()
	if lt := el.LogicalType; lt != nil {
		switch {
		case lt.STRING != nil || lt.ENUM != nil || lt.JSON != nil:
			return lkString, 0
		case lt.DECIMAL != nil:
			return lkDecimal, lt.DECIMAL.Scale
		case lt.DATE != nil:
			return lkDate, 0
		case lt.UUID != nil && phys == pq.Type_FIXED_LEN_BYTE_ARRAY:
			return lkUUID, 0
		case lt.INTEGER != nil && !lt.INTEGER.IsSigned:
			if phys == pq.Type_INT64 {
				return lkUint64, 0
			}
			return lkUint32, 0
		case lt.TIME != nil:
			return timeKind(lt.TIME.Unit, lkTimeMillis, lkTimeMicros, lkTimeNanos), 0
		case lt.TIMESTAMP != nil:
			return timeKind(lt.TIMESTAMP.Unit, lkTimestampMillis, lkTimestampMicros, lkTimestampNanos), 0
		}
	}
	if ct := el.ConvertedType; ct != nil {
		switch *ct {
		case pq.ConvertedType_UTF8, pq.ConvertedType_ENUM, pq.ConvertedType_JSON:
			return lkString, 0
		case pq.ConvertedType_DECIMAL:
			return lkDecimal, el.GetScale()
		case pq.ConvertedType_DATE:
			return lkDate, 0
		case pq.ConvertedType_TIME_MILLIS:
			return lkTimeMillis, 0
		case pq.ConvertedType_TIME_MICROS:
			return lkTimeMicros, 0
		case pq.ConvertedType_TIMESTAMP_MILLIS:
			return lkTimestampMillis, 0
		case pq.ConvertedType_TIMESTAMP_MICROS:
			return lkTimestampMicros, 0
		case pq.ConvertedType_UINT_8, pq.ConvertedType_UINT_16, pq.ConvertedType_UINT_32:
			return lkUint32, 0
		case pq.ConvertedType_UINT_64:
			return lkUint64, 0
		case pq.ConvertedType_INTERVAL:
			if phys == pq.Type_FIXED_LEN_BYTE_ARRAY && el.GetTypeLength() == 12 {
				return lkInterval, 0
			}
		}
	}
	switch phys {
	case pq.Type_BOOLEAN:
		return lkBool, 0
	case pq.Type_INT32:
		return lkInt32, 0
	case pq.Type_INT64:
		return lkInt64, 0
	case pq.Type_INT96:
		return lkInt96, 0
	case pq.Type_FLOAT:
		return lkFloat32, 0
	case pq.Type_DOUBLE:
		return lkFloat64, 0
	}
	return lkBase64, 0
}

func timeKind(u *pq.TimeUnit, millis, micros, nanos leafKind) leafKind {
	switch {
	case u != nil && u.MICROS != nil:
		return micros
	case u != nil && u.NANOS != nil:
		return nanos
	}
	return millis
}

// decimalMode says how DECIMAL values are written.
type decimalMode uint8

const (
	decimalString decimalMode = iota // "12.34": exact, safe for any consumer
	decimalNumber                    // 12.34: exact digits as a JSON number
)

const (
	// julianUnixEpoch is the Julian day number of 1970-01-01, the base of
	// INT96 timestamps.
	julianUnixEpoch = 2440588
	nanosPerDay     = int64(24 * time.Hour)
)

// appendValue appends the JSON rendering of value i of s, of the given
// kind.
func appendValue(b []byte, k leafKind, scale int32, dm decimalMode, s *store, i int) ([]byte, error) {
	switch k {
	case lkBool:
		return strconv.AppendBool(b, s.b[i]), nil
	case lkInt32, lkInt64:
		return strconv.AppendInt(b, s.int64At(i), 10), nil
	case lkUint32:
		return strconv.AppendUint(b, uint64(uint32(s.int64At(i))), 10), nil
	case lkUint64:
		return strconv.AppendUint(b, uint64(s.int64At(i)), 10), nil
	case lkFloat32:
		return appendFloat(b, float64(s.f32[i]), 32), nil
	case lkFloat64:
		return appendFloat(b, s.f64[i], 64), nil
	case lkString:
		return appendString(b, s.bytesAt(i)), nil
	case lkBase64:
		return appendBase64(b, s.bytesAt(i)), nil
	case lkDecimal:
		return appendDecimal(b, s, i, scale, dm)
	case lkDate:
		b = append(b, '"')
		b = appendDate(b, s.int64At(i))
		return append(b, '"'), nil
	case lkTimeMillis:
		return appendTimeOfDay(b, s.int64At(i)*int64(time.Millisecond), 3), nil
	case lkTimeMicros:
		return appendTimeOfDay(b, s.int64At(i)*int64(time.Microsecond), 6), nil
	case lkTimeNanos:
		return appendTimeOfDay(b, s.int64At(i), 9), nil
	case lkTimestampMillis:
		return appendTimestamp(b, s.int64At(i), 1e3, 3), nil
	case lkTimestampMicros:
		return appendTimestamp(b, s.int64At(i), 1e6, 6), nil
	case lkTimestampNanos:
		return appendTimestamp(b, s.int64At(i), 1e9, 9), nil
	case lkInt96:
		v := s.bytesAt(i)
		if len(v) != 12 {
			return nil, fmt.Errorf("INT96 value has %d bytes, want 12", len(v))
		}
		nanos := int64(binary.LittleEndian.Uint64(v[:8]))
		days := int64(binary.LittleEndian.Uint32(v[8:]))
		// Nanoseconds of the day and Julian days, kept apart so that no
		// value can overflow.
		b = append(b, '"')
		b = appendDate(b, days-julianUnixEpoch+floorDiv(nanos, nanosPerDay))
		b = append(b, 'T')
		b = appendClock(b, floorMod(nanos, nanosPerDay), 9)
		return append(b, 'Z', '"'), nil
	case lkUUID:
		v := s.bytesAt(i)
		if len(v) != 16 {
			return nil, fmt.Errorf("UUID value has %d bytes, want 16", len(v))
		}
		return appendUUID(b, v), nil
	case lkInterval:
		v := s.bytesAt(i)
		if len(v) != 12 {
			return nil, fmt.Errorf("INTERVAL value has %d bytes, want 12", len(v))
		}
		b = append(b, `{"months":`...)
		b = strconv.AppendUint(b, uint64(binary.LittleEndian.Uint32(v)), 10)
		b = append(b, `,"days":`...)
		b = strconv.AppendUint(b, uint64(binary.LittleEndian.Uint32(v[4:])), 10)
		b = append(b, `,"milliseconds":`...)
		b = strconv.AppendUint(b, uint64(binary.LittleEndian.Uint32(v[8:])), 10)
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("unknown value kind %d", k)
}

// appendFloat writes a float the way encoding/json does. JSON has no NaN or
// infinities, so those become the strings "NaN", "Infinity" and "-Infinity"
// rather than silently turning into null.
func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendTimestamp writes v, in units of 1/perSecond seconds since the Unix
// epoch, as RFC 3339 in UTC with the given number of fractional digits.
func appendTimestamp(b []byte, v, perSecond int64, digits int) []byte {
	sec, frac := floorDiv(v, perSecond), floorMod(v, perSecond)
	b = append(b, '"')
	b = appendDate(b, floorDiv(sec, 86400))
	b = append(b, 'T')
	b = appendClock(b, floorMod(sec, 86400)*int64(time.Second)+frac*(int64(time.Second)/perSecond), digits)
	return append(b, 'Z', '"')
}

// appendTimeOfDay writes nanoseconds since midnight as a quoted
// "HH:MM:SS.fff" with the given number of fractional digits.
func appendTimeOfDay(b []byte, nanos int64, digits int) []byte {
	b = append(b, '"')
	if nanos < 0 {
		b = append(b, '-')
		nanos = -nanos
	}
	b = appendClock(b, nanos, digits)
	return append(b, '"')
}

// appendClock writes non-negative nanoseconds as "HH:MM:SS.fff".
func appendClock(b []byte, nanos int64, digits int) []byte {
	sec := nanos / int64(time.Second)
	b = appendPadded(b, sec/3600, 2)
	b = append(b, ':')
	b = appendPadded(b, sec/60%60, 2)
	b = append(b, ':')
	b = appendPadded(b, sec%60, 2)
	b = append(b, '.')
	frac := nanos % int64(time.Second)
	for i := digits; i < 9; i++ {
		frac /= 10
	}
	return appendPadded(b, frac, digits)
}

// appendDate writes days since 1970-01-01 as YYYY-MM-DD in the proleptic
// Gregorian calendar (the civil-from-days algorithm of H. Hinnant).
func appendDate(b []byte, days int64) []byte {
	z := days + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	if y < 0 {
		b = append(b, '-')
		y = -y
	}
	b = appendPadded(b, y, 4)
	b = append(b, '-')
	b = appendPadded(b, m, 2)
	b = append(b, '-')
	return appendPadded(b, d, 2)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

func appendPadded(b []byte, v int64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

const hexDigits = "0123456789abcdef"

func appendUUID(b []byte, s []byte) []byte {
	b = append(b, '"')
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[s[i]>>4], hexDigits[s[i]&0xf])
	}
	return append(b, '"')
}

func appendBase64(b []byte, s []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, s)
	return append(b, '"')
}

// appendDecimal writes the unscaled integer (INT32, INT64, or big-endian
// two's complement bytes) with the decimal point placed by scale, never
// going through a float.
func appendDecimal(b []byte, s *store, i int, scale int32, dm decimalMode) ([]byte, error) {
	var tmp [48]byte
	var digits []byte
	switch s.typ {
	case pq.Type_INT32, pq.Type_INT64:
		digits = strconv.AppendInt(tmp[:0], s.int64At(i), 10)
	case pq.Type_BYTE_ARRAY, pq.Type_FIXED_LEN_BYTE_ARRAY:
		x := s.bytesAt(i)
		if len(x) == 0 {
			return nil, fmt.Errorf("DECIMAL value has no bytes")
		}
		if len(x) <= 8 {
			var u uint64
			for _, c := range x {
				u = u<<8 | uint64(c)
			}
			shift := uint(64 - 8*len(x))
			digits = strconv.AppendInt(tmp[:0], int64(u<<shift)>>shift, 10)
		} else {
			n := new(big.Int).SetBytes(x)
			if x[0]&0x80 != 0 {
				n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(x))))
			}
			digits = n.Append(tmp[:0], 10)
		}
	default:
		return nil, fmt.Errorf("DECIMAL on a %s column", s.typ)
	}
	if dm == decimalString {
		b = append(b, '"')
	}
	if digits[0] == '-' {
		b = append(b, '-')
		digits = digits[1:]
	}
	switch {
	case scale <= 0:
		b = append(b, digits...)
		for i := int32(0); i < -scale && !(len(digits) == 1 && digits[0] == '0'); i++ {
			b = append(b, '0')
		}
	case int(scale) >= len(digits):
		b = append(b, '0', '.')
		for i := len(digits); i < int(scale); i++ {
			b = append(b, '0')
		}
		b = append(b, digits...)
	default:
		point := len(digits) - int(scale)
		b = append(b, digits[:point]...)
		b = append(b, '.')
		b = append(b, digits[point:]...)
	}
	if dm == decimalString {
		b = append(b, '"')
	}
	return b, nil
}

// appendString writes s as a JSON string. Invalid UTF-8 is replaced by
// U+FFFD, as encoding/json does, so the output is always valid JSON.
func appendString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
