//go:build unix

package stream

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrCacheInUse is returned when another process holds the cache directory.
var ErrCacheInUse = errors.New("cache directory is in use by another peertune process")

// lockCache takes an exclusive advisory lock on dir for this process's
// lifetime: the piece-completion store and the data files are not safe to
// share between processes. The kernel drops the lock when the process dies.
func lockCache(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking cache %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrCacheInUse)
		}
		return nil, fmt.Errorf("locking cache %s: %w", dir, err)
	}
	return f, nil
}
