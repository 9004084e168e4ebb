package player

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/peertune/peertune/audio"
	"github.com/peertune/peertune/client/stream"
	"github.com/peertune/peertune/proto"
)

func TestTextHelpers(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0:00", 59499 * time.Millisecond: "0:59", 61 * time.Second: "1:01", 10 * time.Minute: "10:00", -time.Second: "0:00"} {
		if got := ClockText(d); got != want {
			t.Errorf("ClockText(%v) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536 << 10: "1.5 MiB", 3 << 30: "3.0 GiB"} {
		if got := SizeText(n); got != want {
			t.Errorf("SizeText(%d) = %q, want %q", n, got, want)
		}
	}
	s := Snapshot{State: StatePlaying, Track: proto.Track{Title: "T", Artist: "A"}, Position: 65 * time.Second, Duration: 200 * time.Second,
		Stats: stream.Stats{BytesSeedHead: 100, BytesPeers: 300, PeersConnected: 3, SeedersConnected: 1}}
	line := s.ProgressLine()
	for _, want := range []string{"A – T", "1:05 / 3:20", "playing", "seed 100 B (25%)", "peers 300 B (75%)", "cache 0 B (0%)", "2 peers"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "bad pieces") {
		t.Errorf("progress line %q reports bad pieces though none failed", line)
	}
	s.Stats.PiecesFailedHash, s.Stats.BannedPeers = 4, 1
	if line := s.ProgressLine(); !strings.Contains(line, "2 peers  4 bad pieces, 1 peers banned") {
		t.Errorf("progress line %q lacks the bad pieces and bans", line)
	}
}

// newTestPlayer is a Player on a real stream client (loopback, a temp
// cache) and a null output, with nothing queued.
func newTestPlayer(t *testing.T) *Player {
	t.Helper()
	sc, err := stream.New(stream.Config{CacheDir: t.TempDir(), ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	ap, err := audio.NewPlayer(audio.NewNullOutput(), audio.PlayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Stream: sc, Audio: ap})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunEmptyQueue(t *testing.T) {
	p := newTestPlayer(t)
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("Run on an empty queue: %v", err)
	}
	if s := p.Snapshot(); s.State != StateIdle {
		t.Errorf("state %q, want idle", s.State)
	}
	// With Keep, Run waits for tracks until its context ends.
	p.cfg.Keep = true
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.Run(ctx); err != context.DeadlineExceeded {
		t.Errorf("Run with Keep: %v, want the context's deadline", err)
	}
}

func TestTUIKeys(t *testing.T) {
	p := newTestPlayer(t)
	p.Add(proto.Track{ID: strings.Repeat("a", 40), Title: "Queued", Artist: "Someone"})
	m := &tuiModel{p: p, ctx: context.Background(), width: 80, keys: defaultKeys(t)}
	press := func(code rune, text string) {
		m.Update(tea.KeyPressMsg{Code: code, Text: text})
	}
	press('-', "-")
	press('-', "-")
	if v := p.cfg.Audio.Volume(); v < 0.79 || v > 0.81 {
		t.Errorf("volume %v after two -, want 0.8", v)
	}
	press('m', "m")
	if !p.cfg.Audio.Status().Muted {
		t.Error("m did not mute")
	}
	press(tea.KeySpace, " ")
	if !p.cfg.Audio.Paused() {
		t.Error("space did not pause")
	}
	press('/', "/")
	for _, r := range "abc" {
		press(r, string(r))
	}
	press(tea.KeyBackspace, "")
	if !m.searching || string(m.query) != "ab" {
		t.Errorf("search: %v %q, want typing \"ab\"", m.searching, string(m.query))
	}
	press(tea.KeyEscape, "")
	if m.searching {
		t.Error("esc did not end the search")
	}
	m.snap = p.Snapshot()
	view := m.render()
	for _, want := range []string{"Nothing playing", "Someone – Queued", "q quit"} {
		if !strings.Contains(view, want) {
			t.Errorf("view lacks %q:\n%s", want, view)
		}
	}
	_, cmd := m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"})
	if cmd == nil {
		t.Fatal("q gave no command")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Error("q did not quit")
	}
}

// TestTUISearchPicks: "/" shows a search's matches to choose from; one
// match is added at once.
func TestTUISearchPicks(t *testing.T) {
	p := newTestPlayer(t)
	found := []proto.Track{
		{ID: strings.Repeat("1", 40), Title: "One", Artist: "A", Album: "First", DurationS: 61},
		{ID: strings.Repeat("2", 40), Title: "Two", Artist: "A"},
		{ID: strings.Repeat("3", 40), Title: "Three", Artist: "B"},
	}
	var queries []string
	search := func(_ context.Context, q string) ([]proto.Track, error) {
		queries = append(queries, q)
		if q == "one" {
			return found[:1], nil
		}
		return found, nil
	}
	m := &tuiModel{p: p, search: search, ctx: context.Background(), width: 80, keys: defaultKeys(t)}
	press := func(code rune, text string) tea.Cmd {
		_, cmd := m.Update(tea.KeyPressMsg{Code: code, Text: text})
		return cmd
	}
	searchFor := func(q string) {
		t.Helper()
		press('/', "/")
		for _, r := range q {
			press(r, string(r))
		}
		cmd := press(tea.KeyEnter, "")
		if cmd == nil {
			t.Fatalf("enter on %q gave no search", q)
		}
		m.Update(cmd())
	}
	queue := func() []string {
		var out []string
		for _, tr := range p.Snapshot().Queue {
			out = append(out, tr.Title)
		}
		return out
	}

	searchFor("a")
	m.snap = p.Snapshot()
	view := m.render()
	for _, want := range []string{"3 matches", "▸ 1. A – One (First)  1:01", "2. A – Two", "3. B – Three", "a add all"} {
		if !strings.Contains(view, want) {
			t.Errorf("picks view lacks %q:\n%s", want, view)
		}
	}
	if len(queue()) != 0 {
		t.Fatalf("a search with several matches added %v before a pick", queue())
	}
	press(tea.KeyDown, "")
	press(tea.KeyDown, "")
	press(tea.KeyUp, "")
	press(tea.KeyEnter, "")
	if got := queue(); len(got) != 1 || got[0] != "Two" {
		t.Fatalf("down, down, up, enter queued %v, want [Two]", got)
	}
	if m.picks != nil {
		t.Error("the picks stay shown after a pick")
	}

	searchFor("a")
	press('3', "3")
	searchFor("a")
	press('a', "a")
	searchFor("a")
	press(tea.KeyEscape, "")
	searchFor("one")
	want := []string{"Two", "Three", "One", "Two", "Three", "One"}
	if got := queue(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("queue %v, want %v", got, want)
	}
	if strings.Join(queries, ",") != "a,a,a,a,one" {
		t.Errorf("searches %v", queries)
	}
}

// Regression: a terminal's paste ends its lines with CR (tmux and xterm
// turn LF into CR), and the search took the lines after it too.
func TestTUIPasteOfManyLinesTakesTheFirst(t *testing.T) {
	for _, paste := range []string{"so\rignored", "so\r\nignored", "so\nignored", "so"} {
		m := &tuiModel{p: newTestPlayer(t), ctx: context.Background(), width: 80, height: 40, keys: defaultKeys(t)}
		m.Update(tea.KeyPressMsg{Code: '/', Text: "/"})
		m.Update(tea.PasteMsg{Content: paste})
		if string(m.query) != "so" {
			t.Errorf("paste %q: the search is %q, want %q", paste, string(m.query), "so")
		}
	}
}

// TestTUISearchScrollsThroughManyMatches: "/" lists every match, nine at a
// time; ↓ past the ninth scrolls, and a digit picks among those shown.
func TestTUISearchScrollsThroughManyMatches(t *testing.T) {
	p := newTestPlayer(t)
	var found []proto.Track
	for i := range 20 {
		found = append(found, proto.Track{ID: fmt.Sprintf("%040d", i), Title: fmt.Sprintf("Song %02d", i+1), Artist: "A"})
	}
	m := &tuiModel{p: p, ctx: context.Background(), width: 80, height: 40, keys: defaultKeys(t),
		search: func(context.Context, string) ([]proto.Track, error) { return found, nil }}
	m.Update(tea.KeyPressMsg{Code: '/', Text: "/"})
	m.Update(tea.PasteMsg{Content: "so\nignored"})
	if string(m.query) != "so" {
		t.Fatalf("pasted into the search: %q, want the first line", string(m.query))
	}
	_, cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	m.Update(cmd())
	if len(m.picks) != 20 {
		t.Fatalf("%d picks, want all 20 matches", len(m.picks))
	}
	for range 12 {
		m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	}
	m.snap = p.Snapshot()
	view := m.render()
	for _, want := range []string{"▸ 9. A – Song 13", "1. A – Song 05", "(5–13 of 20)"} {
		if !strings.Contains(view, want) {
			t.Errorf("view lacks %q:\n%s", want, view)
		}
	}
	if strings.Contains(view, "Song 04") || strings.Contains(view, "Song 14") {
		t.Errorf("view shows matches outside the nine:\n%s", view)
	}
	m.Update(tea.KeyPressMsg{Code: '1', Text: "1"})
	if q := p.Snapshot().Queue; len(q) != 1 || q[0].Title != "Song 05" {
		t.Errorf("1 queued %v, want Song 05 (the first shown)", q)
	}
}

func TestTUICtrlCIsAnInterrupt(t *testing.T) {
	m := &tuiModel{p: newTestPlayer(t), ctx: context.Background(), width: 80, keys: defaultKeys(t)}
	_, cmd := m.Update(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	if cmd == nil || !m.interrupted {
		t.Fatalf("ctrl+c: command %v, interrupted %v; want a quit marked interrupted", cmd, m.interrupted)
	}
	m = &tuiModel{p: newTestPlayer(t), ctx: context.Background(), width: 80, keys: defaultKeys(t)}
	m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"})
	if m.interrupted {
		t.Error("q counts as an interrupt")
	}
}

func TestVolumeStopsAtMaxVolume(t *testing.T) {
	p := newTestPlayer(t)
	p.ChangeVolume(0.1)
	p.ChangeVolume(0.1)
	if v := p.cfg.Audio.Volume(); v != 1 {
		t.Errorf("volume %v after two + from 100 %%, want 1 (no amplifying by default)", v)
	}
	p.cfg.MaxVolume = 1.5
	p.SetVolume(3)
	if v := p.cfg.Audio.Volume(); v != 1.5 {
		t.Errorf("volume %v with a 150 %% cap, want 1.5", v)
	}
}

func TestQueueWindow(t *testing.T) {
	for _, c := range []struct{ n, cur, lines, first, last int }{
		{3, 0, 5, 0, 3},     // all fits
		{20, 0, 5, 0, 5},    // from the top
		{20, 10, 5, 8, 13},  // two before the current one
		{20, 19, 5, 15, 20}, // the end
	} {
		if f, l := queueWindow(c.n, c.cur, c.lines); f != c.first || l != c.last {
			t.Errorf("queueWindow(%d, %d, %d) = %d, %d; want %d, %d", c.n, c.cur, c.lines, f, l, c.first, c.last)
		}
	}
}

func tracks(n int) []proto.Track {
	var out []proto.Track
	for i := range n {
		out = append(out, proto.Track{ID: fmt.Sprintf("%040x", i+1), Title: fmt.Sprintf("T%d", i+1)})
	}
	return out
}

func titles(ts []proto.Track) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Title)
	}
	return strings.Join(out, " ")
}

// Shuffle reorders only what comes after the current track, puts added
// tracks among them, and off puts the order back, added ones at the end.
func TestShuffle(t *testing.T) {
	p := newTestPlayer(t)
	p.Add(tracks(8)...)
	p.index = 2
	p.SetShuffle(true)
	q := p.Snapshot().Queue
	if titles(q[:3]) != "T1 T2 T3" {
		t.Errorf("shuffle moved the played and current tracks: %s", titles(q))
	}
	rest := titles(q[3:])
	for _, want := range []string{"T4", "T5", "T6", "T7", "T8"} {
		if !strings.Contains(rest, want) {
			t.Errorf("shuffled queue %s lacks %s", titles(q), want)
		}
	}
	p.Add(proto.Track{ID: strings.Repeat("f", 40), Title: "Added"})
	if q := p.Snapshot().Queue; len(q) != 9 || !strings.Contains(titles(q[3:]), "Added") {
		t.Errorf("a track added while shuffling: %s", titles(q))
	}
	p.SetShuffle(false)
	if got := titles(p.Snapshot().Queue); got != "T1 T2 T3 T4 T5 T6 T7 T8 Added" {
		t.Errorf("shuffle off: %s, want the old order with the added track last", got)
	}
}

func TestRepeatModes(t *testing.T) {
	for _, c := range []struct {
		repeat  Repeat
		index   int
		step    int
		natural bool
		want    int
	}{
		{RepeatOff, 1, 1, true, 2},
		{RepeatOff, 2, 1, true, 3}, // past the end: the queue is over
		{RepeatOne, 1, 1, true, 1}, // the same track again
		{RepeatOne, 1, 1, false, 2},
		{RepeatOne, 1, -1, false, 0}, // prev still goes back
		{RepeatAll, 2, 1, true, 0},   // the queue starts over
		{RepeatAll, 1, 1, true, 2},
	} {
		p := newTestPlayer(t)
		p.Add(tracks(3)...)
		p.index, p.step, p.repeat = c.index, c.step, c.repeat
		p.advance(c.natural)
		if p.index != c.want {
			t.Errorf("repeat %s at %d, step %d, natural %v: index %d, want %d", c.repeat, c.index, c.step, c.natural, p.index, c.want)
		}
	}
	p := newTestPlayer(t)
	for _, want := range []Repeat{RepeatAll, RepeatOne, RepeatOff} {
		p.CycleRepeat()
		if p.Snapshot().Repeat != want {
			t.Errorf("r cycles to %s, want %s", p.Snapshot().Repeat, want)
		}
	}
}

func TestSavedStateRoundTrip(t *testing.T) {
	p := newTestPlayer(t)
	p.Add(tracks(3)...)
	p.index, p.playedTo = 1, 42*time.Second
	p.SetRepeat(RepeatAll)
	p.SetShuffle(true)
	p.SetVolume(0.3)
	path := filepath.Join(t.TempDir(), StateFile)
	if err := SaveState(path, p.Saved()); err != nil {
		t.Fatal(err)
	}
	s, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	q := newTestPlayer(t)
	q.Add(proto.Track{ID: strings.Repeat("e", 40), Title: "Asked now"})
	q.Restore(s)
	snap := q.Snapshot()
	if titles(snap.Queue[:3]) != titles(p.Snapshot().Queue) || snap.Queue[3].Title != "Asked now" || snap.Index != 1 {
		t.Errorf("restored queue %s at %d", titles(snap.Queue), snap.Index)
	}
	if q.resumeAt != 42*time.Second || snap.Volume != 0.3 || !snap.Shuffle || snap.Repeat != RepeatAll {
		t.Errorf("restored: at %v, volume %v, shuffle %v, repeat %s", q.resumeAt, snap.Volume, snap.Shuffle, snap.Repeat)
	}

	if _, err := LoadState(filepath.Join(t.TempDir(), StateFile)); !errors.Is(err, ErrNothingToResume) {
		t.Errorf("no state: %v", err)
	}
	bad := filepath.Join(t.TempDir(), StateFile)
	os.WriteFile(bad, []byte(`{"queue":[{"id":"../../etc"}]}`), 0o644)
	if _, err := LoadState(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("a state with a bad id: %v, want an error naming the file", err)
	}
	os.WriteFile(bad, []byte(`{"queue":`), 0o644)
	if _, err := LoadState(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("a truncated state: %v, want an error naming the file", err)
	}
}

// The queue in the terminal UI: ↓/↑ move a cursor, K/J move the track
// under it, d removes it, enter plays it.
func TestTUIQueueEditing(t *testing.T) {
	p := newTestPlayer(t)
	p.Add(tracks(4)...)
	m := &tuiModel{p: p, ctx: context.Background(), width: 80, height: 40, keys: defaultKeys(t)}
	press := func(code rune, text string) { m.Update(tea.KeyPressMsg{Code: code, Text: text}) }
	m.snap = p.Snapshot()
	press(tea.KeyDown, "")
	press(tea.KeyDown, "")
	if m.qsel != 3 {
		t.Fatalf("two ↓ from the current track: cursor on %d, want 3", m.qsel)
	}
	m.snap = p.Snapshot()
	if view := m.render(); !strings.Contains(view, "›   3. T3") {
		t.Errorf("the cursor is not shown on T3:\n%s", view)
	}
	press('K', "K")
	if got := titles(p.Snapshot().Queue); got != "T1 T3 T2 T4" || m.qsel != 2 {
		t.Errorf("K: %s, cursor %d; want T1 T3 T2 T4 with the cursor on 2", got, m.qsel)
	}
	press('J', "J")
	press('J', "J")
	if got := titles(p.Snapshot().Queue); got != "T1 T2 T4 T3" || m.qsel != 4 {
		t.Errorf("J J: %s, cursor %d", got, m.qsel)
	}
	press('d', "d")
	if got := titles(p.Snapshot().Queue); got != "T1 T2 T4" || m.qsel != 3 {
		t.Errorf("d: %s, cursor %d", got, m.qsel)
	}
	press(tea.KeyEnter, "")
	if s := p.Snapshot(); s.Index != 2 || m.qsel != 0 {
		t.Errorf("enter: index %d, cursor %d; want T4 (2) next and no cursor", s.Index, m.qsel)
	}
}

func TestMoveKeepsTheCurrentTrack(t *testing.T) {
	for _, c := range []struct{ index, from, to, want int }{
		{2, 2, 0, 0}, // the current one moves
		{2, 0, 3, 1}, // one before it moves after it
		{2, 4, 1, 3}, // one after it moves before it
		{2, 3, 4, 2}, // both after it
	} {
		p := newTestPlayer(t)
		p.Add(tracks(5)...)
		p.index = c.index
		cur := p.queue[c.index].ID
		if err := p.Move(c.from, c.to); err != nil {
			t.Fatal(err)
		}
		if p.index != c.want || p.queue[p.index].ID != cur {
			t.Errorf("index %d, move %d to %d: index %d, want %d (the same track)", c.index, c.from, c.to, p.index, c.want)
		}
	}
	p := newTestPlayer(t)
	if err := p.Move(0, 1); err == nil {
		t.Error("Move in an empty queue: no error")
	}
	if err := p.RemoveAt(3); err == nil {
		t.Error("RemoveAt past the end: no error")
	}
}

func defaultKeys(t *testing.T) keyMap {
	t.Helper()
	k, err := NewKeyMap(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNewKeyMap(t *testing.T) {
	for _, tc := range []struct {
		name      string
		overrides map[string][]string
		wantErr   string
	}{
		{"defaults", nil, ""},
		{"rebind next", map[string][]string{"next": {"ctrl+n", "N"}}, ""},
		{"swap two keys", map[string][]string{"next": {"p"}, "prev": {"n"}}, ""},
		{"unknown action", map[string][]string{"nxet": {"x"}}, `no action "nxet"`},
		{"no key", map[string][]string{"next": {}}, "next has no key"},
		{"empty key", map[string][]string{"next": {" "}}, "is not a key"},
		{"taken key", map[string][]string{"next": {"q"}}, `"q" is bound to both`},
		{"ctrl+c", map[string][]string{"quit": {"ctrl+c"}}, "ctrl+c is always the interrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewKeyMap(tc.overrides)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("NewKeyMap(%v) = %v, want %q", tc.overrides, err, tc.wantErr)
			}
		})
	}
}

// A rebound key does its new action and the old key does nothing; ctrl+c
// still interrupts.
func TestReboundKeys(t *testing.T) {
	p := newTestPlayer(t)
	k, err := NewKeyMap(map[string][]string{"mute": {"x"}, "quit": {"Q"}})
	if err != nil {
		t.Fatal(err)
	}
	m := &tuiModel{p: p, ctx: context.Background(), width: 80, keys: k}
	m.Update(tea.KeyPressMsg{Code: 'm', Text: "m"})
	if p.Snapshot().Muted {
		t.Errorf("m still mutes after mute was rebound to x")
	}
	m.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
	if !p.Snapshot().Muted {
		t.Errorf("x does not mute")
	}
	if _, cmd := m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"}); cmd != nil {
		t.Errorf("q still quits after quit was rebound to Q")
	}
	if _, cmd := m.Update(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}); cmd == nil || !m.interrupted {
		t.Errorf("ctrl+c does not interrupt")
	}
	if h := m.help.View(m.keys); !strings.Contains(h, "Q quit") {
		t.Errorf("the help line %q does not show quit's new key", h)
	}
}
