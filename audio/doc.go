// Package audio turns a track that may still be arriving (an io.ReadSeeker
// whose reads block until the bytes are there) into sound: it decodes mp3,
// flac, ogg/vorbis and wav, plays into an output (speaker, wav file or
// null) paced to real time, and keeps a playback clock that counts
// underruns. It imports nothing else of peertune.
//
// # Reading a file's facts
//
// Probe(path) and ProbeReader(r, size, codec) read only headers (and, for
// ogg, the last page) and return Info: codec, gapless duration, sample
// rate, channels and bitrate. The seeder uses them for the catalog.
//
// # Playing a track
//
// The player hands Open a reader over the torrent plus what the catalog
// knows, then plays the Track into a Player:
//
//	out, _ := audio.NewOutput("wav:out.wav")  // or "speaker", "null"
//	p, _ := audio.NewPlayer(out, audio.PlayerOptions{})
//	t, _ := audio.Open(ctx, reader, audio.Meta{Name: title, Codec: "mp3", Size: size, Duration: dur})
//	t.SeekTime(start)                         // optional, before Play
//	rep, err := p.Play(ctx, t)                // returns at the end, on Stop, or when ctx ends
//	t.Close(); out.Close()
//
// From other goroutines, while Play runs: p.Position(), p.Underruns(),
// p.Status(), p.Seek(d), p.SetPaused(b), p.SetVolume(v), p.SetMuted(b),
// p.Stop() (ends the current track's Play with Report.Stopped).
//
// Opening reads only what it must: for mp3 the ID3v2 header (the tag
// itself is skipped with Seek), the first frames and the Xing/VBRI/LAME
// header, never the whole file (go-mp3 would, to measure it, so its Seek
// is hidden); for flac and wav the header blocks; for ogg the first pages
// and the last one (the Vorbis reader measures the stream: the player
// should fetch the last piece early).
//
// # The chain
//
// As in gopxl/beep, playback is a chain of small streamers:
//
//	Track (decoder; mp3 trimmed gapless) → beep.Resample (only when the
//	output's rate differs) → ring (BufferAhead of decoded audio, filled by
//	the decoding goroutine) → clock → pauser → volume → Output
//
// The decoding goroutine may block in a Read of a piece that has not
// arrived; the output side never does: when the ring is empty it plays
// silence and the clock records an Underrun (track position, wall time,
// silence played), and resumes once a whole output chunk is buffered. The
// clock's position counts played samples only (not silence, not pauses).
// With PlayerOptions.Fast (null and wav outputs) nothing is paced and a
// blocked reader stalls playback instead.
//
// # Seeking
//
// Track.Seek/SeekTime and Player.Seek move to a time: mp3 by the Xing or
// VBRI table of contents (VBR) or exact frame arithmetic (CBR), then on to
// the next frame header, decoding a few frames before the target to
// rebuild the bit reservoir (accurate to a frame, ~26 ms, for VBR; exact
// for CBR); flac by its seek table (a file without one is scanned from
// the start); ogg by walking the page headers from the start
// (jfreymuth/oggvorbis: it reads a few bytes of every page before the
// target, so over a torrent those pieces must be there); wav by
// arithmetic.
//
// # Errors
//
// A corrupt, truncated or unsupported file gives an error naming the
// track, the format and the byte offset (and sample or frame) where
// decoding failed. Decoder panics are recovered into such errors. When the
// context given to Open or Play ends (or Stop is called) a reader that is
// an io.Closer is closed, so a Read blocked on missing bytes returns.
//
// # Outputs
//
// Output is a small interface (Open, Write, RealTime, Close). NewSpeaker
// uses ebitengine/oto (cgo, ALSA) at the first track's rate, stereo, and
// fails at start with oto's device error and a hint to use --output null;
// NewWAVOutput writes 16-bit PCM at the first track's rate and channel
// count, appending later tracks; NewNullOutput discards.
package audio
