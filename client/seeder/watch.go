package seeder

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watch follows the library with fsnotify (every subfolder, new ones as
// they appear) and runs Sync once the folder has been quiet for
// cfg.Debounce after a change, until ctx ends.
func (s *Seeder) watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching %s: %w", s.dir, err)
	}
	defer w.Close()
	s.watchTree(w, s.dir)
	s.log.Info("watching the library for changes", "dir", s.dir)

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	check, stopCheck := s.checkTicker()
	defer stopCheck()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-check:
			s.checkAndLog(ctx)
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if strings.HasPrefix(filepath.Base(ev.Name), ".") {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if st, err := os.Lstat(ev.Name); err == nil && st.IsDir() {
					s.watchTree(w, ev.Name)
				}
			}
			timer.Reset(s.cfg.Debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// An overflow loses events: a full rescan catches up.
			s.log.Warn("watcher", "err", err)
			timer.Reset(s.cfg.Debounce)
		case <-timer.C:
			res, err := s.Sync(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.log.Error("library sync failed", "err", err)
				continue
			}
			if res.Hashed+res.Unpublished+res.Published+res.Failed+res.TakenDown > 0 {
				s.log.Info("library changed", "tracks", res.Files-res.Skipped, "hashed", res.Hashed,
					"published", res.Published, "unpublished", res.Unpublished, "failed", res.Failed, "taken_down", res.TakenDown)
			}
		}
	}
}

// watchTree adds dir and its subfolders (not dot folders, not symlinks) to w.
func (s *Seeder) watchTree(w *fsnotify.Watcher, dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if p != s.dir && strings.HasPrefix(d.Name(), ".") {
			return fs.SkipDir
		}
		if err := w.Add(p); err != nil {
			s.log.Warn("not watching folder", "path", p, "err", err)
		}
		return nil
	})
}
