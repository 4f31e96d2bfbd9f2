package concur_test

import (
	"strings"
	"testing"

	"github.com/concurflow/concurflow/sandbox"
)

// TestAccountingMarginAdapts writes at an interval just short of the
// sandbox's one second (rate_limit 1.05: 952 ms, no starting margin). With a
// fixed margin every request after the first would be answered 429 once;
// the adaptive margin grows 25 ms per 429 and is past one second after two,
// so only the first few requests are refused and every record lands once.
func TestAccountingMarginAdapts(t *testing.T) {
	e := newAcctEnv(t, 1)
	// A small request waits while the previous one is processing; polling
	// its status often lets each go out at its slot.
	s := e.start("rate_limit: 1.05\nrate_limit_margin: 0s\nrate_limit_margin_max: 250ms\nawait_poll_interval: 10ms", false)
	const sends = 6
	for i := range sends {
		sendOK(t, s, e.accounts(0, 1, i))
	}
	e.waitIdle()
	if got := e.ids(0, sandbox.ObjectAccount); len(got) != sends {
		t.Fatalf("accounts %v", got)
	}
	e.assertOnce(0, sends)
	statuses := map[int]int{}
	for _, l := range e.sb.RequestLog() {
		if strings.HasSuffix(l.Path, "/accounts") {
			statuses[l.Status]++
		}
	}
	// Two 429s take the margin to 50 ms (interval 1.002 s); server-side
	// jitter may cost one or two more. A fixed margin would cost five.
	if statuses[202] != sends || statuses[429] == 0 || statuses[429] > 4 {
		t.Fatalf("sandbox answered %v, want %d 202s after one to four 429s", statuses, sends)
	}
}
