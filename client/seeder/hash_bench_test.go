package seeder

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// BenchmarkHashVsSha1sum hashes the same files with the seeder's hashing
// (HashFile on a pool of GOMAXPROCS workers, as Sync does) and with one
// `sha1sum` process over all of them, in the same run, and reports both
// throughputs and their ratio (x_sha1sum; the target is >= 1.5 on two
// cores). The files are PEERTUNE_BENCH_DIR's audio files if set, otherwise
// 16 random 8 MiB files. Both read from the page cache (a warm-up pass
// reads every file first).
//
//	go test -run '^$' -bench HashVsSha1sum -benchtime 3x ./client/seeder/
func BenchmarkHashVsSha1sum(b *testing.B) {
	if _, err := exec.LookPath("sha1sum"); err != nil {
		b.Skip("sha1sum not installed")
	}
	var files []LibraryFile
	if dir := os.Getenv("PEERTUNE_BENCH_DIR"); dir != "" {
		var err error
		if files, err = Scan(dir, testLogB(b)); err != nil {
			b.Fatal(err)
		}
	} else {
		dir := b.TempDir()
		for i := range 16 {
			p := filepath.Join(dir, fmt.Sprintf("f%02d.wav", i))
			data := make([]byte, 8<<20)
			for j := range data {
				data[j] = byte(j*31 + i)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				b.Fatal(err)
			}
			st, _ := os.Stat(p)
			files = append(files, LibraryFile{Rel: filepath.Base(p), Abs: p, Size: st.Size()})
		}
	}
	if len(files) == 0 {
		b.Fatal("no files to hash")
	}
	var total int64
	args := []string{}
	for _, f := range files {
		total += f.Size
		args = append(args, f.Abs)
		os.ReadFile(f.Abs) // warm the page cache
	}
	workers := runtime.GOMAXPROCS(0)
	var oursDur, refDur time.Duration
	b.SetBytes(total)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if out, err := exec.Command("sha1sum", args...).CombinedOutput(); err != nil {
			b.Fatalf("sha1sum: %v\n%s", err, out)
		}
		refDur += time.Since(t0)

		t0 = time.Now()
		errs := make([]error, len(files))
		runPool(context.Background(), len(files), workers, func(i int) {
			f := files[i]
			_, errs[i] = HashFile(context.Background(), f.Abs, f.Size, PieceLength(f.Size), nil)
		})
		oursDur += time.Since(t0)
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	mb := float64(total) * float64(b.N) / 1e6
	ours, ref := mb/oursDur.Seconds(), mb/refDur.Seconds()
	b.ReportMetric(ours, "MB/s_seeder")
	b.ReportMetric(ref, "MB/s_sha1sum")
	b.ReportMetric(ours/ref, "x_sha1sum")
	b.Logf("%d files, %.1f MB, %d workers: seeder %.0f MB/s, sha1sum %.0f MB/s, ratio %.2f",
		len(files), float64(total)/1e6, workers, ours, ref, ours/ref)
}
