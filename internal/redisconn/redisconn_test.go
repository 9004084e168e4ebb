package redisconn

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/peertune/peertune/internal/itest"
)

func TestDial(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rdb, err := Dial(ctx, itest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, itest.RedisPrefix(t, itest.RedisURL(t))+"k", "v", time.Minute).Err(); err != nil {
		t.Errorf("the dialled client does not work: %v", err)
	}
	rdb.Close()

	if _, err := Dial(ctx, "http://127.0.0.1:6379"); err == nil || !strings.Contains(err.Error(), "parse redis URL") {
		t.Errorf("a non-redis URL: %v", err)
	}
	port := itest.FreePort(t) // nothing listens there
	_, err = Dial(ctx, fmt.Sprintf("redis://127.0.0.1:%d/0", port))
	if want := fmt.Sprintf("ping 127.0.0.1:%d", port); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("an unreachable server: %v, want an error naming %q", err, want)
	}
}
