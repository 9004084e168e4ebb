package auth

import (
	"strings"
	"testing"
)

// FuzzParse: Parse never panics; what it accepts follows the file's rules
// and reads back the same when written out again; its errors never show a
// token it was given.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "alice tok\n", "# c\n\nalice\ttok-a\r\nbob tok-b", "alice\n", "alice a b\n",
		"alice t\nalice u\n", "a t\nb t\n", "al/ice t\n", strings.Repeat("ab", 32) + " t\n",
		"a to\x00k\n", "a tøk\n", "  # indented\n", "\t\t\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := Parse(data)
		if err != nil {
			for _, line := range strings.Split(string(data), "\n") {
				fields := strings.Fields(line)
				if len(fields) == 2 && len(fields[1]) >= 8 && strings.Contains(err.Error(), fields[1]) &&
					!strings.Contains(fields[0], fields[1]) {
					t.Fatalf("error %q shows the token %q", err, fields[1])
				}
			}
			return
		}
		names, tokens := map[string]bool{}, map[string]bool{}
		var out strings.Builder
		for _, e := range entries {
			if checkName(e.Name) != nil || checkToken(e.Token) != nil || names[e.Name] || tokens[e.Token] {
				t.Fatalf("accepted a bad or repeated entry %+v", e)
			}
			names[e.Name], tokens[e.Token] = true, true
			out.WriteString(e.Name + " " + e.Token + "\n")
		}
		again, err := Parse([]byte(out.String()))
		if err != nil || len(again) != len(entries) {
			t.Fatalf("written out again: %v, %d entries; want %d", err, len(again), len(entries))
		}
		for i := range again {
			if again[i].Name != entries[i].Name || again[i].Token != entries[i].Token {
				t.Fatalf("entry %d read back as %+v, was %+v", i, again[i], entries[i])
			}
		}
		if _, err := NewSet(entries, nil); err != nil {
			t.Fatalf("NewSet refused what Parse accepted: %v", err)
		}
	})
}
