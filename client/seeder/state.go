package seeder

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// stateVersion changes when the meaning of a stored entry does (e.g. the
// piece length rule), so that an old state file is ignored, not trusted.
const stateVersion = 1

// metaVersion changes when ReadMeta reads more or differently (2: album
// artist, track and disc number, year). An entry of an older one keeps its
// hashes, but its file's tags are read again (and so published again).
const metaVersion = 2

// fileState is what the seeder remembers about one library file, valid as
// long as its size and modification time are unchanged: the hashed info
// (so no re-hashing), the tags and the probed audio facts.
type fileState struct {
	Size        int64  `json:"size"`
	ModTimeNs   int64  `json:"mtime_ns"`
	InfoHash    string `json:"infohash"`
	PieceLength int64  `json:"piece_length"`
	Pieces      []byte `json:"pieces"`
	Meta        Meta   `json:"meta"`
	// MetaVersion is the metaVersion that read Meta (0: before there was one).
	MetaVersion int `json:"meta_version"`
}

// Meta is what the catalog is told about a track besides its torrent.
// Numbers are 0 and strings "" when the tags do not say.
type Meta struct {
	Title       string  `json:"title"`
	Artist      string  `json:"artist"`
	Album       string  `json:"album"`
	AlbumArtist string  `json:"album_artist"`
	TrackNumber int     `json:"track_number"` // 1..9999
	DiscNumber  int     `json:"disc_number"`  // 1..999
	Year        int     `json:"year"`         // 1..9999
	DurationS   float64 `json:"duration_s"`
	Codec       string  `json:"codec"`
	Bitrate     int64   `json:"bitrate"`
}

type stateFile struct {
	Version int                  `json:"version"`
	Library string               `json:"library"`
	Files   map[string]fileState `json:"files"` // by LibraryFile.Rel
}

// matches reports whether s still describes f.
func (s fileState) matches(f LibraryFile) bool {
	return s.Size == f.Size && s.ModTimeNs == f.ModTime.UnixNano() && s.PieceLength == PieceLength(f.Size) &&
		int64(len(s.Pieces)) == (f.Size+s.PieceLength-1)/s.PieceLength*20
}

func (s fileState) equal(o fileState) bool {
	return s.Size == o.Size && s.ModTimeNs == o.ModTimeNs && s.InfoHash == o.InfoHash &&
		s.PieceLength == o.PieceLength && bytes.Equal(s.Pieces, o.Pieces) && s.Meta == o.Meta &&
		s.MetaVersion == o.MetaVersion
}

// StatePath is where the state of the library at dir is kept:
// $XDG_STATE_HOME/peertune/seed/<hash of dir's absolute path>.json
// (~/.local/state when XDG_STATE_HOME is unset), outside the library so
// that a read-only library works and nothing is added to what it serves.
func StatePath(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("state path: %w", err)
	}
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("state path: no XDG_STATE_HOME and no home directory: %w", err)
		}
		base = filepath.Join(home, ".local", "state")
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(base, "peertune", "seed", hex.EncodeToString(sum[:8])+".json"), nil
}

// loadState reads the state file at p; a missing, unreadable or outdated
// file gives an empty state (everything is hashed again), never an error
// that stops the seeder.
func loadState(p, library string) (stateFile, error) {
	empty := stateFile{Version: stateVersion, Library: library, Files: map[string]fileState{}}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return empty, nil
	}
	if err != nil {
		return empty, fmt.Errorf("reading state %s: %w", p, err)
	}
	var s stateFile
	if err := json.Unmarshal(b, &s); err != nil {
		return empty, fmt.Errorf("state %s is corrupt, starting afresh: %w", p, err)
	}
	if s.Version != stateVersion || s.Library != library || s.Files == nil {
		return empty, nil
	}
	return s, nil
}

// save writes the state atomically (temp file, then rename).
func (s stateFile) save(p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".state-*")
	if err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("saving state %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving state %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	return nil
}

func modTimeOf(s fileState) time.Time { return time.Unix(0, s.ModTimeNs) }
