package ctl

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/peertune/peertune/proto"
)

// The verbs a player answers.
const (
	VerbStatus  = "status"
	VerbPause   = "pause"
	VerbPlay    = "play" // resume, or start again after stop
	VerbToggle  = "toggle"
	VerbNext    = "next"
	VerbPrev    = "prev"
	VerbStop    = "stop"
	VerbSeek    = "seek"    // Args[0]: [+|-]DURATION (see ParseSeek)
	VerbVolume  = "volume"  // Args[0]: percent, 0 to 100 (up to the player's --softvol-max)
	VerbQueue   = "queue"   // Args: queries or track ids to add (best match, every match with All); none: list
	VerbClear   = "clear"   // empty the queue after the current track
	VerbShuffle = "shuffle" // Args[0]: on, off or toggle (none: toggle)
	VerbRepeat  = "repeat"  // Args[0]: off, one or all (none: the next of off, all, one)
)

// Verbs lists every verb, in the order `peertune ctl --help` shows them.
var Verbs = []string{VerbStatus, VerbPause, VerbPlay, VerbToggle, VerbNext, VerbPrev, VerbStop, VerbSeek, VerbVolume, VerbQueue, VerbClear, VerbShuffle, VerbRepeat}

// Request is one command to the player.
type Request struct {
	Verb string   `json:"verb"`
	Args []string `json:"args,omitempty"`
	All  bool     `json:"all,omitempty"` // queue: every match of a query, not only the best
	// Album (queue): the queries name albums, queued whole in album order.
	Album bool `json:"album,omitempty"`
}

// Reply is the player's answer: its status after the request, what a queue
// request added, or why it refused.
type Reply struct {
	Error  string        `json:"error,omitempty"`
	Status Status        `json:"status"`
	Added  []proto.Track `json:"added,omitempty"`
	// QueueTracks are the tracks after the current one (Status.Queue
	// names them by id), for a listing.
	QueueTracks []proto.Track `json:"queue_tracks,omitempty"`
}

// Status is what the player is doing: `peertune ctl status --json` prints it.
type Status struct {
	State     string       `json:"state"` // StatePlaying, StatePaused or StateStopped
	Track     *proto.Track `json:"track"` // the current track; null when there is none
	PositionS float64      `json:"position_s"`
	DurationS float64      `json:"duration_s"`
	Volume    int          `json:"volume"` // percent, 0 to 100 (more with --softvol-max)
	Queue     []string     `json:"queue"`  // ids of the tracks after the current one
	Shuffle   bool         `json:"shuffle"`
	Repeat    string       `json:"repeat"` // off, one or all
}

// The states of Status.
const (
	StatePlaying = "playing" // buffering counts as playing, as in MPRIS
	StatePaused  = "paused"
	StateStopped = "stopped"
)

// Handler carries out one request for the player.
type Handler func(ctx context.Context, req Request) Reply

var (
	// ErrNoPlayer: nothing answers on the cache's socket.
	ErrNoPlayer = errors.New("no player is running on this cache")
	// ErrPlayerRunning: Listen found a live player on the socket.
	ErrPlayerRunning = errors.New("a player is already listening on this cache's control socket")
)

const (
	maxSocketPath = 107 // sun_path is 108 bytes with its NUL
	maxLine       = 1 << 20
	// A queue request may search the tracker: allow it that long.
	exchangeTimeout = 30 * time.Second
)

// SocketPath is the control socket of the player of cacheDir:
// $XDG_RUNTIME_DIR/peertune/NAME-HASH.sock, or cacheDir/ctl.sock without
// a runtime dir, or the first name under the OS temp dir's
// peertune-UID folder when either is too long for a socket path.
func SocketPath(cacheDir string) (string, error) {
	abs, err := filepath.Abs(cacheDir)
	if err != nil {
		return "", fmt.Errorf("control socket of cache %s: %w", cacheDir, err)
	}
	name := socketName(abs)
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		if p := filepath.Join(rt, "peertune", name); len(p) <= maxSocketPath {
			return p, nil
		}
	} else if p := filepath.Join(abs, "ctl.sock"); len(p) <= maxSocketPath {
		return p, nil
	}
	return filepath.Join(sharedDir(), name), nil
}

// sharedDir is this user's folder for sockets in the OS temp dir, which
// others can write to.
func sharedDir() string { return filepath.Join(os.TempDir(), fmt.Sprintf("peertune-%d", os.Getuid())) }

// socketName is the cache folder's name, made safe and short, and a hash
// of its whole path: two caches of one name get two sockets.
func socketName(abs string) string {
	sum := sha256.Sum256([]byte(abs))
	base := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, filepath.Base(abs))
	if len(base) > 32 {
		base = base[:32]
	}
	return fmt.Sprintf("%s-%x.sock", base, sum[:4])
}

// Listen listens on the control socket at path, mode 0600. A socket file
// that nothing answers on (its player was killed) is replaced; one a live
// player answers on is ErrPlayerRunning. Closing the listener removes the
// socket.
func Listen(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("control socket folder %s: %w", dir, err)
	}
	if dir == sharedDir() {
		if err := privateDir(dir); err != nil {
			return nil, err
		}
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("%w (%s)", ErrPlayerRunning, path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("removing the stale control socket %s: %w", path, err)
	}
	// Bind a temporary name, make it private, then rename it into place:
	// the socket is never reachable with the umask's mode.
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	os.Remove(tmp)
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ul.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ul.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return &listener{UnixListener: ul, path: path}, nil
}

// privateDir refuses a folder in a shared temp dir that is not ours alone.
func privateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("control socket folder: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("control socket folder %s: not a private folder of this user (mode %v)", dir, fi.Mode())
	}
	return nil
}

type listener struct {
	*net.UnixListener
	path string
	once sync.Once
}

func (l *listener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() { os.Remove(l.path) })
	return err
}

// Serve answers requests on ln with h until ctx ends, then closes ln and
// waits for the exchanges in progress.
func Serve(ctx context.Context, ln net.Listener, h Handler) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer func() {
		stop()
		ln.Close() // done once: returns after the socket is removed
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			ln.Close()
			return fmt.Errorf("control socket: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveConn(ctx, c, h)
		}()
	}
}

func serveConn(ctx context.Context, c net.Conn, h Handler) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(exchangeTimeout))
	line, err := readLine(c)
	if err != nil {
		return
	}
	var rep Reply
	if req, err := DecodeRequest(line); err != nil {
		rep.Error = err.Error()
	} else {
		rep = h(ctx, req)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		b, _ = json.Marshal(Reply{Error: "encoding the reply: " + err.Error()})
	}
	c.Write(append(b, '\n'))
}

// readLine reads one line of at most maxLine bytes (the last may lack its
// newline).
func readLine(r io.Reader) ([]byte, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxLine)).ReadBytes('\n')
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return nil, err
	}
	return line, nil
}

// DecodeRequest parses and checks one request line.
func DecodeRequest(line []byte) (Request, error) {
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		return req, fmt.Errorf("bad request: %w", err)
	}
	return req, req.Check()
}

// Check reports whether the request is one a player can carry out.
func (r Request) Check() error {
	switch r.Verb {
	case VerbStatus, VerbPause, VerbPlay, VerbToggle, VerbNext, VerbPrev, VerbStop, VerbClear:
		if len(r.Args) > 0 {
			return fmt.Errorf("%s takes no arguments", r.Verb)
		}
	case VerbSeek:
		if len(r.Args) != 1 {
			return errors.New("seek takes one position: [+|-]DURATION, such as +10s, -5, 1:30")
		}
		if _, _, err := ParseSeek(r.Args[0]); err != nil {
			return err
		}
	case VerbVolume:
		if len(r.Args) != 1 {
			return fmt.Errorf("volume takes one value in percent, 0 to 100 (to %d with play --softvol-max)", VolumeCeiling)
		}
		if _, err := ParseVolume(r.Args[0]); err != nil {
			return err
		}
	case VerbShuffle:
		if len(r.Args) > 1 || len(r.Args) == 1 && r.Args[0] != "on" && r.Args[0] != "off" && r.Args[0] != "toggle" {
			return errors.New("shuffle takes on, off or toggle")
		}
	case VerbRepeat:
		if len(r.Args) > 1 || len(r.Args) == 1 && r.Args[0] != "off" && r.Args[0] != "one" && r.Args[0] != "all" {
			return errors.New("repeat takes off, one or all")
		}
	case VerbQueue:
	case "":
		return errors.New("no verb")
	default:
		return fmt.Errorf("unknown verb %q (want one of %s)", r.Verb, strings.Join(Verbs, ", "))
	}
	return nil
}

// RefusedError is a player's reason for not carrying out a request (as
// opposed to not reaching the player at all).
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// Call sends req to the player listening at path and returns its reply. A
// player that refused the request returns a *RefusedError, with the reply.
func Call(ctx context.Context, path string, req Request) (Reply, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return Reply{}, fmt.Errorf("%w (socket %s)", ErrNoPlayer, path)
		}
		return Reply{}, fmt.Errorf("dialling the player at %s: %w", path, err)
	}
	defer c.Close()
	deadline := time.Now().Add(exchangeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	b, err := json.Marshal(req)
	if err != nil {
		return Reply{}, fmt.Errorf("encoding the request: %w", err)
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return Reply{}, fmt.Errorf("sending to the player at %s: %w", path, err)
	}
	line, err := readLine(c)
	if err != nil {
		return Reply{}, fmt.Errorf("reading the player's reply: %w", err)
	}
	var rep Reply
	if err := json.Unmarshal(line, &rep); err != nil {
		return Reply{}, fmt.Errorf("the player's reply: %w", err)
	}
	if rep.Error != "" {
		return rep, &RefusedError{Reason: rep.Error}
	}
	return rep, nil
}
