package stream

import (
	"fmt"
	"testing"
)

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-16383/1048576", "bytes 5-5/6", "bytes 0-99/*", "bytes -1-2/3", "bytes 9-3/10", "bytes 0-9/9", "items 0-1/2", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		first, last, total, err := parseContentRange(h)
		if err != nil {
			return
		}
		if first < 0 || last < first || (total != -1 && total <= last) {
			t.Fatalf("%q parsed to %d-%d/%d", h, first, last, total)
		}
		// A valid header survives a round trip.
		tot := "*"
		if total >= 0 {
			tot = fmt.Sprint(total)
		}
		f2, l2, t2, err := parseContentRange(fmt.Sprintf("bytes %d-%d/%s", first, last, tot))
		if err != nil || f2 != first || l2 != last || t2 != total {
			t.Fatalf("%q: round trip gave %d-%d/%d, %v", h, f2, l2, t2, err)
		}
	})
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-16383/1048576", 0, 16383, 1048576, true},
		{"bytes 0-99/*", 0, 99, -1, true},
		{"bytes 9-3/10", 0, 0, 0, false},
		{"bytes 0-9/9", 0, 0, 0, false},
		{"bytes 0-9", 0, 0, 0, false},
		{"items 0-1/2", 0, 0, 0, false},
		{"bytes a-b/c", 0, 0, 0, false},
	} {
		first, last, total, err := parseContentRange(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (first != tc.first || last != tc.last || total != tc.total)) {
			t.Errorf("%q: %d-%d/%d, %v", tc.in, first, last, total, err)
		}
	}
}
