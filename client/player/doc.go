// Package player is peertune's listener: it resolves what the user asked
// for against the tracker's catalog (a track id, or a search whose best
// match — or, with All, every match — is queued), plays the queue through
// the audio engine from client/stream (head from the seed server, the rest
// from other listeners), prefetches the next track near the end of the
// current one, and reports per track where the bytes came from.
//
// Two faces sit on top of the same Player: a terminal UI (bubbletea) with
// the usual keys, and a headless mode that prints one plain progress line
// every few seconds. The Player's controls (Next, Prev, SeekBy, Pause,
// volume, mute, Add) are safe to call from any goroutine while Run plays.
package player
