#!/usr/bin/env bash
# The project's test command, as the README gives it: every package, with the
# race detector (concurrency lives in the sandbox, the client and every
# component), each test run once (no cache).
set -euo pipefail
cd "$(dirname "$0")/.."
go test -race -count=1 -timeout 12m ./... ./testdata/gen
