// Package stream is peertune's streaming core: one anacrolix/torrent client
// per process, a size-capped on-disk cache of tracks that persists piece
// completion, and per-track Streams that carry out the source policy of
// client/policy — the head from the seed server over HTTP, the rest from
// other listeners over BitTorrent, the seed server for what no listener
// holds (inside the lead as needed, beyond it from its spare upload) and in
// emergencies.
//
// Each Stream has one goroutine, its owner, that holds all of its state. It
// takes anacrolix's piece-state subscription (the one truth of completion),
// anacrolix's callbacks, the HTTP fetches' progress and the readers'
// position as events, builds a policy.Snapshot, calls policy.Decide and
// carries out the actions. Every completed piece is attributed to the one
// source that completed it, so a Stream's byte counters add up to the
// track's size.
package stream
