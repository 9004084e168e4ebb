// Package stream is peertune's streaming core: one anacrolix/torrent client
// per process, a size-capped on-disk cache of tracks that persists piece
// completion, and per-track Streams that apply the source policy of a
// Spotify-style player — the head of a track from the seed server over one
// HTTP Range request, the rest from other listeners over BitTorrent nearest
// the playhead first, emergency fetches from the seed server when the buffer
// runs low, and the seed server (over HTTP or BitTorrent) never more than a
// bounded lead ahead of the playhead while listeners can supply the pieces.
//
// Every completed piece is attributed to the one source that completed it,
// so a Stream's byte counters add up to the track's size.
package stream
