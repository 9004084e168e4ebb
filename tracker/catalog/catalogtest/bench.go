package catalogtest

import (
	"context"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/catalog"
)

// BenchTracks is how many tracks the read benchmarks search among.
const BenchTracks = 10_000

// benchWords build titles, artists and albums, so that a search word
// matches a known share of the catalog.
var benchWords = [...]string{
	"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
	"india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
	"quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray",
	"yankee", "zulu", "amber", "basalt", "cobalt", "dune", "ember", "fjord",
}

// benchEntry is track i of the bench catalog: albums of about ten tracks
// (album i/10, by an artist of several albums), numbered and dated.
func benchEntry(i int) catalog.Entry {
	w := func(k int) string { return benchWords[k%len(benchWords)] }
	album := i / 10
	e := NewEntry(fmt.Sprint("bench", i),
		fmt.Sprintf("%s %s %d", w(i), w(i/7+3), i),
		fmt.Sprintf("%s %s", w(album/3+11), w(album/5+17)),
		fmt.Sprintf("%s %s %d", w(album+5), w(album/13+23), album))
	e.TrackNumber, e.DiscNumber, e.Year = i%10+1, 1, 1960+album%60
	return e
}

func fill(b *testing.B, c catalog.Catalog, n int) {
	b.Helper()
	ctx := context.Background()
	for i := range n {
		if _, _, err := c.Put(ctx, benchEntry(i)); err != nil {
			b.Fatalf("fill: %v", err)
		}
	}
}

// Bench runs the benchmark suite; newCatalog returns a fresh, empty
// catalog and arranges its cleanup.
func Bench(b *testing.B, newCatalog func(b *testing.B) catalog.Catalog) {
	ctx := context.Background()
	b.Run("Put", func(b *testing.B) {
		c := newCatalog(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, _, err := c.Put(ctx, benchEntry(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})

	// The read benchmarks share one catalog, filled by the first of them
	// that runs (filling is slow, and -bench may select only some).
	filled := newCatalog(b)
	isFilled := false
	use := func(b *testing.B) catalog.Catalog {
		if !isFilled {
			fill(b, filled, BenchTracks)
			isFilled = true
		}
		return filled
	}
	b.Run("Get", func(b *testing.B) {
		filled := use(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			id := benchEntry(i % BenchTracks).ID
			if _, err := filled.Get(ctx, id); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Album", func(b *testing.B) {
		filled := use(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			t := benchEntry(i % BenchTracks).Track
			if _, tracks, err := filled.Album(ctx, proto.AlbumID(t.AlbumArtistOrArtist(), t.Album)); err != nil || len(tracks) == 0 {
				b.Fatalf("album of track %d: %d tracks, %v", i, len(tracks), err)
			}
			i += 10
		}
	})
	b.Run("Contains", func(b *testing.B) {
		filled := use(b)
		hashes := make([][20]byte, 1024)
		for i := range hashes {
			hex.Decode(hashes[i][:], []byte(benchEntry(i*9).ID))
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := filled.Contains(ctx, hashes[i%len(hashes)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
	for _, q := range []struct{ name, query string }{
		{"OneWord", "tango"},
		{"Prefix", "ta"},
		{"TwoWords", "tango alpha"},
		{"NoMatch", "nomatchword"},
		{"ListAll", ""},
	} {
		b.Run("Albums"+q.name, func(b *testing.B) {
			filled := use(b)
			b.ReportAllocs()
			var total int
			for b.Loop() {
				albums, n, err := filled.Albums(ctx, q.query, 50, 0)
				if err != nil {
					b.Fatal(err)
				}
				if n > 0 && len(albums) == 0 {
					b.Fatalf("total %d but an empty first page", n)
				}
				total = n
			}
			b.ReportMetric(float64(total), "matches")
		})
		b.Run("Search"+q.name, func(b *testing.B) {
			filled := use(b)
			b.ReportAllocs()
			var total int
			for b.Loop() {
				tracks, n, err := filled.Search(ctx, q.query, 50, 0)
				if err != nil {
					b.Fatal(err)
				}
				if n > 0 && len(tracks) == 0 {
					b.Fatalf("total %d but an empty first page", n)
				}
				total = n
			}
			b.ReportMetric(float64(total), "matches")
		})
	}
}
