//go:build integration

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peertune/peertune/internal/itest"
)

// TestMain removes the peertune binary the tests built.
func TestMain(m *testing.M) { os.Exit(itest.Main(m)) }

// --version names the build: the VCS revision go build stamped.
func TestVersionNamesTheBuild(t *testing.T) {
	root := itest.RepoRoot(t)
	rev, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(root, ".git")); err == nil && !fi.IsDir() {
		// go build stamps VCS information only where .git is a
		// directory: not in a linked worktree, whose .git is a file.
		t.Skip("a linked git worktree: go build stamps no VCS information here")
	}
	out, err := exec.Command(itest.Binary(t), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	if want := strings.TrimSpace(string(rev))[:12]; !strings.Contains(string(out), "revision "+want) {
		t.Errorf("--version says %q; want the revision %s", out, want)
	}
}

// The shell completion scripts ask the binary for the words that fit.
func TestCompletionOffersCommands(t *testing.T) {
	out, err := exec.Command(itest.Binary(t), "--generate-shell-completion").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"play:", "ctl:", "completion:", "man:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("completion offers no %q:\n%s", want, out)
		}
	}
}
