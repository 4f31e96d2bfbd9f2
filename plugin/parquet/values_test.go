package parquet

import (
	"testing"
	"time"
)

// TestDateAndTimestampFormatting checks the hand-written calendar code
// against the time package over a wide range, including dates before 1970
// and leap days.
func TestDateAndTimestampFormatting(t *testing.T) {
	for days := int64(-800_000); days <= 800_000; days += 37 {
		want := time.Unix(days*86400, 0).UTC().Format("2006-01-02")
		if got := string(appendDate(nil, days)); got != want {
			t.Fatalf("day %d: got %s, want %s", days, got, want)
		}
	}
	for _, ms := range []int64{0, -1, 1, 951782400000, -62135596800000, 253402300799999, 1700000000123, -86400001} {
		want := `"` + time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"`
		if got := string(appendTimestamp(nil, ms, 1e3, 3)); got != want {
			t.Errorf("millis %d: got %s, want %s", ms, got, want)
		}
		us := ms*1000 + 7
		want = `"` + time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.000000Z07:00") + `"`
		if got := string(appendTimestamp(nil, us, 1e6, 6)); got != want {
			t.Errorf("micros %d: got %s, want %s", us, got, want)
		}
	}
	for _, ns := range []int64{0, -1, 1, 1700000000123456789, -9223372036854775808, 9223372036854775807} {
		want := `"` + time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000Z07:00") + `"`
		if got := string(appendTimestamp(nil, ns, 1e9, 9)); got != want {
			t.Errorf("nanos %d: got %s, want %s", ns, got, want)
		}
	}
}
