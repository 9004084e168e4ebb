package btlog

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
)

func TestHandler(t *testing.T) {
	var out bytes.Buffer
	quiet := new(atomic.Bool)
	log := slog.New(Handler{
		Next:  slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}),
		Min:   slog.LevelWarn,
		Quiet: quiet,
		Drop:  []string{"EOF"},
	}).With("component", "bt")
	log.Info("below the minimum")
	log.Error("peer read: unexpected EOF")
	log.Warn("kept", "n", 1)
	quiet.Store(true)
	log.Error("after shutdown began")
	got := out.String()
	if strings.Count(got, "\n") != 1 || !strings.Contains(got, "msg=kept") || !strings.Contains(got, "component=bt") {
		t.Errorf("logged:\n%s\nwant only the warning, with its attributes", got)
	}
}
