#!/usr/bin/env bash
# The main job, in one command: installs what is missing (Debian packages,
# with sudo unless root), builds peertune, makes a sample library (a few
# minutes of tagged, music-like tracks, kept in ~/.cache/peertune-demo for the
# next run), and starts on loopback a tracker, a seeder and three headless
# listeners that fetch the library and keep sharing it, so that a swarm
# exists. Then it opens the terminal player on the library: each track's
# first seconds come from the seed server, the rest from the listeners (the
# UI shows bytes by source and the peer count).
#
# Without a sound device it says so and plays to the null output, in real
# time. q (or Ctrl-C) quits the player, and the demo then stops every process
# it started; nothing is left running or listening, and a second run works.
#
#   scripts/demo.sh
#
# Environment: PEERTUNE_DEMO_DIR=DIR keeps the run's files (logs, tracker
# data, caches) in DIR instead of a temporary directory removed at the end;
# PEERTUNE_DEMO_TRACKS (8) and PEERTUNE_DEMO_SECONDS (30) size the library;
# PEERTUNE_DEMO_SEED_CAP (128KiB) caps the seeder's upload per second;
# PEERTUNE_DEMO_OUTPUT forces the output (speaker, null, wav:FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

die() { echo "demo: $*" >&2; exit 1; }

# Before anything starts: what to clean up, and how.
pids=()
keep_work=0
work=""
cleanup() {
	local pid alive
	trap - INT TERM
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for _ in $(seq 50); do
		alive=0
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		((alive)) || break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [[ -n $work ]]; then
		if ((keep_work)); then
			echo "demo stopped; its files are in $work"
		else
			rm -rf "$work"
			echo "demo stopped; every process it started has exited"
		fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_packages
ensure_go

if [[ -n ${PEERTUNE_DEMO_DIR:-} ]]; then
	work=$PEERTUNE_DEMO_DIR
	keep_work=1
	mkdir -p "$work"
	rm -rf "$work"/{tracker,cache-*,state} # a fresh swarm on every run
else
	work=$(mktemp -d -t peertune-demo.XXXXXX)
fi
work=$(cd "$work" && pwd)
library=${XDG_CACHE_HOME:-$HOME/.cache}/peertune-demo/library
tracks=${PEERTUNE_DEMO_TRACKS:-8}
seconds=${PEERTUNE_DEMO_SECONDS:-30}
[[ $tracks =~ ^[1-9][0-9]?$ && $seconds =~ ^[1-9][0-9]*$ ]] || die "PEERTUNE_DEMO_TRACKS (1-99) and PEERTUNE_DEMO_SECONDS want numbers"
# The seeder's hash state and anything else peertune keeps stays in $work.
export XDG_STATE_HOME=$work/state

echo "== building peertune"
go build -buildvcs=auto -o "$work/peertune" ./cmd/peertune
pt=$work/peertune

echo "== sample library: $tracks tracks of ${seconds}s in $library"
scripts/make-fixtures.sh --library "$tracks" --seconds "$seconds" "$library"

# free_port prints a loopback port that nothing listens on (TCP or UDP), so
# that the demo never collides with another run or another program.
used_ports=" "
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 40000))
		[[ $used_ports == *" $p "* ]] && continue
		if ! ss -Htuln "( sport = :$p )" | grep -q .; then
			used_ports+="$p "
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}
wait_http() { # URL LOG: up to 15 s
	for _ in $(seq 150); do
		curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$2" >&2
	die "$1 did not answer"
}

tport=$(free_port) sport=$(free_port)
tracker=http://127.0.0.1:$tport
token=demo-$RANDOM$RANDOM

echo "== tracker on 127.0.0.1:$tport (HTTP and UDP)"
"$pt" tracker --listen "127.0.0.1:$tport" --udp "127.0.0.1:$tport" --data "$work/tracker" \
	--token "$token" 2>"$work/tracker.log" &
pids+=($!)
wait_http "$tracker/healthz" "$work/tracker.log"

# A seed server with little bandwidth, as a real one serving many listeners
# would have: the listeners carry the rest.
seed_cap=${PEERTUNE_DEMO_SEED_CAP:-128KiB}
echo "== seeder on 127.0.0.1:$sport (upload capped at $seed_cap/s), publishing the library"
"$pt" seed --tracker "$tracker" --token "$token" --listen "127.0.0.1:$sport" \
	--bt-listen 127.0.0.1:0 --upload-rate "$seed_cap" "$library" 2>"$work/seeder.log" &
pids+=($!)
wait_http "http://127.0.0.1:$sport/healthz" "$work/seeder.log"
ids=()
for _ in $(seq 300); do
	mapfile -t ids < <(curl -fsS "$tracker/api/v1/tracks?limit=500" 2>/dev/null |
		grep -oE '"id":"[0-9a-f]{40}"' | cut -d'"' -f4)
	((${#ids[@]} >= tracks)) && break
	sleep 0.1
done
((${#ids[@]} >= tracks)) || { cat "$work/seeder.log" >&2; die "the seeder published ${#ids[@]} of $tracks tracks"; }
echo "== three listeners fetch the library and keep sharing it"
for n in 1 2 3; do
	# --fast: they fetch and "play" the whole queue at once, then linger,
	# sharing what they hold, until the demo stops them.
	"$pt" play --tracker "$tracker" --cache "$work/cache-listener$n" --bt-listen 127.0.0.1:0 \
		--output null --fast --json --linger 24h "${ids[@]}" \
		>"$work/listener$n.json" 2>"$work/listener$n.log" &
	pids+=($!)
	sleep 0.5
done
# Ready when the tracker counts the three listeners as complete seeders of
# the first track (with the seeder, four), or after 30 s; they go on
# fetching the rest while it plays.
ready=0
for _ in $(seq 60); do
	s=$(curl -fsS "$tracker/api/v1/tracks/${ids[0]}" 2>/dev/null | grep -oE '"seeders":[0-9]+' | cut -d: -f2)
	((${s:-0} >= 4)) && { ready=1; break; }
	for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || die "a process stopped early; see the logs in $work"; done
	sleep 0.5
done
((ready)) || echo "   (the listeners do not hold the first track yet; they go on fetching)"

# The sound device: a 0.2 s probe through the speaker output.
output=${PEERTUNE_DEMO_OUTPUT:-}
if [[ -z $output ]]; then
	ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i anullsrc=r=44100:cl=stereo -t 0.2 \
		-c:a pcm_s16le "$work/probe.wav"
	if probe_err=$(timeout 15 "$pt" play --output speaker "$work/probe.wav" 2>&1 >/dev/null); then
		output=speaker
	else
		output=null
		echo
		echo "No sound device here ($(grep '^peertune:' <<<"$probe_err" | tail -n1 | sed 's/^peertune: play [^:]*: //'))."
		echo "The player plays to the null output instead, paced to real time, so the demo looks the same."
	fi
fi

cat <<MSG

peertune runs on loopback:
  tracker   $tracker   (catalog: $tracker/api/v1/tracks, metrics: $tracker/metrics)
  seeder    http://127.0.0.1:$sport   (metrics: http://127.0.0.1:$sport/metrics)
  listeners 3, sharing ${#ids[@]} tracks
  logs      $work

Opening the terminal player on the library. Watch "seed" (the seed server:
the first seconds of each track) and "peers" (the listeners: the rest).
Keys: space pause, ←/→ ±5 s, n/p next/previous, +/- volume, ? help, q quit.
MSG
sleep 3

# The player in the foreground, on the terminal. Its exit ends the demo.
ui_status=0
"$pt" play --tracker "$tracker" --cache "$work/cache-ui" --bt-listen 127.0.0.1:0 \
	--output "$output" "${ids[@]}" || ui_status=$?
((ui_status == 0)) || echo "the player exited with status $ui_status (its log: $work/cache-ui/player.log)" >&2
keep_work=$((keep_work || ui_status != 0))
exit "$ui_status"
