package itest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/peertune/peertune/internal/redisconn"
)

// RedisEnv names the variable scripts/test.sh sets to the URL of the
// redis-server it started for the tests.
const RedisEnv = "PEERTUNE_TEST_REDIS"

// RedisURL returns the URL of a real Redis for t: $PEERTUNE_TEST_REDIS
// when set, else a redis-server (Debian's) that RedisURL starts on a free
// loopback port, with no persistence, stopped when t ends. Without
// redis-server the test is skipped locally and fails in CI (CI=true).
// Tests sharing one server keep apart by key prefix (RedisPrefix).
func RedisURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(RedisEnv); u != "" {
		return u
	}
	Need(t, "redis-server")
	port := FreePort(t)
	dir := t.TempDir()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no",
		"--logfile", dir+"/redis.log")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := redisPing(addr); err == nil {
			break
		} else if time.Now().After(deadline) {
			log, _ := os.ReadFile(dir + "/redis.log")
			t.Fatalf("redis-server on %s did not answer PING: %v\n%s", addr, err, log)
		}
		select {
		case <-done:
			log, _ := os.ReadFile(dir + "/redis.log")
			t.Fatalf("redis-server exited at start:\n%s", log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return "redis://" + addr + "/0"
}

// redisPing speaks just enough RESP to see that the server is up.
func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// RedisPrefix returns a key prefix no other test uses, so that tests and
// packages sharing one server never collide; when t ends, every key under
// it at url is removed (FLUSHDB would hit the other tests).
func RedisPrefix(t testing.TB, url string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	prefix := "ptest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() { deleteRedisPrefix(t, url, prefix) })
	return prefix
}

func deleteRedisPrefix(t testing.TB, url, prefix string) {
	target, err := redisconn.ParseURL(url)
	if err != nil {
		t.Error(err)
		return
	}
	ctx := context.Background()
	if target.Kind == redisconn.Cluster {
		// Key by key on each master: one UNLINK of keys in several hash
		// slots is refused.
		rdb := goredis.NewClusterClient(target.Cluster)
		defer rdb.Close()
		err := rdb.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			iter := node.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				if err := node.Unlink(ctx, iter.Val()).Err(); err != nil {
					return err
				}
			}
			return iter.Err()
		})
		if err != nil {
			t.Logf("removing the keys under %s: %v", prefix, err) // a killed master
		}
		return
	}
	rdb := target.Client()
	defer rdb.Close()
	var keys []string
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan %s*: %v", prefix, err)
		return
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if err := rdb.Unlink(ctx, keys[:n]...).Err(); err != nil {
			t.Errorf("unlink: %v", err)
			return
		}
		keys = keys[n:]
	}
}
