package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/peertune/peertune/proto"
)

// The real tracker has its own integration tests with this client (the
// seeder's); these check the client's encoding and error handling against
// a loopback server whose answers the test controls.
func TestClient(t *testing.T) {
	id := strings.Repeat("ab", 20)
	var gotAuth, gotQuery string
	var gotPublish proto.PublishRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == proto.PathInfo:
			json.NewEncoder(w).Encode(proto.Info{Announce: []string{"http://x/announce", "udp://x:1"}, Version: "v"})
		case r.URL.Path == proto.PathTracks && r.Method == http.MethodGet:
			gotQuery = r.URL.RawQuery
			json.NewEncoder(w).Encode(proto.TrackList{Tracks: []proto.Track{{ID: id, Title: "T"}}, Total: 1})
		case r.URL.Path == proto.PathTracks && r.Method == http.MethodPost:
			gotAuth = r.Header.Get("Authorization")
			if gotAuth == "Bearer other" {
				w.WriteHeader(http.StatusForbidden)
				json.NewEncoder(w).Encode(proto.Error{Error: "someone else's"})
				return
			}
			if gotAuth == "Bearer denied" {
				w.WriteHeader(http.StatusForbidden)
				json.NewEncoder(w).Encode(proto.Error{Error: "taken down", Code: proto.ErrorCodeTakenDown})
				return
			}
			if gotAuth != "Bearer good" {
				w.WriteHeader(http.StatusUnauthorized)
				json.NewEncoder(w).Encode(proto.Error{Error: "bad token"})
				return
			}
			json.NewDecoder(r.Body).Decode(&gotPublish)
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(proto.Track{ID: id, Title: gotPublish.Title})
		case r.URL.Path == proto.PathTrackPrefix+id && r.Method == http.MethodGet:
			json.NewEncoder(w).Encode(proto.Track{ID: id, Title: "T"})
		case r.URL.Path == proto.PathTrackPrefix+id && r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == proto.PathTrackPrefix+id+"/torrent":
			w.Header().Set("Content-Type", proto.TorrentContentType)
			w.Write([]byte("d4:infod...ee"))
		case r.URL.Path == "/plain":
		default:
			http.Error(w, "plain text failure", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	c, err := New(srv.URL+"/", WithToken("good"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil || len(info.Announce) != 2 {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	list, err := c.Search(ctx, "a b&c", 7, 3)
	if err != nil || list.Total != 1 || list.Tracks[0].ID != id {
		t.Fatalf("Search = %+v, %v", list, err)
	}
	if gotQuery != "limit=7&offset=3&q=a+b%26c" {
		t.Errorf("query %q", gotQuery)
	}
	tr, created, err := c.Publish(ctx, proto.PublishRequest{Torrent: []byte{0, 1, 2}, Title: "Song"})
	if err != nil || !created || tr.Title != "Song" || string(gotPublish.Torrent) != "\x00\x01\x02" {
		t.Fatalf("Publish = %+v %v %v (got %+v)", tr, created, err, gotPublish)
	}
	if _, err := c.Get(ctx, strings.ToUpper(id)); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if b, err := c.Torrent(ctx, id); err != nil || string(b) != "d4:infod...ee" {
		t.Fatalf("Torrent = %q, %v", b, err)
	}
	if err := c.Delete(ctx, id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := c.Get(ctx, "nothex"); err == nil {
		t.Fatal("Get with a bad id: no error")
	}

	bad, _ := New(srv.URL, WithToken("wrong"))
	_, _, err = bad.Publish(ctx, proto.PublishRequest{})
	if StatusOf(err) != http.StatusUnauthorized || !strings.Contains(err.Error(), "bad token") {
		t.Fatalf("wrong token: %v", err)
	}
	if IsTakenDown(err) {
		t.Errorf("a 401 is taken down")
	}
	// A taken-down track's 403 carries a code; another 403 does not.
	denied, _ := New(srv.URL, WithToken("denied"))
	if _, _, err := denied.Publish(ctx, proto.PublishRequest{}); !IsTakenDown(err) || !strings.Contains(err.Error(), "taken down") {
		t.Errorf("taken down: IsTakenDown(%v) = false", err)
	}
	other, _ := New(srv.URL, WithToken("other"))
	if _, _, err := other.Publish(ctx, proto.PublishRequest{}); StatusOf(err) != http.StatusForbidden || IsTakenDown(err) {
		t.Errorf("another 403: %v, IsTakenDown %v", err, IsTakenDown(err))
	}
	none, _ := New(srv.URL)
	if _, _, err := none.Publish(ctx, proto.PublishRequest{}); err == nil || StatusOf(err) != 0 {
		t.Fatalf("no token: %v", err)
	}
	_, err = c.Get(ctx, strings.Repeat("cd", 20))
	if StatusOf(err) != 500 || !strings.Contains(err.Error(), "plain text failure") {
		t.Fatalf("plain error: %v", err)
	}
	for _, u := range []string{"ftp://x", "http://", "::"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q): no error", u)
		}
	}
}
