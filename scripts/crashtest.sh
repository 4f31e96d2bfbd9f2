#!/bin/sh
# Runs the process-level crash tests of test/crash.
#
#   scripts/crashtest.sh          # full run: 50,000 records, 12 × kill -9,
#                                 # a 30 s API outage (about 10 minutes)
#   scripts/crashtest.sh -short   # the CI-sized run (3,000 records, 3 kills)
#   CRASH_SEED=123 scripts/crashtest.sh   # replay a run's records and kill times
#
# See docs/reliability.md for what is asserted.
set -eu
cd "$(dirname "$0")/.."
if [ "${1:-}" = "-short" ]; then
	exec go test ./test/crash -v -count=1 -timeout 10m
fi
exec go test -tags crash ./test/crash -v -count=1 -timeout 40m
