package player

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/peertune/peertune/client/api"
	"github.com/peertune/peertune/proto"
)

// NotFoundError says that an argument named no track (or album) in the
// catalog.
type NotFoundError struct {
	Arg     string
	Tracker string
	Album   bool
}

func (e *NotFoundError) Error() string {
	if e.Album {
		return fmt.Sprintf("no album matches %q on the tracker at %s", e.Arg, e.Tracker)
	}
	if _, err := proto.ParseTrackID(e.Arg); err == nil {
		return fmt.Sprintf("no track with id %s on the tracker at %s", e.Arg, e.Tracker)
	}
	return fmt.Sprintf("no track matches %q on the tracker at %s", e.Arg, e.Tracker)
}

// CachedFunc looks a track up in the local cache (for playing offline).
type CachedFunc func(id string) (proto.Track, bool)

// Resolve turns each argument into tracks: a 40-hex track id is looked up
// with Get; anything else is a search whose best match is taken, or every
// match when all is true. A track id that is cached plays even when the
// tracker cannot be reached. Errors name the argument and the tracker.
func Resolve(ctx context.Context, c *api.Client, args []string, all bool, cached CachedFunc) ([]proto.Track, error) {
	var out []proto.Track
	base := c.BaseURL().String()
	for _, arg := range args {
		if strings.TrimSpace(arg) == "" {
			return nil, fmt.Errorf("empty query")
		}
		if id, err := proto.ParseTrackID(arg); err == nil {
			t, err := c.Get(ctx, id)
			if err != nil {
				if cached != nil && !api.IsNotFound(err) {
					if ct, ok := cached(id); ok {
						out = append(out, ct)
						continue
					}
				}
				if api.IsNotFound(err) {
					return nil, &NotFoundError{Arg: arg, Tracker: base}
				}
				return nil, fmt.Errorf("looking up track %s: %w", id, err)
			}
			out = append(out, t)
			continue
		}
		limit := 1
		if all {
			limit = proto.MaxLimit
		}
		list, err := c.Search(ctx, arg, limit, 0)
		if err != nil {
			return nil, fmt.Errorf("searching for %q: %w", arg, err)
		}
		if len(list.Tracks) == 0 {
			return nil, &NotFoundError{Arg: arg, Tracker: base}
		}
		out = append(out, list.Tracks...)
	}
	if len(out) == 0 {
		return nil, errors.New("nothing to play")
	}
	return out, nil
}

// ResolveAlbums turns each argument into the tracks of an album, in album
// order: the best match of a search of albums (by artist, album artist and
// album name), or every match in library order when all is true. An album
// id (32 hex digits) names its album.
func ResolveAlbums(ctx context.Context, c *api.Client, args []string, all bool) ([]proto.Track, error) {
	var out []proto.Track
	base := c.BaseURL().String()
	for _, arg := range args {
		if strings.TrimSpace(arg) == "" {
			return nil, fmt.Errorf("empty query")
		}
		var ids []string
		if id, err := proto.ParseAlbumID(arg); err == nil {
			ids = []string{id}
		} else {
			limit := 1
			if all {
				limit = proto.MaxLimit
			}
			list, err := c.Albums(ctx, arg, limit, 0)
			if err != nil {
				return nil, fmt.Errorf("searching for album %q: %w", arg, err)
			}
			for _, a := range list.Albums {
				ids = append(ids, a.ID)
			}
		}
		if len(ids) == 0 {
			return nil, &NotFoundError{Arg: arg, Tracker: base, Album: true}
		}
		for _, id := range ids {
			a, err := c.Album(ctx, id)
			if api.IsNotFound(err) {
				return nil, &NotFoundError{Arg: arg, Tracker: base, Album: true}
			}
			if err != nil {
				return nil, fmt.Errorf("looking up album %s: %w", id, err)
			}
			out = append(out, a.Tracks...)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("nothing to play")
	}
	return out, nil
}
