// Command peertune is a peer-to-peer music streaming system: a tracker that
// keeps the catalog and the swarms, a seeder that publishes a music folder,
// and a player that streams a track from the seed server and from other
// listeners. Each subcommand lives in a file of its own.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/urfave/cli/v3"
)

// version is set at link time (-ldflags "-X main.version=…").
var version = "0.1.0-dev"

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s, ok := <-sigs
		if !ok {
			return
		}
		cause := errTerminated
		if s == os.Interrupt {
			cause = errInterrupted
		}
		cancel(cause)
		// A second signal kills at once: the default action again.
		signal.Reset(os.Interrupt, syscall.SIGTERM)
	}()
	err := rootCommand().Run(ctx, os.Args)
	signal.Stop(sigs)
	close(sigs)
	cancel(nil)
	os.Exit(exitStatus(err))
}

// The causes of ctx's end: SIGINT (Ctrl-C) makes play exit 130, as a shell
// expects of a program the user interrupted; SIGTERM is a clean stop (0),
// as for the tracker and the seeder on either.
var (
	errInterrupted = errors.New("interrupted (SIGINT)")
	errTerminated  = errors.New("terminated (SIGTERM)")
)

// interrupted is what a command that stops cleanly on a signal returns
// once ctx ended: exit 130 after Ctrl-C, nil otherwise.
func interrupted(ctx context.Context) error {
	if errors.Is(context.Cause(ctx), errInterrupted) {
		return cli.Exit("", exitInterrupted)
	}
	return nil
}

func rootCommand() *cli.Command {
	conf := newConfig()
	root := &cli.Command{
		Name:  "peertune",
		Usage: "peer-to-peer music streaming: tracker, seeder and player",
		Description: "Shell completion: peertune completion bash (or zsh, fish, pwsh) prints a script to source.\n" +
			"Exit status: 0 done, 1 the work failed, 2 bad usage or bad input, 130 a play stopped by Ctrl-C.",
		Version: buildVersion(),
		Commands: []*cli.Command{
			trackerCommand(conf),
			seedCommand(conf),
			playCommand(conf),
			searchCommand(conf),
			cacheCommand(conf),
			ctlCommand(conf),
			manCommand(),
		},
		// `peertune completion bash|zsh|fish|pwsh` prints a script to source.
		EnableShellCompletion: true,
		ConfigureShellCompletionCommand: func(c *cli.Command) {
			c.Hidden = false
			c.Usage = "print a shell completion script: source <(peertune completion bash), or zsh, fish, pwsh"
		},
		// Errors are printed once, by exitStatus, with the status the
		// contract gives them.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
		// A config file with a typo is refused before any command runs.
		Before: func(ctx context.Context, cmd *cli.Command) (context.Context, error) {
			return ctx, conf.check(cmd.Root())
		},
		OnUsageError: onUsageError,
	}
	// cli does not pass OnUsageError down: every subcommand needs it for
	// a bad flag to exit 2.
	var setUsage func(cmds []*cli.Command)
	setUsage = func(cmds []*cli.Command) {
		for _, c := range cmds {
			if c.OnUsageError == nil {
				c.OnUsageError = onUsageError
			}
			setUsage(c.Commands)
		}
	}
	setUsage(root.Commands)
	return root
}

// buildVersion is the version with the module version and the VCS
// revision the build info carries: "0.1.0-dev (revision 0123abcd4567,
// modified, 2026-12-02T06:00:00Z)".
func buildVersion() string {
	v := version
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
		v = mv
	}
	var rev, when string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return v + " (no VCS revision in this build)"
	}
	v += " (revision " + rev[:min(12, len(rev))]
	if modified {
		v += ", modified"
	}
	if when != "" {
		v += ", " + when
	}
	return v + ")"
}

func onUsageError(_ context.Context, _ *cli.Command, err error, _ bool) error {
	return usageErrorf("%w", err)
}

// Exit statuses of the contract.
const (
	exitOK      = 0
	exitFailed  = 1 // the work failed
	exitBadArgs = 2 // bad usage or bad input
	// exitInterrupted is 128 + SIGINT: play after Ctrl-C.
	exitInterrupted = 130
)

// usageError marks an error as bad usage or bad input: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitStatus prints err (if any) and maps it to the contract's exit status.
func exitStatus(err error) int {
	if err == nil {
		return exitOK
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(os.Stderr, "peertune: %v\n", msg)
	}
	var ue usageError
	if errors.As(err, &ue) {
		return exitBadArgs
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return exitFailed
}
