package seeder

import (
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
