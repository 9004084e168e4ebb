package redisconn_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/peertune/peertune/internal/itest"
	"github.com/peertune/peertune/internal/redisconn"
)

func TestDial(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rdb, err := redisconn.Dial(ctx, itest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, itest.RedisPrefix(t, itest.RedisURL(t))+"k", "v", time.Minute).Err(); err != nil {
		t.Errorf("the dialled client does not work: %v", err)
	}
	rdb.Close()

	if _, err := redisconn.Dial(ctx, "http://127.0.0.1:6379"); err == nil || !strings.Contains(err.Error(), "parse redis URL") {
		t.Errorf("a non-redis URL: %v", err)
	}
	port := itest.FreePort(t) // nothing listens there
	_, err = redisconn.Dial(ctx, fmt.Sprintf("redis://127.0.0.1:%d/0", port))
	if want := fmt.Sprintf("ping 127.0.0.1:%d", port); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("an unreachable server: %v, want an error naming %q", err, want)
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		kind    redisconn.Kind
		addrs   string
		wantErr string
	}{
		{"redis://127.0.0.1:6379/0", redisconn.Single, "127.0.0.1:6379", ""},
		{"rediss://u:p@db.example:6380/2", redisconn.Single, "db.example:6380", ""},
		{"redis+cluster://10.0.0.1:7000,10.0.0.2:7001,[::1]:7002", redisconn.Cluster, "10.0.0.1:7000,10.0.0.2:7001,[::1]:7002", ""},
		{"redis+cluster://:secret@10.0.0.1:7000", redisconn.Cluster, "10.0.0.1:7000", ""},
		{"redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/?master=mymaster", redisconn.Sentinel, "mymaster via 10.0.0.1:26379,10.0.0.2:26379", ""},
		{"redis+sentinel://10.0.0.1:26379/3?master=m", redisconn.Sentinel, "m via 10.0.0.1:26379", ""},
		{"redis+sentinel://10.0.0.1:26379/", 0, "", "needs ?master=NAME"},
		{"redis+cluster://10.0.0.1", 0, "", "is not host:port"},
		{"redis+cluster://10.0.0.1:99999", 0, "", "no valid port"},
		{"redis+cluster://10.0.0.1:7000/1", 0, "", "only database 0"},
		{"redis+cluster://10.0.0.1:7000/?timeout=1", 0, "", `unknown parameter "timeout"`},
		{"redis+sentinel://10.0.0.1:26379/?master=m&db=x", 0, "", "is not a number"},
		{"http://127.0.0.1:6379", 0, "", `scheme "http"`},
		{"127.0.0.1:6379", 0, "", "no scheme"},
	} {
		tg, err := redisconn.ParseURL(tc.url)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("redisconn.ParseURL(%q) = %v, want an error with %q", tc.url, err, tc.wantErr)
			}
			continue
		}
		if err != nil || tg.Kind != tc.kind || tg.Addrs() != tc.addrs {
			t.Errorf("redisconn.ParseURL(%q) = kind %v addrs %q, %v; want %v %q", tc.url, tg.Kind, tg.Addrs(), err, tc.kind, tc.addrs)
		}
	}
	tg, _ := redisconn.ParseURL("redis+sentinel://u:pw@10.0.0.1:26379/?master=m&db=4&sentinel_password=sp")
	if o := tg.Sentinel; o.Username != "u" || o.Password != "pw" || o.DB != 4 || o.SentinelPassword != "sp" {
		t.Errorf("sentinel options %+v", o)
	}
	tg, _ = redisconn.ParseURL("rediss+cluster://u:pw@10.0.0.1:7000")
	if o := tg.Cluster; o.Password != "pw" || o.TLSConfig == nil {
		t.Errorf("cluster options %+v", o)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"redis://u:pw@h:1/0":                      "redis://u:xxxxx@h:1/0",
		"redis+cluster://:pw@a:1,b:2":             "redis+cluster://:xxxxx@a:1,b:2",
		"redis+sentinel://a:1,b:2/?master=m":      "redis+sentinel://a:1,b:2/?master=m",
		"redis+sentinel://u@a:1/?master=m&x=@y:z": "redis+sentinel://u@a:1/?master=m&x=@y:z",
	} {
		if got := redisconn.Redact(in); got != want {
			t.Errorf("redisconn.Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
