package player

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/peertune/peertune/audio"
	"github.com/peertune/peertune/client/api"
	"github.com/peertune/peertune/client/stream"
	"github.com/peertune/peertune/proto"
)

// DefaultPrefetch is how long before the end of a track the next one in the
// queue starts downloading.
const DefaultPrefetch = 30 * time.Second

// Config wires a Player to its parts.
type Config struct {
	// API fetches .torrent files; nil plays cached tracks only.
	API *api.Client
	// Stream is the process's one BitTorrent client and cache. Required.
	Stream *stream.Client
	// Audio plays decoded tracks. Required.
	Audio *audio.Player
	// Start is the position each track starts at (0: the beginning).
	Start time.Duration
	// Began is when the command started: the first track's time to first
	// audio counts from it (later tracks count from when they were begun).
	// Zero means when Run starts.
	Began time.Time
	// Prefetch is how long before a track's end the next one is
	// prefetched; 0 means DefaultPrefetch.
	Prefetch time.Duration
	// Keep makes Run wait for more tracks (Add) when the queue ends instead
	// of returning: the terminal player keeps sharing until the user quits.
	Keep bool
	// OnReport is called once per track when its playback ends.
	OnReport func(Report)
	// MaxVolume caps the volume (linear gain); 0 means 1, the source's own
	// level: above it samples clip.
	MaxVolume float64
	// Logger gets warnings; nil discards them.
	Logger *slog.Logger
}

// Report is how one track's playback went.
type Report struct {
	Track         proto.Track
	TTFA          time.Duration // from the start (Config.Began, or the track's begin) to the first sample handed to the output
	Underruns     int
	UnderrunTotal time.Duration
	Played        time.Duration
	Stats         stream.Stats // byte accounting when playback ended
	Skipped       bool         // ended by Next/Prev rather than at its end
}

// State is what the player is doing.
type State string

// The player's states as the UI and the progress line show them.
const (
	StateIdle      State = "idle"      // nothing to play (queue ended)
	StateBuffering State = "buffering" // waiting for bytes
	StatePlaying   State = "playing"
	StatePaused    State = "paused"
	StateStopped   State = "stopped" // Stop: waits at a track for Play
)

// Snapshot is what a UI shows.
type Snapshot struct {
	State    State
	Track    proto.Track // the current track; zero when idle
	Index    int         // index of the current track in Queue
	Queue    []proto.Track
	Position time.Duration
	Duration time.Duration
	Volume   float64
	Muted    bool
	Stats    stream.Stats // of the current track
	HasStats bool
	Underrun int
	Message  string // the last notice (added tracks, errors of the search)
	Shuffle  bool
	Repeat   Repeat
}

// Player plays a queue of tracks.
type Player struct {
	cfg Config
	log *slog.Logger

	mu         sync.Mutex
	queue      []proto.Track
	index      int
	step       int  // where to go when the current track ends: +1 next, -1 previous, 0 stay
	stopped    bool // Stop was called: Run waits at index for Play
	running    bool // Run is playing the queue
	repeat     Repeat
	shuffle    bool
	unshuffled []proto.Track // with shuffle on: the tracks after the current one in their order before it
	resumeAt   time.Duration // the next track starts here (Resume), once
	playedTo   time.Duration // where the current track has played to (the last one's, between tracks)
	cur        *stream.Stream
	curDur     time.Duration
	lastPos    time.Duration
	lastMove   time.Time
	started    bool // first sample of the current track reached the output
	message    string
	prefetched map[string]bool
	added      chan struct{}
	first      bool
}

// New returns a Player with an empty queue.
func New(cfg Config) (*Player, error) {
	if cfg.Stream == nil || cfg.Audio == nil {
		return nil, errors.New("player: a stream client and an audio player are required")
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = DefaultPrefetch
	}
	if cfg.MaxVolume <= 0 {
		cfg.MaxVolume = 1
	}
	p := &Player{cfg: cfg, log: cfg.Logger, added: make(chan struct{}, 1), prefetched: map[string]bool{}, first: true}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	return p, nil
}

// Repeat is what the player does at the end of a track: go on (off),
// play it again (one), or go on and start the queue over after its last
// track (all).
type Repeat string

// The repeat modes, as ctl and the saved state name them.
const (
	RepeatOff Repeat = "off"
	RepeatOne Repeat = "one"
	RepeatAll Repeat = "all"
)

// ParseRepeat reads a repeat mode.
func ParseRepeat(s string) (Repeat, error) {
	switch r := Repeat(s); r {
	case RepeatOff, RepeatOne, RepeatAll:
		return r, nil
	}
	return "", fmt.Errorf("repeat %q: want off, one or all", s)
}

// Add appends tracks to the queue; with shuffle on, each goes to a random
// place after the current track.
func (p *Player) Add(tracks ...proto.Track) {
	p.mu.Lock()
	for _, t := range tracks {
		if !p.shuffle {
			p.queue = append(p.queue, t)
			continue
		}
		p.unshuffled = append(p.unshuffled, t)
		from := min(p.index+1, len(p.queue))
		at := from + rand.IntN(len(p.queue)-from+1)
		p.queue = slices.Insert(p.queue, at, t)
	}
	p.mu.Unlock()
	p.wake()
}

// SetRepeat sets the repeat mode.
func (p *Player) SetRepeat(r Repeat) {
	p.mu.Lock()
	p.repeat = r
	p.mu.Unlock()
}

// CycleRepeat goes off → all → one → off (the terminal UI's r).
func (p *Player) CycleRepeat() {
	p.mu.Lock()
	switch p.repeat {
	case RepeatAll:
		p.repeat = RepeatOne
	case RepeatOne:
		p.repeat = RepeatOff
	default:
		p.repeat = RepeatAll
	}
	p.mu.Unlock()
}

// SetShuffle shuffles the tracks after the current one, or puts them back
// in the order they had (tracks added meanwhile at the end).
func (p *Player) SetShuffle(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on == p.shuffle {
		return
	}
	p.shuffle = on
	from := min(p.index+1, len(p.queue))
	rest := p.queue[from:]
	if on {
		p.unshuffled = slices.Clone(rest)
		rand.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		return
	}
	// Each queued track back in its old place: count them by id (a track
	// may be queued twice).
	left := map[string]int{}
	for _, t := range rest {
		left[t.ID]++
	}
	var back []proto.Track
	for _, t := range p.unshuffled {
		if left[t.ID] > 0 {
			left[t.ID]--
			back = append(back, t)
		}
	}
	p.queue = append(p.queue[:from], back...)
	p.unshuffled = nil
}

// ToggleShuffle turns shuffle on or off (the terminal UI's s).
func (p *Player) ToggleShuffle() {
	p.mu.Lock()
	on := !p.shuffle
	p.mu.Unlock()
	p.SetShuffle(on)
}

// advance moves the index past a track that ended: at its natural end,
// repeat one plays it again; repeat all starts the queue over after the
// last track. Called with p.mu held.
func (p *Player) advance(natural bool) {
	if !(natural && p.repeat == RepeatOne) {
		p.index = max(p.index+p.step, 0)
	}
	if p.repeat == RepeatAll && p.index >= len(p.queue) && len(p.queue) > 0 {
		p.index = 0
	}
}

// wake tells Run that the queue or the stopped state changed.
func (p *Player) wake() {
	select {
	case p.added <- struct{}{}:
	default:
	}
}

// ClearQueue removes the tracks after the current one.
func (p *Player) ClearQueue() {
	p.mu.Lock()
	if p.index+1 < len(p.queue) {
		p.queue = p.queue[:p.index+1]
	}
	p.unshuffled = nil
	p.mu.Unlock()
}

// RemoveAt takes track i out of the queue; the current track stays (skip
// it first).
func (p *Player) RemoveAt(i int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case i < 0 || i >= len(p.queue):
		return fmt.Errorf("no track %d in the queue", i+1)
	case i == p.index && p.cur != nil:
		return errors.New("that one is playing: skip it first")
	}
	p.queue = slices.Delete(p.queue, i, i+1)
	if i < p.index {
		p.index--
	}
	return nil
}

// Move moves track i of the queue to place j; the current track may move
// too (the index follows it).
func (p *Player) Move(i, j int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i < 0 || i >= len(p.queue) || j < 0 || j >= len(p.queue) {
		return fmt.Errorf("no place %d or %d in the queue", i+1, j+1)
	}
	t := p.queue[i]
	p.queue = slices.Insert(slices.Delete(p.queue, i, i+1), j, t)
	switch {
	case p.index == i:
		p.index = j
	case i < p.index && j >= p.index:
		p.index--
	case i > p.index && j <= p.index:
		p.index++
	}
	return nil
}

// JumpTo plays track i of the queue now (stopped, it waits there).
func (p *Player) JumpTo(i int) {
	p.mu.Lock()
	if i < 0 || i >= len(p.queue) {
		p.mu.Unlock()
		return
	}
	playing := p.cur != nil
	p.index, p.step = i, 0
	p.mu.Unlock()
	if playing {
		p.cfg.Audio.Stop()
	}
	p.wake()
}

// Stop ends the current track and waits at it, stopped, for Play (MPRIS's
// Stop; cmus's stop).
func (p *Player) Stop() {
	p.mu.Lock()
	playing := p.cur != nil
	p.stopped, p.step = true, 0
	p.mu.Unlock()
	if playing {
		p.cfg.Audio.Stop()
	}
}

// Play starts the track Stop waited at, or resumes a paused one.
func (p *Player) Play() {
	p.mu.Lock()
	was := p.stopped
	p.stopped = false
	p.mu.Unlock()
	if was {
		p.wake()
		return
	}
	p.cfg.Audio.SetPaused(false)
}

// TogglePlay is play-pause: Play when stopped, else pause or resume.
func (p *Player) TogglePlay() {
	p.mu.Lock()
	stopped := p.stopped
	p.mu.Unlock()
	if stopped {
		p.Play()
		return
	}
	p.TogglePause()
}

// Pause pauses playback.
func (p *Player) Pause() { p.cfg.Audio.SetPaused(true) }

// Notify records a message for the UI.
func (p *Player) Notify(msg string) {
	p.mu.Lock()
	p.message = msg
	p.mu.Unlock()
}

// Next ends the current track and moves to the next one.
func (p *Player) Next() { p.skip(1) }

// Prev ends the current track and moves to the previous one (the first
// track restarts).
func (p *Player) Prev() { p.skip(-1) }

func (p *Player) skip(step int) {
	p.mu.Lock()
	if p.stopped {
		// Stopped stays stopped, at the next or previous track.
		p.index = min(max(p.index+step, 0), max(len(p.queue)-1, 0))
		p.mu.Unlock()
		return
	}
	playing := p.cur != nil
	p.step = step
	if !playing && step > 0 {
		p.step = 1
	}
	p.mu.Unlock()
	if playing {
		p.cfg.Audio.Stop()
	}
}

// SeekBy moves the playhead by d (negative: back), within the track.
func (p *Player) SeekBy(d time.Duration) {
	p.seek(func(pos time.Duration) time.Duration { return pos + d })
}

// SeekTo moves the playhead to d, within the track.
func (p *Player) SeekTo(d time.Duration) { p.seek(func(time.Duration) time.Duration { return d }) }

func (p *Player) seek(to func(pos time.Duration) time.Duration) {
	p.mu.Lock()
	playing, dur := p.cur != nil, p.curDur
	p.mu.Unlock()
	if !playing {
		return
	}
	pos := to(p.cfg.Audio.Position())
	pos = max(pos, 0)
	if dur > 0 && pos > dur-time.Second {
		pos = max(dur-time.Second, 0)
	}
	if err := p.cfg.Audio.Seek(pos); err != nil {
		p.log.Debug("seek", "err", err)
		return
	}
	p.mu.Lock()
	p.lastPos, p.lastMove = pos, time.Now()
	p.playedTo = pos // at once: a quit right after a seek resumes there
	p.mu.Unlock()
}

// TogglePause pauses or resumes playback.
func (p *Player) TogglePause() { p.cfg.Audio.SetPaused(!p.cfg.Audio.Paused()) }

// MaxVolume is the highest volume in percent (Config.MaxVolume).
func (p *Player) MaxVolume() int { return int(math.Round(p.cfg.MaxVolume * 100)) }

// SetVolume sets the volume (linear gain, 0 to Config.MaxVolume).
func (p *Player) SetVolume(v float64) {
	v = min(max(v, 0), p.cfg.MaxVolume)
	// Round away the float drift of repeated steps.
	p.cfg.Audio.SetVolume(float64(int(v*100+0.5)) / 100)
}

// ChangeVolume changes the volume by delta (linear gain, 0 to
// Config.MaxVolume).
func (p *Player) ChangeVolume(delta float64) { p.SetVolume(p.cfg.Audio.Volume() + delta) }

// ToggleMute mutes or unmutes.
func (p *Player) ToggleMute() {
	st := p.cfg.Audio.Status()
	p.cfg.Audio.SetMuted(!st.Muted)
}

// Snapshot returns the player's state for a UI.
func (p *Player) Snapshot() Snapshot {
	st := p.cfg.Audio.Status()
	p.mu.Lock()
	defer p.mu.Unlock()
	snap := Snapshot{
		Queue:   append([]proto.Track(nil), p.queue...),
		Index:   p.index,
		Volume:  st.Volume,
		Muted:   st.Muted,
		Message: p.message,
		Shuffle: p.shuffle,
		Repeat:  p.repeat,
	}
	if snap.Repeat == "" {
		snap.Repeat = RepeatOff
	}
	if p.cur == nil {
		snap.State = StateIdle
		switch {
		case p.index >= len(p.queue):
		case p.stopped:
			snap.State, snap.Track = StateStopped, p.queue[p.index]
		case p.running:
			// Between two tracks: the next one is being opened.
			snap.State, snap.Track = StateBuffering, p.queue[p.index]
		}
		return snap
	}
	snap.Track = p.cur.Track()
	snap.Duration = p.curDur
	snap.Stats = p.cur.Stats()
	snap.HasStats = true
	snap.Underrun = st.Underruns
	snap.Position = st.Position
	now := time.Now()
	if st.Position != p.lastPos {
		p.lastPos, p.lastMove = st.Position, now
	}
	switch {
	case st.Paused:
		snap.State = StatePaused
	case !p.started || now.Sub(p.lastMove) > 300*time.Millisecond:
		// No sample yet, or the position stands still: the decoder waits
		// for bytes (the output plays silence).
		snap.State = StateBuffering
	default:
		snap.State = StatePlaying
	}
	return snap
}

// Run plays the queue from its current index until it ends (or, with
// Config.Keep, until ctx ends). A track that cannot be played (no source
// had a needed piece: a *stream.SourceError; a corrupt file) is skipped
// with a warning, as cmus and mpv do, and Run returns them all at the end
// as a *TracksFailedError; an output failure stops it at once, and so does
// ctx (its error, unless tracks failed before).
func (p *Player) Run(ctx context.Context) error {
	if p.cfg.Began.IsZero() {
		p.cfg.Began = time.Now()
	}
	p.mu.Lock()
	p.running = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.running = false
		p.mu.Unlock()
	}()
	var failed []error
	inARow := 0 // tracks that failed one after the other
	ended := func(err error) error {
		if len(failed) > 0 {
			return &TracksFailedError{Failed: failed}
		}
		return err
	}
	for {
		p.mu.Lock()
		idx, n := p.index, len(p.queue)
		var tr proto.Track
		if idx < n {
			tr = p.queue[idx]
		}
		p.step = 1
		stopped := p.stopped
		p.mu.Unlock()
		if stopped {
			select {
			case <-ctx.Done():
				return ended(ctx.Err())
			case <-p.added:
				continue
			}
		}
		if idx >= n {
			if !p.cfg.Keep {
				return ended(nil)
			}
			select {
			case <-ctx.Done():
				return ended(ctx.Err())
			case <-p.added:
				continue
			}
		}
		rep, err := p.playOne(ctx, tr)
		var oe *audio.OutputError
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ended(ctx.Err())
		case errors.As(err, &oe):
			return err // the sound goes nowhere: nothing more can play
		default:
			failed = append(failed, err)
			inARow++
			p.log.Warn("skipping a track that cannot be played", "track", title(tr), "err", err)
			p.Notify(fmt.Sprintf("skipped %s: %v", title(tr), err))
			p.mu.Lock()
			p.advance(false)
			// Repeat all over a queue of which nothing plays would
			// go round for ever.
			hopeless := inARow >= len(p.queue) && !p.cfg.Keep
			p.mu.Unlock()
			if hopeless {
				return ended(nil)
			}
			continue
		}
		inARow = 0
		if p.cfg.OnReport != nil {
			p.cfg.OnReport(rep)
		}
		p.mu.Lock()
		p.advance(!rep.Skipped)
		p.mu.Unlock()
	}
}

// StateFile is the name of the file in the cache folder that keeps a
// player's Saved state.
const StateFile = "player-state.json"

// Saved is what a player keeps across runs: `play --resume` goes on where
// the last one stopped.
type Saved struct {
	Queue     []proto.Track `json:"queue"`
	Index     int           `json:"index"`      // the track to play next (the one that was playing)
	PositionS float64       `json:"position_s"` // where in it
	Volume    float64       `json:"volume"`     // linear gain
	Muted     bool          `json:"muted"`
	Shuffle   bool          `json:"shuffle"`
	Repeat    Repeat        `json:"repeat"`
}

// Saved is the player's state to keep: call it once Run has returned (or
// while it runs).
func (p *Player) Saved() Saved {
	st := p.cfg.Audio.Status()
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Saved{Queue: slices.Clone(p.queue), Index: p.index, Volume: st.Volume, Muted: st.Muted, Shuffle: p.shuffle, Repeat: p.repeat}
	if p.index < len(p.queue) && !p.stopped {
		s.PositionS = p.playedTo.Seconds()
	}
	if s.Repeat == "" {
		s.Repeat = RepeatOff
	}
	return s
}

// Restore puts a saved state back before Run: its queue first (tracks
// added before stay after it), its track at its position, its volume,
// shuffle and repeat.
func (p *Player) Restore(s Saved) {
	p.mu.Lock()
	p.queue = append(slices.Clone(s.Queue), p.queue...)
	p.index = min(max(s.Index, 0), len(s.Queue))
	p.resumeAt = max(time.Duration(s.PositionS*float64(time.Second)), 0)
	p.shuffle = s.Shuffle
	p.repeat = s.Repeat
	if _, err := ParseRepeat(string(s.Repeat)); err != nil {
		p.repeat = RepeatOff
	}
	p.mu.Unlock()
	p.SetVolume(s.Volume)
	p.cfg.Audio.SetMuted(s.Muted)
	p.wake()
}

// SaveState writes s to path, whole or not at all.
func SaveState(path string, s Saved) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the player's state: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("saving the player's state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("saving the player's state: %w", err)
	}
	return nil
}

// ErrNothingToResume: no player saved its state in this cache.
var ErrNothingToResume = errors.New("nothing to resume: no player has saved its state in this cache")

// LoadState reads a state SaveState wrote.
func LoadState(path string) (Saved, error) {
	var s Saved
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, ErrNothingToResume
	}
	if err != nil {
		return s, fmt.Errorf("reading the player's state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("the player's state %s: %w", path, err)
	}
	for _, t := range s.Queue {
		if _, err := proto.ParseTrackID(t.ID); err != nil {
			return Saved{}, fmt.Errorf("the player's state %s: %q is no track id", path, t.ID)
		}
	}
	return s, nil
}

// TracksFailedError is what Run returns when tracks were skipped because
// they could not be played: each one's error, in order.
type TracksFailedError struct{ Failed []error }

func (e *TracksFailedError) Error() string {
	if len(e.Failed) == 1 {
		return e.Failed[0].Error()
	}
	return fmt.Sprintf("%d tracks could not be played; the first: %v", len(e.Failed), e.Failed[0])
}

// Unwrap gives errors.Is and errors.As every track's error.
func (e *TracksFailedError) Unwrap() []error { return e.Failed }

// torrentFor returns the .torrent of a track, or nil when the cache has it.
func (p *Player) torrentFor(ctx context.Context, t proto.Track) ([]byte, error) {
	if _, ok := p.cfg.Stream.Cached(t.ID); ok {
		if _, ok := p.cfg.Stream.Stream(t.ID); ok {
			return nil, nil // held by the client: its torrent is cached
		}
	}
	if p.cfg.API == nil {
		return nil, nil
	}
	b, err := p.cfg.API.Torrent(ctx, t.ID)
	if err != nil {
		if _, ok := p.cfg.Stream.Cached(t.ID); ok {
			p.log.Warn("tracker unreachable; playing the cached torrent", "track", t.ID, "err", err)
			return nil, nil
		}
		return nil, fmt.Errorf("fetching the torrent of %q: %w", title(t), err)
	}
	return b, nil
}

// playOne plays one track to its end or until it is skipped.
func (p *Player) playOne(ctx context.Context, t proto.Track) (Report, error) {
	began := time.Now()
	p.mu.Lock()
	if p.first {
		began = p.cfg.Began
		p.first = false
	}
	p.mu.Unlock()
	rep := Report{Track: t}
	tb, err := p.torrentFor(ctx, t)
	if err != nil {
		return rep, err
	}
	s, err := p.cfg.Stream.Open(t, tb)
	if err != nil {
		return rep, fmt.Errorf("opening %q: %w", title(t), err)
	}
	defer s.Close()
	rep.Track = s.Track()
	r := s.NewReader(ctx)
	defer r.Close()

	p.mu.Lock()
	if p.stopped { // Stop came while the track was being opened
		p.mu.Unlock()
		rep.Skipped = true
		return rep, nil
	}
	p.cur, p.curDur, p.started, p.lastPos, p.lastMove = s, seconds(t.DurationS), false, 0, time.Now()
	p.playedTo = 0
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.cur = nil
		p.mu.Unlock()
	}()

	meta := audio.Meta{Name: title(t), Codec: t.Codec, Size: rep.Track.Size, Duration: seconds(t.DurationS)}
	at, err := audio.Open(ctx, r, meta)
	if err != nil {
		return rep, p.trackError(ctx, s, fmt.Errorf("opening %q for playback: %w", title(t), err))
	}
	defer at.Close()
	p.mu.Lock()
	p.curDur = at.Duration()
	p.mu.Unlock()
	start := p.cfg.Start
	p.mu.Lock()
	if p.resumeAt > 0 {
		start, p.resumeAt = p.resumeAt, 0
	}
	p.mu.Unlock()
	if start > 0 {
		if start >= at.Duration() {
			return rep, fmt.Errorf("start position %v is past the end of %q (%v)", start, title(t), at.Duration().Round(time.Millisecond))
		}
		if err := at.SeekTime(start); err != nil {
			return rep, p.trackError(ctx, s, fmt.Errorf("seeking %q to %v: %w", title(t), start, err))
		}
	}

	// The watcher marks the first sample, and prefetches the next track
	// near the end of this one.
	wctx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	startPos := at.PositionTime()
	go func() {
		defer wg.Done()
		p.watch(wctx, startPos, at.Duration())
	}()
	p.mu.Lock()
	stopped := p.stopped // Stop came while the track was being opened
	p.mu.Unlock()
	if stopped {
		stopWatch()
		wg.Wait()
		rep.Skipped = true
		rep.Stats = s.Stats()
		return rep, nil
	}
	playStart := time.Now()
	ar, err := p.cfg.Audio.Play(ctx, at)
	stopWatch()
	wg.Wait()
	rep.TTFA = playStart.Sub(began) + ar.TTFA
	rep.Underruns = len(ar.Underruns)
	rep.UnderrunTotal = ar.UnderrunTotal
	rep.Played = ar.Played
	rep.Skipped = ar.Stopped
	if err == nil && !ar.Stopped {
		// Played to the end: every byte was read, and the stream accounts
		// for the last pieces a moment after the reader saw them.
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		rep.Stats = s.StatsWhenComplete(sctx)
		cancel()
	} else {
		rep.Stats = s.Stats()
	}
	if err != nil {
		// The track's own errors begin with its name (meta.Name); the
		// output's do not. (A cancellation is trackError's.)
		var oe *audio.OutputError
		if errors.As(err, &oe) {
			err = fmt.Errorf("playing %q: %w", title(t), err)
		}
		return rep, p.trackError(ctx, s, err)
	}
	return rep, nil
}

// trackError prefers the policy's give-up error (it names what was tried)
// over whatever the decoder made of the failed read.
func (p *Player) trackError(ctx context.Context, s *stream.Stream, err error) error {
	if se := s.Err(); se != nil {
		return se
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// watch runs while a track plays.
func (p *Player) watch(ctx context.Context, startPos, dur time.Duration) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	// The prefetch runs beside the ticks (it asks the tracker), so that
	// the position keeps being recorded meanwhile.
	var prefetching sync.WaitGroup
	defer prefetching.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st := p.cfg.Audio.Status()
		pos := st.Position
		p.mu.Lock()
		if pos != startPos {
			p.started = true
		}
		if st.Playing {
			// Not once the track's session ended (a last tick after
			// Ctrl-C reads 0): --resume goes on from here.
			p.playedTo = pos
		}
		var next *proto.Track
		if i := p.index + 1; i < len(p.queue) && dur-pos <= p.cfg.Prefetch && !p.prefetched[p.queue[i].ID] {
			n := p.queue[i]
			next = &n
			p.prefetched[n.ID] = true
		}
		p.mu.Unlock()
		if next != nil {
			prefetching.Go(func() { p.prefetch(ctx, *next) })
		}
	}
}

// prefetch starts downloading a track from peers.
func (p *Player) prefetch(ctx context.Context, t proto.Track) {
	tb, err := p.torrentFor(ctx, t)
	if err != nil {
		p.log.Warn("prefetching the next track", "track", t.ID, "err", err)
		return
	}
	if _, err := p.cfg.Stream.Prefetch(t, tb); err != nil {
		p.log.Warn("prefetching the next track", "track", t.ID, "err", err)
		return
	}
	p.log.Info("prefetching the next track", "track", title(t))
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// title names a track for messages: "Artist – Title", or its id.
func title(t proto.Track) string {
	switch {
	case t.Title != "" && t.Artist != "":
		return t.Artist + " – " + t.Title
	case t.Title != "":
		return t.Title
	}
	return t.ID
}
