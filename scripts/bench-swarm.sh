#!/usr/bin/env bash
# The swarm benchmark: how much of the bandwidth the listeners carry.
#
#   scripts/bench-swarm.sh [--players 20] [--window 60s] [--linger 30s]
#                          [--seed-cap 4x] [--player-cap 2x] [--track-seconds 180]
#                          [--bitrate 160] [--baseline-seed-cap none] [--no-baseline]
#                          [--sim] [--out DIR] [--peertune BIN]
#
# On loopback: a tracker, one seeder capped at --seed-cap (a multiple of the
# track's bitrate such as 4x, a rate such as 64KiB, or none) and --players
# headless players (`peertune play --json --output null`, paced to real time,
# each with its own cache, capped at --player-cap, lingering --linger after
# the track) that start evenly spread over --window, all on the same track of
# --track-seconds at --bitrate kbit/s (a CBR mp3 from scripts/make-fixtures.sh
# --bitrate; an MPEG-1 layer III rate such as 128, 160 or 192).
#
# The baseline is the same schedule with peer-to-peer impossible: the seeder
# serves --players copies of the track that differ only in their title tag,
# so each copy is its own torrent and every player streams from the seed
# server alone. Its seeder is uncapped by default (--baseline-seed-cap): a
# capped one cannot serve that many listeners alone, so the run would be all
# underruns and never end; its peak upload rate is the figure that matters.
# Baseline players do not linger (no one could fetch from them).
#
# Measured:
#   - each player's --json report (ttfa, underruns, bytes by source);
#   - the seed server's own upload counters (its /metrics,
#     peertune_seeder_upload_bytes_total{protocol="http"|"bt"}), at the start
#     and end of the run, and once a second for the chart;
#   - the peers' upload for the chart: once a second, `ss -ti` on loopback,
#     the TCP bytes acknowledged on every socket that connects two of this
#     run's players (both ends owned by a player), summed per socket over the
#     run (the last second of a socket that closes between samples is lost);
#     the players do not expose their upload counters themselves;
#   - tracker announces per second (its /metrics
#     peertune_tracker_announces_total, start to end);
#   - peak RSS (VmHWM) and CPU time (utime+stime) of the seeder (read just
#     before it is stopped) and of player 1 (last sample before it exits).
# Then internal/cmd/swarmchart prints the Markdown table and writes the
# chart, OUT/swarm.png, and OUT/summary.json (OUT/table.md holds the table):
#   {"peer_to_peer": S, "baseline": S, or null with --no-baseline}, where S is
#   {"started": n, "finished": n, "playbacks_with_underrun": n,
#    "seed_share": x, "ttfa_p50_ms": x, "ttfa_p95_ms": x,
#    "peer_wire_bytes": n, "peer_counted_bytes": n}:
#   finished: players that exited 0 with a report whose played_s falls at
#   most 2 % (and at least 1 s) short of the track's length;
#   playbacks_with_underrun:
#   players with a report with underruns > 0; seed_share: the seeder's own
#   upload (HTTP + BitTorrent, end minus start) over the network bytes the
#   players' reports count (cache excluded; above 1 when the seeder sent
#   more than they counted); ttfa: nearest-rank percentiles (the value at
#   rank ceil(p/100 * n)) over the players that produced a report, as in the
#   table; peer_wire_bytes: the sum of the players' bytes_peers_wire (piece
#   data they sent each other, every copy, over TCP and uTP alike; the ss
#   sampler sees TCP only, and is the chart's line and a row of the table);
#   peer_counted_bytes: the sum of the players' bytes_peers.
#
# --sim also runs internal/cmd/swarmsim, the swarm simulator, on the same
# schedule, track and caps (OUT/sim.json: its JSON line) and adds its figures
# to the table (a "simulated" column) and to summary.json ("simulated": S).
#
# Bounded: every player is stopped if it has not exited by its own start +
# track + linger + 60 s (and killed 10 s later); the default run, baseline
# included, takes about 10 minutes plus the build, at most about 12. Everything
# it starts is stopped on exit; without --out its temporary directory is
# removed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

players=20 window=60 linger=30 seed_cap=4x player_cap=2x track_seconds=180 bitrate_kbps=160
baseline_seed_cap=none baseline=1 sim=0 out="" peertune_bin=""

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "bench-swarm: $*" >&2; exit 1; }
usage_error() { echo "bench-swarm: $*" >&2; exit 2; }

seconds() { # 60, 60s, 2m -> seconds
	case "$1" in
	*[!0-9sm]* | "" | [sm]*) usage_error "bad duration $1 (want e.g. 30s, 2m)" ;;
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}

while (($#)); do
	case "$1" in
	--players) players=${2:?}; shift ;;
	--window) window=$(seconds "${2:?}"); shift ;;
	--linger) linger=$(seconds "${2:?}"); shift ;;
	--seed-cap) seed_cap=${2:?}; shift ;;
	--player-cap) player_cap=${2:?}; shift ;;
	--track-seconds) track_seconds=$(seconds "${2:?}"); shift ;;
	--bitrate) bitrate_kbps=${2:?}; shift ;;
	--baseline-seed-cap) baseline_seed_cap=${2:?}; shift ;;
	--no-baseline) baseline=0 ;;
	--sim) sim=1 ;;
	--out) out=${2:?}; shift ;;
	--peertune) peertune_bin=${2:?}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage_error "unknown argument $1 (see --help)" ;;
	esac
	shift
done
[[ $players =~ ^[1-9][0-9]*$ ]] && ((players <= 100)) || usage_error "--players: 1 to 100"
((track_seconds >= 5 && track_seconds <= 600)) || usage_error "--track-seconds: 5 to 600"
((window <= 600 && linger <= 600)) || usage_error "--window and --linger: at most 10m"
case " 32 40 48 56 64 80 96 112 128 160 192 224 256 320 " in
*" $bitrate_kbps "*) ;;
*) usage_error "--bitrate: an MPEG-1 layer III rate in kbit/s (32 40 48 56 64 80 96 112 128 160 192 224 256 320)" ;;
esac

ensure_go
for c in curl ss ffmpeg ffprobe awk; do
	command -v "$c" >/dev/null || die "$c is needed (scripts/lib.sh's ensure_packages installs it)"
done

work=$(mktemp -d -t peertune-bench-swarm.XXXXXX)
out=${out:-$work/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)

pids=()
cleanup() {
	local pid
	touch "$out"/*/stop 2>/dev/null || true # ends the samplers
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for _ in $(seq 50); do
		local alive=0
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		((alive)) || break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work" # the binary, the tracks, the state; without --out, the results too
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a loopback port that nothing listens on (TCP or UDP).
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

wait_http() { # URL: up to 15 s
	for _ in $(seq 150); do
		curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# rate_bytes SPEC: bytes per second for "4x" (times the bitrate), "none"/0,
# or a RATE with a unit (B, KiB, MiB, KB, MB).
rate_bytes() {
	local spec=$1
	case "$spec" in
	none | 0) echo 0 ;;
	*x) awk -v m="${spec%x}" -v b="$bitrate" 'BEGIN { if (m !~ /^[0-9.]+$/) exit 1; printf "%d\n", m * b / 8 }' ||
		usage_error "bad rate $spec" ;;
	*) awk -v s="$spec" 'BEGIN {
			if (!match(s, /^[0-9.]+/)) exit 1
			n = substr(s, 1, RLENGTH); u = substr(s, RLENGTH + 1)
			f["" ] = 1; f["B"] = 1; f["KiB"] = 1024; f["MiB"] = 1048576; f["KB"] = 1000; f["MB"] = 1000000
			if (!(u in f)) exit 1
			printf "%d\n", n * f[u] }' || usage_error "bad rate $spec (want e.g. 4x, 64KiB, none)" ;;
	esac
}

proc_rss_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
proc_cpu_s() { # utime + stime, in seconds
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null
}

# seeder_upload URL: "HTTP_BYTES BT_BYTES" from the seeder's /metrics.
seeder_upload() {
	curl -fsS --max-time 1 "$1/metrics" 2>/dev/null | awk '
		/^peertune_seeder_upload_bytes_total\{protocol="http"\}/ { h = $2 }
		/^peertune_seeder_upload_bytes_total\{protocol="bt"\}/ { b = $2 }
		END { printf "%.0f %.0f\n", h, b }'
}
tracker_announces() {
	curl -fsS --max-time 1 "$1/metrics" 2>/dev/null |
		awk '/^peertune_tracker_announces_total/ { n += $2 } END { printf "%.0f\n", n }'
}
now() { date +%s.%N; }

# sampler RUNDIR SEEDURL T0: until RUNDIR/stop exists, once a second, one
# line of cumulative counters (see the header) into RUNDIR/samples.csv, and
# player 1's /proc figures into RUNDIR/player1.proc.
sampler() {
	local run=$1 seed_url=$2 t0=$3
	{
		# It also stops when the script is gone ($$ is the script's pid).
		while [[ ! -e $run/stop ]] && kill -0 $$ 2>/dev/null; do
			local t
			t=$(now)
			echo "SAMPLE $(awk -v a="$t" -v b="$t0" 'BEGIN { printf "%.2f", a - b }') $(seeder_upload "$seed_url")"
			echo "PIDS $(tr '\n' ' ' <"$run/player.pids")"
			ss -tinpH 2>/dev/null || true
			echo "END"
			local p1
			p1=$(head -n1 "$run/player.pids")
			if [[ -n $p1 ]] && kill -0 "$p1" 2>/dev/null; then
				local rss cpu
				rss=$(proc_rss_kib "$p1") cpu=$(proc_cpu_s "$p1")
				[[ -n $rss && -n $cpu ]] && echo "$rss $cpu" >"$run/player1.proc"
			fi
			sleep 1
		done
	} | awk '
		BEGIN { print "t_s,seed_http_bytes,seed_bt_bytes,peer_upload_bytes" }
		$1 == "SAMPLE" { t = $2; http = $3; bt = $4; n = 0; delete mine; delete owner; next }
		$1 == "PIDS" { delete ours; for (i = 2; i <= NF; i++) ours[$i] = 1; next }
		$1 == "END" {
			# A socket counts when its owner and the owner of its remote end
			# are both players of this run.
			for (i = 1; i <= n; i++) {
				if (!(rem[i] in mine)) continue
				k = own[i] "|" loc[i] "|" rem[i]
				if (acked[i] < last[k]) base[k] += last[k] # port reused
				last[k] = acked[i]
			}
			total = 0
			for (k in last) total += last[k] + base[k]
			printf "%s,%s,%s,%.0f\n", t, http, bt, total
			fflush()
			next
		}
		$1 == "ESTAB" && /users:\(\(/ {
			match($0, /pid=[0-9]+/)
			pid = substr($0, RSTART + 4, RLENGTH - 4)
			cur = (pid in ours) ? pid : ""
			if (cur != "") { n++; own[n] = pid; loc[n] = $4; rem[n] = $5; acked[n] = 0; mine[$4] = 1 }
			next
		}
		cur != "" && /bytes_acked:/ {
			match($0, /bytes_acked:[0-9]+/)
			# + 0: a number, not a string. As strings "100000" < "99999",
			# and every socket that passed a power of ten had its bytes
			# counted again as a reused port (the wire figure was 1.25-1.7x
			# what the players sent).
			acked[n] = substr($0, RSTART + 12, RLENGTH - 12) + 0
			cur = ""
		}' >"$run/samples.csv"
}

# run_swarm NAME LIBDIR SEEDCAP LINGER: one benchmark run into $out/NAME.
run_swarm() {
	local name=$1 lib=$2 cap=$3 player_linger=$4
	local run=$out/$name
	rm -rf "$run"
	mkdir -p "$run"
	: >"$run/player.pids"
	local tport sport bport
	tport=$(free_port) sport=$(free_port) bport=$(free_port)
	local tracker_url=http://127.0.0.1:$tport seed_url=http://127.0.0.1:$sport
	local token=bench-$RANDOM$RANDOM

	"$bin" tracker --listen "127.0.0.1:$tport" --udp "127.0.0.1:$tport" --data "$work/$name-tracker" \
		--token "$token" 2>"$run/tracker.log" &
	local tracker_pid=$!
	pids+=("$tracker_pid")
	wait_http "$tracker_url/healthz" || { cat "$run/tracker.log" >&2; die "$name: the tracker did not start"; }

	local cap_flag=()
	((cap > 0)) && cap_flag=(--upload-rate "$cap")
	"$bin" seed --tracker "$tracker_url" --token "$token" --listen "127.0.0.1:$sport" \
		--bt-listen "127.0.0.1:$bport" "${cap_flag[@]}" "$lib" 2>"$run/seeder.log" &
	local seeder_pid=$!
	pids+=("$seeder_pid")
	wait_http "$seed_url/healthz" || { cat "$run/seeder.log" >&2; die "$name: the seeder did not start"; }
	local want ids=()
	want=$(find "$lib" -name '*.mp3' | wc -l)
	# Up to 60 s: the baseline's seeder hashes and reads the duration of
	# --players copies of the track.
	for _ in $(seq 600); do
		mapfile -t ids < <(curl -fsS "$tracker_url/api/v1/tracks?limit=500" | grep -oE '"id":"[0-9a-f]{40}"' | cut -d'"' -f4 | sort)
		((${#ids[@]} >= want)) && break
		sleep 0.1
	done
	((${#ids[@]} >= want)) || { cat "$run/seeder.log" >&2; die "$name: $want tracks were not published in 60 s"; }
	# Let the seeder's BitTorrent side announce before the first player asks.
	sleep 1

	local up0 ann0 t0
	up0=$(seeder_upload "$seed_url") ann0=$(tracker_announces "$tracker_url")
	t0=$(now)
	sampler "$run" "$seed_url" "$t0" &
	local sampler_pid=$!
	pids+=("$sampler_pid")

	echo "== $name: $players players over ${window}s, seed server cap $cap B/s, player cap $pcap B/s, linger ${player_linger}s"
	local i ppids=() starts=() id
	for ((i = 0; i < players; i++)); do
		# Even spread: player i starts at i*window/players seconds.
		local at
		at=$(awk -v i="$i" -v w="$window" -v n="$players" 'BEGIN { printf "%.3f", i * w / n }')
		local wait_s
		wait_s=$(awk -v at="$at" -v t0="$t0" -v now="$(now)" 'BEGIN { d = t0 + at - now; printf "%.3f", (d > 0 ? d : 0) }')
		sleep "$wait_s"
		id=${ids[i % ${#ids[@]}]}
		local pcap_flag=()
		((pcap > 0)) && pcap_flag=(--upload-rate "$pcap")
		"$bin" play --tracker "$tracker_url" --cache "$run/cache-$((i + 1))" --output null --json \
			--linger "${player_linger}s" "${pcap_flag[@]}" --bt-listen 127.0.0.1:0 "$id" \
			>"$run/player-$((i + 1)).json" 2>"$run/player-$((i + 1)).err" &
		ppids+=($!)
		pids+=($!)
		starts+=("$(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')")
		echo "$!" >>"$run/player.pids"
	done

	# Wait for the players; stop any that overstays its own deadline (its
	# start + track + linger + 60 s; a player that has stalled that long has
	# failed anyway), and kill it if it is still there 10 s later.
	local deadlines=() stopped=() alive
	for i in "${!ppids[@]}"; do
		deadlines+=("$(awk -v t0="$t0" -v st="${starts[i]}" -v s="$track_seconds" -v l="$player_linger" \
			'BEGIN { printf "%.0f", t0 + st + s + l + 60 }')")
		stopped+=(0)
	done
	while :; do
		alive=0
		for i in "${!ppids[@]}"; do
			kill -0 "${ppids[i]}" 2>/dev/null || continue
			alive=$((alive + 1))
			if ((EPOCHSECONDS > deadlines[i] + 10)); then
				kill -KILL "${ppids[i]}" 2>/dev/null || true
			elif ((EPOCHSECONDS > deadlines[i] && !stopped[i])); then
				echo "bench-swarm: $name: player $((i + 1)) overstayed; stopping it" >&2
				kill "${ppids[i]}" 2>/dev/null || true
				stopped[i]=1
			fi
		done
		((alive == 0)) && break
		sleep 1
	done
	local t_end
	t_end=$(now)
	: >"$run/players.tsv"
	local failed=0
	for i in "${!ppids[@]}"; do
		local rc=0
		wait "${ppids[i]}" || rc=$?
		((rc == 0)) || failed=$((failed + 1))
		echo "$((i + 1)) ${starts[i]} $rc" >>"$run/players.tsv"
	done
	((failed == 0)) || echo "bench-swarm: $name: $failed players failed (see $run/player-N.err)" >&2

	touch "$run/stop"
	wait "$sampler_pid" 2>/dev/null || true
	local up1 ann1 seeder_rss seeder_cpu
	up1=$(seeder_upload "$seed_url") ann1=$(tracker_announces "$tracker_url")
	seeder_rss=$(proc_rss_kib "$seeder_pid") seeder_cpu=$(proc_cpu_s "$seeder_pid")
	kill "$seeder_pid" "$tracker_pid" 2>/dev/null || true
	wait "$seeder_pid" "$tracker_pid" 2>/dev/null || true
	local p1_rss=0 p1_cpu=0
	[[ -s $run/player1.proc ]] && read -r p1_rss p1_cpu <"$run/player1.proc"
	local size duration
	size=$(stat -c %s "$(find "$lib" -name '*.mp3' | head -n1)")
	duration=$track_duration
	cat >"$run/meta.json" <<JSON
{"name": "$name", "track_bytes": $size, "bitrate": $bitrate, "track_seconds": $duration,
 "seed_cap": $cap, "player_cap": $pcap,
 "wall_s": $(awk -v a="$t_end" -v b="$t0" 'BEGIN { printf "%.2f", a - b }'),
 "seed_http_bytes": $((${up1% *} - ${up0% *})), "seed_bt_bytes": $((${up1#* } - ${up0#* })),
 "announces": $((ann1 - ann0)),
 "seeder_rss_kib": ${seeder_rss:-0}, "seeder_cpu_s": ${seeder_cpu:-0},
 "player_rss_kib": ${p1_rss:-0}, "player_cpu_s": ${p1_cpu:-0}}
JSON
	# Caches are big and of no use after the run.
	rm -rf "$run"/cache-*
}

echo "== building peertune and swarmchart"
if [[ -z $peertune_bin ]]; then
	go build -o "$work/peertune" ./cmd/peertune
	bin=$work/peertune
else
	bin=$(realpath "$peertune_bin")
fi
go build -o "$work/swarmchart" ./internal/cmd/swarmchart
((sim)) && go build -o "$work/swarmsim" ./internal/cmd/swarmsim
# Everything peertune writes outside its flags (the seeder's hash state)
# stays in the run's directory. (Not before the builds: Go's build cache
# lives under XDG_CACHE_HOME.)
export XDG_STATE_HOME=$work/state XDG_CACHE_HOME=$work/xdg-cache

echo "== making a ${track_seconds}s track at ${bitrate_kbps} kbit/s"
scripts/make-fixtures.sh --library 1 --seconds "$track_seconds" --bitrate "$bitrate_kbps" "$work/src" >/dev/null
src=$(find "$work/src" -name '*.mp3' | head -n1)
[[ -n $src ]] || die "make-fixtures made no mp3"
# Copies that differ only in their title: copy 1 is the peer-to-peer run's
# track; all of them, one torrent each, are the baseline's library.
mkdir -p "$work/lib-p2p" "$work/lib-base"
copies=1
((baseline)) && copies=$players
for ((i = 1; i <= copies; i++)); do
	dest=$(printf '%s/copy-%03d.mp3' "$work/lib-base" "$i")
	ffmpeg -nostdin -hide_banner -loglevel error -y -i "$src" -c copy -map_metadata 0 \
		-metadata title="Bench Copy $i" -bitexact "$dest"
done
cp "$work/lib-base/copy-001.mp3" "$work/lib-p2p/"
track_duration=$(ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$work/lib-p2p/copy-001.mp3")
bitrate=$(awk -v s="$(stat -c %s "$work/lib-p2p/copy-001.mp3")" -v d="$track_duration" 'BEGIN { printf "%d", s * 8 / d }')
scap=$(rate_bytes "$seed_cap") pcap=$(rate_bytes "$player_cap") bcap=$(rate_bytes "$baseline_seed_cap")
echo "   $(stat -c %s "$work/lib-p2p/copy-001.mp3") bytes, ${track_duration}s, $((bitrate / 1000)) kbit/s"

# run_sim: swarmsim on the peer-to-peer run's scenario; its JSON line into
# $out/sim.json. The same schedule (players spread evenly over the window:
# --stagger window/players; at least 1 ms, as 0 would mean Poisson arrivals),
# one track of the nominal --track-seconds at --bitrate, the same seed cap
# (its forms are swarmsim's too; none is a cap of 10^6 times the bitrate),
# no churn, the same linger, a fixed seed. --listener-up is --player-cap as a
# multiple of the nominal bitrate (none: 10^6). The players have no download
# cap; swarmsim needs one: --listener-down 1000000, its largest, the closest.
run_sim() {
	local stagger up sim_seed_cap=$seed_cap
	stagger=$(awk -v w="$window" -v n="$players" 'BEGIN { s = w / n; printf "%.3fs", (s < 0.001 ? 0.001 : s) }')
	case "$seed_cap" in none | 0) sim_seed_cap=1000000x ;; esac
	case "$player_cap" in
	none | 0) up=1000000 ;;
	*x) up=${player_cap%x} ;;
	*) up=$(awk -v p="$pcap" -v k="$bitrate_kbps" 'BEGIN { printf "%.6g", p * 8 / (k * 1000) }') ;;
	esac
	echo "== simulating: swarmsim --stagger $stagger --seed-cap $sim_seed_cap --listener-up $up"
	"$work/swarmsim" --listeners "$players" --tracks 1 --stagger "$stagger" --churn off \
		--seed-cap "$sim_seed_cap" --linger "${linger}s" --seed 1 --track-s "$track_seconds" \
		--bitrate-kbps "$bitrate_kbps" --listener-up "$up" --listener-down 1000000 --json \
		>"$work/sim.out" 2>"$work/sim.err" || { cat "$work/sim.err" >&2; die "swarmsim failed"; }
	tail -n1 "$work/sim.out" >"$out/sim.json"
}

((sim)) && run_sim
run_swarm p2p "$work/lib-p2p" "$scap" "$linger"
chart_args=(-run "$out/p2p" -png "$out/swarm.png" -summary "$out/summary.json")
if ((baseline)); then
	run_swarm baseline "$work/lib-base" "$bcap" 0
	chart_args+=(-baseline "$out/baseline")
fi
((sim)) && chart_args+=(-sim "$out/sim.json")
echo
"$work/swarmchart" "${chart_args[@]}" | tee "$out/table.md"
echo
runs=$out/p2p
((baseline)) && runs+=" and $out/baseline"
((sim)) && runs+="; simulation: $out/sim.json"
echo "chart: $out/swarm.png; summary: $out/summary.json; runs: $runs"
[[ $out == "$work"/* ]] && echo "(a temporary directory, removed now: use --out DIR to keep them)"
exit 0
