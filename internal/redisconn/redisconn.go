// Package redisconn opens the Redis connection of the tracker's Redis
// backends (peer store and catalog): one way to read the URL and to check
// that the server answers, with errors that name what failed.
package redisconn

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
)

// Dial connects to the Redis at url (redis://[user:pass@]host:port/db or
// rediss://…) and checks that it answers a PING. The caller closes the
// client.
func Dial(ctx context.Context, url string) (*goredis.Client, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse redis URL: %w", err)
	}
	rdb := goredis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("ping %s: %w", opts.Addr, err)
	}
	return rdb, nil
}
