package stream

import (
	"testing"

	"github.com/anacrolix/torrent"
)

// DefaultMaxPeers says it is anacrolix's own limit: keep it so.
func TestDefaultMaxPeersIsAnacrolixs(t *testing.T) {
	if want := torrent.NewDefaultClientConfig().EstablishedConnsPerTorrent; DefaultMaxPeers != want {
		t.Fatalf("DefaultMaxPeers %d, anacrolix's limit %d", DefaultMaxPeers, want)
	}
}
