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

echo "== redis-server for the Redis backends' tests (loopback, no persistence, stopped on exit)"
redis_dir=$(mktemp -d -t peertune-test-redis.XXXXXX)
redis_pid=""
stop_test_redis() {
	if [[ -n $redis_pid ]] && kill -0 "$redis_pid" 2>/dev/null; then
		kill -TERM "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
	fi
	rm -rf "$redis_dir"
}
trap stop_test_redis EXIT
for _ in {1..20}; do
	redis_port=$((20000 + RANDOM % 20000))
	ss -Htln "( sport = :$redis_port )" | grep -q . && continue
	redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$redis_dir" --logfile "$redis_dir/redis.log" --daemonize no &
	redis_pid=$!
	for _ in {1..50}; do
		redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG && break 2
		kill -0 "$redis_pid" 2>/dev/null || break
		sleep 0.1
	done
	stop_test_redis
	redis_dir=$(mktemp -d -t peertune-test-redis.XXXXXX) redis_pid=""
done
[[ -n $redis_pid ]] || { cat "$redis_dir/redis.log" >&2 2>/dev/null; echo "could not start redis-server" >&2; exit 1; }
export PEERTUNE_TEST_REDIS="redis://127.0.0.1:$redis_port/0"
echo "redis-server pid $redis_pid on $PEERTUNE_TEST_REDIS"

echo "== go test -race (unit tests)"
go test -race -count=1 "${short[@]}" -timeout 30m ./...

echo "== go test -tags integration (real processes, no -race; one package at a time so real-time playback is not starved)"
go test -tags integration -count=1 -p 1 "${short[@]}" -timeout 40m ./...

echo "== CGO_ENABLED=0 build"
CGO_ENABLED=0 go build -o /dev/null ./cmd/peertune
echo "all tests passed"
