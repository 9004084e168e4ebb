// Package cachestore is the storage of the player's track cache
// (client/stream): anacrolix's file storage on disk, wrapped so that a full
// disk does not stop playback. Without it, once the cache disk is full
// (ENOSPC, EDQUOT, or SQLITE_FULL from the completion store) every piece
// write fails and is asked for again, and anacrolix v1.61.0 stops a
// torrent's downloads on an error reading a piece's completion.
//
// Once the disk is found full, the whole cache stops taking new data: the
// pieces written from then on are kept in memory, within a cap, and their
// completion is reported from memory and never persisted, so a later player
// on the same cache trusts only the pieces that really are on disk. When the
// cap is reached, complete pieces of other tracks are dropped from memory
// (they are fetched again if read); a write that still does not fit fails
// with ErrMemoryFull, and anacrolix asks for the chunk again.
//
// A piece fetched whole from the seed server over HTTP is written with
// WholeWriter.WriteWhole, which seals it against peers' chunks until its
// hash is checked: a chunk that lands after the check read the piece would
// otherwise leave a "complete" piece holding a peer's bytes.
package cachestore
