package seeder

import (
	"context"
	"fmt"
	"time"

	"github.com/peertune/peertune/client/api"
)

// DefaultCatalogCheck is how often a running seeder asks the tracker
// whether the tracks it published are still listed: an admin's takedown
// reaches a seeder that runs for weeks within this time.
const DefaultCatalogCheck = 5 * time.Minute

// CheckResult counts what one catalog check did.
type CheckResult struct {
	Checked     int // published tracks asked for
	Republished int // missing from the catalog and published again
	TakenDown   int // missing, and refused because the tracker's admins took them down
	Failed      int // missing, and publishing again failed (retried at the next check or pass)
}

// checkTicker ticks every cfg.CatalogCheck; with the check off (negative)
// it never does.
func (s *Seeder) checkTicker() (<-chan time.Time, func()) {
	if s.cfg.CatalogCheck < 0 {
		return nil, func() {}
	}
	t := time.NewTicker(s.cfg.CatalogCheck)
	return t.C, t.Stop
}

// CheckCatalog asks the tracker for every track the seeder has published
// and publishes again those the catalog no longer lists. A track an admin
// took down is then refused: it is logged by file name and served no more,
// as in Sync. A track the catalog lost (deleted through the API, or the
// tracker's data reset) is listed again: the library folder is the truth,
// and removing the file is how a track is unpublished. The tracker not
// answering ends the check with an error; nothing is changed then.
func (s *Seeder) CheckCatalog(ctx context.Context) (CheckResult, error) {
	var res CheckResult
	var missing []string
	// Asked without the lock: a pass of Sync may run meanwhile, so each
	// missing track is looked at again under it below.
	for rel, a := range s.activeTracks() {
		if !a.published {
			continue
		}
		res.Checked++
		_, err := s.cfg.API.Get(ctx, a.ih.HexString())
		switch {
		case err == nil:
		case api.IsNotFound(err):
			missing = append(missing, rel)
		default:
			return res, fmt.Errorf("catalog check: %w", err)
		}
	}
	if len(missing) == 0 {
		return res, nil
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	for _, rel := range missing {
		a, ok := s.active[rel]
		if !ok || !a.published {
			continue // removed or replaced by a pass meanwhile
		}
		_, created, err := s.publish(ctx, a.file)
		switch {
		case api.IsTakenDown(err):
			s.stopServing(rel, a.ih)
			res.TakenDown++
			s.metrics.published.WithLabelValues("publish", "taken_down").Inc()
			s.log.Warn("track taken down by the tracker's admins: no longer seeding it (HTTP and BitTorrent)",
				"path", rel, "id", a.ih.HexString(), "err", err)
		case err != nil:
			if ctx.Err() != nil {
				return res, nil
			}
			a.published = false // the next pass of Sync tries again too
			s.active[rel] = a
			res.Failed++
			s.metrics.published.WithLabelValues("publish", "error").Inc()
			s.log.Warn("publish again failed: the catalog no longer lists the track", "path", rel, "id", a.ih.HexString(), "err", err)
		default:
			res.Republished++
			s.metrics.published.WithLabelValues("publish", "ok").Inc()
			s.log.Info("published again: the catalog no longer listed the track", "path", rel, "id", a.ih.HexString(), "new", created)
		}
	}
	return res, nil
}

// checkAndLog runs CheckCatalog and logs what it found.
func (s *Seeder) checkAndLog(ctx context.Context) {
	res, err := s.CheckCatalog(ctx)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		s.log.Warn("catalog check failed: trying again at the next", "err", err, "every", s.cfg.CatalogCheck)
	default:
		s.log.Debug("catalog checked", "tracks", res.Checked, "republished", res.Republished,
			"taken_down", res.TakenDown, "failed", res.Failed)
	}
}
