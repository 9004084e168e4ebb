// Package seeder brings a music folder into the network: it scans the
// folder for audio files, reads their tags and durations, hashes each into a
// single-file torrent with small pieces (keeping the result in a state file
// so that unchanged files are never hashed twice), publishes every track to
// the tracker's catalog, serves the files as an HTTP seed (BEP 19 url-list,
// Range requests, nothing outside the folder) and seeds them over
// BitTorrent, with one upload-rate limit shared by both.
package seeder
