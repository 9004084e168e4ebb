package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"unicode"

	"github.com/urfave/cli/v3"
	"golang.org/x/term"
)

// sources names where a flag not given is read from: the environment
// variables PEERTUNE_<COMMAND>_<FLAG> in upper snake case, then any extra
// names (PEERTUNE_TRACKER, PEERTUNE_TOKEN), then the config file's
// [command] section.
func (c *config) sources(command, flag string, extra ...string) cli.ValueSourceChain {
	names := append([]string{"PEERTUNE_" + upperSnake(command) + "_" + upperSnake(flag)}, extra...)
	chain := cli.EnvVars(names...)
	chain.Chain = append(chain.Chain, c.source(command, flag))
	return chain
}

func upperSnake(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' {
			return '_'
		}
		return unicode.ToUpper(r)
	}, s)
}

// trackerURLFlag is the --tracker flag shared by seed, play and search.
func trackerURLFlag(conf *config, command string) *cli.StringFlag {
	return &cli.StringFlag{
		Name:    "tracker",
		Usage:   "base URL of the tracker",
		Value:   "http://127.0.0.1:6969",
		Sources: conf.sources(command, "tracker", "PEERTUNE_TRACKER"),
	}
}

// logJSONFlag is the --log-json flag of the long-running commands.
func logJSONFlag(conf *config, command string) *cli.BoolFlag {
	return &cli.BoolFlag{
		Name:    "log-json",
		Usage:   "log JSON lines instead of text",
		Sources: conf.sources(command, "log-json"),
	}
}

// newLogger logs to stderr: text, or JSON lines with --log-json.
func newLogger(jsonLines bool) *slog.Logger {
	if jsonLines {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

// stdoutIsTerminal reports whether stdout is a terminal (for UIs and bars).
func stdoutIsTerminal() bool { return term.IsTerminal(int(os.Stdout.Fd())) }

// parseSize parses a byte count: a plain number of bytes or one with a unit
// (B, KB, MB, GB, TB powers of 1000; KiB, MiB, GiB, TiB powers of 1024;
// K, M, G, T as the binary ones), with an optional fraction ("1.5MB").
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	if num == "" {
		return 0, fmt.Errorf("size %q: no number", s)
	}
	mult, ok := sizeUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q (use B, KB, MB, GB, KiB, MiB, GiB)", s, unit)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("size %q: %w", s, err)
		}
		if n > (1<<63-1)/mult {
			return 0, fmt.Errorf("size %q: too large", s)
		}
		return n * mult, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	v := f * float64(mult)
	if v >= 1<<63 {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return int64(v), nil
}

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

// sizeFlagValue reads a size flag (RATE or SIZE) for cmd; empty means 0.
func sizeFlagValue(cmd *cli.Command, name string) (int64, error) {
	v := cmd.String(name)
	if v == "" {
		return 0, nil
	}
	n, err := parseSize(v)
	if err != nil {
		return 0, usageErrorf("--%s: %w", name, err)
	}
	return n, nil
}
