package mpris

import (
	"slices"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/peertune/peertune/client/player"
	"github.com/peertune/peertune/proto"
)

func TestStateOf(t *testing.T) {
	for _, tc := range []struct {
		state  player.State
		volume float64
		status string
		vol    float64
	}{
		{player.StatePlaying, 1, "Playing", 1},
		{player.StateBuffering, 0.5, "Playing", 0.5}, // waiting for bytes is still playing
		{player.StatePaused, 0.333, "Paused", 0.33},
		{player.StateStopped, 1.5, "Stopped", 1.5}, // above 100 % (--softvol-max): as it is
		{player.StateIdle, 0, "Stopped", 0},
	} {
		st := stateOf(player.Snapshot{State: tc.state, Volume: tc.volume, Duration: 3 * time.Second})
		if st.status != tc.status || st.volume != tc.vol || st.length != 3e6 {
			t.Errorf("%s at %v: %+v, want %s at %v, length 3e6", tc.state, tc.volume, st, tc.status, tc.vol)
		}
	}
}

func TestMetadata(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef01234567"
	m := metadata(player.Snapshot{Track: proto.Track{ID: id, Title: "T", Artist: "A", Album: "L", DurationS: 2.5}})
	if got := m["mpris:trackid"].Value(); got != dbus.ObjectPath("/org/peertune/track/"+id) {
		t.Errorf("trackid %v", got)
	}
	if !dbus.ObjectPath("/org/peertune/track/" + id).IsValid() {
		t.Error("the track id is not a valid object path")
	}
	if got := m["mpris:length"].Value(); got != int64(2500000) {
		t.Errorf("length %v, want the catalog's duration in microseconds", got)
	}
	if m["xesam:title"].Value() != "T" || m["xesam:album"].Value() != "L" || !slices.Equal(m["xesam:artist"].Value().([]string), []string{"A"}) {
		t.Errorf("metadata %v", m)
	}
	// Unknown track number and album artist: not in the metadata at all.
	if _, ok := m["xesam:trackNumber"]; ok {
		t.Errorf("trackNumber %v for a track without one", m["xesam:trackNumber"])
	}
	if _, ok := m["xesam:albumArtist"]; ok {
		t.Errorf("albumArtist %v for a track without one", m["xesam:albumArtist"])
	}
	full := metadata(player.Snapshot{Track: proto.Track{ID: id, Title: "T", Artist: "A", Album: "L",
		AlbumArtist: "Various Artists", TrackNumber: 7, DiscNumber: 2, Year: 1999}})
	if got, ok := full["xesam:trackNumber"].Value().(int32); !ok || got != 7 {
		t.Errorf("trackNumber %#v, want int32 7", full["xesam:trackNumber"].Value())
	}
	if got, ok := full["xesam:albumArtist"].Value().([]string); !ok || !slices.Equal(got, []string{"Various Artists"}) {
		t.Errorf("albumArtist %#v, want [Various Artists]", full["xesam:albumArtist"].Value())
	}
	if sig := full["xesam:trackNumber"].Signature().String(); sig != "i" {
		t.Errorf("trackNumber signature %q, want i", sig)
	}
	if sig := full["xesam:albumArtist"].Signature().String(); sig != "as" {
		t.Errorf("albumArtist signature %q, want as", sig)
	}
	none := metadata(player.Snapshot{})
	if len(none) != 1 || none["mpris:trackid"].Value() != noTrack {
		t.Errorf("no track: %v, want only the NoTrack id", none)
	}
}
