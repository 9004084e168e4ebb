// Package policy is the source policy of a peertune stream, as a pure
// function: Decide looks at a Snapshot of one track (its pieces, the playhead
// and buffer, the peers connected and which pieces each holds, the fetches
// from the seed server in flight and how the ended ones went, what the seed
// server says it can spare, the clock) and returns the Actions to take now
// (fetch pieces from the seed server over HTTP, set piece priorities for the
// BitTorrent client, cancel a fetch, open or close the seed server's
// BitTorrent side, give up) with the Memory to hand to the next call.
//
// It imports neither the BitTorrent library nor the network, so that the
// same decisions run in a live player (client/stream carries them out) and
// in a simulator, and are tested with tables.
//
// The policy, in short (Spotify's peer-assisted client; BiToS; BEP 16):
//   - the head (the first seconds from the playhead) comes from the seed
//     server over HTTP unless peers deliver it first;
//   - the rest comes from peers, the pieces inside the lead (the next
//     seconds of audio) first; the BitTorrent client picks the peer;
//   - once the buffer is comfortable, peers are also asked, after the lead,
//     for the pieces of a longer window that several connected listeners
//     hold: with only the lead asked for, a connection with room and nothing
//     else to request takes over a request that a slower connection is
//     already sending (the BitTorrent client's request stealing), and that
//     chunk arrives twice;
//   - the seed server is asked, urgently, for pieces inside the lead that no
//     connected listener holds, and when the buffer runs low and peers do not
//     deliver in time (an emergency);
//   - beyond the lead, a piece that no connected listener holds is fetched
//     from the seed server's spare upload (a fill): the first copy of every
//     piece has to leave the seed once anyway, and early is better than when
//     the seed is gone. Players pick such pieces at random, so that they pull
//     different ones and then trade them;
//   - pieces that connected listeners hold never come from the seed server
//     more than the lead ahead of the playhead;
//   - over BitTorrent the seed server is not asked at all while its HTTP side
//     works (the BitTorrent client cannot keep requests for pieces that
//     listeners hold off it); only without a working seed URL is its
//     BitTorrent side opened as a source.
package policy
