package tracker

import (
	"context"
	"errors"
)

// Run serves until ctx is done, then shuts down gracefully.
func Run(ctx context.Context, cfg Config) error {
	cfg.setDefaults()
	return errors.New("tracker: not wired yet")
}
