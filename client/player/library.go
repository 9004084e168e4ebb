package player

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/list"
	tea "charm.land/bubbletea/v2"

	"github.com/peertune/peertune/client/api"
	"github.com/peertune/peertune/proto"
)

// The terminal UI's library view: the catalog's albums browsed as artists
// → albums → tracks, each level a bubbles list (its own keys: ↑/↓, pages,
// / to filter), beside the queue.

// libLevel is where the library view is.
type libLevel int

const (
	levelArtists libLevel = iota
	levelAlbums
	levelTracks
)

// maxLibraryAlbums bounds what the view loads: pages of proto.MaxLimit.
const maxLibraryAlbums = 20 * proto.MaxLimit

// libItem is one line of a level: an artist, an album or a track.
type libItem struct {
	title, desc string
	artist      string       // levelArtists
	album       *proto.Album // levelAlbums
	track       *proto.Track // levelTracks
}

func (i libItem) Title() string       { return i.title }
func (i libItem) Description() string { return i.desc }
func (i libItem) FilterValue() string { return i.title }

// library is the view's state; the UI's model owns it.
type library struct {
	client  *api.Client
	level   libLevel
	list    list.Model
	albums  []proto.Album // every album, in catalog order (by artist, year)
	artist  string        // the artist opened (levelAlbums, levelTracks)
	album   proto.Album   // the album opened (levelTracks)
	tracks  []proto.Track // its tracks, in order
	loaded  bool
	cursors [3]int // the selection to come back to, per level
}

func newLibrary(c *api.Client) *library {
	d := list.NewDefaultDelegate()
	l := list.New(nil, d, 40, 20)
	l.SetShowHelp(false)
	l.DisableQuitKeybindings() // q and esc are the UI's
	l.Title = "library"
	return &library{client: c, list: l}
}

type libAlbumsMsg struct {
	albums []proto.Album
	err    error
}

type libTracksMsg struct {
	album  proto.Album
	tracks []proto.Track
	err    error
}

// libAddMsg carries the tracks "a" asked for, to queue.
type libAddMsg struct {
	what   string
	tracks []proto.Track
	err    error
}

// loadAlbums lists every album of the catalog (up to maxLibraryAlbums).
func (lib *library) loadAlbums(ctx context.Context) tea.Cmd {
	c := lib.client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var all []proto.Album
		for len(all) < maxLibraryAlbums {
			page, err := c.Albums(ctx, "", proto.MaxLimit, len(all))
			if err != nil {
				return libAlbumsMsg{err: err}
			}
			all = append(all, page.Albums...)
			if len(page.Albums) == 0 || len(all) >= page.Total {
				break
			}
		}
		return libAlbumsMsg{albums: all}
	}
}

func (lib *library) loadTracks(ctx context.Context, a proto.Album) tea.Cmd {
	c := lib.client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		at, err := c.Album(ctx, a.ID)
		return libTracksMsg{album: a, tracks: at.Tracks, err: err}
	}
}

// addAlbums fetches the tracks of albums, in order, for "a".
func (lib *library) addAlbums(ctx context.Context, what string, albums []proto.Album) tea.Cmd {
	c := lib.client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var tracks []proto.Track
		for _, a := range albums {
			at, err := c.Album(ctx, a.ID)
			if err != nil {
				return libAddMsg{what: what, err: err}
			}
			tracks = append(tracks, at.Tracks...)
		}
		return libAddMsg{what: what, tracks: tracks}
	}
}

// albumsOf are the albums filed under artist (ASCII case aside, as the
// catalog groups them).
func (lib *library) albumsOf(artist string) []proto.Album {
	var out []proto.Album
	for _, a := range lib.albums {
		if proto.ASCIILower(a.Artist) == proto.ASCIILower(artist) {
			out = append(out, a)
		}
	}
	return out
}

// show fills the list with the items of level.
func (lib *library) show(level libLevel) tea.Cmd {
	lib.level = level
	var items []list.Item
	switch level {
	case levelArtists:
		lib.list.Title = "library: artists"
		// The catalog lists albums by artist: one item per run of an
		// artist's albums, counted in one pass (albumsOf per artist was
		// quadratic in a large library).
		count := make(map[string]int)
		for _, a := range lib.albums {
			count[proto.ASCIILower(a.Artist)]++
		}
		var last string
		for i, a := range lib.albums {
			key := proto.ASCIILower(a.Artist)
			if i > 0 && key == last {
				continue
			}
			last = key
			items = append(items, libItem{title: orDash(a.Artist), desc: plural(count[key], "album"), artist: a.Artist})
		}
	case levelAlbums:
		lib.list.Title = "library: " + orDash(lib.artist)
		for _, a := range lib.albumsOf(lib.artist) {
			t := a.Title
			if a.Year > 0 {
				t = fmt.Sprintf("%d  %s", a.Year, a.Title)
			}
			items = append(items, libItem{title: t, desc: plural(a.TrackCount, "track"), album: &a})
		}
	case levelTracks:
		lib.list.Title = "library: " + orDash(lib.album.Artist) + " – " + lib.album.Title
		discs := map[int]bool{}
		for _, t := range lib.tracks {
			discs[t.DiscNumber] = true
		}
		for _, t := range lib.tracks {
			n := ""
			switch {
			case t.TrackNumber > 0 && len(discs) > 1:
				n = fmt.Sprintf("%d-%02d. ", t.DiscNumber, t.TrackNumber)
			case t.TrackNumber > 0:
				n = fmt.Sprintf("%2d. ", t.TrackNumber)
			}
			desc := ClockText(seconds(t.DurationS))
			if t.Artist != "" && t.Artist != lib.album.Artist {
				desc += "  " + t.Artist
			}
			items = append(items, libItem{title: n + t.Title, desc: desc, track: &t})
		}
	}
	cmd := lib.list.SetItems(items)
	lib.list.ResetFilter()
	lib.list.Select(min(lib.cursors[level], max(len(items)-1, 0)))
	return cmd
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func (lib *library) selected() (libItem, bool) {
	it, ok := lib.list.SelectedItem().(libItem)
	return it, ok
}

// updateLibrary handles a key while the library view has the focus: enter
// (or →) opens an artist or album and queues a track, a queues everything
// under the selection, ← or backspace goes back up, tab or esc closes the
// view; the list's own keys move and filter. q, space, n and p keep their
// player meanings.
func (m *tuiModel) updateLibrary(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	lib := m.lib
	if lib.list.SettingFilter() {
		var cmd tea.Cmd
		lib.list, cmd = lib.list.Update(msg)
		return m, cmd
	}
	k := m.keys
	switch {
	case key.Matches(msg, k.Library), msg.String() == "esc" && !lib.list.IsFiltered():
		m.libOpen = false
		return m, nil
	case key.Matches(msg, k.Quit, k.Pause, k.Next, k.Prev, k.VolUp, k.VolDown, k.Mute):
		return m.updateKeys(msg)
	}
	switch msg.String() {
	case "enter", "right":
		it, ok := lib.selected()
		if !ok {
			return m, nil
		}
		lib.cursors[lib.level] = lib.list.Index()
		switch lib.level {
		case levelArtists:
			lib.artist = it.artist
			lib.cursors[levelAlbums] = 0
			return m, lib.show(levelAlbums)
		case levelAlbums:
			m.p.Notify("opening " + it.album.Title + "…")
			return m, lib.loadTracks(m.ctx, *it.album)
		case levelTracks:
			m.add(*it.track)
			m.snap = m.p.Snapshot()
		}
		return m, nil
	case "a":
		it, ok := lib.selected()
		if !ok {
			return m, nil
		}
		switch lib.level {
		case levelArtists:
			return m, lib.addAlbums(m.ctx, orDash(it.artist), lib.albumsOf(it.artist))
		case levelAlbums:
			return m, lib.addAlbums(m.ctx, it.album.Title, []proto.Album{*it.album})
		case levelTracks:
			m.p.Add(lib.tracks...)
			m.p.Notify(fmt.Sprintf("added %s (%s)", lib.album.Title, plural(len(lib.tracks), "track")))
			m.snap = m.p.Snapshot()
		}
		return m, nil
	case "left", "backspace":
		if lib.list.IsFiltered() {
			lib.list.ResetFilter()
			return m, nil
		}
		lib.cursors[lib.level] = lib.list.Index()
		if lib.level == levelArtists {
			m.libOpen = false
			return m, nil
		}
		return m, lib.show(lib.level - 1)
	}
	var cmd tea.Cmd
	lib.list, cmd = lib.list.Update(msg)
	return m, cmd
}

// libraryMsg handles the library's loads; ok is false for other messages.
func (m *tuiModel) libraryMsg(msg tea.Msg) (cmd tea.Cmd, ok bool) {
	lib := m.lib
	switch msg := msg.(type) {
	case libAlbumsMsg:
		if msg.err != nil {
			m.p.Notify("library: " + msg.err.Error())
			return nil, true
		}
		lib.albums, lib.loaded = msg.albums, true
		if len(lib.albums) == 0 {
			m.p.Notify("library: the catalog has no albums")
		}
		return lib.show(levelArtists), true
	case libTracksMsg:
		if msg.err != nil {
			m.p.Notify("library: " + msg.err.Error())
			return nil, true
		}
		m.p.Notify("")
		lib.album, lib.tracks = msg.album, msg.tracks
		lib.cursors[levelTracks] = 0
		return lib.show(levelTracks), true
	case libAddMsg:
		if msg.err != nil {
			m.p.Notify("library: " + msg.err.Error())
			return nil, true
		}
		m.p.Add(msg.tracks...)
		m.p.Notify(fmt.Sprintf("added %s (%s)", msg.what, plural(len(msg.tracks), "track")))
		m.snap = m.p.Snapshot()
		return nil, true
	}
	return nil, false
}

// libraryView renders the view in width columns and height lines.
func (m *tuiModel) libraryView(width, height int) string {
	lib := m.lib
	lib.list.SetSize(width, height)
	if !lib.loaded {
		return styleTitle.Render("library") + "\n\nloading the catalog's albums…"
	}
	hint := styleDim.Render("enter open/add · a add all · ← back · / filter · tab close")
	return strings.TrimRight(lib.list.View(), "\n") + "\n" + hint
}
