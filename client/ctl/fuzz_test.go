package ctl

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeRequest: any line decodes to a checked request or an error,
// never a panic, and a request that passes re-encodes to one that passes.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{`{"verb":"status"}`, `{"verb":"seek","args":["+10s"]}`, `{"verb":"queue","args":["daft punk"],"all":true}`, `{"verb":"volume","args":["101"]}`, `{`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		req, err := DecodeRequest(line)
		if err != nil {
			return
		}
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeRequest(b); err != nil {
			t.Fatalf("%q passed, its re-encoding %q did not: %v", line, b, err)
		}
	})
}

// FuzzParseSeek: any string is a position within a day, or an error.
func FuzzParseSeek(f *testing.F) {
	for _, s := range []string{"+10s", "-5", "1:30", "1:02:03", "90", "1.5", "soon", "--5", "1e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, rel, err := ParseSeek(s)
		if err != nil {
			return
		}
		if d > maxSeek || d < -maxSeek || (!rel && d < 0) {
			t.Fatalf("ParseSeek(%q) = %v, relative %v", s, d, rel)
		}
	})
}
