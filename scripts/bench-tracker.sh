#!/usr/bin/env bash
# Benchmarks peertune's tracker against Debian's opentracker, in one run and
# under the same load, and prints one Markdown table: HTTP announces per second
# with a new connection per request (as real clients announce) and with
# keep-alive, UDP announces per second, p50/p99 latency, resident memory, and
# the ratios peertune/opentracker with the targets (HTTP conn-per-request
# >= 1.0x, UDP >= 0.5x).
#
#   scripts/bench-tracker.sh [--duration 10s] [--pool 1000] [--peers 100]
#                            [--connections 50] [--threads 2] [--workers 50]
#                            [--only opentracker|peertune] [--peertune BIN]
#                            [--redis]
#
# Load: a pool of random infohashes (opentracker's whitelist holds the same
# pool; peertune runs with --open, its public-tracker mode, as opentracker's
# whitelist check is its cheapest access mode too); --peers peers per swarm,
# the same identities over HTTP and UDP (see internal/cmd/udpload). Each
# tracker is first warmed up: every (infohash, peer) pair is announced once
# over UDP, so every reply carries numwant=50 peers. Then, one after another,
# each for --duration: wrk (scripts/bench/announce.lua) with Connection: close,
# wrk with keep-alive, and udpload. Every reply is checked (status 200, no
# "failure reason", a compact peer list); the script fails when most were bad.
# Memory is VmRSS/VmHWM from /proc/PID/status after the load.
#
# --redis adds two columns: peertune on a fresh redis-server (loopback port),
# one instance, then two instances sharing it with the load split evenly
# between them (rates summed, p99 the worse of the two, memory the sum of the
# trackers and redis-server).
#
# Bounded: every phase has a fixed duration (and a hard timeout); the default
# run takes about 2 minutes plus the build. Everything it starts is stopped on
# exit and its temporary directory removed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

duration=10 pool_size=1000 peers=100 connections=50 threads=2 workers=50
only="" peertune_bin="" redis=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "bench-tracker: $*" >&2; exit 1; }
usage_error() { echo "bench-tracker: $*" >&2; exit 2; }

seconds() { # 10, 10s, 2m -> seconds
	case "$1" in
	*[!0-9smh]* | "" | [smh]*) usage_error "bad duration $1 (want e.g. 10s, 2m)" ;;
	*m) echo $((${1%m} * 60)) ;;
	*h) usage_error "duration $1: an hour per phase is not a benchmark you want here" ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}

while (($#)); do
	case "$1" in
	--duration) duration=$(seconds "${2:?}"); shift ;;
	--pool) pool_size=${2:?}; shift ;;
	--peers) peers=${2:?}; shift ;;
	--connections) connections=${2:?}; shift ;;
	--threads) threads=${2:?}; shift ;;
	--workers) workers=${2:?}; shift ;;
	--only) only=${2:?}; shift ;;
	--peertune) peertune_bin=${2:?}; shift ;;
	--redis) redis=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage_error "unknown argument $1 (see --help)" ;;
	esac
	shift
done
for v in duration pool_size peers connections threads workers; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || usage_error "--${v//_size/}: want a positive number, got ${!v}"
done
((duration <= 120)) || usage_error "--duration: at most 120s per phase"
((pool_size <= 100000 && peers <= 50000)) || usage_error "--pool at most 100000, --peers at most 50000"
((connections >= threads)) || usage_error "--connections must be at least --threads"
case "$only" in "" | opentracker | peertune) ;; *) usage_error "--only: opentracker or peertune" ;; esac
((redis)) && [[ $only == opentracker ]] && usage_error "--redis needs peertune"

ensure_go
for c in wrk opentracker curl ss; do
	command -v "$c" >/dev/null || die "$c is missing (scripts/lib.sh lists the Debian packages; ensure_packages installs them)"
done
((redis)) && { command -v redis-server >/dev/null || die "redis-server is missing"; }

# --- processes and cleanup ---------------------------------------------------
work=$(mktemp -d -t bench-tracker.XXXXXX)
chmod 0755 "$work" # opentracker drops to nobody and must read its files here
started=()         # pids this script started

stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
	local pid
	for pid in "${started[@]}"; do stop_pid "$pid"; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

used_ports=" "
free_port() { # a loopback port free for TCP and UDP, below the ephemeral range
	local p
	for _ in {1..200}; do
		p=$((20000 + RANDOM % 12000))
		[[ $used_ports == *" $p "* ]] && continue
		ss -Htuan "( sport = :$p )" | grep -q . && continue
		used_ports+="$p "
		echo "$p"
		return
	done
	die "no free port found"
}

wait_tcp() { # wait_tcp PORT PID NAME: until something accepts on 127.0.0.1:PORT
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$2" 2>/dev/null || return 1
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# --- build -------------------------------------------------------------------
if [[ $only != opentracker ]]; then
	if [[ -n $peertune_bin ]]; then
		cp "$peertune_bin" "$work/peertune"
	else
		echo "== building peertune (no -race)" >&2
		go build -o "$work/peertune" ./cmd/peertune
	fi
	# Not grep -q: it would stop reading early, and under pipefail the
	# help's SIGPIPE would read as "no --redis".
	if ((redis)) && ! "$work/peertune" tracker --help 2>&1 | grep -- --redis >/dev/null; then
		echo "bench-tracker: the tracker has no --redis backend yet" >&2
		exit 2
	fi
fi
echo "== building udpload" >&2
go build -o "$work/udpload" ./internal/cmd/udpload

# The pool: random infohashes, 40 hex digits a line; also opentracker's whitelist.
od -An -v -tx1 -w20 -N $((20 * pool_size)) /dev/urandom | tr -d ' ' >"$work/pool"
chmod 0644 "$work/pool"
[[ $(grep -c '^[0-9a-f]\{40\}$' "$work/pool") == "$pool_size" ]] || die "could not write the infohash pool"

# --- targets -----------------------------------------------------------------
# Each column of the table is a target: HTTP announce URLs, UDP addresses and
# the pids whose memory counts. start_* set them; stop_target ends them.
declare -A T_HTTP T_UDP T_PIDS R
columns=()

start_opentracker() {
	local col=$1 tcp udp dir="$work/opentracker"
	tcp=$(free_port) udp=$(free_port)
	mkdir -m 0755 "$dir"
	cp "$work/pool" "$dir/whitelist"
	# opentracker chroots to tracker.rootdir before reading the whitelist:
	# its path is relative to that directory.
	cat >"$dir/opentracker.conf" <<-EOF
		listen.tcp 127.0.0.1:$tcp
		listen.udp 127.0.0.1:$udp
		access.whitelist whitelist
		tracker.rootdir $dir
		tracker.user nobody
	EOF
	chmod 0644 "$dir"/*
	opentracker -f "$dir/opentracker.conf" >"$work/$col.log" 2>&1 &
	local pid=$!
	started+=("$pid")
	wait_tcp "$tcp" "$pid" || { cat "$work/$col.log" >&2; die "opentracker did not start"; }
	T_HTTP[$col]="http://127.0.0.1:$tcp/announce" T_UDP[$col]="127.0.0.1:$udp" T_PIDS[$col]=$pid
}

# start_peertune COL INSTANCES [REDIS_URL]
start_peertune() {
	local col=$1 n=$2 redis_url=${3:-} i tcp udp pid args
	T_HTTP[$col]="" T_UDP[$col]="" T_PIDS[$col]="${T_PIDS[$col]:-}"
	for ((i = 1; i <= n; i++)); do
		tcp=$(free_port) udp=$(free_port)
		args=(tracker --listen "127.0.0.1:$tcp" --udp "127.0.0.1:$udp" --open --data "$work/$col.$i.data")
		[[ -n $redis_url ]] && args+=(--redis "$redis_url")
		"$work/peertune" "${args[@]}" >"$work/$col.$i.log" 2>&1 &
		pid=$!
		started+=("$pid")
		if ! wait_tcp "$tcp" "$pid" || ! curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$tcp/healthz"; then
			tail -20 "$work/$col.$i.log" >&2
			if [[ -n $redis_url ]] && ! kill -0 "$pid" 2>/dev/null; then
				echo "bench-tracker: the tracker has no --redis backend yet (it exited at start; its log is above)" >&2
				exit 2
			fi
			die "peertune tracker ($col) did not start; its log is above"
		fi
		T_HTTP[$col]+="http://127.0.0.1:$tcp/announce " T_UDP[$col]+="127.0.0.1:$udp " T_PIDS[$col]+="$pid "
	done
}

start_redis() {
	local col=$1 port pid
	port=$(free_port)
	redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
		--dir "$work" --logfile "$work/$col.redis.log" &
	pid=$!
	started+=("$pid")
	wait_tcp "$port" "$pid" || { cat "$work/$col.redis.log" >&2; die "redis-server did not start"; }
	T_PIDS[$col]="$pid "
	REDIS_URL="redis://127.0.0.1:$port/0"
}

stop_target() {
	local pid
	for pid in ${T_PIDS[$1]}; do stop_pid "$pid"; done
}

# --- measurements ------------------------------------------------------------
kv() { grep -o "\b$2=[^ ]*" "$1" | head -1 | cut -d= -f2- | tr -d '"'; }

# run_udpload COL PHASE ARGS...: one udpload per UDP address (the warm-up: the
# first only), workers split evenly, in parallel; sums into R[COL.PHASE.*].
run_udpload() {
	local col=$1 phase=$2 addrs=(${T_UDP[$1]}) i pids=() f
	shift 2
	# Instances share one store (Redis): fill it once, through the first.
	[[ $phase == warmup ]] && addrs=("${addrs[0]}")
	local w=$(((workers + ${#addrs[@]} - 1) / ${#addrs[@]}))
	for i in "${!addrs[@]}"; do
		f="$work/$col.$phase.$i.out"
		timeout $((duration + 90)) "$work/udpload" -addr "${addrs[$i]}" -pool "$work/pool" \
			-peers "$peers" -workers "$w" "$@" >"$f" 2>"$f.err" &
		pids+=($!)
		started+=($!)
	done
	for i in "${!pids[@]}"; do
		if ! wait "${pids[$i]}"; then
			cat "$work/$col.$phase.$i.out" "$work/$col.$phase.$i.out.err" >&2
			die "$col: $phase over UDP failed (most announces errored or timed out, see above)"
		fi
	done
	local ok=0 err=0 to=0 rate=0 p50=0 p99=0 peersum=0
	for i in "${!addrs[@]}"; do
		f="$work/$col.$phase.$i.out"
		ok=$((ok + $(kv "$f" announces))) err=$((err + $(kv "$f" errors))) to=$((to + $(kv "$f" timeouts)))
		rate=$(awk -v a="$rate" -v b="$(kv "$f" rate)" 'BEGIN{print a+b}')
		p50=$(awk -v a="$p50" -v b="$(kv "$f" p50_ms)" 'BEGIN{print (b>a)?b:a}')
		p99=$(awk -v a="$p99" -v b="$(kv "$f" p99_ms)" 'BEGIN{print (b>a)?b:a}')
		peersum=$(awk -v a="$peersum" -v n="$(kv "$f" announces)" -v p="$(kv "$f" avg_peers)" 'BEGIN{print a+n*p}')
	done
	R[$col.$phase.ok]=$ok R[$col.$phase.errors]=$err R[$col.$phase.timeouts]=$to
	R[$col.$phase.rate]=$rate R[$col.$phase.p50]=$p50 R[$col.$phase.p99]=$p99
	R[$col.$phase.peers]=$(awk -v s="$peersum" -v n="$ok" 'BEGIN{printf "%.1f", n ? s/n : 0}')
	echo "   $phase: $ok announces ($rate/s), p99 ${p99} ms, $err errors, $to timeouts, ${R[$col.$phase.peers]} peers/reply" >&2
}

# run_wrk COL PHASE [HEADER]: one wrk per HTTP URL, connections split evenly.
run_wrk() {
	local col=$1 phase=$2 header=${3:-} urls=(${T_HTTP[$1]}) i pids=() f hdr=()
	[[ -n $header ]] && hdr=(-H "$header")
	local n=${#urls[@]}
	local t=$(((threads + n - 1) / n)) c=$(((connections + n - 1) / n))
	((c < t)) && c=$t
	for i in "${!urls[@]}"; do
		f="$work/$col.$phase.$i.out"
		timeout $((duration + 30)) wrk -t "$t" -c "$c" -d "${duration}s" --timeout 2s "${hdr[@]}" \
			-s scripts/bench/announce.lua "${urls[$i]}" -- "$work/pool" "$peers" >"$f" 2>&1 &
		pids+=($!)
		started+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { cat "$work/$col.$phase.$i.out" >&2; die "$col: wrk ($phase) failed"; }
	done
	local k v
	for k in ok bad_status failure no_peers rate connect_errors read_errors write_errors timeouts; do R[$col.$phase.$k]=0; done
	R[$col.$phase.p50]=0 R[$col.$phase.p99]=0
	local peersum=0
	for i in "${!urls[@]}"; do
		f="$work/$col.$phase.$i.out"
		grep -q '^RESULT ' "$f" || { cat "$f" >&2; die "$col: wrk ($phase) printed no result"; }
		for k in ok bad_status failure no_peers rate connect_errors read_errors write_errors timeouts; do
			v=$(kv "$f" "$k")
			R[$col.$phase.$k]=$((R[$col.$phase.$k] + v))
		done
		for k in p50 p99; do
			R[$col.$phase.$k]=$(awk -v a="${R[$col.$phase.$k]}" -v b="$(kv "$f" "${k}_ms")" 'BEGIN{print (b>a)?b:a}')
		done
		peersum=$(awk -v a="$peersum" -v n="$(kv "$f" ok)" -v p="$(kv "$f" avg_peers)" 'BEGIN{print a+n*p}')
	done
	local ok=${R[$col.$phase.ok]}
	R[$col.$phase.bad]=$((R[$col.$phase.bad_status] + R[$col.$phase.failure] + R[$col.$phase.no_peers]))
	R[$col.$phase.sockerr]=$((R[$col.$phase.connect_errors] + R[$col.$phase.write_errors] + R[$col.$phase.timeouts]))
	R[$col.$phase.peers]=$(awk -v s="$peersum" -v n="$ok" 'BEGIN{printf "%.1f", n ? s/n : 0}')
	echo "   $phase: $ok good replies (${R[$col.$phase.rate]}/s), p99 ${R[$col.$phase.p99]} ms," \
		"bad replies ${R[$col.$phase.bad]} (status ${R[$col.$phase.bad_status]}, failure ${R[$col.$phase.failure]}, no peers ${R[$col.$phase.no_peers]})," \
		"socket errors: connect ${R[$col.$phase.connect_errors]} read ${R[$col.$phase.read_errors]} write ${R[$col.$phase.write_errors]} timeout ${R[$col.$phase.timeouts]}," \
		"${R[$col.$phase.peers]} peers/reply" >&2
	# A bench that measures errors is worthless.
	if ((ok == 0 || R[$col.$phase.bad] > ok || R[$col.$phase.sockerr] > ok)); then
		cat "$work/$col.$phase.0.out" >&2
		die "$col: most HTTP announces ($phase) errored; see above and $col's log"
	fi
}

memory() { # sums VmRSS and VmHWM (KiB) over the target's pids
	local col=$1 pid rss=0 hwm=0 v
	for pid in ${T_PIDS[$col]}; do
		v=$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status") || die "$col: pid $pid is gone"
		rss=$((rss + v))
		v=$(awk '/^VmHWM:/{print $2}' "/proc/$pid/status")
		hwm=$((hwm + v))
	done
	R[$col.rss]=$(awk -v k="$rss" 'BEGIN{printf "%.1f", k/1024}')
	R[$col.hwm]=$(awk -v k="$hwm" 'BEGIN{printf "%.1f", k/1024}')
	echo "   memory: VmRSS ${R[$col.rss]} MiB, VmHWM ${R[$col.hwm]} MiB" >&2
}

bench_target() {
	local col=$1 fill=$((pool_size * peers))
	columns+=("$col")
	echo "== $col: warm-up, $fill announces over UDP (every swarm gets $peers peers)" >&2
	run_udpload "$col" warmup -fill -duration 60s -numwant 0
	((R[$col.warmup.ok] == fill)) || echo "   warning: the warm-up answered ${R[$col.warmup.ok]} of $fill announces" >&2
	echo "== $col: HTTP, a new connection per request, ${duration}s" >&2
	run_wrk "$col" http_close "Connection: close"
	echo "== $col: HTTP keep-alive, ${duration}s" >&2
	run_wrk "$col" http_keepalive
	echo "== $col: UDP, ${duration}s" >&2
	run_udpload "$col" udp -duration "${duration}s" -numwant 50
	memory "$col"
}

# --- the run -----------------------------------------------------------------
echo "== pool: $pool_size infohashes, $peers peers per swarm; wrk -t$threads -c$connections; udpload $workers workers; ${duration}s per phase" >&2
if [[ $only != peertune ]]; then
	start_opentracker opentracker
	bench_target opentracker
	stop_target opentracker
fi
if [[ $only != opentracker ]]; then
	start_peertune peertune 1
	bench_target peertune
	stop_target peertune
fi
if ((redis)); then
	for n in 1 2; do
		col="redis-x$n"
		start_redis "$col"
		start_peertune "$col" "$n" "$REDIS_URL"
		bench_target "$col"
		stop_target "$col"
	done
fi

# --- the table ---------------------------------------------------------------
ratio() { # ratio COL.KEY: peertune/opentracker, when both ran
	local a=${R[peertune.$1]:-} b=${R[opentracker.$1]:-}
	[[ -n $a && -n $b ]] || { echo "-"; return; }
	awk -v a="$a" -v b="$b" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-" }'
}
target() { # target COL.KEY MIN
	local r
	r=$(ratio "$1")
	[[ $r == - ]] && { echo "≥ $2"; return; }
	awk -v r="$r" -v m="$2" 'BEGIN{ printf "≥ %s: %s", m, (r >= m) ? "met" : "MISSED" }'
}
row() { # row LABEL KEY [TARGET [noratio]]
	local line="| $1 |" col r
	for col in "${columns[@]}"; do line+=" ${R[$col.$2]:--} |"; done
	r=$(ratio "$2")
	[[ ${4:-} == noratio ]] && r=""
	line+=" $r | ${3:-} |"
	echo "$line"
}
for col in "${columns[@]}"; do
	R[$col.udp.errtimeouts]="${R[$col.udp.errors]} / ${R[$col.udp.timeouts]}"
	R[$col.http.bad]="${R[$col.http_close.bad]} / ${R[$col.http_keepalive.bad]}"
	R[$col.http.read]="${R[$col.http_close.read_errors]} / ${R[$col.http_keepalive.read_errors]}"
done

echo
echo "peertune tracker vs opentracker: $(date -u +%Y-%m-%d), $(nproc) cores, pool $pool_size infohashes × $peers peers," \
	"wrk -t$threads -c$connections, udpload $workers workers, ${duration}s per phase, loopback"
echo
header="| |" sep="|---|"
for col in "${columns[@]}"; do header+=" $col |" sep+="---:|"; done
echo "$header peertune/opentracker | target |"
echo "$sep---:|---|"
row "HTTP announces/s, new connection per request" http_close.rate "$(target http_close.rate 1.0)"
row "HTTP p50 ms, new connection per request" http_close.p50
row "HTTP p99 ms, new connection per request" http_close.p99
row "HTTP announces/s, keep-alive" http_keepalive.rate
row "HTTP p50 ms, keep-alive" http_keepalive.p50
row "HTTP p99 ms, keep-alive" http_keepalive.p99
row "HTTP bad replies, new conn / keep-alive" http.bad "" noratio
row "HTTP read errors (server closed first), new conn / keep-alive" http.read "" noratio
row "UDP announces/s" udp.rate "$(target udp.rate 0.5)"
row "UDP p50 ms" udp.p50
row "UDP p99 ms" udp.p99
row "UDP errors / timeouts" udp.errtimeouts "" noratio
row "peers per HTTP reply (numwant=50)" http_close.peers
row "peers per UDP reply (numwant=50)" udp.peers
row "VmRSS MiB after the load" rss
row "VmHWM MiB" hwm
echo
echo "Rates count good replies only (200, no failure reason, a compact peer list). peertune runs with --open;"
echo "opentracker checks each infohash against a whitelist of the same pool. opentracker closes every HTTP"
echo "connection after one reply without saying Connection: close, so wrk (keep-alive or not) finds the"
echo "connection closed on its next request: a read error per reply, then a new connection; both HTTP rows"
echo "are therefore a connection per request for opentracker. Latency is wrk's (write to full reply,"
echo "connect time excluded) and udpload's (send to reply). Memory after the same phases; the number of"
echo "stored peers is bounded by pool × peers ($((pool_size * peers))) for every tracker."
