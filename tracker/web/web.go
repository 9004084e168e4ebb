package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/catalog"
	catalogapi "github.com/peertune/peertune/tracker/catalog/api"
	"github.com/peertune/peertune/tracker/peers"
)

// PageSize is the number of matches on one page of a search.
const PageSize = 50

// AlbumsPageSize is the number of albums on one page of /artists: the
// catalog's largest listing, so that a page is one call.
const AlbumsPageSize = proto.MaxLimit

// StylePath is where the style sheet is served.
const StylePath = "/static/style.css"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var style []byte

// Swarms are the peer store as the page reads it: one track's swarm and the
// totals over all. A tracker/peers.PeerStore is one (memory or redis).
type Swarms interface {
	Scrape(ctx context.Context, hashes []peers.InfoHash) ([]peers.Swarm, error)
	Stats(ctx context.Context) (peers.Stats, error)
}

// Config configures the page handler.
type Config struct {
	Catalog catalog.Catalog // required
	Swarms  Swarms          // required
	// Announce are the tracker's announce URLs, put in magnet links.
	Announce []string
	// AnnouncesPerSecond is the announce rate over the last minute shown
	// on the front page; nil shows none.
	AnnouncesPerSecond func() float64
	Logger             *slog.Logger // nil: no logs
}

type handler struct {
	cfg   Config
	log   *slog.Logger
	pages map[string]*template.Template // by file name under templates/
	mux   *http.ServeMux
}

// The pages, each a file under templates/ executed with layout.html.
const (
	pageHome    = "home.html"
	pageArtists = "artists.html"
	pageAlbum   = "album.html"
	pageTrack   = "track.html"
	pageError   = "error.html"
)

// New returns the handler of the web page's paths. It routes the paths
// itself and answers every path it does not know with a 404 page, so give
// it the GETs that nothing else serves.
func New(cfg Config) (http.Handler, error) {
	if cfg.Catalog == nil || cfg.Swarms == nil {
		return nil, errors.New("web: a catalog and a peer store are required")
	}
	h := &handler{cfg: cfg, log: cfg.Logger, pages: map[string]*template.Template{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	for _, name := range []string{pageHome, pageArtists, pageAlbum, pageTrack, pageError} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		h.pages[name] = t
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.home)
	mux.HandleFunc("GET /artists", h.artists)
	mux.HandleFunc("GET /albums/{id}", h.album)
	mux.HandleFunc("GET /tracks/{id}", h.track)
	mux.HandleFunc("GET "+StylePath, serveStyle)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
	h.mux = mux
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	// Nothing but our own style sheet: no script, frame, or other origin.
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.mux.ServeHTTP(w, r)
}

func serveStyle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(style))
}

// layout is what every page's header needs.
type layout struct {
	Title string // the page's own title, before "peertune"
	Query string // the search box's text
}

type errorPage struct {
	layout
	Status  int
	Message string
}

// render executes a page into a buffer first, so that a template error is
// a 500 page rather than half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		h.log.Error("web: rendering a page", "page", name, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache") // swarms change by the second
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail answers an error page with status and a message for people.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, status, pageError, errorPage{
		layout: layout{Title: http.StatusText(status), Query: r.URL.Query().Get("q")}, Status: status, Message: msg})
}

// internalError logs err and answers a 500 page without its details.
func (h *handler) internalError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("web", "path", r.URL.Path, "err", err)
	h.fail(w, r, http.StatusInternalServerError, "The tracker could not answer; its log says why.")
}

// pageParam reads the 1-based page number of a listing of perPage items.
func pageParam(r *http.Request, perPage int) (page, offset int, err error) {
	s := r.URL.Query().Get("page")
	if s == "" {
		return 1, 0, nil
	}
	maxPage := (1<<31-1)/perPage + 1
	page, err = strconv.Atoi(s)
	if err != nil || page < 1 || page > maxPage {
		return 0, 0, fmt.Errorf("page=%q: want a page number from 1 to %d", s, maxPage)
	}
	return page, (page - 1) * perPage, nil
}

// pager is the links between the pages of a listing.
type pager struct {
	Page, First, Last, Total int // First and Last count from 1; Last < First on an empty page
	PrevURL, NextURL         string
}

func newPager(path string, q url.Values, page, offset, shown, total int) pager {
	p := pager{Page: page, First: offset + 1, Last: offset + shown, Total: total}
	link := func(page int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Del("page")
		if page > 1 {
			v.Set("page", strconv.Itoa(page))
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	if page > 1 {
		p.PrevURL = link(page - 1)
	}
	if offset+shown < total && shown > 0 {
		p.NextURL = link(page + 1)
	}
	return p
}

// swarms returns the swarm of each track id, or false when the peer store
// did not answer (the page then says so; the catalog is still worth
// showing).
func (h *handler) swarms(ctx context.Context, ids []string) ([]peers.Swarm, bool) {
	if len(ids) == 0 {
		return nil, true
	}
	hashes := make([]peers.InfoHash, len(ids))
	for i, id := range ids {
		if _, err := hex.Decode(hashes[i][:], []byte(id)); err != nil {
			h.log.Warn("web: stored track id is not hex", "id", id)
		}
	}
	got, err := h.cfg.Swarms.Scrape(ctx, hashes)
	if err != nil || len(got) != len(ids) {
		h.log.Warn("web: swarm counts unavailable", "err", err, "want", len(ids), "got", len(got))
		return nil, false
	}
	return got, true
}

// trackRow is a track in a list, with its swarm when the store answered.
type trackRow struct {
	proto.Track
	Swarm      peers.Swarm
	SwarmKnown bool
}

func (h *handler) rows(ctx context.Context, tracks []proto.Track) []trackRow {
	ids := make([]string, len(tracks))
	for i, t := range tracks {
		ids[i] = t.ID
	}
	swarms, ok := h.swarms(ctx, ids)
	rows := make([]trackRow, len(tracks))
	for i, t := range tracks {
		rows[i] = trackRow{Track: t, SwarmKnown: ok}
		if ok {
			rows[i].Swarm = swarms[i]
		}
	}
	return rows
}

type homePage struct {
	layout
	Totals  *totals  // without a query
	Results *results // with one
}

type totals struct {
	Tracks, Albums     int
	Swarms             peers.Stats
	SwarmsKnown        bool
	AnnouncesPerSecond float64
	RateKnown          bool
}

type results struct {
	pager
	Tracks []trackRow
}

func (h *handler) home(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	if len(q) > catalogapi.MaxQueryLen {
		h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("The search is %d bytes long; at most %d are taken.", len(q), catalogapi.MaxQueryLen))
		return
	}
	if strings.TrimSpace(q) == "" {
		h.totals(w, r)
		return
	}
	page, offset, err := pageParam(r, PageSize)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	tracks, total, err := h.cfg.Catalog.Search(r.Context(), q, PageSize, offset)
	if err != nil {
		h.internalError(w, r, fmt.Errorf("search %q: %w", q, err))
		return
	}
	h.render(w, r, http.StatusOK, pageHome, homePage{
		layout: layout{Title: q, Query: q},
		Results: &results{
			pager:  newPager("/", url.Values{"q": {q}}, page, offset, len(tracks), total),
			Tracks: h.rows(r.Context(), tracks),
		},
	})
}

func (h *handler) totals(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var t totals
	var err error
	if t.Tracks, err = h.cfg.Catalog.Count(ctx); err != nil {
		h.internalError(w, r, fmt.Errorf("count tracks: %w", err))
		return
	}
	if _, t.Albums, err = h.cfg.Catalog.Albums(ctx, "", 1, 0); err != nil {
		h.internalError(w, r, fmt.Errorf("count albums: %w", err))
		return
	}
	if t.Swarms, err = h.cfg.Swarms.Stats(ctx); err != nil {
		h.log.Warn("web: peer store stats unavailable", "err", err)
	} else {
		t.SwarmsKnown = true
	}
	if h.cfg.AnnouncesPerSecond != nil {
		t.AnnouncesPerSecond, t.RateKnown = h.cfg.AnnouncesPerSecond(), true
	}
	h.render(w, r, http.StatusOK, pageHome, homePage{Totals: &t})
}

type artistsPage struct {
	layout
	pager
	Artists []artistAlbums
}

// artistAlbums is one artist's albums on a page of /artists; an artist
// whose albums straddle two pages heads both.
type artistAlbums struct {
	Name   string
	Albums []proto.Album
}

func (h *handler) artists(w http.ResponseWriter, r *http.Request) {
	page, offset, err := pageParam(r, AlbumsPageSize)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	albums, total, err := h.cfg.Catalog.Albums(r.Context(), "", AlbumsPageSize, offset)
	if err != nil {
		h.internalError(w, r, fmt.Errorf("list albums: %w", err))
		return
	}
	// The listing is sorted by artist, compared as the catalog compares
	// (ASCII case aside): group runs of one artist.
	var groups []artistAlbums
	for _, a := range albums {
		if n := len(groups); n > 0 && proto.ASCIILower(groups[n-1].Name) == proto.ASCIILower(a.Artist) {
			groups[n-1].Albums = append(groups[n-1].Albums, a)
			continue
		}
		groups = append(groups, artistAlbums{Name: a.Artist, Albums: []proto.Album{a}})
	}
	h.render(w, r, http.StatusOK, pageArtists, artistsPage{
		layout:  layout{Title: "Artists"},
		pager:   newPager("/artists", nil, page, offset, len(albums), total),
		Artists: groups,
	})
}

type albumPage struct {
	layout
	Album  proto.Album
	Tracks []trackRow
	Discs  bool // more than one disc: number tracks disc-track
}

func (h *handler) album(w http.ResponseWriter, r *http.Request) {
	id, err := proto.ParseAlbumID(r.PathValue("id"))
	if err != nil {
		h.fail(w, r, http.StatusNotFound, "There is no album "+r.PathValue("id")+": an album id is 32 hex digits.")
		return
	}
	album, tracks, err := h.cfg.Catalog.Album(r.Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		h.fail(w, r, http.StatusNotFound, "There is no album "+id+" in the catalog.")
		return
	}
	if err != nil {
		h.internalError(w, r, fmt.Errorf("album %s: %w", id, err))
		return
	}
	p := albumPage{layout: layout{Title: album.Title}, Album: album, Tracks: h.rows(r.Context(), tracks)}
	for _, t := range tracks {
		p.Discs = p.Discs || t.DiscNumber > 1
	}
	h.render(w, r, http.StatusOK, pageAlbum, p)
}

type trackPage struct {
	layout
	trackRow
	AlbumURL   string
	Magnet     template.URL
	TorrentURL string
}

func (h *handler) track(w http.ResponseWriter, r *http.Request) {
	id, err := proto.ParseTrackID(r.PathValue("id"))
	if err != nil {
		h.fail(w, r, http.StatusNotFound, "There is no track "+r.PathValue("id")+": a track id is 40 hex digits.")
		return
	}
	e, err := h.cfg.Catalog.Get(r.Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		h.fail(w, r, http.StatusNotFound, "There is no track "+id+" in the catalog.")
		return
	}
	if err != nil {
		h.internalError(w, r, fmt.Errorf("get %s: %w", id, err))
		return
	}
	p := trackPage{
		layout:     layout{Title: e.Title},
		trackRow:   h.rows(r.Context(), []proto.Track{e.Track})[0],
		AlbumURL:   albumURL(e.Track),
		Magnet:     h.magnet(e.Track),
		TorrentURL: proto.PathTrackPrefix + e.ID + "/torrent",
	}
	h.render(w, r, http.StatusOK, pageTrack, p)
}

// magnet is the track's magnet link (BEP 9): its infohash, its title and
// the tracker's announce URLs, each query-escaped. Built here from an id
// that ParseTrackID checked, it is safe to hand html/template as a URL
// (which would otherwise refuse the magnet: scheme).
func (h *handler) magnet(t proto.Track) template.URL {
	var b strings.Builder
	b.WriteString("magnet:?xt=urn:btih:" + t.ID)
	if t.Title != "" {
		b.WriteString("&dn=" + url.QueryEscape(t.Title))
	}
	for _, a := range h.cfg.Announce {
		b.WriteString("&tr=" + url.QueryEscape(a))
	}
	return template.URL(b.String())
}

// albumURL is the page of the track's album, or "" when it names none.
func albumURL(t proto.Track) string {
	id := proto.AlbumID(t.AlbumArtistOrArtist(), t.Album)
	if id == "" {
		return ""
	}
	return "/albums/" + id
}

// funcs are the templates' formatting helpers.
var funcs = template.FuncMap{
	"trackURL": func(id string) string { return "/tracks/" + id },
	"albumURL": albumURL,
	"duration": formatDuration,
	"bytes":    formatBytes,
	"bitrate":  formatBitrate,
	"orDash": func(n int) string {
		if n == 0 {
			return "—"
		}
		return strconv.Itoa(n)
	},
	"perSecond": func(r float64) string { return strconv.FormatFloat(r, 'f', 1, 64) },
}

// formatDuration is M:SS, or H:MM:SS from an hour on.
func formatDuration(s float64) string {
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	h, m, sec := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, sec)
	}
	return fmt.Sprintf("%d:%02d", m, sec)
}

// formatBytes is a size in binary units with its exact byte count.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, u := float64(n)/unit, "KiB"
	for _, next := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, u = v/unit, next
	}
	return fmt.Sprintf("%.1f %s (%d bytes)", v, u, n)
}

// formatBitrate is bits per second in kbit/s.
func formatBitrate(bps int64) string {
	if bps <= 0 {
		return "—"
	}
	return fmt.Sprintf("%d kbit/s", (bps+500)/1000)
}
