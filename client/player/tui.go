package player

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/peertune/peertune/client/api"
	"github.com/peertune/peertune/proto"
)

// SearchFunc finds tracks for the UI's "/" search.
type SearchFunc func(ctx context.Context, query string) ([]proto.Track, error)

// ErrInterrupted: the user left the terminal UI with ctrl+c (q quits
// cleanly), which a shell expects to see as exit status 130.
var ErrInterrupted = errors.New("interrupted")

// TUIOptions are what the terminal UI works with besides the player.
type TUIOptions struct {
	Search  SearchFunc  // the "/" search; nil: none
	Catalog *api.Client // what the library view browses; nil: no library view
	// Keys rebinds actions (KeyActions names them) to keys, as bubbletea
	// names keys ("space", "ctrl+n", "x"); the rest keep their defaults.
	Keys map[string][]string
}

// RunTUI runs the terminal UI on the terminal until the user quits (q, or
// ctrl+c: ErrInterrupted) or ctx ends. The caller runs p.Run (with
// Config.Keep) beside it, so the player keeps sharing after its queue ends
// until the user quits. ctrl+c always interrupts, whatever Keys says.
func RunTUI(ctx context.Context, p *Player, o TUIOptions) error {
	keys, err := NewKeyMap(o.Keys)
	if err != nil {
		return err
	}
	m := &tuiModel{p: p, search: o.Search, ctx: ctx, width: 80, height: 24, help: help.New(), keys: keys}
	if o.Catalog != nil {
		m.lib = newLibrary(o.Catalog)
	}
	m.snap = p.Snapshot()
	prog := tea.NewProgram(m, tea.WithContext(ctx))
	_, err = prog.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // ctx ended: the caller knows why
	}
	if err != nil {
		return fmt.Errorf("terminal UI: %w", err)
	}
	if m.interrupted {
		return ErrInterrupted
	}
	return nil
}

type tickMsg time.Time

type searchDoneMsg struct {
	query  string
	tracks []proto.Track
	err    error
}

type tuiModel struct {
	ctx       context.Context
	p         *Player
	search    SearchFunc
	snap      Snapshot
	query     []rune // the search being typed after "/"
	searching bool
	// picks are a search's matches shown to choose from (empty: none
	// shown); pick is the highlighted one, pickTop the first shown.
	picks   []proto.Track
	pick    int
	pickTop int
	help    help.Model
	keys    keyMap
	width   int
	height  int

	interrupted bool // left with ctrl+c
	qsel        int  // the queue cursor, 1-based; 0: none

	lib     *library // nil: no catalog to browse
	libOpen bool     // the library view is shown and has the keys
}

// keyMap is the player's keys, for the help line (bubbles/help).
type keyMap struct {
	Pause, Back, Fwd, Back60, Fwd60, Next, Prev, VolUp, VolDown, Mute, Shuffle, Repeat, Search, Help, Quit key.Binding
	Up, Down, MoveUp, MoveDown, Remove, Jump, Library                                                      key.Binding
}

func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Pause, k.Fwd, k.Search, k.Library, k.Help, k.Quit}
}

func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Pause, k.Back, k.Fwd, k.Back60, k.Fwd60},
		{k.Next, k.Prev, k.VolUp, k.VolDown, k.Mute},
		{k.Shuffle, k.Repeat, k.Search, k.Library, k.Help, k.Quit},
		{k.Up, k.Down, k.MoveUp, k.MoveDown, k.Remove, k.Jump},
	}
}

func tick() tea.Cmd {
	return tea.Tick(250*time.Millisecond, func(t time.Time) tea.Msg { return tickMsg(t) })
}

func (m *tuiModel) Init() tea.Cmd { return tick() }

func (m *tuiModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.PasteMsg:
		if m.searching {
			// One line of it: a search is a line. Terminals end a pasted
			// line with CR (xterm and tmux turn LF into CR), files with LF.
			line := msg.Content
			if i := strings.IndexAny(line, "\r\n"); i >= 0 {
				line = line[:i]
			}
			m.query = append(m.query, []rune(line)...)
		}
		return m, nil
	case tickMsg:
		m.snap = m.p.Snapshot()
		return m, tick()
	case libAlbumsMsg, libTracksMsg, libAddMsg:
		cmd, _ := m.libraryMsg(msg)
		return m, cmd
	case searchDoneMsg:
		switch {
		case msg.err != nil:
			m.p.Notify(fmt.Sprintf("search %q: %v", msg.query, msg.err))
		case len(msg.tracks) == 0:
			m.p.Notify(fmt.Sprintf("no track matches %q", msg.query))
		case len(msg.tracks) == 1:
			m.add(msg.tracks[0])
		default:
			m.picks = msg.tracks
			m.pick, m.pickTop = 0, 0
			m.p.Notify(fmt.Sprintf("%d matches for %q", len(msg.tracks), msg.query))
		}
		m.snap = m.p.Snapshot()
	case tea.KeyPressMsg:
		if m.searching {
			return m.updateSearch(msg)
		}
		if len(m.picks) > 0 {
			return m.updatePicks(msg)
		}
		if m.libOpen {
			return m.updateLibrary(msg)
		}
		return m.updateKeys(msg)
	default:
		if m.libOpen { // the list's own messages (its filter's)
			var cmd tea.Cmd
			m.lib.list, cmd = m.lib.list.Update(msg)
			return m, cmd
		}
	}
	return m, nil
}

func (m *tuiModel) updateSearch(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch msg.String() {
	case "esc":
		m.searching = false
		return m, nil
	case "backspace":
		if len(m.query) > 0 {
			m.query = m.query[:len(m.query)-1]
		}
		return m, nil
	case "enter":
		q := strings.TrimSpace(string(m.query))
		m.searching = false
		if q == "" || m.search == nil {
			return m, nil
		}
		m.p.Notify(fmt.Sprintf("searching %q…", q))
		ctx, search := m.ctx, m.search
		return m, func() tea.Msg {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			ts, err := search(sctx, q)
			return searchDoneMsg{query: q, tracks: ts, err: err}
		}
	case "ctrl+c":
		m.interrupted = true
		return m, tea.Quit
	}
	if msg.Text != "" {
		m.query = append(m.query, []rune(msg.Text)...)
	}
	return m, nil
}

// maxPicks is how many of a search's matches the UI shows at once (keys
// 1-9 pick among them; ↑/↓ scroll through the rest).
const maxPicks = 9

// SearchLimit is how many matches a "/" search asks the catalog for.
const SearchLimit = 100

func (m *tuiModel) add(t proto.Track) {
	m.p.Add(t)
	m.p.Notify("added " + title(t))
}

// updatePicks handles the keys while a search's matches are shown: ↑/↓
// (or k/j) move, enter or a digit adds one, a adds them all, esc closes.
func (m *tuiModel) updatePicks(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch k := msg.String(); k {
	case "up", "k":
		m.pick = (m.pick + len(m.picks) - 1) % len(m.picks)
		m.scrollPicks()
		return m, nil
	case "down", "j":
		m.pick = (m.pick + 1) % len(m.picks)
		m.scrollPicks()
		return m, nil
	case "enter":
		m.add(m.picks[m.pick])
	case "a":
		for _, t := range m.picks {
			m.p.Add(t)
		}
		m.p.Notify(fmt.Sprintf("added %d tracks", len(m.picks)))
	case "esc":
		m.p.Notify("")
	case "ctrl+c":
		m.interrupted = true
		return m, tea.Quit
	default:
		if len(k) == 1 && k[0] >= '1' && m.pickTop+int(k[0]-'1') < min(len(m.picks), m.pickTop+maxPicks) {
			m.add(m.picks[m.pickTop+int(k[0]-'1')])
			break
		}
		return m, nil
	}
	m.picks = nil
	m.snap = m.p.Snapshot()
	return m, nil
}

// scrollPicks keeps the highlighted match inside the shown ones.
func (m *tuiModel) scrollPicks() {
	switch {
	case m.pick < m.pickTop:
		m.pickTop = m.pick
	case m.pick >= m.pickTop+maxPicks:
		m.pickTop = m.pick - maxPicks + 1
	}
}

func (m *tuiModel) updateKeys(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	switch {
	case msg.String() == "ctrl+c":
		m.interrupted = true
		return m, tea.Quit
	case key.Matches(msg, k.Quit):
		return m, tea.Quit
	case key.Matches(msg, k.Pause):
		m.p.TogglePause()
	case key.Matches(msg, k.Back):
		m.p.SeekBy(-5 * time.Second)
	case key.Matches(msg, k.Fwd):
		m.p.SeekBy(5 * time.Second)
	case key.Matches(msg, k.Back60):
		m.p.SeekBy(-60 * time.Second)
	case key.Matches(msg, k.Fwd60):
		m.p.SeekBy(60 * time.Second)
	case key.Matches(msg, k.Next):
		m.p.Next()
	case key.Matches(msg, k.Prev):
		m.p.Prev()
	case key.Matches(msg, k.VolUp):
		m.p.ChangeVolume(0.1)
	case key.Matches(msg, k.VolDown):
		m.p.ChangeVolume(-0.1)
	case key.Matches(msg, k.Mute):
		m.p.ToggleMute()
	case key.Matches(msg, k.Up), key.Matches(msg, k.Down):
		n := len(m.p.Snapshot().Queue)
		if n == 0 {
			return m, nil
		}
		if m.qsel == 0 {
			m.qsel = m.snap.Index + 1
		}
		if key.Matches(msg, k.Up) {
			m.qsel = max(m.qsel-1, 1)
		} else {
			m.qsel = min(m.qsel+1, n)
		}
	case key.Matches(msg, k.MoveUp), key.Matches(msg, k.MoveDown):
		if m.qsel == 0 {
			return m, nil
		}
		to := m.qsel - 2
		if key.Matches(msg, k.MoveDown) {
			to = m.qsel
		}
		if err := m.p.Move(m.qsel-1, to); err == nil {
			m.qsel = to + 1
		}
	case key.Matches(msg, k.Remove):
		if m.qsel == 0 {
			return m, nil
		}
		if err := m.p.RemoveAt(m.qsel - 1); err != nil {
			m.p.Notify(err.Error())
		} else {
			m.qsel = min(m.qsel, len(m.p.Snapshot().Queue))
		}
	case key.Matches(msg, k.Jump):
		if m.qsel == 0 {
			return m, nil
		}
		m.p.JumpTo(m.qsel - 1)
		m.qsel = 0
	case key.Matches(msg, k.Shuffle):
		m.p.ToggleShuffle()
	case key.Matches(msg, k.Repeat):
		m.p.CycleRepeat()
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
	case key.Matches(msg, k.Search):
		m.searching = true
		m.query = m.query[:0]
		return m, nil
	case key.Matches(msg, k.Library):
		if m.lib == nil {
			m.p.Notify("no catalog to browse")
			return m, nil
		}
		m.libOpen = true
		if m.lib.loaded {
			return m, nil
		}
		return m, m.lib.loadAlbums(m.ctx)
	default:
		return m, nil
	}
	m.snap = m.p.Snapshot()
	return m, nil
}

var (
	styleTitle  = lipgloss.NewStyle().Bold(true)
	styleDim    = lipgloss.NewStyle().Foreground(lipgloss.Color("8"))
	stylePlayed = lipgloss.NewStyle().Foreground(lipgloss.Color("6"))
	styleBuffer = lipgloss.NewStyle().Foreground(lipgloss.Color("7"))
	styleState  = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("3"))
	styleCur    = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("6"))
)

func (m *tuiModel) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	return v
}

// libSideBySide is the terminal width from which the library view is shown
// beside the queue rather than in its place.
const libSideBySide = 100

func (m *tuiModel) render() string {
	top, queue, bottom := m.renderTop(), m.renderQueue(), m.renderBottom()
	if !m.libOpen || m.lib == nil {
		return top + queue + bottom
	}
	bottomLines := strings.Count(bottom, "\n")
	if m.width >= libSideBySide {
		left := lipgloss.NewStyle().Width(m.width / 2).Render(strings.TrimRight(top+queue, "\n"))
		height := max(m.height-bottomLines-2, 8)
		right := m.libraryView(m.width-m.width/2-1, height-1)
		return lipgloss.JoinHorizontal(lipgloss.Top, left, " ", right) + "\n\n" + bottom
	}
	height := max(m.height-strings.Count(top, "\n")-bottomLines-2, 8)
	return top + "\n" + m.libraryView(m.width, height-1) + "\n\n" + bottom
}

// renderTop is the title and what is playing.
func (m *tuiModel) renderTop() string {
	s := m.snap
	var b strings.Builder
	b.WriteString(styleTitle.Render("peertune") + "\n\n")
	if s.State == StateIdle {
		b.WriteString("Nothing playing — still sharing the cache with other listeners. / to search, q to quit.\n")
	} else {
		t := s.Track
		fmt.Fprintf(&b, "%s\n%s\n%s\n\n", styleTitle.Render(orDash(t.Title)), orDash(t.Artist), styleDim.Render(orDash(t.Album)))
		barWidth := max(min(m.width-20, 60), 10)
		fmt.Fprintf(&b, "%s  %s / %s\n", m.bar(barWidth), ClockText(s.Position), ClockText(s.Duration))
		vol := fmt.Sprintf("volume %d%%", int(s.Volume*100+0.5))
		if s.Muted {
			vol += " (muted)"
		}
		fmt.Fprintf(&b, "%s   %s   %d peers", styleState.Render(string(s.State)), vol, s.Stats.PeersConnected-s.Stats.SeedersConnected)
		if s.Underrun > 0 {
			fmt.Fprintf(&b, "   %d underruns", s.Underrun)
		}
		if s.Shuffle {
			b.WriteString("   shuffle")
		}
		if s.Repeat != RepeatOff && s.Repeat != "" {
			fmt.Fprintf(&b, "   repeat %s", s.Repeat)
		}
		b.WriteString("\n")
		seed, peers, cache, total := s.Sources()
		fmt.Fprintf(&b, "seed server %s (%d%%)   peers %s (%d%%)   cache %s (%d%%)\n",
			SizeText(seed), percent(seed, total), SizeText(peers), percent(peers, total), SizeText(cache), percent(cache, total))
	}
	return b.String()
}

// renderQueue is the queue, scrolled to keep the cursor (or the current
// track) in view.
func (m *tuiModel) renderQueue() string {
	s := m.snap
	var b strings.Builder
	b.WriteString("\n" + styleTitle.Render("queue") + "\n")
	focus := s.Index
	if m.qsel > 0 {
		focus = m.qsel - 1
	}
	first, last := queueWindow(len(s.Queue), focus, max(m.height-20, 5))
	if first > 0 {
		b.WriteString(styleDim.Render(fmt.Sprintf("   … %d before", first)) + "\n")
	}
	for i := first; i < last; i++ {
		t := s.Queue[i]
		line := fmt.Sprintf("%2d. %s", i+1, title(t))
		if i == s.Index && s.State != StateIdle {
			line = styleCur.Render("▶ " + line)
		} else {
			line = "  " + line
		}
		if i == m.qsel-1 {
			line = "›" + line
		} else {
			line = " " + line
		}
		b.WriteString(line + "\n")
	}
	if last < len(s.Queue) {
		b.WriteString(styleDim.Render(fmt.Sprintf("   … %d more", len(s.Queue)-last)) + "\n")
	}
	return b.String()
}

// renderBottom is the search line, a search's matches or the last
// message, and the help.
func (m *tuiModel) renderBottom() string {
	s := m.snap
	var b strings.Builder
	b.WriteString("\n")
	if m.searching {
		b.WriteString("search: " + string(m.query) + "█  (enter searches, esc cancels)\n")
	} else if len(m.picks) > 0 {
		if s.Message != "" {
			b.WriteString(styleDim.Render(s.Message) + "\n")
		}
		end := min(len(m.picks), m.pickTop+maxPicks)
		for i := m.pickTop; i < end; i++ {
			t := m.picks[i]
			line := fmt.Sprintf("%d. %s", i-m.pickTop+1, title(t))
			if t.Album != "" {
				line += " (" + t.Album + ")"
			}
			if t.DurationS > 0 {
				line += "  " + ClockText(seconds(t.DurationS))
			}
			if i == m.pick {
				line = styleCur.Render("▸ " + line)
			} else {
				line = "  " + line
			}
			b.WriteString(line + "\n")
		}
		more := ""
		if len(m.picks) > maxPicks {
			more = fmt.Sprintf(" (%d–%d of %d)", m.pickTop+1, end, len(m.picks))
		}
		b.WriteString(styleDim.Render("↑/↓ choose"+more+" · enter or 1-"+strconv.Itoa(end-m.pickTop)+" add · a add all · esc close") + "\n")
	} else if s.Message != "" {
		b.WriteString(styleDim.Render(s.Message) + "\n")
	}
	m.help.SetWidth(m.width)
	b.WriteString(m.help.View(m.keys) + "\n")
	return b.String()
}

// bar draws the progress bar: played, buffered (bytes here, not played
// yet) and missing, by the track's byte ranges mapped onto time.
func (m *tuiModel) bar(width int) string {
	s := m.snap
	if s.Duration <= 0 {
		return strings.Repeat("░", width)
	}
	played := int(float64(width) * s.Position.Seconds() / s.Duration.Seconds())
	cells := make([]rune, width)
	size := s.Stats.Size
	for i := range cells {
		cells[i] = '░'
		if size > 0 {
			mid := int64((float64(i) + 0.5) / float64(width) * float64(size))
			for _, r := range s.Stats.Buffered {
				if r.Start <= mid && mid < r.End {
					cells[i] = '▒'
				}
			}
		}
	}
	played = min(max(played, 0), width)
	return stylePlayed.Render(strings.Repeat("█", played)) + styleBuffer.Render(string(cells[played:]))
}

// queueWindow is the slice [first, last) of a queue of n tracks to show in
// at most lines lines, keeping the current one (cur) in view with a little
// of what comes before it.
func queueWindow(n, cur, lines int) (first, last int) {
	if n <= lines {
		return 0, n
	}
	first = min(max(cur-2, 0), n-lines)
	return first, first + lines
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
