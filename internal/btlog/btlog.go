// Package btlog filters anacrolix/torrent's log records before they reach
// peertune's logger. The library logs at ERROR what is normal in a swarm
// (a peer that hangs up) or at shutdown (every read cut short by Close);
// both the seeder and the player's stream client pass its records through
// a Handler.
package btlog

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
)

// Handler passes records at Min and above to Next, except those whose
// message contains one of Drop, and none once Quiet is set.
type Handler struct {
	Next slog.Handler
	// Min is the lowest level passed (the zero value is INFO).
	Min slog.Level
	// Quiet, when set, drops every record: set it when shutdown begins.
	Quiet *atomic.Bool
	// Drop lists message fragments of records that are noise.
	Drop []string
}

func (h Handler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.Min && !h.Quiet.Load() && h.Next.Enabled(ctx, l)
}

func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	if h.Quiet.Load() {
		return nil
	}
	for _, d := range h.Drop {
		if strings.Contains(r.Message, d) {
			return nil
		}
	}
	return h.Next.Handle(ctx, r)
}

func (h Handler) WithAttrs(as []slog.Attr) slog.Handler {
	h.Next = h.Next.WithAttrs(as)
	return h
}

func (h Handler) WithGroup(name string) slog.Handler {
	h.Next = h.Next.WithGroup(name)
	return h
}
