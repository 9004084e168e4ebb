package seeder

import (
	"crypto/sha1"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

// BuildTorrent returns the .torrent of one library file: a single-file info
// dict named after the file (its base name), with pieces already hashed;
// announce-list is one tier per URL of announce (the tracker's HTTP and UDP
// announce URLs), url-list the HTTP seed URL of the file.
func BuildTorrent(name string, size, pieceLength int64, pieces []byte, announce []string, seedURL string) (*metainfo.MetaInfo, metainfo.Hash, error) {
	if int64(len(pieces)) != (size+pieceLength-1)/pieceLength*sha1.Size {
		return nil, metainfo.Hash{}, fmt.Errorf("torrent %s: %d piece hash bytes for %d bytes of %d-byte pieces", name, len(pieces), size, pieceLength)
	}
	info := metainfo.Info{
		Name:        name,
		Length:      size,
		PieceLength: pieceLength,
		Pieces:      pieces,
	}
	infoBytes, err := bencode.Marshal(info)
	if err != nil {
		return nil, metainfo.Hash{}, fmt.Errorf("torrent %s: encoding info: %w", name, err)
	}
	mi := &metainfo.MetaInfo{
		InfoBytes: infoBytes,
		CreatedBy: "peertune",
	}
	if len(announce) > 0 {
		mi.Announce = announce[0]
		for _, a := range announce {
			mi.AnnounceList = append(mi.AnnounceList, []string{a})
		}
	}
	if seedURL != "" {
		mi.UrlList = metainfo.UrlList{seedURL}
	}
	return mi, mi.HashInfoBytes(), nil
}

// SeedURL is the URL under base (e.g. http://host:7070 or
// https://cdn.example/music/) of the library file at rel, each path element
// escaped.
func SeedURL(base, rel string) string {
	elems := strings.Split(rel, "/")
	for i, e := range elems {
		elems[i] = url.PathEscape(e)
	}
	return strings.TrimRight(base, "/") + "/" + strings.Join(elems, "/")
}

// fileName is the torrent name of a library file: its base name.
func fileName(rel string) string { return path.Base(rel) }
