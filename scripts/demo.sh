#!/usr/bin/env bash
# The main job: installs what is missing, builds peertune, starts a tracker on
# loopback and shows how to use it. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_packages
ensure_go

work=${PEERTUNE_DEMO_DIR:-$(mktemp -d -t peertune-demo.XXXXXX)}
mkdir -p "$work"
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "demo stopped; its files are in $work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building peertune"
go build -o "$work/peertune" ./cmd/peertune

port=${PEERTUNE_DEMO_PORT:-6969}
token=demo-token-$RANDOM$RANDOM
"$work/peertune" tracker --listen "127.0.0.1:$port" --udp "127.0.0.1:$port" \
	--data "$work/tracker" --token "$token" 2>"$work/tracker.log" &
pids+=($!)

for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$work/tracker.log" >&2; exit 1; }

cat <<MSG

peertune's tracker runs on 127.0.0.1:$port (log: $work/tracker.log).

  catalog:   curl http://127.0.0.1:$port/api/v1/info
             curl 'http://127.0.0.1:$port/api/v1/tracks?q=WORD'
  announce:  http://127.0.0.1:$port/announce   udp://127.0.0.1:$port
  metrics:   curl http://127.0.0.1:$port/metrics
  publish:   bearer token $token

Press Ctrl-C to stop.
MSG
wait "${pids[0]}"
