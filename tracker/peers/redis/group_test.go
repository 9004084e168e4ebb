package redis

import (
	"fmt"
	"testing"
)

func TestGroupNames(t *testing.T) {
	if len(groupNames) != 2*groups {
		t.Fatalf("groupNames holds %d names, want %d", len(groupNames)/2, groups)
	}
	for i := range groups {
		if got, want := groupName(i), fmt.Sprintf("%02x", i); got != want {
			t.Errorf("groupName(%d) = %q, want %q", i, got, want)
		}
	}
	for _, tc := range []struct{ ih, group string }{
		{"00ff", "00"}, {"03ff", "00"}, {"04aa", "01"}, {"ff00", "3f"}, {"80", "20"},
	} {
		if got := group(tc.ih); got != tc.group {
			t.Errorf("group(%q) = %q, want %q", tc.ih, got, tc.group)
		}
	}
}
