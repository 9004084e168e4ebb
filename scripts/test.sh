#!/usr/bin/env bash
# The tests: installs what they need when it is missing, then gofmt, go vet,
# unit tests with -race, and the integration tests that drive real processes
# (built without -race: real-time playback on two cores needs the speed).
#
#   scripts/test.sh            everything, as CI runs it
#   scripts/test.sh -short     skip the tests that need minutes
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

short=()
[[ "${1:-}" == "-short" ]] && short=(-short)

ensure_packages
ensure_go

echo "== fixtures (real encoder output, into the gitignored testdata/fixtures)"
scripts/make-fixtures.sh testdata/fixtures

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [[ -n "$unformatted" ]]; then
	echo "gofmt: these files need formatting:" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race (unit tests)"
go test -race -count=1 "${short[@]}" -timeout 30m ./...

echo "== go test -tags integration (real processes, no -race)"
go test -tags integration -count=1 "${short[@]}" -timeout 40m ./...

echo "== CGO_ENABLED=0 build"
CGO_ENABLED=0 go build -o /dev/null ./cmd/peertune
echo "all tests passed"
