// Package audio turns a track that may still be arriving (an io.ReadSeeker
// whose reads block until the bytes are there) into sound: it decodes mp3,
// flac, ogg/vorbis and wav through gopxl/beep's decoders, plays into an
// output (speaker, wav file or null) paced to real time, and keeps a
// playback clock that counts underruns.
//
// Probe reads a file's headers for the catalog (codec, duration, rate,
// channels, bitrate); the seeder uses it for durations.
package audio
