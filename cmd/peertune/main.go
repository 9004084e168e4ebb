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
	"syscall"

	"github.com/urfave/cli/v3"
)

// version is set at link time (-ldflags "-X main.version=…").
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := rootCommand().Run(ctx, os.Args)
	stop()
	os.Exit(exitStatus(err))
}

func rootCommand() *cli.Command {
	root := &cli.Command{
		Name:    "peertune",
		Usage:   "peer-to-peer music streaming: tracker, seeder and player",
		Version: version,
		Commands: []*cli.Command{
			trackerCommand(),
			seedCommand(),
			playCommand(),
			searchCommand(),
			cacheCommand(),
			ctlCommand(),
		},
		// Errors are printed once, by exitStatus, with the status the
		// contract gives them.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
		OnUsageError:   onUsageError,
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

func onUsageError(_ context.Context, _ *cli.Command, err error, _ bool) error {
	return usageErrorf("%w", err)
}

// Exit statuses of the contract.
const (
	exitOK      = 0
	exitFailed  = 1 // the work failed
	exitBadArgs = 2 // bad usage or bad input
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
	fmt.Fprintf(os.Stderr, "peertune: %v\n", err)
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
