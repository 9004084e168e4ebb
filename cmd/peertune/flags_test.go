package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"1234", 1234}, {"512KiB", 512 << 10}, {"2GiB", 2 << 30},
		{"1.5MB", 1_500_000}, {"64k", 64 << 10}, {"10 MB", 10_000_000}, {"7B", 7},
	} {
		got, err := parseSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "KiB", "12XB", "1.2.3MB", "-5", "99999999999TiB"} {
		if got, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", bad, got)
		}
	}
}

func TestUpperSnake(t *testing.T) {
	if got := upperSnake("numwant-max"); got != "NUMWANT_MAX" {
		t.Fatalf("upperSnake = %q", got)
	}
}

// Regression: `cache --cache DIR ls` ignored DIR and listed the default cache.
func TestCacheFlagBeforeSubcommand(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"peertune", "cache", "--cache", notADir, "ls"},
		{"peertune", "cache", "ls", "--cache", notADir},
	} {
		err := rootCommand().Run(context.Background(), args)
		if err == nil || !strings.Contains(err.Error(), notADir) {
			t.Errorf("%v: error %v, want one naming %s", args, err, notADir)
		}
	}
}

func TestPlayRefusesAPeerLimitUnderOne(t *testing.T) {
	for _, n := range []string{"0", "-3"} {
		err := rootCommand().Run(context.Background(), []string{"peertune", "play", "--cache", t.TempDir(), "--max-peers", n, "sometrack"})
		if err == nil || !strings.Contains(err.Error(), "--max-peers") {
			t.Errorf("--max-peers %s: error %v, want one naming --max-peers", n, err)
		}
	}
}
