package itest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// RedisNode is one redis-server (or Sentinel) process a test started.
type RedisNode struct {
	Port int
	Addr string // 127.0.0.1:Port
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// Kill stops the node at once (SIGKILL), as a crash does.
func (n *RedisNode) Kill() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

// Alive reports whether the node's process still runs.
func (n *RedisNode) Alive() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// startRedisNode runs redis-server with args on port, stopped when t ends;
// it waits until the server answers PING (a Sentinel answers it too).
func startRedisNode(t testing.TB, dir string, port int, args ...string) *RedisNode {
	t.Helper()
	Need(t, "redis-server")
	n := &RedisNode{Port: port, Addr: fmt.Sprintf("127.0.0.1:%d", port), done: make(chan struct{}),
		log: filepath.Join(dir, fmt.Sprintf("redis-%d.log", port))}
	all := append(args, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--daemonize", "no", "--logfile", n.log)
	if !slices.Contains(args, "--sentinel") {
		all = append(all, "--save", "", "--appendonly", "no")
	}
	n.cmd = exec.Command("redis-server", all...)
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start redis-server on %d: %v", port, err)
	}
	go func() { n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		if !n.Alive() {
			return
		}
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(5 * time.Second):
			n.Kill()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for redisPing(n.Addr) != nil {
		if !n.Alive() || time.Now().After(deadline) {
			log, _ := os.ReadFile(n.log)
			t.Fatalf("redis-server on %d did not start:\n%s", port, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

// clusterPort is a free port whose cluster bus port (port+10000) is free
// too.
func clusterPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		p := FreePort(t)
		if p+10000 > 65535 {
			continue
		}
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+10000)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("itest: no free port pair for a cluster node")
	return 0
}

// RedisCluster is a Redis Cluster of real redis-servers on loopback.
type RedisCluster struct {
	Nodes []*RedisNode
	URL   string // redis+cluster://… naming every node
}

// NewRedisCluster starts masters masters with replicas replicas each
// (cluster-node-timeout 2000 ms), joins them with redis-cli --cluster
// create, and waits until every node sees the cluster as ok. Everything is
// stopped when t ends.
func NewRedisCluster(t testing.TB, masters, replicas int) *RedisCluster {
	t.Helper()
	Need(t, "redis-server", "redis-cli")
	dir := t.TempDir()
	c := &RedisCluster{}
	var addrs []string
	for range masters * (1 + replicas) {
		port := clusterPort(t)
		n := startRedisNode(t, dir, port, "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", port)),
			"--cluster-node-timeout", "2000", "--repl-diskless-sync-delay", "0")
		c.Nodes = append(c.Nodes, n)
		addrs = append(addrs, n.Addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.URL = "redis+cluster://" + strings.Join(addrs, ",")
	c.WaitOK(t, 30*time.Second)
	// A replica that never synced with its master cannot take its place:
	// wait for every replica's link (a test kills masters).
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range c.Nodes {
		for {
			rdb := goredis.NewClient(&goredis.Options{Addr: n.Addr})
			info, _ := rdb.Info(context.Background(), "replication").Result()
			rdb.Close()
			if strings.Contains(info, "role:master") || strings.Contains(info, "master_link_status:up") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %s has not synced with its master in 30 s:\n%s", n.Addr, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

// WaitOK waits until every live node reports cluster_state:ok and knows
// every slot.
func (c *RedisCluster) WaitOK(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		for _, n := range c.Nodes {
			if !n.Alive() {
				continue
			}
			out, _ := exec.Command("redis-cli", "-p", strconv.Itoa(n.Port), "cluster", "info").Output()
			if !strings.Contains(string(out), "cluster_state:ok") || !strings.Contains(string(out), "cluster_slots_ok:16384") {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			out, _ := exec.Command("redis-cli", "-p", strconv.Itoa(c.Nodes[0].Port), "cluster", "nodes").Output()
			t.Fatalf("the cluster is not ok after %v:\n%s", timeout, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// State is the cluster's state as a live node sees it: cluster_state and
// the masters that serve slots, for a test's log.
func (c *RedisCluster) State(t testing.TB) string {
	for _, n := range c.Nodes {
		if !n.Alive() {
			continue
		}
		info, _ := exec.Command("redis-cli", "-p", strconv.Itoa(n.Port), "cluster", "info").Output()
		nodes, _ := exec.Command("redis-cli", "-p", strconv.Itoa(n.Port), "cluster", "nodes").Output()
		var masters []string
		for _, line := range strings.Split(string(nodes), "\n") {
			f := strings.Fields(line)
			if len(f) > 8 && strings.Contains(f[2], "master") && !strings.Contains(f[2], "fail") {
				masters = append(masters, strings.Split(f[1], "@")[0])
			}
		}
		state, _, _ := strings.Cut(strings.TrimSpace(string(info)), "\n")
		slices.Sort(masters)
		return strings.TrimSpace(state) + ", masters serving slots " + strings.Join(masters, " ")
	}
	return "no live node"
}

// Diagnose is what a failing test should show of the cluster: a live
// node's view of it and the end of every node's log.
func (c *RedisCluster) Diagnose(t testing.TB) string {
	var b strings.Builder
	for _, n := range c.Nodes {
		if n.Alive() {
			out, _ := exec.Command("redis-cli", "-p", strconv.Itoa(n.Port), "cluster", "nodes").CombinedOutput()
			fmt.Fprintf(&b, "cluster nodes as %s sees them:\n%s\n", n.Addr, out)
			break
		}
	}
	for _, n := range c.Nodes {
		log, _ := os.ReadFile(n.log)
		if len(log) > 1500 {
			log = log[len(log)-1500:]
		}
		fmt.Fprintf(&b, "== %s (alive %v):\n%s\n", n.Addr, n.Alive(), log)
	}
	return b.String()
}

// Masters are the live nodes that are masters now.
func (c *RedisCluster) Masters(t testing.TB) []*RedisNode {
	t.Helper()
	var out []*RedisNode
	for _, n := range c.Nodes {
		if !n.Alive() {
			continue
		}
		rdb := goredis.NewClient(&goredis.Options{Addr: n.Addr})
		info, err := rdb.Info(context.Background(), "replication").Result()
		rdb.Close()
		if err == nil && strings.Contains(info, "role:master") {
			out = append(out, n)
		}
	}
	return out
}

// WaitReplicated waits until every replica of master n has taken all n
// had written when it was called (replication is asynchronous: a master
// killed before its replica caught up takes its last writes with it).
func (n *RedisNode) WaitReplicated(t testing.TB, timeout time.Duration) {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: n.Addr})
	defer rdb.Close()
	var want int64 = -1
	deadline := time.Now().Add(timeout)
	for {
		info, err := rdb.Info(context.Background(), "replication").Result()
		if err != nil {
			t.Fatalf("INFO replication on %s: %v", n.Addr, err)
		}
		master, replicas := replicationOffsets(info)
		if want < 0 {
			want = master
		}
		caught := len(replicas) > 0
		for _, off := range replicas {
			caught = caught && off >= want
		}
		if caught {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replicas of %s did not reach offset %d in %v: %s", n.Addr, want, timeout, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replicationOffsets reads a master's INFO replication: its offset and
// each replica's ("slaveN:ip=…,port=…,state=…,offset=N,lag=…").
func replicationOffsets(info string) (master int64, replicas []int64) {
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "master_repl_offset:"); ok {
			master, _ = strconv.ParseInt(v, 10, 64)
		}
		if !strings.HasPrefix(line, "slave") || !strings.Contains(line, "offset=") {
			continue
		}
		for _, f := range strings.Split(line, ",") {
			if v, ok := strings.CutPrefix(f, "offset="); ok {
				off, _ := strconv.ParseInt(v, 10, 64)
				replicas = append(replicas, off)
			}
		}
	}
	return master, replicas
}

// DBSize is how many keys node n holds.
func (n *RedisNode) DBSize(t testing.TB) int64 {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: n.Addr})
	defer rdb.Close()
	size, err := rdb.DBSize(context.Background()).Result()
	if err != nil {
		t.Fatalf("DBSIZE on %s: %v", n.Addr, err)
	}
	return size
}

// RedisSentinelSet is a primary, a replica and three Sentinels watching the
// primary as "peertune" (quorum 2, down after 1 s), on loopback.
type RedisSentinelSet struct {
	Primary, Replica *RedisNode
	Sentinels        []*RedisNode
	Master           string // the name the Sentinels know the primary by
	URL              string // redis+sentinel://…/?master=Master
}

// NewRedisSentinelSet starts a Sentinel-managed primary and replica, all
// stopped when t ends.
func NewRedisSentinelSet(t testing.TB) *RedisSentinelSet {
	t.Helper()
	dir := t.TempDir()
	s := &RedisSentinelSet{Master: "peertune"}
	s.Primary = startRedisNode(t, dir, FreePort(t))
	s.Replica = startRedisNode(t, dir, FreePort(t), "--replicaof", "127.0.0.1", strconv.Itoa(s.Primary.Port),
		"--repl-diskless-sync-delay", "0")
	var addrs []string
	for i := range 3 {
		port := FreePort(t)
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", i))
		text := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\nsentinel down-after-milliseconds %s 1000\n"+
			"sentinel failover-timeout %s 5000\nsentinel parallel-syncs %s 1\n",
			s.Master, s.Primary.Port, s.Master, s.Master, s.Master)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		n := startRedisNode(t, dir, port, conf, "--sentinel")
		s.Sentinels = append(s.Sentinels, n)
		addrs = append(addrs, n.Addr)
	}
	s.URL = "redis+sentinel://" + strings.Join(addrs, ",") + "/?master=" + s.Master
	// Replication up, and the Sentinels agree on the primary and see its
	// replica, before the test relies on a failover.
	deadline := time.Now().Add(30 * time.Second)
	for {
		rdb := goredis.NewClient(&goredis.Options{Addr: s.Replica.Addr})
		info, _ := rdb.Info(context.Background(), "replication").Result()
		rdb.Close()
		ready := strings.Contains(info, "master_link_status:up")
		for _, sn := range s.Sentinels {
			sc := goredis.NewSentinelClient(&goredis.Options{Addr: sn.Addr})
			reps, err := sc.Replicas(context.Background(), s.Master).Result()
			sc.Close()
			if err != nil || len(reps) == 0 {
				ready = false
			}
		}
		if ready {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Sentinel set is not ready after 30 s (replication: %q)", info)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PrimaryAddr asks a Sentinel where the primary is now.
func (s *RedisSentinelSet) PrimaryAddr(t testing.TB) string {
	t.Helper()
	for _, sn := range s.Sentinels {
		if !sn.Alive() {
			continue
		}
		sc := goredis.NewSentinelClient(&goredis.Options{Addr: sn.Addr})
		addr, err := sc.GetMasterAddrByName(context.Background(), s.Master).Result()
		sc.Close()
		if err == nil && len(addr) == 2 {
			return net.JoinHostPort(addr[0], addr[1])
		}
	}
	t.Fatal("no Sentinel names the primary")
	return ""
}
