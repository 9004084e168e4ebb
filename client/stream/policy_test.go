package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// With the seed server failing and the only peer holding part of the track,
// the reader gives up after GiveUp with an error naming what was tried.
func TestGiveUpNamesWhatWasTried(t *testing.T) {
	tt, seed := newSeededTrack(t, 256<<10)
	pol := testPolicy()
	pol.GiveUp = 4 * time.Second   // short, but a peer on a loaded two-core machine under -race needs a few seconds for its first piece
	pol.SeedLead = 3 * time.Second // A holds about 4 s of the 8 s track

	a := newTestClient(t, t.TempDir(), pol)
	sa := openStream(t, a, tt)
	// No reader: A fetches the head and fills to the lead, then stops.
	deadline := time.Now().Add(20 * time.Second)
	for sa.Stats().PiecesComplete < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("A did not fetch the head: %+v", sa.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	have := sa.Stats().PiecesComplete
	if have >= sa.Stats().Pieces {
		t.Fatalf("A fetched the whole track (%d pieces) with no reader", have)
	}
	seed.status.Store(503)

	b := newTestClient(t, t.TempDir(), pol)
	sb := openStream(t, b, tt)
	if err := sb.AddPeers(a.addr()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := play(ctx, sb, 50)
	var se *SourceError
	if !errors.As(err, &se) {
		t.Fatalf("read %d bytes, err %v; want a *SourceError", len(got), err)
	}
	t.Logf("A had %d pieces; B read %d bytes: %v", have, len(got), err)
	if !bytes.Equal(got, tt.data[:len(got)]) {
		t.Error("B read different bytes before giving up")
	}
	// With no seed server to call on, B buffers before it plays; A's few
	// seconds are short of that, so B never starts (it would only stall)
	// and names the first piece no one had.
	if len(got) != 0 {
		t.Errorf("B played %d bytes from a peer that held %d pieces of %d: want no start", len(got), have, sa.Stats().Pieces)
	}
	msg := err.Error()
	for _, want := range []string{"503", seed.trackURL(), "1 peers seen", fmt.Sprintf("piece %d ", have), "no connected peer had the piece"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if sb.Err() == nil {
		t.Error("Stream.Err is nil after giving up")
	}
}

// A slow seed server (no head piece within HeadTimeout): the head comes
// from peers.
func TestSlowSeedHeadFromPeers(t *testing.T) {
	tt, seed := newSeededTrack(t, 256<<10)
	pol := testPolicy()
	a := newTestClient(t, t.TempDir(), pol)
	sa := openStream(t, a, tt)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := play(ctx, sa, 1000); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, sa, 30*time.Second)

	seed.delay.Store(int64(30 * time.Second))
	b := newTestClient(t, t.TempDir(), pol)
	sb := openStream(t, b, tt)
	if err := sb.AddPeers(a.addr()); err != nil {
		t.Fatal(err)
	}
	got, err := play(ctx, sb, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tt.data) {
		t.Fatal("B read different bytes")
	}
	waitComplete(t, sb, 30*time.Second)
	st := sb.Stats()
	t.Logf("B: %s", fmtStats(st))
	checkSum(t, "B", st)
	if st.BytesPeers != st.Size {
		t.Errorf("B: %d of %d bytes from peers with the seed server stalled", st.BytesPeers, st.Size)
	}
}

// Seeking moves the playhead: the policy fetches from there, not from the
// start, and reads return the right bytes.
func TestSeekFollowsPlayhead(t *testing.T) {
	tt, _ := newSeededTrack(t, 1<<20)
	c := newTestClient(t, t.TempDir(), testPolicy())
	start := time.Now()
	s := openStream(t, c, tt)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := s.NewReader(ctx)
	defer r.Close()
	first := make([]byte, 64<<10)
	if _, err := io.ReadFull(r, first); err != nil {
		t.Fatal(err)
	}
	t.Logf("first 64 KiB readable after %s", time.Since(start))
	if !bytes.Equal(first, tt.data[:len(first)]) {
		t.Fatal("head differs")
	}
	const at = 768 << 10
	if _, err := r.Seek(at, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 64<<10)
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tt.data[at:at+len(got)]) {
		t.Fatal("bytes after the seek differ")
	}
	st := s.Stats()
	var before int64
	for _, b := range st.Buffered {
		if b.Start < 6*testPieceLen { // past the head, before the seek target
			before += min(b.End, at) - max(b.Start, 6*testPieceLen)
		} else if b.Start < at {
			before += min(b.End, at) - b.Start
		}
	}
	t.Logf("after seek: %s; buffered %v", fmtStats(st), st.Buffered)
	if before > 0 {
		t.Errorf("fetched %d bytes between the head and the seek target", before)
	}
}

// Closing a stream ends a read that is blocked waiting for bytes.
func TestCloseEndsBlockedRead(t *testing.T) {
	tt := newTestTrack(t, 256<<10)
	seed := newSeedServer(t, tt.data)
	seed.status.Store(503)
	tt.track.SeedURLs = []string{seed.trackURL()}
	c := newTestClient(t, t.TempDir(), testPolicy())
	s := openStream(t, c, tt)
	r := s.NewReader(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 1024))
		errc <- err
	}()
	time.Sleep(200 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("read returned no error after Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("read still blocked after Close")
	}
	if _, err := r.Read(make([]byte, 1)); err == nil {
		t.Fatal("read after Close succeeded")
	}
}
