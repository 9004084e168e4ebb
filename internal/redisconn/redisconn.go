// Package redisconn opens the Redis connection of the tracker's Redis
// backends (peer store and catalog): one way to read the URL (one server, a
// Redis Cluster or a Sentinel-managed primary) and to check that it
// answers, with errors that name what failed.
package redisconn

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The URL schemes besides go-redis's own redis:// and rediss://.
const (
	// SchemeCluster: redis+cluster://[user:pass@]host1:port1,host2:port2,…
	// names seed nodes of a Redis Cluster (rediss+cluster:// with TLS).
	SchemeCluster = "redis+cluster"
	// SchemeSentinel: redis+sentinel://[user:pass@]host1:port1,…/?master=NAME[&db=N]
	// names the Sentinels of a primary (rediss+sentinel:// with TLS); the
	// user and password are the primary's, sentinel_password the
	// Sentinels' own.
	SchemeSentinel = "redis+sentinel"
)

// clusterStateReload is how old go-redis lets its map of a cluster's slots
// grow before it asks the cluster again (in the background, on the next
// command). go-redis learns of a failover only from a MOVED reply, which a
// dead master never sends: its default of a minute kept every command for
// the dead master's slots failing that long (TestClusterFailover).
const clusterStateReload = 500 * time.Millisecond

// Kind is what a URL names.
type Kind int

const (
	Single   Kind = iota // one server: redis:// or rediss://
	Cluster              // a Redis Cluster: redis+cluster://
	Sentinel             // a primary that Sentinels watch: redis+sentinel://
)

// Target is a parsed Redis URL.
type Target struct {
	Kind Kind
	// One of them is set, by Kind.
	Single   *goredis.Options
	Cluster  *goredis.ClusterOptions
	Sentinel *goredis.FailoverOptions
}

// Addrs are the addresses the target names, for messages.
func (t Target) Addrs() string {
	switch t.Kind {
	case Cluster:
		return strings.Join(t.Cluster.Addrs, ",")
	case Sentinel:
		return t.Sentinel.MasterName + " via " + strings.Join(t.Sentinel.SentinelAddrs, ",")
	}
	return t.Single.Addr
}

// ParseURL reads a Redis URL: redis://[user:pass@]host:port/db (or rediss://),
// a cluster's redis+cluster://host1:port1,host2:port2 or a Sentinel set's
// redis+sentinel://host1:port1,host2:port2/?master=NAME.
func ParseURL(raw string) (Target, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return Target{}, fmt.Errorf("redis URL %q: no scheme (want redis://, rediss://, %s:// or %s://)", raw, SchemeCluster, SchemeSentinel)
	}
	tlsOn := strings.HasPrefix(scheme, "rediss")
	switch scheme {
	case "redis", "rediss":
		opts, err := goredis.ParseURL(raw)
		if err != nil {
			return Target{}, fmt.Errorf("redis URL: %w", err)
		}
		return Target{Kind: Single, Single: opts}, nil
	case SchemeCluster, "rediss+cluster", SchemeSentinel, "rediss+sentinel":
	default:
		return Target{}, fmt.Errorf("redis URL %q: scheme %q is not redis, rediss, %s or %s", raw, scheme, SchemeCluster, SchemeSentinel)
	}
	// net/url refuses a host list, so the hosts are split off first.
	hostPart, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		hostPart, tail = rest[:i], rest[i:]
	}
	var user *url.Userinfo
	if at := strings.LastIndexByte(hostPart, '@'); at >= 0 {
		u, err := url.Parse("redis://" + hostPart[:at+1] + "x")
		if err != nil {
			return Target{}, fmt.Errorf("redis URL: user info: %w", err)
		}
		user, hostPart = u.User, hostPart[at+1:]
	}
	var addrs []string
	for _, h := range strings.Split(hostPart, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" {
			return Target{}, fmt.Errorf("redis URL %q: %q is not host:port", raw, h)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return Target{}, fmt.Errorf("redis URL %q: %q has no valid port", raw, h)
		}
		addrs = append(addrs, h)
	}
	u, err := url.Parse("redis://x" + tail)
	if err != nil {
		return Target{}, fmt.Errorf("redis URL: %w", err)
	}
	q := u.Query()
	var username, password string
	if user != nil {
		username = user.Username()
		password, _ = user.Password()
	}
	var tlsConf *tls.Config
	if tlsOn {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if strings.HasSuffix(scheme, "cluster") {
		if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
			return Target{}, fmt.Errorf("redis URL %q: a cluster has only database 0", raw)
		}
		for k := range q {
			return Target{}, fmt.Errorf("redis URL %q: unknown parameter %q", raw, k)
		}
		return Target{Kind: Cluster, Cluster: &goredis.ClusterOptions{
			Addrs: addrs, Username: username, Password: password, TLSConfig: tlsConf,
			ClusterStateReloadInterval: clusterStateReload,
		}}, nil
	}
	master := q.Get("master")
	if master == "" {
		return Target{}, fmt.Errorf("redis URL %q: a Sentinel URL needs ?master=NAME", raw)
	}
	db := 0
	if p := strings.Trim(u.Path, "/"); p != "" {
		if db, err = strconv.Atoi(p); err != nil || db < 0 {
			return Target{}, fmt.Errorf("redis URL %q: database %q is not a number", raw, p)
		}
	}
	if s := q.Get("db"); s != "" {
		if db, err = strconv.Atoi(s); err != nil || db < 0 {
			return Target{}, fmt.Errorf("redis URL %q: db=%q is not a number", raw, s)
		}
	}
	for k := range q {
		if k != "master" && k != "db" && k != "sentinel_password" {
			return Target{}, fmt.Errorf("redis URL %q: unknown parameter %q", raw, k)
		}
	}
	return Target{Kind: Sentinel, Sentinel: &goredis.FailoverOptions{
		MasterName: master, SentinelAddrs: addrs, SentinelPassword: q.Get("sentinel_password"),
		Username: username, Password: password, DB: db, TLSConfig: tlsConf,
	}}, nil
}

// Client makes the client of t: a go-redis Client, ClusterClient or
// failover Client.
func (t Target) Client() goredis.UniversalClient {
	switch t.Kind {
	case Cluster:
		return goredis.NewClusterClient(t.Cluster)
	case Sentinel:
		return goredis.NewFailoverClient(t.Sentinel)
	}
	return goredis.NewClient(t.Single)
}

// Dial connects to the Redis that url names (see ParseURL) and checks that
// it answers a PING. The caller closes the client.
func Dial(ctx context.Context, url string) (goredis.UniversalClient, error) {
	t, err := ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse redis URL: %w", err)
	}
	rdb := t.Client()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("ping %s: %w", t.Addrs(), err)
	}
	return rdb, nil
}

// IsCluster reports whether rdb talks to a Redis Cluster, where the keys of
// one script or multi-key command must share a hash slot.
func IsCluster(rdb goredis.UniversalClient) bool {
	_, ok := rdb.(*goredis.ClusterClient)
	return ok
}

// Redact is url with its password, if any, replaced by "xxxxx", for logs.
func Redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "(unparsable URL)"
	}
	hosts := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		hosts = rest[:i]
	}
	at := strings.LastIndexByte(hosts, '@')
	if at < 0 {
		return raw
	}
	user, _, hasPass := strings.Cut(hosts[:at], ":")
	if !hasPass {
		return raw
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}
