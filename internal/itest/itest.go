// Package itest runs peertune's real processes for integration tests: it
// builds the binary once per test binary (without -race: real-time playback
// on two cores needs the speed), picks free loopback ports, starts processes
// whose output goes to the test log, and stops them when the test ends.
package itest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string // made by Binary; Main removes it
	buildPath string
	buildErr  error
)

// Main runs the tests and then removes the binary Binary built: a package
// whose tests call Binary runs them with os.Exit(itest.Main(m)) from its
// TestMain, so that no run leaves a build in the OS temp dir.
func Main(m *testing.M) int {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}

// Binary returns the path of a peertune binary built from this checkout,
// once per test binary, into a directory that Main removes (PEERTUNE_BIN
// names one built already, which stays).
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("PEERTUNE_BIN"); p != "" {
			buildPath = p
			return
		}
		dir, err := os.MkdirTemp("", "peertune-itest-")
		if err != nil {
			buildErr = err
			return
		}
		buildDir = dir
		buildPath = filepath.Join(dir, "peertune")
		// -buildvcs=auto: --version names the revision even where GOFLAGS
		// turns VCS stamping off (these machines' go env does).
		cmd := exec.Command("go", "build", "-buildvcs=auto", "-o", buildPath, "./cmd/peertune")
		cmd.Dir = RepoRoot(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/peertune: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// RepoRoot is the module's root directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("itest: cannot find source path")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, and
// also free for UDP.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port
	}
	t.Fatal("itest: no free port")
	return 0
}

// Need skips the test unless every named program is on PATH; in CI
// (CI=true) a missing program fails the test instead, since scripts/test.sh
// installs them all.
func Need(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed (scripts/test.sh installs it)", p)
			}
			t.Skipf("%s is not installed (scripts/test.sh installs it)", p)
		}
	}
}

// Proc is a running process started by Start.
type Proc struct {
	Cmd    *exec.Cmd
	name   string
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
	tee io.Writer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	w.mu.Unlock()
	if w.tee != nil {
		w.tee.Write(p)
	}
	return len(p), nil
}

// Start runs name with args; the process is killed (SIGTERM, then SIGKILL
// after 5 s) when the test ends, and its stderr is logged if the test failed.
func Start(t testing.TB, env []string, name string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Proc{Cmd: cmd, name: filepath.Base(name) + " " + strings.Join(args, " "), done: make(chan struct{})}
	cmd.Stdout = lockedWriter{mu: &p.mu, buf: &p.stdout}
	cmd.Stderr = lockedWriter{mu: &p.mu, buf: &p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop(5 * time.Second)
		if t.Failed() {
			t.Logf("--- %s\nstdout:\n%s\nstderr:\n%s", p.name, p.Stdout(), p.Stderr())
		}
	})
	return p
}

// Stdout returns what the process printed on stdout so far.
func (p *Proc) Stdout() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stdout.String() }

// Stderr returns what the process printed on stderr so far.
func (p *Proc) Stderr() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stderr.String() }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit (at most d) and returns its exit code,
// or -1 and an error on timeout.
func (p *Proc) Wait(d time.Duration) (int, error) {
	select {
	case <-p.done:
		return p.Cmd.ProcessState.ExitCode(), nil
	case <-time.After(d):
		return -1, fmt.Errorf("%s still running after %v", p.name, d)
	}
}

// Signal sends sig to the process group.
func (p *Proc) Signal(sig syscall.Signal) {
	if p.Cmd.Process != nil {
		syscall.Kill(-p.Cmd.Process.Pid, sig)
	}
}

// Stop sends SIGTERM, then SIGKILL after grace; it returns the exit code.
func (p *Proc) Stop(grace time.Duration) int {
	select {
	case <-p.done:
		return p.Cmd.ProcessState.ExitCode()
	default:
	}
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Signal(syscall.SIGKILL)
		<-p.done
	}
	return p.Cmd.ProcessState.ExitCode()
}

// WaitHTTP polls url until it answers 200 or the timeout passes.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not answer 200 within %v (last error: %v)", url, timeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
