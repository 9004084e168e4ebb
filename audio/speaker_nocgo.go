//go:build !cgo && linux

package audio

import "errors"

// Speaker is unavailable in a build without cgo (oto needs ALSA via cgo).
type Speaker struct{}

// NewSpeaker returns a speaker that fails to open.
func NewSpeaker() *Speaker { return &Speaker{} }

var errNoCgo = errors.New("speaker: this peertune was built without cgo, so it cannot use ALSA; use --output null or --output wav:FILE")

// Open fails: no audio device support in this build.
func (s *Speaker) Open(Format) (Format, error) { return Format{}, errNoCgo }

// Write fails.
func (s *Speaker) Write([][2]float64) error { return errNoCgo }

// RealTime is true, as for the real speaker.
func (s *Speaker) RealTime() bool { return true }

// Close does nothing.
func (s *Speaker) Close() error { return nil }
