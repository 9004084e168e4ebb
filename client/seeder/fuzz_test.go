package seeder

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzValidRel checks the seed server's path gate: whatever it accepts
// stays inside the library and names no dotfile.
func FuzzValidRel(f *testing.F) {
	for _, s := range []string{"a.mp3", "sub/b.flac", "../x.mp3", "/etc/x.mp3", ".h.mp3", "a/../b.mp3", "a\\..\\b.mp3", "x.txt", "a//b.ogg"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		if !validRel(rel) {
			return
		}
		root := "/library"
		p := filepath.Join(root, filepath.FromSlash(rel))
		if !strings.HasPrefix(p, root+"/") {
			t.Fatalf("%q leaves the library: %q", rel, p)
		}
		for _, e := range strings.Split(rel, "/") {
			if e == "" || strings.HasPrefix(e, ".") {
				t.Fatalf("%q has element %q", rel, e)
			}
		}
		if codecForName(rel) == "" {
			t.Fatalf("%q is not audio", rel)
		}
	})
}

// FuzzFillRange checks the parse of a fill's Range header: what it accepts
// is one range of non-negative offsets, first <= last, that prints back as
// the header.
func FuzzFillRange(f *testing.F) {
	for _, s := range []string{"bytes=0-16383", "bytes=100-99", "bytes=-5", "bytes=5-", "bytes=0-1,4-5", " bytes=1-2 ", "items=0-1", "bytes=+1-2", "bytes=99999999999999999999-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		first, last, ok := fillRange(h)
		if !ok {
			return
		}
		if first < 0 || last < first {
			t.Fatalf("%q: [%d, %d]", h, first, last)
		}
		if again, _, ok := fillRange(fmt.Sprintf("bytes=%d-%d", first, last)); !ok || again != first {
			t.Fatalf("%q: [%d, %d] does not parse back", h, first, last)
		}
	})
}
