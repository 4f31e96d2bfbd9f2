#!/bin/sh
# Runs every fuzz target of the repository for a bounded time each.
#
#   scripts/fuzz.sh              # 30s per target
#   FUZZTIME=5m scripts/fuzz.sh  # longer
#   scripts/fuzz.sh FuzzPack     # only targets whose name matches
#
# A failing input is written by `go test` under the package's
# testdata/fuzz/<Target>/ and replayed by every later `go test` run: commit
# it with the fix. Targets: the record packer (concur), the JSON validity
# scanner and _links decoding (concur), ESS event parsing and signature
# verification (concur/ess), the sandbox's record scanner and renderer, and
# its schema checks.
set -eu
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-30s}"
filter="${1:-.}"
status=0
for target in \
	./concur:FuzzPack \
	./concur:FuzzScanValidatesLikeJSONValid \
	./concur:FuzzLinks \
	./concur/ess:FuzzParse \
	./plugin/concur:FuzzAcctDecode \
	./concur/ess:FuzzVerify \
	./sandbox:FuzzRender \
	./sandbox:FuzzElements \
	./sandbox/internal/schema:FuzzCheckRecord; do
	pkg="${target%%:*}"
	name="${target##*:}"
	echo "$name" | grep -q -- "$filter" || continue
	echo "== $pkg $name ($fuzztime)"
	if ! go test "$pkg" -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime"; then
		status=1
	fi
done
exit "$status"
