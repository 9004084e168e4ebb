package seeder

import (
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/peertune/peertune/proto"
)

// LibraryFile is one audio file found under the library folder.
type LibraryFile struct {
	Rel     string // path relative to the library, slash-separated
	Abs     string // absolute path on disk
	Size    int64
	ModTime time.Time
}

// codecForName returns the catalog codec for a file name by its extension,
// or "" when the file is not one the seeder publishes.
func codecForName(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".mp3":
		return proto.CodecMP3
	case ".flac":
		return proto.CodecFLAC
	case ".ogg", ".oga":
		return proto.CodecOgg
	case ".wav":
		return proto.CodecWAV
	}
	return ""
}

// validRel reports whether rel is a library path the seeder may publish and
// serve: a clean relative slash path, no element starting with a dot (no
// "..", no dotfiles or dot folders), no backslashes, and an audio extension.
func validRel(rel string) bool {
	if !fs.ValidPath(rel) || rel == "." || strings.ContainsAny(rel, "\\\x00") {
		return false
	}
	for _, elem := range strings.Split(rel, "/") {
		if strings.HasPrefix(elem, ".") {
			return false
		}
	}
	return codecForName(rel) != ""
}

// Scan walks root recursively and returns its audio files (mp3, flac, ogg,
// wav) sorted by path. Dotfiles and dot folders are skipped, and so are
// symlinks and other non-regular files: the seeder publishes only what
// really lies inside the folder. Unreadable subfolders are logged and
// skipped.
func Scan(root string, log *slog.Logger) ([]LibraryFile, error) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	var files []LibraryFile
	err = filepath.WalkDir(absRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == absRoot {
				return err
			}
			log.Warn("skipping unreadable path", "path", p, "err", err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p == absRoot {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(absRoot, p)
		if err != nil {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if !validRel(rel) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			log.Warn("skipping file", "path", p, "err", err)
			return nil
		}
		files = append(files, LibraryFile{Rel: rel, Abs: p, Size: info.Size(), ModTime: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Rel < files[j].Rel })
	return files, nil
}
