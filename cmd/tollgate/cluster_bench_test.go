package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/testenv"
)

// clusterRatesEnv lists BenchmarkCluster's steps of calls per second,
// comma-separated, lowest first; default clusterRates.
const clusterRatesEnv = "TOLLGATE_BENCH_CLUSTER_RATES"

// clusterRates are the default steps: from the fixed 100/s the run had
// first, doubling to past what one node switches on two cores.
var clusterRates = []int{100, 200, 400, 800}

// clusterStep is how long each step offers its rate: long enough that a
// queue building behind a node shows as failed or late calls.
const clusterStep = 10 * time.Second

// BenchmarkCluster is `make bench`'s cluster run: three Tollgates on their
// own loopback addresses (127.0.0.2, .3, .4) behind Kamailio's dispatcher,
// holding a gateway capacity and a profile limit key in Redis (both high
// enough to refuse nothing: every call is counted and released), with
// SIPp placing calls through the dispatcher at rising rates
// (clusterRatesEnv), each for clusterStep, stopping at the first step not
// held. A step is held when every call was answered, none failed and SIPp
// kept the pace (done within its ten seconds' calls plus five). Each step
// reports the calls per second answered and the Redis commands per call
// (INFO commandstats before and after, net of what the idle nodes'
// heartbeats cost over the same time); the last sub-benchmark, "held",
// reports the highest rate held. Three nodes on one machine share its
// cores: the figure is the dispatcher path's ceiling on that machine, not
// a cluster's.
//
//	go test ./cmd/tollgate -run '^$' -bench Cluster -benchtime 1x
//	TOLLGATE_BENCH_CLUSTER_RATES=20 go test ./cmd/tollgate -run '^$' -bench Cluster -benchtime 1x
func BenchmarkCluster(b *testing.B) {
	rates := clusterRates
	if v := os.Getenv(clusterRatesEnv); v != "" {
		rates = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 || (len(rates) > 0 && n <= rates[len(rates)-1]) {
				b.Fatalf("%s=%q: want rising calls per second such as 100,200,400", clusterRatesEnv, v)
			}
			rates = append(rates, n)
		}
	}
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

	held := 0
	for _, rate := range rates {
		calls := rate * int(clusterStep/time.Second)
		stepHeld := false
		b.Run(fmt.Sprintf("rate-%d", rate), func(b *testing.B) {
			var answered, failed int
			var elapsed time.Duration
			var ops float64
			for b.Loop() {
				before, start := redisCommands(b, ctx, rdb), time.Now()
				s := testenv.StartSIPp(b, testenv.SIPpOptions{Scenario: "uac.xml", Remote: k.Addr, Service: "1001",
					Calls: calls, Rate: float64(rate), Limit: 2 * rate, Pause: 500 * time.Millisecond, Timeout: clusterStep + time.Minute})
				wctx, cancel := context.WithTimeout(ctx, clusterStep+90*time.Second)
				st, err := s.Wait(wctx)
				cancel()
				took := time.Since(start)
				if err != nil {
					b.Logf("rate %d/s: %v", rate, err)
				}
				ops += float64(redisCommands(b, ctx, rdb)-before) - idlePerSec*took.Seconds()
				answered += st.Successful
				failed += st.Failed
				elapsed += took
			}
			pace := time.Duration(b.N) * (clusterStep + 5*time.Second)
			stepHeld = failed == 0 && answered == b.N*calls && elapsed <= pace
			b.ReportMetric(float64(answered)/elapsed.Seconds(), "calls/s")
			if answered > 0 {
				b.ReportMetric(ops/float64(answered), "redis-ops/call")
			}
			b.ReportMetric(float64(failed), "failed-calls")
			b.ReportMetric(idlePerSec, "idle-redis-ops/s")
		})
		if !stepHeld {
			b.Logf("%d calls/s not held through the dispatcher: the steps stop here", rate)
			break
		}
		held = rate
	}
	b.Run("held", func(b *testing.B) {
		if held == 0 {
			b.Fatalf("not even %d calls/s held through the dispatcher", rates[0])
		}
		b.ReportMetric(float64(held), "calls/s")
	})
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
