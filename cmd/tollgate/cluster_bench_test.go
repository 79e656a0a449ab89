package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/testenv"
)

// BenchmarkCluster is `make bench`'s cluster run: three Tollgates on their
// own loopback addresses (127.0.0.2, .3, .4) behind Kamailio's dispatcher,
// holding a gateway capacity and a profile limit key in Redis (both high
// enough to refuse nothing: every call is counted and released), with
// SIPp placing a bounded number of calls through the dispatcher at a fixed
// rate. It reports the calls per second the cluster answered and the Redis
// commands per call (INFO commandstats before and after, net of what the
// idle nodes' heartbeats cost over the same time). Three nodes on one
// machine show correctness and the Redis cost of a call, not speed. Bounded:
// one iteration is clusterBenchCalls calls, about ten seconds.
//
//	go test ./cmd/tollgate -run '^$' -bench Cluster -benchtime 1x
func BenchmarkCluster(b *testing.B) {
	r := testenv.StartRedis(b)
	gw := uas(b, "uas.xml", nil)
	const proxyIP = "127.0.0.8"
	var addrs []string
	for i, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		p := startTollgateAt(b, ip, fmt.Sprintf(`cluster:
  node: bench-%d
  trusted_proxies: [%s]
  redis: {address: %q}
limits:
  gateway_calls: 100000
routes:
  - {name: gw, prefix: "1", gateways: [{address: %q}]}
profile_select: {selectors: [per-user]}
profiles:
  - {name: per-user, limit: {key: "$fU", max_calls: 100000}}
`, i, proxyIP, r.Addr, gw.Addr()))
		addrs = append(addrs, p.addr())
	}
	k := testenv.StartKamailioDispatcher(b, testenv.DispatcherOptions{IP: proxyIP, Nodes: addrs, PingInterval: time.Second})
	testenv.Eventually(b, 20*time.Second, "three nodes in service", func() bool {
		st := k.DispatcherStates(b)
		return st[addrs[0]] == "AP" && st[addrs[1]] == "AP" && st[addrs[2]] == "AP"
	})
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rdb.Close()
	ctx := context.Background()

	// What the three idle nodes cost Redis per second: their heartbeats.
	idleFrom, idleStart := redisCommands(b, ctx, rdb), time.Now()
	testenv.Eventually(b, 10*time.Second, "two seconds of idle heartbeats", func() bool { return time.Since(idleStart) >= 2*time.Second })
	idlePerSec := float64(redisCommands(b, ctx, rdb)-idleFrom) / time.Since(idleStart).Seconds()

	const clusterBenchCalls, rate = 600, 100
	var answered, failed int
	var elapsed time.Duration
	var ops float64
	for b.Loop() {
		before, start := redisCommands(b, ctx, rdb), time.Now()
		s := testenv.StartSIPp(b, testenv.SIPpOptions{Scenario: "uac.xml", Remote: k.Addr, Service: "1001",
			Calls: clusterBenchCalls, Rate: rate, Limit: 2 * rate, Pause: 500 * time.Millisecond, Timeout: 60 * time.Second})
		wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		st, _ := s.Wait(wctx)
		cancel()
		took := time.Since(start)
		ops += float64(redisCommands(b, ctx, rdb)-before) - idlePerSec*took.Seconds()
		answered += st.Successful
		failed += st.Failed
		elapsed += took
	}
	if answered == 0 {
		b.Fatalf("no call answered through the dispatcher (%d failed)", failed)
	}
	b.ReportMetric(float64(answered)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(ops/float64(answered), "redis-ops/call")
	b.ReportMetric(float64(failed), "failed-calls")
	b.ReportMetric(idlePerSec, "idle-redis-ops/s")
}

// redisCommands is how many commands Redis has run since it started, by
// INFO commandstats, less the INFO commands themselves.
func redisCommands(b *testing.B, ctx context.Context, rdb *redis.Client) int64 {
	b.Helper()
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, line := range strings.Split(info, "\n") {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") || name == "cmdstat_info" {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(stats, "calls="), ",")
		n, err := strconv.ParseInt(calls, 10, 64)
		if err != nil {
			b.Fatalf("INFO commandstats line %q: %v", line, err)
		}
		total += n
	}
	return total
}
