package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/auth"
	"github.com/peertune/peertune/tracker/catalog"
)

// MaxDenyBody bounds the body of PUT /api/v1/admin/deny/{infohash}.
const MaxDenyBody = 4 << 10

// ParseDenyRequest parses the optional body of PUT
// /api/v1/admin/deny/{infohash}: nothing, or {"reason": "…"} (at most
// MaxTextLen bytes of text, trimmed). Errors wrap ErrMalformed (bad JSON,
// an unknown field, trailing data) or ErrInvalid (a bad reason).
func ParseDenyRequest(body []byte) (reason string, err error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return "", nil
	}
	if len(body) > MaxDenyBody {
		return "", malformed("body of %d bytes exceeds %d", len(body), MaxDenyBody)
	}
	var req proto.DenyRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return "", malformed("%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", malformed("data after the JSON object")
	}
	return text("reason", req.Reason, false)
}

// admin identifies an admin, or answers 401 (no valid token) or 403 (a
// publisher's).
func (h *handler) admin(w http.ResponseWriter, r *http.Request) (auth.Identity, bool) {
	set := h.cfg.Keys.Set()
	who, _, ok := identify(w, r, set, disabledUnless(set, AdminDisabledMessage, auth.Admin))
	if !ok {
		return auth.Identity{}, false
	}
	if who.Role != auth.Admin {
		h.log.Warn("admin path refused to a publisher", "method", r.Method, "path", r.URL.Path, "publisher", who.Name)
		writeError(w, http.StatusForbidden, "admins only: publisher "+who.Name+" is not an admin")
		return auth.Identity{}, false
	}
	return who, true
}

// takedown is an admin's DELETE /api/v1/tracks/{id}: the track leaves the
// catalog and its id goes on the deny list, so that its swarm and its
// publication are refused from now on.
func (h *handler) takedown(w http.ResponseWriter, r *http.Request, id string, who auth.Identity) {
	e, err := h.cfg.Catalog.Get(r.Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		h.m.unpublish("not_found")
		writeError(w, http.StatusNotFound, "no track "+id+" (to deny an infohash not published, PUT "+proto.PathAdminDeny+"/"+id+")")
		return
	}
	if err != nil {
		h.m.unpublish("error")
		h.internalError(w, r, fmt.Errorf("take down %s: %w", id, err))
		return
	}
	if _, err := h.cfg.Catalog.Deny(r.Context(), proto.Denial{ID: id, By: who.Name, At: h.cfg.Now().UTC()}); err != nil {
		h.m.unpublish("error")
		h.internalError(w, r, fmt.Errorf("take down %s: %w", id, err))
		return
	}
	h.m.unpublish("taken_down")
	h.log.Info("track taken down", "id", id, "title", e.Title, "artist", e.Artist, "publisher", e.Publisher, "admin", who.Name)
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) denyList(w http.ResponseWriter, r *http.Request) {
	who, ok := h.admin(w, r)
	if !ok {
		return
	}
	list, err := h.cfg.Catalog.Denials(r.Context())
	if err != nil {
		h.internalError(w, r, fmt.Errorf("deny list: %w", err))
		return
	}
	h.log.Info("deny list read", "entries", len(list), "admin", who.Name)
	writeJSON(w, http.StatusOK, list)
}

// deny is PUT /api/v1/admin/deny/{id}: the id goes on the deny list (its
// reason replaced if it was there), and its track, if published, leaves
// the catalog. It answers the denial.
func (h *handler) deny(w http.ResponseWriter, r *http.Request) {
	who, ok := h.admin(w, r)
	if !ok {
		return
	}
	id, ok := trackID(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxDenyBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("deny body exceeds %d bytes", MaxDenyBody))
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading the deny body: "+err.Error())
		return
	}
	reason, err := ParseDenyRequest(body)
	if err != nil {
		status := http.StatusUnprocessableEntity
		if errors.Is(err, ErrMalformed) {
			status = http.StatusBadRequest
		}
		writeError(w, status, err.Error())
		return
	}
	d := proto.Denial{ID: id, Reason: reason, By: who.Name, At: h.cfg.Now().UTC()}
	removed, err := h.cfg.Catalog.Deny(r.Context(), d)
	if err != nil {
		h.internalError(w, r, fmt.Errorf("deny %s: %w", id, err))
		return
	}
	if removed {
		h.log.Info("track taken down", "id", id, "reason", reason, "admin", who.Name)
	} else {
		h.log.Info("infohash denied", "id", id, "reason", reason, "admin", who.Name)
	}
	writeJSON(w, http.StatusOK, d)
}

// lift is DELETE /api/v1/admin/deny/{id}: the id may be published again.
func (h *handler) lift(w http.ResponseWriter, r *http.Request) {
	who, ok := h.admin(w, r)
	if !ok {
		return
	}
	id, ok := trackID(w, r)
	if !ok {
		return
	}
	err := h.cfg.Catalog.Lift(r.Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		writeError(w, http.StatusNotFound, id+" is not on the deny list")
		return
	}
	if err != nil {
		h.internalError(w, r, fmt.Errorf("lift %s: %w", id, err))
		return
	}
	h.log.Info("denial lifted", "id", id, "admin", who.Name)
	w.WriteHeader(http.StatusNoContent)
}
