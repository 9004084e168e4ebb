package mpris

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"

	"github.com/peertune/peertune/client/player"
)

// The names MPRIS fixes.
const (
	BusName     = "org.mpris.MediaPlayer2.peertune"
	objectPath  = dbus.ObjectPath("/org/mpris/MediaPlayer2")
	ifaceRoot   = "org.mpris.MediaPlayer2"
	ifacePlayer = "org.mpris.MediaPlayer2.Player"
	trackPrefix = "/org/peertune/track/"
	noTrack     = dbus.ObjectPath("/org/mpris/MediaPlayer2/TrackList/NoTrack")
)

// pollEvery is how often the player's state is compared with what the bus
// was last told.
const pollEvery = 250 * time.Millisecond

// ErrNoBus: there is no session bus to register on.
var ErrNoBus = errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist)")

// Server is a player registered on the session bus.
type Server struct {
	conn  *dbus.Conn
	props *prop.Properties
	p     *player.Player
	log   *slog.Logger
	name  string

	stop  context.CancelFunc
	wg    sync.WaitGroup
	seeks chan struct{} // a Seek or SetPosition came: poll emits Seeked once it applied

	// last is what the bus was told; only the poll goroutine touches it.
	last state
}

// state is what the bus sees of the player.
type state struct {
	status  string
	trackID string
	volume  float64
	length  int64
	loop    string // LoopStatus: None, Track or Playlist
	shuffle bool
}

// Start registers p on the session bus and keeps its properties current
// until Close. Without a session bus it returns ErrNoBus.
func Start(p *player.Player, log *slog.Logger) (*Server, error) {
	addr, err := sessionBusAddress()
	if err != nil {
		return nil, err
	}
	conn, err := dbus.Connect(addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to the session bus at %s: %w", addr, err)
	}
	s := &Server{conn: conn, p: p, log: log, seeks: make(chan struct{}, 1)}
	if err := s.export(); err != nil {
		conn.Close()
		return nil, err
	}
	if err := s.requestName(); err != nil {
		conn.Close()
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.poll(ctx)
	}()
	return s, nil
}

// Name is the bus name the player holds.
func (s *Server) Name() string { return s.name }

// Close leaves the bus.
func (s *Server) Close() error {
	s.stop()
	s.wg.Wait()
	s.conn.ReleaseName(s.name)
	return s.conn.Close()
}

// sessionBusAddress finds the session bus without starting one (godbus
// would run dbus-launch).
func sessionBusAddress() (string, error) {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		return a, nil
	}
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		if fi, err := os.Stat(filepath.Join(rt, "bus")); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return "unix:path=" + filepath.Join(rt, "bus"), nil
		}
	}
	return "", ErrNoBus
}

func (s *Server) requestName() error {
	for _, name := range []string{BusName, fmt.Sprintf("%s.instance%d", BusName, os.Getpid())} {
		reply, err := s.conn.RequestName(name, dbus.NameFlagDoNotQueue)
		if err != nil {
			return fmt.Errorf("requesting the bus name %s: %w", name, err)
		}
		if reply == dbus.RequestNameReplyPrimaryOwner {
			s.name = name
			return nil
		}
	}
	return fmt.Errorf("the bus names %s and its instance name are taken", BusName)
}

// root is org.mpris.MediaPlayer2: a player with no window, that the bus
// cannot quit.
type root struct{}

func (root) Raise() *dbus.Error { return nil }
func (root) Quit() *dbus.Error  { return nil }

// control is org.mpris.MediaPlayer2.Player's methods.
type control struct{ s *Server }

// repeatOf is MPRIS's LoopStatus as the player's repeat mode.
var repeatOf = map[string]player.Repeat{"None": player.RepeatOff, "Track": player.RepeatOne, "Playlist": player.RepeatAll}

// controlNames maps control's Go names that differ from MPRIS's.
var controlNames = map[string]string{"SeekOffset": "Seek"}

func (c control) Next() *dbus.Error      { c.s.p.Next(); return nil }
func (c control) Previous() *dbus.Error  { c.s.p.Prev(); return nil }
func (c control) Pause() *dbus.Error     { c.s.p.Pause(); return nil }
func (c control) Play() *dbus.Error      { c.s.p.Play(); return nil }
func (c control) Stop() *dbus.Error      { c.s.p.Stop(); return nil }
func (c control) PlayPause() *dbus.Error { c.s.p.TogglePlay(); return nil }

// SeekOffset is MPRIS's Seek (named apart from io.Seeker's Seek): it moves
// by offset microseconds.
func (c control) SeekOffset(offset int64) *dbus.Error {
	c.s.p.SeekBy(time.Duration(offset) * time.Microsecond)
	c.s.seeked()
	return nil
}

// SetPosition goes to pos microseconds, if trackID is still the track.
func (c control) SetPosition(trackID dbus.ObjectPath, pos int64) *dbus.Error {
	snap := c.s.p.Snapshot()
	if trackID != trackPath(snap.Track.ID) || pos < 0 {
		return nil // the spec: ignore a stale track id or a bad position
	}
	c.s.p.SeekTo(time.Duration(pos) * time.Microsecond)
	c.s.seeked()
	return nil
}

// OpenUri is not supported: tracks are found by search, not by URI.
func (c control) OpenUri(string) *dbus.Error {
	return dbus.NewError("org.mpris.MediaPlayer2.Error.NotSupported", []any{"peertune opens no URIs"})
}

// seeked has poll emit Seeked at its next tick, once the decoder applied
// the seek (it does so a moment after the call).
func (s *Server) seeked() {
	select {
	case s.seeks <- struct{}{}:
	default: // one is pending already
	}
}

func (s *Server) export() error {
	if err := s.conn.Export(root{}, objectPath, ifaceRoot); err != nil {
		return fmt.Errorf("exporting %s: %w", ifaceRoot, err)
	}
	if err := s.conn.ExportWithMap(control{s}, controlNames, objectPath, ifacePlayer); err != nil {
		return fmt.Errorf("exporting %s: %w", ifacePlayer, err)
	}
	c := func(v any) *prop.Prop { return &prop.Prop{Value: v, Emit: prop.EmitConst} }
	snap := s.p.Snapshot()
	s.last = stateOf(snap)
	props, err := prop.Export(s.conn, objectPath, prop.Map{
		ifaceRoot: {
			"CanQuit":             c(false),
			"CanRaise":            c(false),
			"HasTrackList":        c(false),
			"Identity":            c("peertune"),
			"SupportedUriSchemes": c([]string{}),
			"SupportedMimeTypes":  c([]string{}),
		},
		ifacePlayer: {
			"PlaybackStatus": {Value: s.last.status, Emit: prop.EmitTrue},
			"LoopStatus": {Value: s.last.loop, Writable: true, Emit: prop.EmitTrue, Callback: func(ch *prop.Change) *dbus.Error {
				r, ok := repeatOf[ch.Value.(string)]
				if !ok {
					return prop.ErrInvalidArg
				}
				s.p.SetRepeat(r)
				return nil
			}},
			"Rate": c(1.0),
			"Shuffle": {Value: s.last.shuffle, Writable: true, Emit: prop.EmitTrue, Callback: func(ch *prop.Change) *dbus.Error {
				s.p.SetShuffle(ch.Value.(bool))
				return nil
			}},
			"Metadata": {Value: metadata(snap), Emit: prop.EmitTrue},
			"Volume": {Value: s.last.volume, Writable: true, Emit: prop.EmitTrue, Callback: func(ch *prop.Change) *dbus.Error {
				// MPRIS sets no ceiling: above 1.0 goes up to the
				// player's --softvol-max, where SetVolume stops it.
				v, _ := ch.Value.(float64)
				s.p.SetVolume(max(v, 0))
				return nil
			}},
			"Position":      {Value: micros(snap.Position), Emit: prop.EmitFalse},
			"MinimumRate":   c(1.0),
			"MaximumRate":   c(1.0),
			"CanGoNext":     c(true),
			"CanGoPrevious": c(true),
			"CanPlay":       c(true),
			"CanPause":      c(true),
			"CanSeek":       c(true),
			"CanControl":    c(true),
		},
	})
	if err != nil {
		return fmt.Errorf("exporting the MPRIS properties: %w", err)
	}
	s.props = props
	methods := introspect.Methods(control{})
	for i, m := range methods {
		if n, ok := controlNames[m.Name]; ok {
			methods[i].Name = n
		}
	}
	node := &introspect.Node{
		Name: string(objectPath),
		Interfaces: []introspect.Interface{
			introspect.IntrospectData,
			prop.IntrospectData,
			{Name: ifaceRoot, Methods: introspect.Methods(root{}), Properties: props.Introspection(ifaceRoot)},
			{Name: ifacePlayer, Methods: methods, Properties: props.Introspection(ifacePlayer),
				Signals: []introspect.Signal{{Name: "Seeked", Args: []introspect.Arg{{Name: "Position", Type: "x"}}}}},
		},
	}
	if err := s.conn.Export(introspect.NewIntrospectable(node), objectPath, "org.freedesktop.DBus.Introspectable"); err != nil {
		return fmt.Errorf("exporting the introspection data: %w", err)
	}
	return nil
}

// poll keeps the properties current: PropertiesChanged goes out when the
// status, the track or the volume changes; Position is kept without a
// signal, as the spec says.
func (s *Server) poll(ctx context.Context) {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	seekPending := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.seeks:
			seekPending = true
			continue
		case <-tick.C:
		}
		snap := s.p.Snapshot()
		if seekPending {
			seekPending = false
			s.conn.Emit(objectPath, ifacePlayer+".Seeked", micros(snap.Position))
		}
		now := stateOf(snap)
		s.props.SetMust(ifacePlayer, "Position", micros(snap.Position))
		if now.trackID != s.last.trackID || now.length != s.last.length {
			s.props.SetMust(ifacePlayer, "Metadata", metadata(snap))
		}
		if now.status != s.last.status {
			s.props.SetMust(ifacePlayer, "PlaybackStatus", now.status)
		}
		if now.volume != s.last.volume {
			s.props.SetMust(ifacePlayer, "Volume", now.volume)
		}
		if now.loop != s.last.loop {
			s.props.SetMust(ifacePlayer, "LoopStatus", now.loop)
		}
		if now.shuffle != s.last.shuffle {
			s.props.SetMust(ifacePlayer, "Shuffle", now.shuffle)
		}
		s.last = now
	}
}

func stateOf(snap player.Snapshot) state {
	st := state{status: "Stopped", trackID: snap.Track.ID, volume: math.Round(snap.Volume*100) / 100, length: micros(snap.Duration),
		loop: "None", shuffle: snap.Shuffle}
	switch snap.Repeat {
	case player.RepeatOne:
		st.loop = "Track"
	case player.RepeatAll:
		st.loop = "Playlist"
	}
	switch snap.State {
	case player.StatePlaying, player.StateBuffering:
		st.status = "Playing"
	case player.StatePaused:
		st.status = "Paused"
	}
	return st
}

// metadata is the xesam and mpris fields of the current track; the track
// number and album artist only when the tags name them.
func metadata(snap player.Snapshot) map[string]dbus.Variant {
	t := snap.Track
	if t.ID == "" {
		return map[string]dbus.Variant{"mpris:trackid": dbus.MakeVariant(noTrack)}
	}
	length := snap.Duration
	if length == 0 {
		length = time.Duration(t.DurationS * float64(time.Second))
	}
	m := map[string]dbus.Variant{
		"mpris:trackid": dbus.MakeVariant(trackPath(t.ID)),
		"mpris:length":  dbus.MakeVariant(micros(length)),
		"xesam:title":   dbus.MakeVariant(t.Title),
		"xesam:album":   dbus.MakeVariant(t.Album),
		"xesam:artist":  dbus.MakeVariant([]string{t.Artist}),
	}
	if t.Artist == "" {
		m["xesam:artist"] = dbus.MakeVariant([]string{})
	}
	if t.AlbumArtist != "" {
		m["xesam:albumArtist"] = dbus.MakeVariant([]string{t.AlbumArtist})
	}
	if t.TrackNumber > 0 && t.TrackNumber <= math.MaxInt32 {
		m["xesam:trackNumber"] = dbus.MakeVariant(int32(t.TrackNumber))
	}
	return m
}

func trackPath(id string) dbus.ObjectPath {
	if id == "" {
		return noTrack
	}
	return dbus.ObjectPath(trackPrefix + id)
}

func micros(d time.Duration) int64 { return d.Microseconds() }
