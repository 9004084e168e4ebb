//go:build integration

package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/peertune/peertune/client/api"
	"github.com/peertune/peertune/internal/itest"
	"github.com/peertune/peertune/proto"
)

// TestMain removes the peertune binary the tests built.
func TestMain(m *testing.M) { os.Exit(itest.Main(m)) }

// The client against a real `peertune tracker`: publish, search, get,
// torrent, delete, and the server's errors carried with their status.
func TestClientAgainstTracker(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	itest.Start(t, nil, itest.Binary(t), "tracker", "--listen", addr, "--udp", addr, "--data", t.TempDir(),
		"--token", "good", "--token", "other")
	base := "http://" + addr
	itest.WaitHTTP(t, base+proto.PathHealthz, 30*time.Second)
	ctx := context.Background()
	c, err := api.New(base, api.WithToken("good"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil || len(info.Announce) == 0 {
		t.Fatalf("Info = %+v, %v", info, err)
	}

	p := filepath.Join(t.TempDir(), "Quokka Song.mp3")
	data := make([]byte, 100000)
	rand.Read(data)
	os.WriteFile(p, data, 0o644)
	mi := metainfo.MetaInfo{Announce: info.Announce[0], UrlList: []string{"http://127.0.0.1:1/Quokka%20Song.mp3"}}
	in := metainfo.Info{PieceLength: 16 << 10}
	if err := in.BuildFromFilePath(p); err != nil {
		t.Fatal(err)
	}
	mi.InfoBytes, _ = bencode.Marshal(in)
	raw, _ := bencode.Marshal(mi)
	req := proto.PublishRequest{Torrent: raw, Title: "Quokka Song", Artist: "Wombat Band", Album: "Marsupials",
		DurationS: 6.25, Codec: proto.CodecMP3, Bitrate: 128000}

	wrong, _ := api.New(base, api.WithToken("bad"))
	if _, _, err := wrong.Publish(ctx, req); api.StatusOf(err) != http.StatusUnauthorized {
		t.Fatalf("wrong token: %v", err)
	} else if e := err.(*api.Error); e.Message == "" {
		t.Errorf("401 without the server's message: %v", err)
	}
	tr, created, err := c.Publish(ctx, req)
	id := mi.HashInfoBytes().HexString()
	if err != nil || !created || tr.ID != id || tr.Title != "Quokka Song" {
		t.Fatalf("Publish = %+v %v %v", tr, created, err)
	}
	if _, created, err := c.Publish(ctx, req); err != nil || created {
		t.Fatalf("republish: created=%v %v", created, err)
	}
	list, err := c.Search(ctx, "wombat", 0, 0)
	if err != nil || list.Total != 1 || list.Tracks[0].ID != id {
		t.Fatalf("Search = %+v %v", list, err)
	}
	if got, err := c.Get(ctx, id); err != nil || got.Album != "Marsupials" || got.DurationS != 6.25 {
		t.Fatalf("Get = %+v %v", got, err)
	}
	b, err := c.Torrent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	back, err := metainfo.Load(bytes.NewReader(b))
	if err != nil || back.HashInfoBytes().HexString() != id {
		t.Fatalf("Torrent: %v", err)
	}
	other, _ := api.New(base, api.WithToken("other"))
	if err := other.Delete(ctx, id); err == nil {
		t.Fatal("Delete with another publisher's token: no error")
	}
	if err := c.Delete(ctx, id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := c.Get(ctx, id); !api.IsNotFound(err) {
		t.Fatalf("Get after Delete: %v", err)
	}
	bad := req
	bad.Torrent = []byte("not a torrent")
	if _, _, err := c.Publish(ctx, bad); api.StatusOf(err) != http.StatusBadRequest && api.StatusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("bad torrent: %v", err)
	} else {
		t.Logf("bad torrent: %v", err)
	}
}
