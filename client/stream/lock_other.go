//go:build !unix

package stream

import (
	"errors"
	"os"
)

// ErrCacheInUse is returned when another process holds the cache directory.
var ErrCacheInUse = errors.New("cache directory is in use by another peertune process")

// lockCache is a no-op where flock is not available.
func lockCache(string) (*os.File, error) { return nil, nil }
