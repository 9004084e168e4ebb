package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cacheOfCtl runs `ctl status` with no player and returns the cache folder
// its error names: where the flags, the environment and the file put it.
func cacheOfCtl(t *testing.T, args ...string) string {
	t.Helper()
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	err := rootCommand().Run(context.Background(), append([]string{"peertune", "ctl"}, args...))
	if err == nil {
		t.Fatal("ctl status found a player")
	}
	_, after, ok := strings.Cut(err.Error(), "on the cache ")
	if !ok {
		t.Fatalf("ctl status: %v", err)
	}
	dir, _, _ := strings.Cut(after, " ")
	return dir
}

func writeConfig(t *testing.T, text string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PEERTUNE_CONFIG", path)
}

// A flag beats the environment, which beats the file, which beats the
// default; ctl reads the player's cache from [play] unless [ctl] says.
func TestConfigPrecedence(t *testing.T) {
	t.Setenv("PEERTUNE_PLAY_CACHE", "")
	t.Setenv("PEERTUNE_CTL_CACHE", "")
	os.Unsetenv("PEERTUNE_PLAY_CACHE")
	os.Unsetenv("PEERTUNE_CTL_CACHE")
	writeConfig(t, "[play]\ncache = \"/from/the/file\"\n")
	if got := cacheOfCtl(t, "status"); got != "/from/the/file" {
		t.Errorf("with the file: cache %q", got)
	}
	writeConfig(t, "[play]\ncache = \"/from/the/file\"\n[ctl]\ncache = \"/ctl/section\"\n")
	if got := cacheOfCtl(t, "status"); got != "/ctl/section" {
		t.Errorf("with a [ctl] section: cache %q", got)
	}
	t.Setenv("PEERTUNE_PLAY_CACHE", "/from/the/env")
	if got := cacheOfCtl(t, "status"); got != "/from/the/env" {
		t.Errorf("with the environment: cache %q", got)
	}
	if got := cacheOfCtl(t, "status", "--cache", "/from/the/flag"); got != "/from/the/flag" {
		t.Errorf("with the flag: cache %q", got)
	}
	os.Unsetenv("PEERTUNE_PLAY_CACHE")
	t.Setenv("PEERTUNE_CONFIG", filepath.Join(t.TempDir(), "none.toml"))
	def, _ := defaultCacheDir()
	if got := cacheOfCtl(t, "status"); got != def {
		t.Errorf("with nothing set: cache %q, want the default %q", got, def)
	}
}

func TestConfigRefusesWhatNoFlagTakes(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"[play]\ncahce = \"/x\"\n", `[play] has no flag "cahce"`},
		{"[dance]\nspeed = 1\n", "[dance] is not a command"},
		{"[play]\ncache = 2026-12-02T00:00:00Z\n", "want a string, number, boolean"},
		{"[play\n", "config file"},
		{"[keys]\nnxet = \"x\"\n", `no action "nxet"`},
		{"[keys]\nnext = \"q\"\n", `"q" is bound to both`},
		{"[keys]\nnext = 3\n", "want a key or a list of keys"},
		{"[keys]\nnext = [\"x\", 3]\n", "want a key or a list of keys"},
	} {
		writeConfig(t, c.text)
		err := rootCommand().Run(context.Background(), []string{"peertune", "cache", "ls"})
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), os.Getenv("PEERTUNE_CONFIG")) {
			t.Errorf("%q: %v; want a usage error naming the file and %q", c.text, err, c.want)
		}
	}
}

func TestConfigValues(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
		ok   bool
	}{
		{"2GiB", "2GiB", true},
		{int64(50), "50", true},
		{1.5, "1.5", true},
		{true, "true", true},
		{[]any{"a", "b"}, "a,b", true},
		{map[string]any{}, "", false},
	} {
		if got, ok := configValue(c.in); got != c.want || ok != c.ok {
			t.Errorf("configValue(%v) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// [keys] rebinds the terminal UI's keys: a key or a list of keys per action.
func TestConfigKeys(t *testing.T) {
	writeConfig(t, "[keys]\nnext = \"ctrl+n\"\nprev = [\"ctrl+p\", \"P\"]\n")
	c := newConfig()
	keys, err := c.keys()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys["next"], ",") != "ctrl+n" || strings.Join(keys["prev"], ",") != "ctrl+p,P" || len(keys) != 2 {
		t.Errorf("keys = %v", keys)
	}
	if err := rootCommand().Run(context.Background(), []string{"peertune", "cache", "ls"}); err != nil {
		t.Errorf("a valid [keys] section is refused: %v", err)
	}
}
