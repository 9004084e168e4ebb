package player

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/peertune/peertune/client/ctl"
	"github.com/peertune/peertune/client/stream"
	"github.com/peertune/peertune/proto"
)

// ResolveFunc finds the tracks a queue request names, as the play command
// resolves its arguments (Resolve, or ResolveAlbums when album is true, over
// the player's tracker).
type ResolveFunc func(ctx context.Context, args []string, all, album bool) ([]proto.Track, error)

// moveWait bounds how long a control request that changes the track waits
// for the player to leave the old one, so that its reply (and a status
// asked right after) shows where the player went.
const moveWait = 2 * time.Second

// Control is the handler of the player's control socket (client/ctl).
// resolve may be nil: queue requests with arguments are then refused.
func Control(p *Player, resolve ResolveFunc) ctl.Handler {
	return func(ctx context.Context, req ctl.Request) ctl.Reply {
		var rep ctl.Reply
		old := p.current()
		moves := false
		switch req.Verb {
		case ctl.VerbPause:
			p.Pause()
		case ctl.VerbPlay:
			p.Play()
		case ctl.VerbToggle:
			p.TogglePlay()
		case ctl.VerbNext:
			p.Next()
			moves = true
		case ctl.VerbPrev:
			p.Prev()
			moves = true
		case ctl.VerbStop:
			p.Stop()
			moves = true
		case ctl.VerbSeek:
			d, relative, err := ctl.ParseSeek(req.Args[0])
			switch {
			case err != nil:
				rep.Error = err.Error()
			case relative:
				p.SeekBy(d)
			default:
				p.SeekTo(d)
			}
		case ctl.VerbVolume:
			v, err := ctl.ParseVolume(req.Args[0])
			if err != nil {
				rep.Error = err.Error()
				break
			}
			if most := p.MaxVolume(); v > most {
				rep.Error = fmt.Sprintf("volume %d%%: above this player's maximum of %d%% (start it with play --softvol-max to allow more)", v, most)
				break
			}
			p.SetVolume(float64(v) / 100)
		case ctl.VerbQueue:
			if len(req.Args) == 0 {
				break
			}
			if resolve == nil {
				rep.Error = "this player has no tracker to search"
				break
			}
			tracks, err := resolve(ctx, req.Args, req.All, req.Album)
			if err != nil {
				rep.Error = err.Error()
				break
			}
			p.Add(tracks...)
			rep.Added = tracks
			p.Notify(fmt.Sprintf("queued %d track(s) from the control socket", len(tracks)))
		case ctl.VerbClear:
			p.ClearQueue()
		case ctl.VerbShuffle:
			switch arg(req) {
			case "on":
				p.SetShuffle(true)
			case "off":
				p.SetShuffle(false)
			default:
				p.ToggleShuffle()
			}
		case ctl.VerbRepeat:
			if r, err := ParseRepeat(arg(req)); err == nil {
				p.SetRepeat(r)
			} else {
				p.CycleRepeat()
			}
		}
		if moves && old != nil {
			p.waitLeave(ctx, old)
		}
		snap := p.Snapshot()
		rep.Status = statusOf(snap)
		if snap.Index+1 < len(snap.Queue) {
			rep.QueueTracks = snap.Queue[snap.Index+1:]
		}
		return rep
	}
}

// arg is a request's first argument, "" without one.
func arg(req ctl.Request) string {
	if len(req.Args) == 0 {
		return ""
	}
	return req.Args[0]
}

func (p *Player) current() *stream.Stream {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// waitLeave waits, at most moveWait, until the player no longer plays s.
func (p *Player) waitLeave(ctx context.Context, s *stream.Stream) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(moveWait)
	for p.current() == s {
		select {
		case <-ctx.Done():
			return
		case <-deadline:
			return
		case <-tick.C:
		}
	}
}

// statusOf is a Snapshot as the control socket reports it.
func statusOf(s Snapshot) ctl.Status {
	st := ctl.Status{State: ctl.StateStopped, Volume: int(math.Round(s.Volume * 100)), Queue: []string{}, Shuffle: s.Shuffle, Repeat: string(s.Repeat)}
	switch s.State {
	case StatePlaying, StateBuffering:
		st.State = ctl.StatePlaying
	case StatePaused:
		st.State = ctl.StatePaused
	}
	if s.Track.ID != "" {
		t := s.Track
		st.Track = &t
		st.PositionS = s.Position.Seconds()
		st.DurationS = s.Duration.Seconds()
		if st.DurationS == 0 {
			st.DurationS = t.DurationS
		}
	}
	for i := s.Index + 1; i < len(s.Queue); i++ {
		st.Queue = append(st.Queue, s.Queue[i].ID)
	}
	return st
}
