package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/auth"
)

const (
	rootToken   = "root-admin-token"
	aliceToken2 = "alice-rotated-token"
)

// namedSet: publishers alice and bob, admin root.
func namedSet(t *testing.T, aliceTok string) *auth.Set {
	t.Helper()
	set, err := auth.NewSet(
		[]auth.Entry{{Name: "alice", Token: aliceTok, Where: "line 1"}, {Name: "bob", Token: bobToken, Where: "line 2"}},
		[]auth.Entry{{Name: "root", Token: rootToken, Where: "line 1 of admins"}})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestNamedPublishers: a track belongs to its publisher's name; the API
// never shows it; after a rotation the old token is refused and the new
// one owns the publisher's tracks.
func TestNamedPublishers(t *testing.T) {
	f := newFixtureKeys(t, namedSet(t, aliceToken))
	r, id := f.publish(t, aliceToken, "alice's", nil)
	if r.status != http.StatusCreated {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	e, err := f.catalog.Get(context.Background(), id)
	if err != nil || e.Publisher != "alice" {
		t.Fatalf("stored publisher %q, %v; want alice", e.Publisher, err)
	}
	for _, path := range []string{proto.PathTracks, proto.PathTracks + "/" + id, proto.PathAlbums} {
		if body := string(f.do(t, "GET", path, "", nil).body); strings.Contains(body, "alice") || strings.Contains(body, "publisher") {
			t.Errorf("GET %s shows the publisher: %s", path, body)
		}
	}

	f.keys.Replace(namedSet(t, aliceToken2))
	if r, _ := f.publish(t, aliceToken, "old token", nil); r.status != http.StatusUnauthorized {
		t.Errorf("publish with the rotated-out token: %d, want 401", r.status)
	}
	if r := f.do(t, "DELETE", proto.PathTracks+"/"+id, bobToken, nil); r.status != http.StatusForbidden {
		t.Errorf("delete by bob: %d, want 403", r.status)
	}
	if r := f.do(t, "DELETE", proto.PathTracks+"/"+id, aliceToken, nil); r.status != http.StatusUnauthorized {
		t.Errorf("delete with the rotated-out token: %d, want 401", r.status)
	}
	if r := f.do(t, "DELETE", proto.PathTracks+"/"+id, aliceToken2, nil); r.status != http.StatusNoContent {
		t.Errorf("delete with alice's new token: %d %s, want 204", r.status, r.body)
	}
	if list, _ := f.catalog.Denials(context.Background()); len(list) != 0 {
		t.Errorf("a publisher's unpublish denied the track: %+v", list)
	}
	if r, _ := f.publish(t, aliceToken2, "alice's", nil); r.status != http.StatusCreated {
		t.Errorf("republish after a plain unpublish: %d %s, want 201", r.status, r.body)
	}
}

// TestAdminDoesNotPublish: an admin's token is refused for publishing
// (403), and the catalog is unchanged.
func TestAdminDoesNotPublish(t *testing.T) {
	f := newFixtureKeys(t, namedSet(t, aliceToken))
	r, _ := f.publish(t, rootToken, "root's", nil)
	if r.status != http.StatusForbidden || !strings.Contains(r.errorText(), "admin root") {
		t.Errorf("publish by an admin: %d %q, want 403 naming the admin", r.status, r.errorText())
	}
	if f.count(t) != 0 {
		t.Error("the admin's publish changed the catalog")
	}
}

// TestTakedown: an admin's DELETE removes the track from search, listing
// and albums and puts it on the deny list; a re-publish by anyone is
// refused with 403 and the taken_down code; a publisher's DELETE of
// another's track stays 403.
func TestTakedown(t *testing.T) {
	f := newFixtureKeys(t, namedSet(t, aliceToken))
	torrent, id := buildTorrent(t, torrentSpec{content: bytes.Repeat([]byte("bootleg"), 1000)})
	body := publishBody(t, torrent, nil)
	if r := f.do(t, "POST", proto.PathTracks, aliceToken, body); r.status != http.StatusCreated {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	f.publish(t, bobToken, "bob's", func(p *proto.PublishRequest) { p.Title, p.Album = "Keeper", "Other Album" })
	path := proto.PathTracks + "/" + id
	if r := f.do(t, "DELETE", path, bobToken, nil); r.status != http.StatusForbidden {
		t.Errorf("delete by another publisher: %d, want 403", r.status)
	}
	if r := f.do(t, "DELETE", proto.PathTracks+"/"+strings.Repeat("0", 40), rootToken, nil); r.status != http.StatusNotFound ||
		!strings.Contains(r.errorText(), proto.PathAdminDeny) {
		t.Errorf("admin delete of an unknown track: %d %q; want 404 pointing at the deny list", r.status, r.errorText())
	}
	if r := f.do(t, "DELETE", path, rootToken, nil); r.status != http.StatusNoContent {
		t.Fatalf("takedown: %d %s", r.status, r.body)
	}
	if r := f.do(t, "GET", path, "", nil); r.status != http.StatusNotFound {
		t.Errorf("GET after takedown: %d", r.status)
	}
	if l := decode[proto.TrackList](t, f.do(t, "GET", proto.PathTracks+"?q=paranoid", "", nil)); l.Total != 0 {
		t.Errorf("search finds the taken-down track: %+v", l)
	}
	if l := decode[proto.TrackList](t, f.do(t, "GET", proto.PathTracks, "", nil)); l.Total != 1 || l.Tracks[0].Title != "Keeper" {
		t.Errorf("listing after takedown: %+v", l)
	}
	if l := decode[proto.AlbumList](t, f.do(t, "GET", proto.PathAlbums+"?q=computer", "", nil)); l.Total != 0 {
		t.Errorf("albums after takedown: %+v", l)
	}
	list := decode[[]proto.Denial](t, f.do(t, "GET", proto.PathAdminDeny, rootToken, nil))
	if len(list) != 1 || list[0].ID != id || list[0].By != "root" {
		t.Errorf("deny list after takedown: %+v", list)
	}
	before := f.count(t)
	for _, tok := range []string{aliceToken, bobToken} {
		r := f.do(t, "POST", proto.PathTracks, tok, body)
		var e proto.Error
		json.Unmarshal(r.body, &e)
		if r.status != http.StatusForbidden || e.Code != proto.ErrorCodeTakenDown || !strings.Contains(e.Error, "taken down") {
			t.Errorf("re-publish after takedown: %d %s; want 403 taken_down", r.status, r.body)
		}
	}
	if f.count(t) != before {
		t.Error("a refused re-publish changed the catalog")
	}
	if got := counterValue(t, f, "peertune_catalog_unpublishes_total", "taken_down"); got != 1 {
		t.Errorf("taken_down unpublishes %v, want 1", got)
	}
	if got := counterValue(t, f, "peertune_catalog_publishes_total", "taken_down"); got != 2 {
		t.Errorf("taken_down publishes %v, want 2", got)
	}
}

// TestDenyListAPI: admins only; PUT denies an unpublished infohash (then
// refused at publish) or takes a published one down; bad requests change
// nothing; DELETE lifts, after which the track may be published.
func TestDenyListAPI(t *testing.T) {
	now := time.Now().UTC().Add(time.Hour).Truncate(time.Second) // after the first denial
	f := newFixtureKeys(t, namedSet(t, aliceToken))
	torrent, id := buildTorrent(t, torrentSpec{content: bytes.Repeat([]byte("future"), 1000)})
	entryPath := proto.PathAdminDeny + "/" + id

	for _, method := range []string{"GET", "PUT", "DELETE"} {
		p := entryPath
		if method == "GET" {
			p = proto.PathAdminDeny
		}
		for tok, want := range map[string]int{"": http.StatusUnauthorized, "nope": http.StatusUnauthorized, aliceToken: http.StatusForbidden} {
			if r := f.do(t, method, p, tok, nil); r.status != want {
				t.Errorf("%s %s with token %q: %d, want %d", method, p, tok, r.status, want)
			}
		}
	}

	if list := decode[[]proto.Denial](t, f.do(t, "GET", proto.PathAdminDeny, rootToken, nil)); list == nil || len(list) != 0 {
		t.Errorf("empty deny list: %#v, want []", list)
	}
	r := f.do(t, "PUT", proto.PathAdminDeny+"/"+strings.ToUpper(id), rootToken, []byte(`{"reason":"  court order 7 "}`))
	if r.status != http.StatusOK {
		t.Fatalf("PUT deny: %d %s", r.status, r.body)
	}
	if d := decode[proto.Denial](t, r); d.ID != id || d.Reason != "court order 7" || d.By != "root" || d.At.IsZero() {
		t.Errorf("PUT deny answered %+v", d)
	}
	raw := string(f.do(t, "GET", proto.PathAdminDeny, rootToken, nil).body)
	for _, field := range []string{`"id":"` + id + `"`, `"reason":"court order 7"`, `"by":"root"`, `"at":"`} {
		if !strings.Contains(raw, field) {
			t.Errorf("deny list JSON %s lacks %s", raw, field)
		}
	}
	pub := publishBody(t, torrent, nil)
	if r := f.do(t, "POST", proto.PathTracks, aliceToken, pub); r.status != http.StatusForbidden {
		t.Errorf("publish of a denied infohash: %d, want 403", r.status)
	}

	// Bad requests are refused and change nothing.
	for _, tt := range []struct {
		name, path string
		body       []byte
		status     int
	}{
		{"bad id", proto.PathAdminDeny + "/xyz", nil, http.StatusBadRequest},
		{"not JSON", entryPath, []byte("reason: x"), http.StatusBadRequest},
		{"unknown field", entryPath, []byte(`{"reasons":"x"}`), http.StatusBadRequest},
		{"trailing data", entryPath, []byte(`{"reason":"x"} {}`), http.StatusBadRequest},
		{"control character", entryPath, []byte(`{"reason":"a\u0007b"}`), http.StatusUnprocessableEntity},
		{"long reason", entryPath, []byte(`{"reason":"` + strings.Repeat("x", MaxTextLen+1) + `"}`), http.StatusUnprocessableEntity},
		{"too large", entryPath, bytes.Repeat([]byte(" "), MaxDenyBody+1), http.StatusRequestEntityTooLarge},
	} {
		if r := f.do(t, "PUT", tt.path, rootToken, tt.body); r.status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, r.status, r.body, tt.status)
		}
	}
	if list := decode[[]proto.Denial](t, f.do(t, "GET", proto.PathAdminDeny, rootToken, nil)); len(list) != 1 || list[0].Reason != "court order 7" {
		t.Errorf("deny list after refused PUTs: %+v", list)
	}

	// PUT of a published track takes it down.
	r, other := f.publish(t, bobToken, "bob's", nil)
	if r.status != http.StatusCreated {
		t.Fatal(r.status)
	}
	f.cfgNow(now)
	if r := f.do(t, "PUT", proto.PathAdminDeny+"/"+other, rootToken, nil); r.status != http.StatusOK {
		t.Fatalf("PUT deny of a published track: %d", r.status)
	}
	if r := f.do(t, "GET", proto.PathTracks+"/"+other, "", nil); r.status != http.StatusNotFound {
		t.Errorf("a track denied by PUT is still there: %d", r.status)
	}
	list := decode[[]proto.Denial](t, f.do(t, "GET", proto.PathAdminDeny, rootToken, nil))
	if len(list) != 2 || list[1].ID != other || list[1].Reason != "" || !list[1].At.Equal(now) {
		t.Errorf("deny list: %+v; want the second denial last, at %v, without a reason", list, now)
	}

	if r := f.do(t, "DELETE", entryPath, rootToken, nil); r.status != http.StatusNoContent {
		t.Fatalf("lift: %d %s", r.status, r.body)
	}
	if r := f.do(t, "DELETE", entryPath, rootToken, nil); r.status != http.StatusNotFound {
		t.Errorf("second lift: %d, want 404", r.status)
	}
	if r := f.do(t, "POST", proto.PathTracks, aliceToken, pub); r.status != http.StatusCreated {
		t.Errorf("publish after the lift: %d %s, want 201", r.status, r.body)
	}
	if r := f.do(t, "POST", proto.PathAdminDeny, rootToken, nil); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST deny list: %d Allow %q", r.status, r.header.Get("Allow"))
	}
	if r := f.do(t, "GET", entryPath, rootToken, nil); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "PUT, DELETE" {
		t.Errorf("GET deny entry: %d Allow %q", r.status, r.header.Get("Allow"))
	}
}

// TestAdminDisabled: without admins the admin paths say so (401), and a
// publisher is told it is not an admin (403).
func TestAdminDisabled(t *testing.T) {
	f := newFixture(t, aliceToken)
	if r := f.do(t, "GET", proto.PathAdminDeny, "x", nil); r.status != http.StatusUnauthorized || r.errorText() != AdminDisabledMessage {
		t.Errorf("deny list without admins: %d %q", r.status, r.errorText())
	}
	if r := f.do(t, "GET", proto.PathAdminDeny, aliceToken, nil); r.status != http.StatusForbidden {
		t.Errorf("deny list by a publisher without admins: %d, want 403", r.status)
	}
}

// cfgNow sets the API's clock. The fixture's handler reads it through
// this pointer.
func (f *fixture) cfgNow(t time.Time) { f.now.Store(&t) }

func FuzzParseDenyRequest(f *testing.F) {
	for _, s := range []string{"", " \n", `{}`, `{"reason":"court order"}`, `{"reason":""}`, `{"reasons":"x"}`,
		`{"reason":"a\u0000b"}`, `{"reason":1}`, `{"reason":"x"} {}`, `[]`, `null`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		reason, err := ParseDenyRequest(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrInvalid", err)
			}
			return
		}
		if !utf8.ValidString(reason) || len(reason) > MaxTextLen || reason != strings.TrimSpace(reason) {
			t.Fatalf("accepted reason %q", reason)
		}
		if _, err := text("reason", reason, false); err != nil {
			t.Fatalf("accepted reason %q that text refuses: %v", reason, err)
		}
	})
}
