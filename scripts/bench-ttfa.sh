#!/usr/bin/env bash
# Time to first audio of `peertune play` against curl doing the same HTTP
# work, on loopback: cold cache (a fresh --cache per run), warm tracker (one
# search first), seeder uncapped, one flac track. Prints the median of N runs
# of each and the ratio (target: play <= 3x curl).
#
#   scripts/bench-ttfa.sh [--runs 10] [--peertune BIN]
#
# play: ttfa_ms from its --json report (command start to the first sample
# handed to the output; --output null --fast). curl: wall time of one shell
# function doing search (GET /api/v1/tracks?q=), fetching the .torrent and
# the first 64 KiB of the seed URL (a Range GET), three curl processes.
# Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go

runs=10 bin=""
while (($#)); do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--peertune) bin=$2; shift 2 ;;
	-h | --help) sed -n '2,14p' "$0"; exit 0 ;;
	*) echo "bench-ttfa: unknown argument $1" >&2; exit 2 ;;
	esac
done

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

if [[ -z $bin ]]; then
	bin=$work/peertune
	go build -o "$bin" ./cmd/peertune
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tport=$(free_port) sport=$(free_port)
tracker=http://127.0.0.1:$tport

mkdir -p "$work/lib"
ffmpeg -v error -f lavfi -i "aevalsrc=exprs=0.3*sin(2*PI*220*t)+0.2*sin(2*PI*330*t)+0.05*(random(0)-0.5):s=44100:c=stereo:d=20" \
	-c:a flac -sample_fmt s16 -metadata title="Bench Tone" -metadata artist="Bench Artist" -metadata album="Bench" "$work/lib/bench.flac"

"$bin" tracker --listen "127.0.0.1:$tport" --udp "127.0.0.1:$tport" --data "$work/tracker" --token bench 2>"$work/tracker.log" &
pids+=($!)
"$bin" seed --tracker "$tracker" --token bench --listen "127.0.0.1:$sport" --bt-listen 127.0.0.1:0 "$work/lib" 2>"$work/seed.log" &
pids+=($!)
for _ in $(seq 100); do
	curl -sf "$tracker/api/v1/tracks?q=bench" | grep -q '"id"' && break
	sleep 0.1
done
curl -sf "$tracker/api/v1/tracks?q=bench" | grep -q '"id"' || { echo "bench-ttfa: the track was not published" >&2; cat "$work/seed.log" >&2; exit 1; }

now_ms() { date +%s%N | awk '{printf "%.3f", $1/1e6}'; }

curl_work() {
	local list id url
	list=$(curl -sf "$tracker/api/v1/tracks?q=bench+tone&limit=1")
	id=$(printf '%s' "$list" | grep -o '"id":"[0-9a-f]*"' | head -1 | cut -d'"' -f4)
	url=$(printf '%s' "$list" | grep -o '"seed_urls":\["[^"]*"' | head -1 | cut -d'"' -f4)
	curl -sf -o /dev/null "$tracker/api/v1/tracks/$id/torrent"
	curl -sf -o /dev/null -r 0-65535 "$url"
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

play_ms=() curl_ms=()
for i in $(seq "$runs"); do
	cache=$work/cache-$i
	line=$("$bin" play --tracker "$tracker" --cache "$cache" --bt-listen 127.0.0.1:0 --output null --fast --json "bench tone" 2>>"$work/play.log")
	ms=$(printf '%s' "$line" | grep -o '"ttfa_ms":[0-9.]*' | cut -d: -f2)
	[[ -n $ms ]] || { echo "bench-ttfa: no report from play: $line" >&2; tail "$work/play.log" >&2; exit 1; }
	play_ms+=("$ms")
	t0=$(now_ms)
	curl_work
	t1=$(now_ms)
	curl_ms+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b-a}')")
done

pm=$(printf '%s\n' "${play_ms[@]}" | median)
cm=$(printf '%s\n' "${curl_ms[@]}" | median)
echo "runs: $runs (flac, loopback, cold cache, warm tracker, seeder uncapped)"
echo "play ttfa_ms:  ${play_ms[*]}"
echo "curl ms:       ${curl_ms[*]}"
printf '| | median ms |\n|---|---|\n| peertune play ttfa | %s |\n| curl: search + .torrent + first 64 KiB | %s |\n| ratio | %s (target <= 3) |\n' \
	"$pm" "$cm" "$(awk -v a="$pm" -v b="$cm" 'BEGIN {printf "%.2f", a/b}')"
