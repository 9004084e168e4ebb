package stream

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/peertune/peertune/proto"
)

// Cache layout under the cache directory:
//
//	meta/<id>.json     the proto.Track, when it was last used, whether complete
//	meta/<id>.torrent  the .torrent, so a cached track plays and re-shares offline
//	data/<id>/<name>   the track's bytes (file storage, no part files)
//	completion/        anacrolix's persisted piece-completion store
const (
	metaDirName       = "meta"
	dataDirName       = "data"
	completionDirName = "completion"
)

// CacheEntry describes one cached track.
type CacheEntry struct {
	Track    proto.Track `json:"track"`
	LastUsed time.Time   `json:"last_used"`
	// Complete is true once every piece was verified; a process killed
	// before it recorded completion shows the track as partial until the
	// next run looks at it.
	Complete bool `json:"complete"`
	// BytesHave is the verified bytes when last recorded.
	BytesHave int64 `json:"bytes_have"`
}

// ID is the track id (the torrent's v1 infohash).
func (e CacheEntry) ID() string { return e.Track.ID }

func metaPath(dir, id string) string    { return filepath.Join(dir, metaDirName, id+".json") }
func torrentPath(dir, id string) string { return filepath.Join(dir, metaDirName, id+".torrent") }
func trackDataDir(dir, id string) string {
	return filepath.Join(dir, dataDirName, id)
}

// ListCache lists the tracks cached in dir, most recently used first. It
// needs no running Client and no network.
func ListCache(dir string) ([]CacheEntry, error) {
	ents, err := os.ReadDir(filepath.Join(dir, metaDirName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing cache %s: %w", dir, err)
	}
	var out []CacheEntry
	for _, de := range ents {
		name := de.Name()
		if filepath.Ext(name) != ".json" {
			continue
		}
		id := name[:len(name)-len(".json")]
		e, err := readMeta(dir, id)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastUsed.After(out[j].LastUsed) })
	return out, nil
}

// ClearCache removes every cached track, its metadata and the completion
// store from dir. It fails with ErrCacheInUse while a Client uses dir.
func ClearCache(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	lock, err := lockCache(dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	for _, sub := range []string{metaDirName, dataDirName, completionDirName} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return fmt.Errorf("clearing cache %s: %w", dir, err)
		}
	}
	return nil
}

func readMeta(dir, id string) (CacheEntry, error) {
	var e CacheEntry
	b, err := os.ReadFile(metaPath(dir, id))
	if err != nil {
		return e, fmt.Errorf("reading cache entry %s: %w", id, err)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("cache entry %s: %w", id, err)
	}
	if e.Track.ID != id {
		return e, fmt.Errorf("cache entry %s: holds track %q", id, e.Track.ID)
	}
	return e, nil
}

// writeMeta replaces the entry atomically so a kill never leaves half a file.
func writeMeta(dir string, e CacheEntry) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding cache entry %s: %w", e.Track.ID, err)
	}
	return writeFileAtomic(metaPath(dir, e.Track.ID), b)
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// readCachedTorrent loads the .torrent of a cached track.
func readCachedTorrent(dir, id string) (*metainfo.MetaInfo, error) {
	mi, err := metainfo.LoadFromFile(torrentPath(dir, id))
	if err != nil {
		return nil, fmt.Errorf("cached torrent %s: %w", id, err)
	}
	return mi, nil
}
