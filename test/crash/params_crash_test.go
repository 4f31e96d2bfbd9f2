//go:build crash

package crash

import "time"

// params of the full run (go test -tags crash).
var params = runParams{
	records: 300000,
	batch:   500,
	kills:   12,
	minUp:   1500 * time.Millisecond,
	maxUp:   8 * time.Second,
	outage:  30 * time.Second,
	timeout: 25 * time.Minute,
}
