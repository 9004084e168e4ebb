package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestManPageIsFresh: docs/peertune.1 is what `peertune man` prints.
func TestManPageIsFresh(t *testing.T) {
	page, err := manPage()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".TH peertune 1", "ctl", "seek", "--softvol-max", "completion"} {
		if !strings.Contains(page, want) {
			t.Errorf("the man page lacks %q", want)
		}
	}
	committed, err := os.ReadFile(filepath.Join("..", "..", "docs", "peertune.1"))
	if err != nil {
		t.Fatal(err)
	}
	if string(committed) != page {
		t.Errorf("docs/peertune.1 is stale: go run ./cmd/peertune man > docs/peertune.1")
	}
}

// run runs the command line in-process and returns what it wrote.
func run(t *testing.T, args ...string) string {
	t.Helper()
	root := rootCommand()
	var out bytes.Buffer
	root.Writer = &out
	if err := root.Run(context.Background(), append([]string{"peertune"}, args...)); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return out.String()
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if out := run(t, "completion", shell); !strings.Contains(out, "peertune") || !strings.Contains(out, "--generate-shell-completion") {
			t.Errorf("completion %s: %q", shell, out)
		}
	}
	// What the scripts ask the binary for as one types (the top level:
	// TestCompletionOffersCommands, with the binary).
	if out := run(t, "ctl", "--generate-shell-completion"); !strings.Contains(out, "seek") || !strings.Contains(out, "status") {
		t.Errorf("ctl verbs offered: %q", out)
	}
}
