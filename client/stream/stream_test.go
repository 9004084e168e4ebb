package stream

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// The head comes from the seed server over HTTP, the rest (no peers) from
// the seed server paced to the lead; a second player gets the head from
// HTTP and the rest from the first player.
func TestHeadFromHTTPRestFromPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("plays two tracks in real time at 8x")
	}
	tt := newTestTrack(t, 1<<20)
	seed := newSeedServer(t, tt.data)
	tt.track.SeedURLs = []string{seed.trackURL()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	a := newTestClient(t, t.TempDir(), testPolicy())
	sa, err := a.Open(tt.track, tt.torrent)
	if err != nil {
		t.Fatal(err)
	}
	got, err := play(ctx, sa, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tt.data) {
		t.Fatal("player A read different bytes")
	}
	waitComplete(t, sa, 30*time.Second)
	stA := sa.Stats()
	t.Logf("A: %s; HTTP sent %d in %d requests", fmtStats(stA), seed.sent.Load(), seed.requests.Load())
	checkSum(t, "A", stA)
	headBytes := int64(6 * testPieceLen) // 3 s at 32 KiB/s
	if stA.BytesSeedHead != headBytes {
		t.Errorf("A: head %d bytes, want %d", stA.BytesSeedHead, headBytes)
	}
	if stA.BytesSeedEmergency != stA.Size-headBytes {
		t.Errorf("A: %d bytes past the head from the seed server, want %d", stA.BytesSeedEmergency, stA.Size-headBytes)
	}
	// 15 s of audio plus one piece, plus what a 4 KiB read can lag.
	if lim := 15*time.Second + time.Second; stA.MaxSeedLead > lim {
		t.Errorf("A: seed data ran %s ahead of the playhead, limit %s", stA.MaxSeedLead, lim)
	}

	sentBefore := seed.sent.Load()
	b := newTestClient(t, t.TempDir(), testPolicy())
	sb, err := b.Open(tt.track, tt.torrent)
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.AddPeers(a.addr()); err != nil {
		t.Fatal(err)
	}
	got, err = play(ctx, sb, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tt.data) {
		t.Fatal("player B read different bytes")
	}
	waitComplete(t, sb, 30*time.Second)
	stB := sb.Stats()
	t.Logf("B: %s; HTTP sent %d", fmtStats(stB), seed.sent.Load()-sentBefore)
	checkSum(t, "B", stB)
	if stB.BytesPeers < stB.Size-headBytes {
		t.Errorf("B: %d bytes from peers, want at least %d", stB.BytesPeers, stB.Size-headBytes)
	}
	if http := seed.sent.Load() - sentBefore; http > headBytes+4*testPieceLen {
		t.Errorf("B: seed server sent %d bytes over HTTP, want about the head (%d)", http, headBytes)
	}
	if stB.PeersSeen != 1 {
		t.Errorf("B: saw %d peers, want 1", stB.PeersSeen)
	}
}
