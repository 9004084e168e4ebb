package main

import (
	_ "charm.land/bubbles/v2/progress"
	_ "charm.land/bubbletea/v2"
	_ "charm.land/lipgloss/v2"
	_ "github.com/anacrolix/torrent"
	_ "github.com/anacrolix/torrent/bencode"
	_ "github.com/anacrolix/torrent/metainfo"
	_ "github.com/anacrolix/torrent/storage"
	_ "github.com/dhowden/tag"
	_ "github.com/ebitengine/oto/v3"
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/gopxl/beep/v2"
	_ "github.com/gopxl/beep/v2/flac"
	_ "github.com/gopxl/beep/v2/mp3"
	_ "github.com/gopxl/beep/v2/vorbis"
	_ "github.com/gopxl/beep/v2/wav"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/urfave/cli/v3"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/time/rate"
	_ "gonum.org/v1/plot"
	_ "modernc.org/sqlite"
)

func main() {}
