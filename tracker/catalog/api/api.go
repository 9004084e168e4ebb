// Package api serves the catalog HTTP API of the contract: GET /api/v1/info,
// search and list (GET /api/v1/tracks), one track, its .torrent, albums,
// publish (POST, a publisher's bearer token), unpublish (DELETE: the
// publisher's own tracks; an admin's DELETE takes a track down), and the
// deny list (/api/v1/admin/deny, admins only). Who a token belongs to comes
// from an auth.Keyring, read afresh by every request. Every error is JSON
// {"error": "…"}; publish and deny bodies are parsed by the pure functions
// ParsePublish and ParseDenyRequest, which are fuzzed.
package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/auth"
	"github.com/peertune/peertune/tracker/catalog"
	"github.com/peertune/peertune/tracker/peers"
)

// MaxQueryLen bounds the q parameter of a search, in bytes.
const MaxQueryLen = 256

// DisabledMessage is the 401 answer to a publish or delete when the tracker
// has no publisher (no --token, no --tokens file).
const DisabledMessage = "publishing is disabled: start the tracker with --token or --tokens"

// AdminDisabledMessage is the 401 answer of the admin paths when the
// tracker has no admin.
const AdminDisabledMessage = "administration is disabled: start the tracker with --admin-tokens"

// SwarmCounter gives the seeders and leechers of tracks. A
// tracker/peers.PeerStore is one.
type SwarmCounter interface {
	Scrape(ctx context.Context, hashes []peers.InfoHash) ([]peers.Swarm, error)
}

// Config configures the API handler.
type Config struct {
	Catalog catalog.Catalog // required
	// Swarms fills each Track's seeders and leechers; nil leaves them 0.
	Swarms SwarmCounter
	// Keys knows the publishers and admins by token; every request reads
	// its current set. With no publisher, publishing is refused with 401;
	// with no admin, so are the admin paths.
	Keys *auth.Keyring
	// Announce is the list GET /api/v1/info returns: the tracker's HTTP and
	// UDP announce URLs as clients must reach them.
	Announce []string
	Version  string
	Logger   *slog.Logger          // nil: no logs
	Metrics  prometheus.Registerer // nil: no metrics
	// Now is the clock for PublishedAt (default time.Now).
	Now func() time.Time
}

type handler struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
	m   *metrics
}

// New returns the handler of every /api/v1/ path. Mount it at "/api/" (or
// "/") of the tracker's mux: it routes the full paths itself.
func New(cfg Config) (http.Handler, error) {
	if cfg.Catalog == nil {
		return nil, errors.New("catalog api: no catalog")
	}
	h := &handler{cfg: cfg, log: cfg.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.cfg.Now == nil {
		h.cfg.Now = time.Now
	}
	if h.cfg.Announce == nil {
		h.cfg.Announce = []string{}
	}
	m, err := newMetrics(cfg.Metrics, cfg.Catalog)
	if err != nil {
		return nil, fmt.Errorf("catalog api: %w", err)
	}
	h.m = m

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+proto.PathInfo, h.info)
	mux.HandleFunc(proto.PathInfo, methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("GET "+proto.PathTracks, h.search)
	mux.HandleFunc("POST "+proto.PathTracks, h.publish)
	mux.HandleFunc(proto.PathTracks, methodNotAllowed("GET, HEAD, POST"))
	mux.HandleFunc("GET "+proto.PathTracks+"/{id}", h.track)
	mux.HandleFunc("DELETE "+proto.PathTracks+"/{id}", h.unpublish)
	mux.HandleFunc(proto.PathTracks+"/{id}", methodNotAllowed("GET, HEAD, DELETE"))
	mux.HandleFunc("GET "+proto.PathTracks+"/{id}/torrent", h.torrent)
	mux.HandleFunc(proto.PathTracks+"/{id}/torrent", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("GET "+proto.PathAlbums, h.albums)
	mux.HandleFunc(proto.PathAlbums, methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("GET "+proto.PathAlbums+"/{id}", h.album)
	mux.HandleFunc(proto.PathAlbums+"/{id}", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("GET "+proto.PathAdminDeny, h.denyList)
	mux.HandleFunc(proto.PathAdminDeny, methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("PUT "+proto.PathAdminDeny+"/{id}", h.deny)
	mux.HandleFunc("DELETE "+proto.PathAdminDeny+"/{id}", h.lift)
	mux.HandleFunc(proto.PathAdminDeny+"/{id}", methodNotAllowed("PUT, DELETE"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API path: "+r.URL.Path)
	})
	h.mux = mux
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.Error("catalog api: panic", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			writeError(w, http.StatusInternalServerError, "internal error")
		}
		h.m.observe(r.Pattern, time.Since(start))
	}()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed; allowed: %s", r.Method, allow))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal error: encoding the answer")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeErrorCode(w, status, "", msg)
}

// writeErrorCode answers an error with a proto.Error code for programs.
func writeErrorCode(w http.ResponseWriter, status int, code, msg string) {
	body, _ := json.Marshal(proto.Error{Error: msg, Code: code}) // strings always encode
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// internalError logs err and answers 500 without its details.
func (h *handler) internalError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("catalog api", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error")
}

func (h *handler) info(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, proto.Info{Announce: h.cfg.Announce, Version: h.cfg.Version})
}

// intParam parses an optional non-negative integer query parameter.
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s=%q: want an integer from %d to %d", name, s, lo, hi)
	}
	return n, nil
}

// pageParams reads q, limit and offset of a listing, or answers 400.
func pageParams(w http.ResponseWriter, r *http.Request) (q string, limit, offset int, ok bool) {
	q = r.URL.Query().Get("q")
	if len(q) > MaxQueryLen {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("q of %d bytes is longer than %d", len(q), MaxQueryLen))
		return "", 0, 0, false
	}
	limit, err := intParam(r, "limit", proto.DefaultLimit, 1, proto.MaxLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return "", 0, 0, false
	}
	offset, err = intParam(r, "offset", 0, 0, 1<<31-1)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return "", 0, 0, false
	}
	return q, limit, offset, true
}

func (h *handler) search(w http.ResponseWriter, r *http.Request) {
	q, limit, offset, ok := pageParams(w, r)
	if !ok {
		return
	}
	tracks, total, err := h.cfg.Catalog.Search(r.Context(), q, limit, offset)
	if err != nil {
		h.internalError(w, r, fmt.Errorf("search %q: %w", q, err))
		return
	}
	h.fillSwarms(r.Context(), tracks)
	writeJSON(w, http.StatusOK, proto.TrackList{Tracks: tracks, Total: total})
}

func (h *handler) albums(w http.ResponseWriter, r *http.Request) {
	q, limit, offset, ok := pageParams(w, r)
	if !ok {
		return
	}
	albums, total, err := h.cfg.Catalog.Albums(r.Context(), q, limit, offset)
	if err != nil {
		h.internalError(w, r, fmt.Errorf("albums %q: %w", q, err))
		return
	}
	writeJSON(w, http.StatusOK, proto.AlbumList{Albums: albums, Total: total})
}

func (h *handler) album(w http.ResponseWriter, r *http.Request) {
	id, err := proto.ParseAlbumID(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	album, tracks, err := h.cfg.Catalog.Album(r.Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no album "+id)
		return
	}
	if err != nil {
		h.internalError(w, r, fmt.Errorf("album %s: %w", id, err))
		return
	}
	h.fillSwarms(r.Context(), tracks)
	writeJSON(w, http.StatusOK, proto.AlbumTracks{Album: album, Tracks: tracks})
}

// fillSwarms sets each track's seeders and leechers. Without them the
// catalog is still useful, so a failing peer store is logged, not fatal.
func (h *handler) fillSwarms(ctx context.Context, tracks []proto.Track) {
	for i := range tracks {
		if tracks[i].SeedURLs == nil {
			tracks[i].SeedURLs = []string{}
		}
	}
	if h.cfg.Swarms == nil || len(tracks) == 0 {
		return
	}
	hashes := make([]peers.InfoHash, len(tracks))
	for i, t := range tracks {
		if _, err := hex.Decode(hashes[i][:], []byte(t.ID)); err != nil {
			h.log.Warn("catalog api: stored track id is not hex", "id", t.ID)
		}
	}
	swarms, err := h.cfg.Swarms.Scrape(ctx, hashes)
	if err != nil || len(swarms) != len(tracks) {
		h.log.Warn("catalog api: swarm counts unavailable", "err", err, "want", len(tracks), "got", len(swarms))
		return
	}
	for i, s := range swarms {
		tracks[i].Seeders, tracks[i].Leechers = s.Complete, s.Incomplete
	}
}

// trackID reads and canonicalizes the {id} path value, or answers 400.
func trackID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id, err := proto.ParseTrackID(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return "", false
	}
	return id, true
}

// entry loads the track of the request's {id}, or answers 400/404/500.
func (h *handler) entry(w http.ResponseWriter, r *http.Request) (catalog.Entry, bool) {
	id, ok := trackID(w, r)
	if !ok {
		return catalog.Entry{}, false
	}
	e, err := h.cfg.Catalog.Get(r.Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no track "+id)
		return catalog.Entry{}, false
	}
	if err != nil {
		h.internalError(w, r, fmt.Errorf("get %s: %w", id, err))
		return catalog.Entry{}, false
	}
	return e, true
}

func (h *handler) track(w http.ResponseWriter, r *http.Request) {
	e, ok := h.entry(w, r)
	if !ok {
		return
	}
	tracks := []proto.Track{e.Track}
	h.fillSwarms(r.Context(), tracks)
	writeJSON(w, http.StatusOK, tracks[0])
}

func (h *handler) torrent(w http.ResponseWriter, r *http.Request) {
	e, ok := h.entry(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", proto.TorrentContentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+e.ID+`.torrent"`)
	// A track's .torrent never changes: its id is the hash of its info.
	w.Header().Set("ETag", `"`+e.ID+`"`)
	http.ServeContent(w, r, "", e.PublishedAt, bytes.NewReader(e.Torrent))
}

// identify returns whom the request's bearer token belongs to in set;
// otherwise it answers 401, with disabled as the message when set has
// nobody that could be asked for.
func identify(w http.ResponseWriter, r *http.Request, set *auth.Set, disabled string) (auth.Identity, string, bool) {
	unauthorized := func(msg string) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="peertune"`)
		writeError(w, http.StatusUnauthorized, msg)
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	id, known := set.Lookup(token)
	switch {
	case disabled != "" && !known:
		unauthorized(disabled)
		return auth.Identity{}, "disabled", false
	case !strings.EqualFold(scheme, "Bearer") || token == "":
		unauthorized("missing bearer token: send Authorization: Bearer TOKEN")
		return auth.Identity{}, "unauthorized", false
	case !known:
		unauthorized("invalid token")
		return auth.Identity{}, "unauthorized", false
	}
	return id, "", true
}

// disabledUnless is disabled when set names nobody of the roles, else "".
func disabledUnless(set *auth.Set, disabled string, roles ...auth.Role) string {
	for _, role := range roles {
		if len(set.Names(role)) > 0 {
			return ""
		}
	}
	return disabled
}

func (h *handler) publish(w http.ResponseWriter, r *http.Request) {
	set := h.cfg.Keys.Set()
	who, result, ok := identify(w, r, set, disabledUnless(set, DisabledMessage, auth.Publisher))
	if !ok {
		h.m.publish(result)
		return
	}
	if who.Role != auth.Publisher {
		h.m.publish("forbidden")
		writeError(w, http.StatusForbidden, "admin "+who.Name+" does not publish: publish with a publisher's token")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPublishBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		h.m.publish("too_large")
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("publish body exceeds %d bytes", MaxPublishBody))
		return
	}
	if err != nil {
		h.m.publish("malformed")
		writeError(w, http.StatusBadRequest, "reading the publish body: "+err.Error())
		return
	}
	e, err := ParsePublish(body)
	if err != nil {
		status, result := http.StatusUnprocessableEntity, "invalid"
		if errors.Is(err, ErrMalformed) {
			status, result = http.StatusBadRequest, "malformed"
		}
		h.m.publish(result)
		writeError(w, status, err.Error())
		return
	}
	e.Publisher = who.Name
	e.PublishedAt = h.cfg.Now().UTC()
	// What was there, to tell an update from a repeat in the metrics and
	// the log; Put decides by itself.
	prev, prevErr := h.cfg.Catalog.Get(r.Context(), e.ID)
	stored, created, err := h.cfg.Catalog.Put(r.Context(), e)
	if errors.Is(err, catalog.ErrDenied) {
		h.m.publish("taken_down")
		h.log.Info("publish refused: the track was taken down", "id", e.ID, "title", e.Title, "publisher", who.Name)
		writeErrorCode(w, http.StatusForbidden, proto.ErrorCodeTakenDown,
			"track "+e.ID+" was taken down by the tracker's admins: it may not be published again")
		return
	}
	if err != nil {
		h.m.publish("error")
		h.internalError(w, r, fmt.Errorf("publish %s: %w", e.ID, err))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		h.m.publish("created")
		h.log.Info("track published", "id", stored.ID, "title", stored.Title,
			"artist", stored.Artist, "publisher", who.Name)
	} else if prevErr == nil && prev.Publisher == who.Name && !catalog.SameMeta(prev, e) {
		h.m.publish("updated")
		h.log.Info("track updated", "id", stored.ID, "title", stored.Title,
			"artist", stored.Artist, "publisher", who.Name)
	} else {
		h.m.publish("exists")
	}
	w.Header().Set("Location", proto.PathTracks+"/"+stored.ID)
	tracks := []proto.Track{stored.Track}
	h.fillSwarms(r.Context(), tracks)
	writeJSON(w, status, tracks[0])
}

// unpublish is a publisher's unpublish of its own track, or an admin's
// takedown of any (see takedown).
func (h *handler) unpublish(w http.ResponseWriter, r *http.Request) {
	id, ok := trackID(w, r)
	if !ok {
		h.m.unpublish("bad_id")
		return
	}
	set := h.cfg.Keys.Set()
	who, result, ok := identify(w, r, set, disabledUnless(set, DisabledMessage, auth.Publisher, auth.Admin))
	if !ok {
		h.m.unpublish(result)
		return
	}
	if who.Role == auth.Admin {
		h.takedown(w, r, id, who)
		return
	}
	err := h.cfg.Catalog.Delete(r.Context(), id, who.Name)
	switch {
	case err == nil:
		h.m.unpublish("deleted")
		h.log.Info("track unpublished", "id", id, "publisher", who.Name)
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, catalog.ErrNotFound):
		h.m.unpublish("not_found")
		writeError(w, http.StatusNotFound, "no track "+id)
	case errors.Is(err, catalog.ErrForbidden):
		h.m.unpublish("forbidden")
		writeError(w, http.StatusForbidden, "track "+id+" was published by another publisher")
	default:
		h.m.unpublish("error")
		h.internalError(w, r, fmt.Errorf("unpublish %s: %w", id, err))
	}
}
