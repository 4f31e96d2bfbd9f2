//go:build !crash

package crash

import "time"

// params of the default run: small enough for CI.
var params = runParams{
	records: 3000,
	batch:   250,
	kills:   3,
	minUp:   700 * time.Millisecond,
	maxUp:   3 * time.Second,
	outage:  5 * time.Second,
	timeout: 3 * time.Minute,
}
