package audio

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopxl/beep/v2"
)

// PlayerOptions tune a Player; the zero value is usable.
type PlayerOptions struct {
	// Fast writes as fast as the output takes samples (null and wav
	// outputs): no pacing, and a blocked reader stalls playback instead of
	// inserting silence, so no underruns are counted.
	Fast bool
	// BufferAhead is how much decoded audio is kept ahead of the output
	// (default 500 ms).
	BufferAhead time.Duration
	// Chunk is the output's write size (default 20 ms): the resolution of
	// the clock and of underrun measurements.
	Chunk time.Duration
	// ResampleQuality is beep's resampling quality, 1-64 (default 4).
	ResampleQuality int
}

// Underrun is one stretch of silence played because the decoder had no
// samples in time (its reader was blocked).
type Underrun struct {
	At       time.Duration // position in the track where it happened
	Start    time.Time     // wall-clock time it began
	Duration time.Duration // silence played
}

// Report describes one track's playback, when Play returns.
type Report struct {
	TTFA          time.Duration // from Play to the first decoded samples, when output starts
	Played        time.Duration // audio played, excluding silence
	Position      time.Duration // final position in the track
	Underruns     []Underrun
	UnderrunTotal time.Duration
	Stopped       bool // ended by Stop rather than at the end of the track
}

// Status is a snapshot of the current track's playback.
type Status struct {
	Playing       bool
	Position      time.Duration
	Duration      time.Duration
	Paused        bool
	Muted         bool
	Volume        float64
	Underruns     int
	UnderrunTotal time.Duration
}

// Player plays tracks one at a time into an Output. Its controls
// (volume, mute, pause, seek, stop) and readouts are safe to use from any
// goroutine while Play runs.
type Player struct {
	out    Output
	opts   PlayerOptions
	gain   atomic.Uint64 // float64 bits
	muted  atomic.Bool
	paused atomic.Bool

	mu  sync.Mutex
	cur *session
}

// NewPlayer returns a player writing to out. Fast is refused for an
// output that plays in real time.
func NewPlayer(out Output, opts PlayerOptions) (*Player, error) {
	if opts.Fast && out.RealTime() {
		return nil, errors.New("fast playback is only for the null and wav outputs")
	}
	if opts.BufferAhead <= 0 {
		opts.BufferAhead = 500 * time.Millisecond
	}
	if opts.Chunk <= 0 {
		opts.Chunk = 20 * time.Millisecond
	}
	if opts.ResampleQuality <= 0 {
		opts.ResampleQuality = 4
	}
	p := &Player{out: out, opts: opts}
	p.gain.Store(math.Float64bits(1))
	return p, nil
}

// SetVolume sets the linear gain (1 is unchanged; 0 silent).
func (p *Player) SetVolume(v float64) { p.gain.Store(math.Float64bits(max(v, 0))) }

// Volume is the linear gain.
func (p *Player) Volume() float64 { return math.Float64frombits(p.gain.Load()) }

// SetMuted mutes or unmutes; the clock keeps running.
func (p *Player) SetMuted(m bool) { p.muted.Store(m) }

// SetPaused pauses or resumes; while paused the output gets silence and
// the clock stands still (a pause is not an underrun).
func (p *Player) SetPaused(v bool) { p.paused.Store(v) }

// Paused reports whether playback is paused.
func (p *Player) Paused() bool { return p.paused.Load() }

// Seek moves the current track to d. It returns at once; the decoder
// applies it (the buffered audio is dropped).
func (p *Player) Seek(d time.Duration) error {
	s := p.session()
	if s == nil {
		return errors.New("seek: nothing is playing")
	}
	s.requestSeek(d)
	return nil
}

// Stop ends the current track: its Play returns with Report.Stopped.
func (p *Player) Stop() {
	if s := p.session(); s != nil {
		s.stop()
	}
}

// Position is the current track's position (0 when nothing plays): what
// was handed to the output, so with the speaker it leads what is heard by
// oto's buffer (about 100 ms).
func (p *Player) Position() time.Duration {
	if s := p.session(); s != nil {
		return s.ring.position()
	}
	return 0
}

// Underruns lists the current track's underruns so far.
func (p *Player) Underruns() []Underrun {
	if s := p.session(); s != nil {
		return s.clock.underruns()
	}
	return nil
}

// Status is a snapshot of the current track's playback.
func (p *Player) Status() Status {
	st := Status{Paused: p.Paused(), Muted: p.muted.Load(), Volume: p.Volume()}
	if s := p.session(); s != nil {
		st.Playing = true
		st.Position = s.ring.position()
		st.Duration = s.track.Duration()
		u := s.clock.underruns()
		st.Underruns = len(u)
		for _, x := range u {
			st.UnderrunTotal += x.Duration
		}
	}
	return st
}

func (p *Player) session() *session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// Play plays t from its current position to its end (or until Stop or
// ctx ends) and reports how it went. Decoding runs in a goroutine of its
// own, BufferAhead ahead of the output, so that a reader blocked on
// missing bytes becomes counted silence instead of a stalled device.
func (p *Player) Play(ctx context.Context, t *Track) (Report, error) {
	start := time.Now()
	in := Format{SampleRate: int(t.Format().SampleRate), Channels: t.Format().NumChannels}
	of, err := p.out.Open(in)
	if err != nil {
		return Report{}, &OutputError{err}
	}
	rate := of.SampleRate
	chunk := max(beep.SampleRate(rate).N(p.opts.Chunk), 1)
	s := &session{
		track:   t,
		rate:    rate,
		quality: p.opts.ResampleQuality,
		ring:    newRing(max(beep.SampleRate(rate).N(p.opts.BufferAhead), chunk), rate),
		seekReq: make(chan time.Duration, 1),
		stopped: make(chan struct{}),
		ended:   make(chan struct{}),
	}
	s.ring.base = t.PositionTime()
	// Whole before it is published: Status and Underruns read the
	// session from other goroutines at any moment, also while it waits
	// for its first samples.
	s.clock = &clock{ring: s.ring, rate: rate, fast: p.opts.Fast, resume: chunk}
	p.mu.Lock()
	p.cur = s
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.cur = nil
		p.mu.Unlock()
	}()

	// The caller's ctx, kept: when it is cancelled, its error is set before
	// its children are cancelled one by one, and a child such as the
	// track's reader watcher (an AfterFunc) may close the reader, and the
	// decoder fail, before the ctx below is cancelled too.
	callerCtx := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// When ctx ends, wake everything, and close the reader if it can be
	// closed, so that a Read blocked on missing bytes returns.
	stopWatch := context.AfterFunc(ctx, func() {
		s.ring.abort()
		t.interrupt()
	})
	defer stopWatch()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.decode(ctx)
	}()
	defer func() {
		s.ring.abort()
		close(s.ended)
		wg.Wait()
	}()

	// Wait for the first samples: the time to first audio.
	s.ring.waitFirst()
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	rep := Report{TTFA: time.Since(start)}

	// The output chain: buffer (with its clock) → pause → volume.
	var chain beep.Streamer = s.clock
	chain = &pauser{s: chain, paused: &p.paused}
	chain = &volume{s: chain, gain: &p.gain, muted: &p.muted}

	buf := make([][2]float64, chunk)
	paceStart, written := time.Now(), int64(0)
	pace := !p.opts.Fast && !p.out.RealTime()
loop:
	for {
		select {
		case <-s.stopped:
			rep.Stopped = true
			break loop
		default:
		}
		if err := ctx.Err(); err != nil {
			return p.finish(rep, s), err
		}
		n, ok := chain.Stream(buf)
		if n > 0 {
			if err := p.out.Write(buf[:n]); err != nil {
				return p.finish(rep, s), &OutputError{err}
			}
			written += int64(n)
		}
		if !ok {
			break
		}
		if pace {
			due := paceStart.Add(time.Duration(float64(written) / float64(rate) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				case <-s.stopped:
				}
			}
		}
	}
	rep = p.finish(rep, s)
	if _, err := s.ring.result(); err != nil && !rep.Stopped {
		if cerr := firstErr(callerCtx.Err(), ctx.Err()); cerr != nil {
			// The read failed because ctx ended (the stream's reader
			// closes then): the cause is the cancellation.
			return rep, cerr
		}
		return rep, err
	}
	return rep, nil
}

func (p *Player) finish(rep Report, s *session) Report {
	rep.Position = s.ring.position()
	rep.Played = time.Duration(float64(s.clock.played.Load()) / float64(s.rate) * float64(time.Second))
	rep.Underruns = s.clock.underruns()
	for _, u := range rep.Underruns {
		rep.UnderrunTotal += u.Duration
	}
	return rep
}

// OutputError is a failure of the output (the device, the file), as
// opposed to one of the track.
type OutputError struct{ Err error }

func (e *OutputError) Error() string { return e.Err.Error() }
func (e *OutputError) Unwrap() error { return e.Err }

// session is one track being played.
type session struct {
	track    *Track
	rate     int // output rate
	quality  int
	ring     *ring
	clock    *clock
	seekReq  chan time.Duration
	stopped  chan struct{} // closed by Stop
	ended    chan struct{} // closed when Play returns
	stopOnce sync.Once
}

func (s *session) stop() {
	s.stopOnce.Do(func() {
		close(s.stopped)
		s.ring.abort()
		s.track.interrupt()
	})
}

func (s *session) requestSeek(d time.Duration) {
	for { // keep only the latest request
		select {
		case s.seekReq <- d:
			s.ring.reset(d) // drop stale audio now; the decoder refills
			return
		default:
			select {
			case <-s.seekReq:
			default:
			}
		}
	}
}

// decode runs the decoding chain (track → resample) into the ring until
// the track ends, the session is over, or ctx ends; after the end it waits
// for a seek back.
func (s *session) decode(ctx context.Context) {
	gen, _ := s.ring.result()
	src := s.chain()
	buf := make([][2]float64, 1024)
	seek := func(d time.Duration) {
		gen, _ = s.ring.result()
		if err := s.track.SeekTime(d); err != nil {
			s.ring.finish(gen, err)
			return
		}
		src = s.chain()
	}
	for {
		select {
		case d := <-s.seekReq:
			seek(d)
		case <-s.ended:
			return
		default:
		}
		n, ok := src.Stream(buf)
		if n > 0 && !s.ring.push(gen, buf[:n]) {
			continue // reset by a seek, or the session is over
		}
		if ok {
			continue
		}
		s.ring.finish(gen, src.Err())
		select { // the end: wait for a seek back, or the end of the session
		case d := <-s.seekReq:
			seek(d)
		case <-ctx.Done():
			return
		case <-s.ended:
			return
		}
	}
}

func (s *session) chain() beep.Streamer {
	var src beep.Streamer = s.track
	if r := int(s.track.Format().SampleRate); r != s.rate {
		src = beep.Resample(s.quality, beep.SampleRate(r), beep.SampleRate(s.rate), src)
	}
	return src
}

// clock is the head of the output chain: it streams from the ring,
// counts what was played (excluding silence), and when the ring runs dry
// before the end it plays silence and records an underrun. It resumes
// once a whole chunk is buffered again.
type clock struct {
	ring   *ring
	rate   int
	fast   bool // wait for samples instead of playing silence
	resume int

	played atomic.Int64
	mu     sync.Mutex
	runs   []Underrun
	inRun  bool
}

func (c *clock) Stream(samples [][2]float64) (int, bool) {
	minimum := 0
	c.mu.Lock()
	if c.inRun {
		minimum = min(c.resume, len(samples))
	}
	c.mu.Unlock()
	n, done := c.ring.take(samples, c.fast, minimum)
	c.played.Add(int64(n))
	if done {
		return n, n > 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n == len(samples) {
		c.inRun = false
		return n, true
	}
	// Underrun: silence for the rest of the chunk.
	clear(samples[n:])
	silence := time.Duration(float64(len(samples)-n) / float64(c.rate) * float64(time.Second))
	if !c.inRun || n > 0 {
		c.runs = append(c.runs, Underrun{At: c.ring.position(), Start: time.Now(), Duration: 0})
		c.inRun = true
	}
	c.runs[len(c.runs)-1].Duration += silence
	return len(samples), true
}

func (c *clock) Err() error { return nil }

func (c *clock) underruns() []Underrun {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Underrun(nil), c.runs...)
}

// pauser plays silence without pulling from its source while paused.
type pauser struct {
	s      beep.Streamer
	paused *atomic.Bool
}

func (p *pauser) Stream(samples [][2]float64) (int, bool) {
	if p.paused.Load() {
		clear(samples)
		return len(samples), true
	}
	return p.s.Stream(samples)
}

func (p *pauser) Err() error { return p.s.Err() }

// volume applies a linear gain, or silence when muted.
type volume struct {
	s     beep.Streamer
	gain  *atomic.Uint64
	muted *atomic.Bool
}

func (v *volume) Stream(samples [][2]float64) (int, bool) {
	n, ok := v.s.Stream(samples)
	g := math.Float64frombits(v.gain.Load())
	if v.muted.Load() {
		g = 0
	}
	if g != 1 {
		for i := range samples[:n] {
			samples[i][0] *= g
			samples[i][1] *= g
		}
	}
	return n, ok
}

func (v *volume) Err() error { return v.s.Err() }

// firstErr is the first of errs that is not nil.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
