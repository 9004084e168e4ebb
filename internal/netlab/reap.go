package netlab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// namePrefix starts the name of every namespace a lab makes; the pid of
// the process that made it follows, so that Reap can tell a dead lab's.
const namePrefix = "ptlab"

// Leftovers lists the namespaces of every lab on this machine, alive or not.
func Leftovers(ctx context.Context) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns list: %w", err)
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "name (id: 3)" or "name".
		f := strings.Fields(sc.Text())
		if len(f) > 0 && strings.HasPrefix(f[0], namePrefix) {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// Reap removes the namespaces (and kills the processes) of labs whose
// process is gone: what a lab killed before its Close left behind.
func Reap(ctx context.Context, log *slog.Logger) error {
	names, err := Leftovers(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range names {
		pid, ok := ownerPID(ns)
		if !ok || alive(pid) {
			continue
		}
		log.Info("netlab: removing a namespace left by a dead lab", "namespace", ns, "pid", pid)
		if err := removeNS(ctx, ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ownerPID reads the pid out of "ptlab<pid>.<id>-<name>".
func ownerPID(ns string) (int, bool) {
	s := strings.TrimPrefix(ns, namePrefix)
	i := strings.IndexByte(s, '.')
	if i <= 0 {
		return 0, false
	}
	pid, err := strconv.Atoi(s[:i])
	return pid, err == nil && pid > 0
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// removeNS kills every process in ns, waits for them to go, and deletes
// it. A process left alive would keep the namespace (and its links) in
// being after its name is gone.
func removeNS(ctx context.Context, ns string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := nsPIDs(ctx, ns)
		if err != nil {
			break // gone already, or never fully made
		}
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("netlab: processes %v in %s outlive SIGKILL", pids, ns)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := run(ctx, slog.New(slog.DiscardHandler), nil, "ip", "netns", "delete", ns); err != nil {
		if _, statErr := os.Stat("/run/netns/" + ns); errors.Is(statErr, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("netlab: %w", err)
	}
	return nil
}

func nsPIDs(ctx context.Context, ns string) ([]int, error) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns pids %s: %w", ns, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil && p != os.Getpid() {
			pids = append(pids, p)
		}
	}
	return pids, nil
}
