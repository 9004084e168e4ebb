//go:build integration

package player_test

import (
	"os"
	"testing"
	"time"

	"github.com/peertune/peertune/internal/itest"
)

// TestMain removes the peertune binary the tests built.
func TestMain(m *testing.M) { os.Exit(itest.Main(m)) }

// newEnv starts a swarm whose tracker asks for announces every 5 s, with
// the seeder capped at uploadRate bytes per second (0: uncapped), and
// waits until n tracks are published.
func newEnv(t *testing.T, lib string, uploadRate int64, n int) *itest.Swarm {
	t.Helper()
	return itest.NewSwarm(t, lib, n, itest.SwarmOptions{Interval: 5 * time.Second, UploadRate: uploadRate})
}
