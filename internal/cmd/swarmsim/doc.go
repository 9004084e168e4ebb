// Swarmsim simulates a peertune swarm (listeners, one seed server) and
// drives the players' real source policy, client/policy.Decide, the
// function client/stream's owner calls: no copy of it.
//
//	go run ./internal/cmd/swarmsim --listeners N --tracks M [--hours H] --seed K
//	    [--seed-cap 100x] [--stagger 3s] [--churn off] [--seed-dies-at 15s|1.5x]
//	    [--steal off] [--peer-window 15s] [--json]
//
// The last line on stdout is one JSON object: the scenario's parameters and
// the outcome (listeners, playbacks, started, finished, playbacks_with_underrun,
// stalled, seed_share, ttfa_p50_ms, ttfa_p95_ms, peer_wire_bytes,
// peer_counted_bytes, seed_bytes_until_swarm_complete, wall_s and more). The
// same --seed gives the same line except wall_s. The exit status is 0 whatever
// the outcome, 2 on bad flags.
//
// # Scenario
//
// Every track is --track-s (180 s) at --bitrate-kbps (160), cut into the
// seeder's pieces (client/seeder.PieceLength: 16 KiB for that track). A
// track's popularity is Zipf (--zipf 1.0) over --tracks. Without --stagger,
// sessions arrive as a Poisson process at the rate that keeps --listeners
// online on average (Little: rate = listeners / --session), last an
// exponential time (mean 30 min), and are a sequence of tracks drawn by
// popularity; --listeners of them are online from the start and begin their
// first track within the first track's length. With --warm on (the default)
// they hold, complete in their caches, the tracks they would have played in
// their session so far (an exponential age, one track per track length): the
// steady state, not a flash crowd of empty caches (--warm off). A listener
// re-shares everything it played while it is online; going offline (its
// session ends, mid-track or not) it takes all of it away. --churn off keeps
// everyone online to the end (no arrivals). With --stagger D, listener i
// starts at i*D and plays one track, then stays online sharing it (to the
// end, or for --linger as bench-swarm's players' 30 s); the run
// ends when every playback ended (at most the last start plus twice the
// track plus a minute): the shape of scripts/bench-swarm.sh, whose summary
// fields (started, finished, playbacks_with_underrun, seed_share, ttfa_p50_ms,
// ttfa_p95_ms, peer_wire_bytes, peer_counted_bytes) have the same names here.
//
// Listeners upload at --listener-up (2x the bitrate) and download at
// --listener-down (10x); the seed server uploads at --seed-cap (100x, or a
// rate). --seed-dies-at T kills it at T, or, as Mx, at the moment its cap
// could have sent M times the catalog's bytes.
//
// # Model
//
// A fixed step of --tick (100 ms) in integer nanoseconds, one math/rand/v2
// PCG seeded by --seed, no wall clock, no goroutines. Each step:
//
//   - sessions begin and end; the seed server dies;
//   - every playing stream that changed since its last decision (a piece
//     completed, a fetch progressed or ended, its read started waiting), or
//     has not decided for --decide-every (500 ms), builds a policy.Snapshot
//     as client/stream/owner.go does (Mode Playing, the pieces with their
//     priorities, the playhead, ReadWaiting, LastProgress, PlayingSince, the
//     connected listeners with their bitfields and the seed server as a Seed
//     peer while it lives, the fetches in flight with Next and Arrived, the
//     Results since the last decision, Seed.URLs 1 with the Spare it last
//     said, a Rand from the run's RNG, the Memory of the last Decision),
//     calls Decide and carries out the actions: SetPriority, StartFetch and
//     CancelFetch of HTTP fetches, SetSeedBT (the seed server's BitTorrent
//     side becomes a source), GiveUp (the playback stalls; the listener goes
//     on to its next track). A stream whose pieces are all complete and that
//     has nothing in flight no longer decides (the policy would only clear);
//     cached streams (Idle) never do, as in the player;
//   - bytes move. The seed server is a token bucket (its cap, the burst of
//     btclient.NewUploadLimiter): urgent HTTP fetches (head, emergency) and
//     its BitTorrent uploads share it max-min fairly first, fills get what
//     is left. A fetch gets its response after --rtt: a fill is refused
//     (policy.ErrNoSpare, RetryAfter 1 s) when an urgent flow wanted more
//     than the cap in the last step, when the spare (the cap less the rate
//     sent over the last 2 s for everything but fills, as client/seeder's
//     meter) is under max(cap/8, 16 KiB/s), or when another listener's fill
//     of the same piece is being sent; every response carries that spare. A fetch's pieces arrive
//     in order and complete as they arrive; a fetch not done in 10 s fails,
//     as client/stream's fetchTimeout; after the seed server's death every
//     fetch fails and it holds nothing. BitTorrent is modelled as far as the
//     policy sees it: a listener requests each missing 16 KiB chunk of the
//     pieces with a priority from the connected holder with the fewest
//     requests out (the seed server too while its side is open), in piece
//     order; each connection sends its requests in order at a fair share of
//     the sender's upload; a receiver's download is shared max-min fairly
//     between its peers and the seed server's flows; a piece completes when
//     all its chunks are in; requests for a piece that completed otherwise,
//     or lost its priority, are cancelled (their bytes count on the wire,
//     not as received). Everyone is unchoked (anacrolix uploads to every
//     interested peer; the cap is its only limit);
//   - playheads advance at the bitrate through complete pieces. Time to
//     first audio is when piece 0 completes (within the step); an underrun
//     is each time a started playback reaches a missing piece.
//
// Connections: a playing stream connects to random members of its track's
// swarm (the online listeners playing or holding it) that have a free slot,
// up to --max-conns (50, the player's --max-peers; the seed server's
// connection aside) on both sides, again every 15 s when short (the
// tracker, PEX); a connection carries requests and shows its bitfield
// --peer-setup (250 ms) after the dial; two that hold everything drop
// theirs.
//
// Outcome: a playback is finished when its playhead reached the end, left
// when its listener went offline first, stalled when the policy gave up or
// (stagger) it had not finished by the end or (Poisson) its read has waited
// at the end for the policy's GiveUp time; in_progress otherwise. seed_share
// is what the seed server sent (HTTP and BitTorrent, duplicates and
// cancelled bytes included) over the pieces listeners received from the
// network, as bench-swarm's; peer_wire_bytes is every byte listeners sent,
// peer_counted_bytes the pieces completed from them. seed_bytes_until_swarm_complete
// sums, over the tracks, what the seed server sent for a track until the
// online listeners held every piece of it at once (all of it for a track
// never held whole).
//
// # Limits
//
// The step quantises everything at 100 ms (a decision reacts a step late, as
// the owner's tick). No prefetch of the next track, no seeking, no hash
// failures, no disk. Listener upload limiters have no burst; TCP is a fair
// share per step with no slow start or loss; --rtt delays HTTP responses
// only (a peer connection's setup is --peer-setup). The tracker and PEX are
// random sampling.
// Chunks lost with a peer are requested again. Request stealing is
// anacrolix's rule (applyRequestState) in part: each step, a connection
// that delivered a chunk in the last two steps takes the newest request
// of a connection to another holder of its piece that has at least two
// more out (--steal off: a request stays where it went); only requests
// none of whose bytes have arrived move, where anacrolix also takes one
// already on the wire, whose chunk then arrives twice: the simulated wire
// overhead is the cancelled bytes only, under what the benches measure. TTFA depends on --peer-setup
// (with 0, peers race the head from the first step and share the download
// with it); bench-swarm's players have no download cap.
//
// Set SWARMSIM_TRACE=<listener id> to trace that listener's decisions on
// stderr, SWARMSIM_TRACE_SEED=1 for the seed server's flows each step, and
// SWARMSIM_TRACE_EVERY=30s for a periodic summary.
package main
