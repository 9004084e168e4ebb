#!/usr/bin/env bash
# The internet in a box: the swarm bench's schedule in a network lab.
#
#   scripts/bench-internet.sh [--out DIR] [--players 20] [--track-seconds 180]
#                             [--bitrate 160] [--only public|nat]
#                             [--player-args "--no-utp ..."]
#
# A tracker and a seed server capped at 4x the track's bitrate on a public
# segment; --players listeners (20), each in a home of its own on a line
# capped at 2x the bitrate up and 10x down with a 40 ms round trip to the
# public segment (20 ms each way), starting 3 s apart on one track of
# --track-seconds at --bitrate kbit/s (a CBR mp3, as bench-swarm's), each
# lingering 30 s. Run twice: every home public, then 70 % of them behind NAT
# (a router of their own with masquerade and a home router's firewall; no
# UPnP). See internal/netlab for the lab.
#
# OUT/summary.json: {"public": S, "nat": S}, S = {"started", "finished",
# "playbacks_with_underrun", "seed_share", "ttfa_p50_ms", "ttfa_p95_ms",
# "peer_wire_bytes", "peer_counted_bytes", "connections": {"outgoing",
# "incoming", "holepunched", "upnp", "utp", "tcp"}, "underrun_s",
# "underrun_p50_s"}: the first fields as
# bench-swarm's, except peer_wire_bytes, here the piece data the players
# read over BitTorrent, wasted chunks included (uTP is not in ss's TCP
# counters); connections are player-to-player, summed over the players;
# underrun_s is the seconds playback waited, summed over the players, and
# underrun_p50_s the median player's.
# OUT/public and OUT/nat hold every process's output. The table, with the
# targets, goes to stdout and OUT/table.md.
#
# Needs root (network namespaces). Bounded: every player is stopped by its
# start + track + linger + the track's length again (at least 60 s); the
# default invocation takes 11 to 17 minutes plus the build. Everything it starts is stopped and every namespace
# removed on exit; a run killed outright is cleaned up by the next.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

out="" players=20 track_seconds=180 bitrate_kbps=160 only="" player_args=""
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
	case "$1" in
	--out) out=${2:?}; shift ;;
	--players) players=${2:?}; shift ;;
	--track-seconds) track_seconds=${2:?}; shift ;;
	--bitrate) bitrate_kbps=${2:?}; shift ;;
	--only) only=${2:?}; shift ;;
	--player-args) player_args=${2:?}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench-internet: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[[ $(id -u) -eq 0 ]] || { echo "bench-internet: needs root (network namespaces)" >&2; exit 1; }

ensure_go
work=$(mktemp -d -t peertune-bench-internet.XXXXXX)
trap 'rm -rf "$work"' EXIT
out=${out:-$work/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)

echo "== building"
go build -o "$work/peertune" ./cmd/peertune
go build -o "$work/benchinternet" ./internal/cmd/benchinternet
export XDG_STATE_HOME=$work/state XDG_CACHE_HOME=$work/xdg-cache

echo "== making a ${track_seconds}s track at ${bitrate_kbps} kbit/s"
scripts/make-fixtures.sh --library 1 --seconds "$track_seconds" --bitrate "$bitrate_kbps" "$work/src" >/dev/null
src=$(find "$work/src" -name '*.mp3' | head -n1)
[[ -n $src ]] || { echo "bench-internet: make-fixtures made no mp3" >&2; exit 1; }

echo "== running (public, then behind NAT)"
args=(--peertune "$work/peertune" --track "$src" --out "$out" --players "$players")
[[ -n $only ]] && args+=(--only "$only")
[[ -n $player_args ]] && args+=(--player-args "$player_args")
"$work/benchinternet" "${args[@]}" | tee "$out/table.md"
echo "== summary: $out/summary.json"
