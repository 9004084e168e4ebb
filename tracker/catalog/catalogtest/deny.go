package catalogtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/catalog"
)

// digest is the hex SHA-256 of token: how a track's publisher was stored
// before publishers had names.
func digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func infohash(t *testing.T, id string) [20]byte {
	t.Helper()
	var ih [20]byte
	if _, err := hex.Decode(ih[:], []byte(id)); err != nil {
		t.Fatal(err)
	}
	return ih
}

// testRenamePublishers: entries stored under a token's digest are taken
// over by the name it maps to, and then belong to that name only; others
// stay as they were.
func testRenamePublishers(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	old1 := NewEntry("r1", "One", "A", "B")
	old1.Publisher = digest("alice-token")
	old2 := NewEntry("r2", "Two", "A", "B")
	old2.Publisher = digest("alice-token")
	other := NewEntry("r3", "Three", "A", "B")
	other.Publisher = digest("someone-else")
	named := NewEntry("r4", "Four", "A", "B")
	named.Publisher = PublisherB
	for _, e := range []catalog.Entry{old1, old2, other, named} {
		mustPut(t, c, e)
	}
	if n, err := c.RenamePublishers(ctx, nil); err != nil || n != 0 {
		t.Errorf("RenamePublishers(nil) = %d, %v", n, err)
	}
	n, err := c.RenamePublishers(ctx, map[string]string{digest("alice-token"): PublisherA, digest("unused"): "carol"})
	if err != nil || n != 2 {
		t.Fatalf("RenamePublishers = %d, %v; want 2 renamed", n, err)
	}
	for _, e := range []catalog.Entry{old1, old2} {
		got, err := c.Get(ctx, e.ID)
		if err != nil || got.Publisher != PublisherA {
			t.Errorf("Get(%s) publisher %q, %v; want %q", e.Title, got.Publisher, err, PublisherA)
		}
		want := e
		want.Publisher = PublisherA
		equalEntry(t, "renamed entry", got, want)
	}
	for _, e := range []catalog.Entry{other, named} {
		if got, err := c.Get(ctx, e.ID); err != nil || got.Publisher != e.Publisher {
			t.Errorf("Get(%s) publisher %q, %v; want it unchanged (%q)", e.Title, got.Publisher, err, e.Publisher)
		}
	}
	if n, err := c.RenamePublishers(ctx, map[string]string{digest("alice-token"): PublisherA}); err != nil || n != 0 {
		t.Errorf("second RenamePublishers = %d, %v; want 0", n, err)
	}
	// The name owns them now: its republish updates, the digest's fails.
	again := old1
	again.Publisher, again.Title = PublisherA, "One, retitled"
	if stored, created, err := c.Put(ctx, again); err != nil || created || stored.Title != again.Title {
		t.Errorf("republish by the new name = %q, %v, %v; want the update", stored.Title, created, err)
	}
	if err := c.Delete(ctx, old2.ID, digest("alice-token")); !errors.Is(err, catalog.ErrForbidden) {
		t.Errorf("Delete by the old digest = %v, want ErrForbidden", err)
	}
	if err := c.Delete(ctx, old2.ID, PublisherA); err != nil {
		t.Errorf("Delete by the new name: %v", err)
	}
}

// testTakedown: Deny of a published track removes it from everything that
// lists or finds it, puts it on the deny list, and refuses its Put by
// anyone, leaving the catalog as it was.
func testTakedown(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	e := mustPut(t, c, NewEntry("down", "Taken Down", "Infringer", "Bootlegs"))
	e2 := NewEntry("down2", "Second Bootleg", "Infringer", "Bootlegs")
	e2.TrackNumber = 2
	mustPut(t, c, e2)
	keep := mustPut(t, c, NewEntry("up", "Still Here", "Innocent", "Originals"))
	ih := infohash(t, e.ID)
	if ok, err := c.Denied(ctx, ih); err != nil || ok {
		t.Fatalf("Denied before Deny = %v, %v", ok, err)
	}
	at := time.Date(2025, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	removed, err := c.Deny(ctx, proto.Denial{ID: e.ID, Reason: "DMCA notice 42", By: "root", At: at})
	if err != nil || !removed {
		t.Fatalf("Deny = %v, %v; want removed", removed, err)
	}
	if _, err := c.Get(ctx, e.ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Get after takedown = %v, want ErrNotFound", err)
	}
	if ok, err := c.Contains(ctx, ih); err != nil || ok {
		t.Errorf("Contains after takedown = %v, %v", ok, err)
	}
	if ok, err := c.Denied(ctx, ih); err != nil || !ok {
		t.Errorf("Denied after takedown = %v, %v", ok, err)
	}
	if n, err := c.Count(ctx); err != nil || n != 2 {
		t.Errorf("Count after takedown = %d, %v; want 2", n, err)
	}
	wantIDs(t, c, "taken")
	wantIDs(t, c, "infringer", e2)
	wantIDs(t, c, "", e2, keep)
	albums, _, err := c.Albums(ctx, "bootlegs", 10, 0)
	if err != nil || len(albums) != 1 || albums[0].TrackCount != 1 {
		t.Errorf("Albums(bootlegs) after takedown = %+v, %v; want one album of 1 track", albums, err)
	}
	list, err := c.Denials(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("Denials = %+v, %v", list, err)
	}
	if d := list[0]; d.ID != e.ID || d.Reason != "DMCA notice 42" || d.By != "root" || !d.At.Equal(at) || d.At.Location() != time.UTC {
		t.Errorf("denial %+v", d)
	}

	// Nobody may publish it again, its publisher neither; nothing changes.
	for _, pub := range []string{PublisherA, PublisherB} {
		again := e
		again.Publisher = pub
		if _, created, err := c.Put(ctx, again); !errors.Is(err, catalog.ErrDenied) || created {
			t.Errorf("Put by %s after takedown = %v, %v; want ErrDenied", pub, created, err)
		}
	}
	if _, err := c.Get(ctx, e.ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("a refused Put stored the track: %v", err)
	}
	if n, _ := c.Count(ctx); n != 2 {
		t.Errorf("Count after refused Puts = %d, want 2", n)
	}
	if err := c.Delete(ctx, e.ID, PublisherA); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Delete after takedown = %v, want ErrNotFound", err)
	}
}

// testDenyBeforePublish: an id no track has yet can be denied; it is then
// refused when it comes.
func testDenyBeforePublish(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	e := NewEntry("future", "Not Yet", "Someone", "Soon")
	removed, err := c.Deny(ctx, proto.Denial{ID: e.ID, By: "root"})
	if err != nil || removed {
		t.Fatalf("Deny of an unpublished id = %v, %v; want not removed, no error", removed, err)
	}
	if ok, err := c.Denied(ctx, infohash(t, e.ID)); err != nil || !ok {
		t.Errorf("Denied = %v, %v", ok, err)
	}
	list, err := c.Denials(ctx)
	if err != nil || len(list) != 1 || list[0].ID != e.ID || list[0].Reason != "" {
		t.Fatalf("Denials = %+v, %v", list, err)
	}
	if at := list[0].At; at.Before(time.Now().Add(-time.Minute)) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("a zero At became %v, want about now", at)
	}
	if _, _, err := c.Put(ctx, e); !errors.Is(err, catalog.ErrDenied) {
		t.Errorf("Put of a denied id = %v, want ErrDenied", err)
	}
	wantIDs(t, c, "")
	// Other infohashes are not denied.
	if ok, err := c.Denied(ctx, infohash(t, NewEntry("other", "", "", "").ID)); err != nil || ok {
		t.Errorf("Denied(other) = %v, %v", ok, err)
	}
}

// testDenyAgain: a second denial of an id replaces the first; the list is
// in time order and never nil.
func testDenyAgain(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	if list, err := c.Denials(ctx); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("empty Denials = %#v, %v; want [] (JSON [] not null)", list, err)
	}
	a, b := NewEntry("a", "", "", ""), NewEntry("b", "", "", "")
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, d := range []proto.Denial{
		{ID: a.ID, Reason: "first", By: "root", At: t0.Add(2 * time.Hour)},
		{ID: b.ID, Reason: "other", By: "ops", At: t0.Add(time.Hour)},
		{ID: a.ID, Reason: "second", By: "ops", At: t0.Add(3 * time.Hour)},
	} {
		if _, err := c.Deny(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	list, err := c.Denials(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("Denials = %+v, %v; want 2", list, err)
	}
	if list[0].ID != b.ID || list[1].ID != a.ID || list[1].Reason != "second" || list[1].By != "ops" || !list[1].At.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("Denials = %+v; want b, then a with the second denial", list)
	}
	if !slices.IsSortedFunc(list, catalog.CompareDenials) {
		t.Errorf("Denials not in CompareDenials order: %+v", list)
	}
}

// testLift: a lifted id may be published again, by anyone; lifting one not
// on the list is ErrNotFound.
func testLift(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	e := mustPut(t, c, NewEntry("lift", "Back Again", "Returner", "Returns"))
	if _, err := c.Deny(ctx, proto.Denial{ID: e.ID, By: "root"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Lift(ctx, NewEntry("never", "", "", "").ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Lift of an id not on the list = %v, want ErrNotFound", err)
	}
	if err := c.Lift(ctx, "bogus"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Lift of a malformed id = %v, want ErrNotFound", err)
	}
	if err := c.Lift(ctx, strings.ToUpper(e.ID)); err != nil {
		t.Fatalf("Lift: %v", err)
	}
	if ok, err := c.Denied(ctx, infohash(t, e.ID)); err != nil || ok {
		t.Errorf("Denied after Lift = %v, %v", ok, err)
	}
	if list, err := c.Denials(ctx); err != nil || len(list) != 0 {
		t.Errorf("Denials after Lift = %+v, %v", list, err)
	}
	if err := c.Lift(ctx, e.ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("second Lift = %v, want ErrNotFound", err)
	}
	again := e
	again.Publisher = PublisherB
	if stored, created, err := c.Put(ctx, again); err != nil || !created || stored.Publisher != PublisherB {
		t.Errorf("Put after Lift = %q, %v, %v; want created by %s", stored.Publisher, created, err, PublisherB)
	}
	wantIDs(t, c, "returner", again)
}

// testDenyInvalid: a Deny with a bad id is an error and changes nothing.
func testDenyInvalid(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	e := mustPut(t, c, NewEntry("ok", "Keep", "Me", "Here"))
	for _, id := range []string{"", "xyz", e.ID + "00", "zz" + e.ID[2:]} {
		if _, err := c.Deny(ctx, proto.Denial{ID: id, By: "root"}); err == nil {
			t.Errorf("Deny(%q): no error", id)
		}
	}
	if list, err := c.Denials(ctx); err != nil || len(list) != 0 {
		t.Errorf("Denials after bad Denies = %+v, %v", list, err)
	}
	wantIDs(t, c, "keep", e)
}
