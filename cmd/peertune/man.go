package main

import (
	"context"
	"fmt"

	docs "github.com/urfave/cli-docs/v3"
	"github.com/urfave/cli/v3"
)

// manCommand is `peertune man`: the man page, made from the commands and
// their flags (docs/peertune.1 is its committed copy; a test keeps it
// fresh).
func manCommand() *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print the man page (roff): peertune man | man -l -",
		Action: func(_ context.Context, cmd *cli.Command) error {
			page, err := manPage()
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.Root().Writer, page)
			return nil
		},
	}
}

// manPage renders the man page of a fresh command tree, so that it does
// not depend on what the running command parsed.
func manPage() (string, error) {
	page, err := docs.ToManWithSection(rootCommand(), 1)
	if err != nil {
		return "", fmt.Errorf("rendering the man page: %w", err)
	}
	return page, nil
}
