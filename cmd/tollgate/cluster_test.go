package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestClusterAccountLimit: three Tollgates behind Kamailio's dispatcher,
// sharing their limits in Redis, one PostgreSQL and one FreeRADIUS. The
// caller's account (its IP, named by the dispatcher's X-Orig-IP) may have
// 10 calls at once: of 30 concurrent calls spread over the three nodes,
// exactly 10 are answered and 20 refused.
func TestClusterAccountLimit(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	r := testenv.StartRedis(t)
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{Users: `"127.0.0.1"	Cleartext-Password := "cisco"
	h323-return-code = "h323-return-code=0"
`})
	gw := uas(t, "uas.xml", nil)
	const proxyIP = "127.0.0.5"
	var addrs []string
	for _, name := range []string{"sw-a", "sw-b", "sw-c"} {
		p := startTollgate(t, fmt.Sprintf(`cluster:
  node: %s
  trusted_proxies: [%s]
  redis: {address: %q, timeout: 200ms}
  heartbeat: 200ms
  dead_after: 1s
limits:
  account_calls: 10
routes:
  - {name: gw, prefix: "1", gateways: [{address: %q}]}
radius:
  auth: ip
  auth_servers: [{address: %q, secret: %q}]
cdr:
  migrate: true
`, name, proxyIP, r.Addr, gw.Addr(), fr.AuthAddr, fr.Secret), "TOLLGATE_CDR_DATABASE="+dsn)
		addrs = append(addrs, p.addr())
	}
	k := testenv.StartKamailioDispatcher(t, testenv.DispatcherOptions{IP: proxyIP, Nodes: addrs, PingInterval: time.Second})
	testenv.Eventually(t, 10*time.Second, "three nodes in service", func() bool {
		st := k.DispatcherStates(t)
		return st[addrs[0]] == "AP" && st[addrs[1]] == "AP" && st[addrs[2]] == "AP"
	})

	// Each call holds 4 s: all 30 are up or refused at once.
	s := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: k.Addr, Service: "1001",
		Calls: 30, Rate: 200, Limit: 30, Pause: 4 * time.Second, Timeout: 30 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	st, _ := s.Wait(ctx) // the refused calls fail the scenario; the records tell
	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs", 30)
	if st.Successful != 10 {
		t.Errorf("SIPp: %d calls completed, want 10 (%s)", st.Successful, st)
	}
	byCode := map[string]int{}
	nodes := map[string]bool{}
	for _, row := range query(t, dsn, "SELECT sip_code, node, account FROM cdrs") {
		byCode[fmt.Sprint(row["sip_code"])]++
		nodes[fmt.Sprint(row["node"])] = true
		if fmt.Sprint(row["sip_code"]) == "200" && row["account"] != "127.0.0.1" {
			t.Errorf("account %v, want the caller's IP from X-Orig-IP", row["account"])
		}
	}
	if byCode["200"] != 10 || byCode["403"] != 20 {
		t.Errorf("calls by final code %v, want 10 answered and 20 refused with 403", byCode)
	}
	if len(nodes) != 3 {
		t.Errorf("calls on nodes %v, want all three", nodes)
	}
}

// TestClusterProfileLimit: a call profile's limit key (SEMS's cc_pcalls)
// held across three Tollgates behind Kamailio's dispatcher: of 20
// concurrent calls from one From user with max_calls 6, exactly 6 are
// answered and 14 refused with the profile's 402, and once they end every
// node's count of the key in Redis is back to nothing — released once
// each, neither kept nor released twice.
func TestClusterProfileLimit(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	r := testenv.StartRedis(t)
	gw := uas(t, "uas.xml", nil)
	const proxyIP = "127.0.0.6"
	var addrs []string
	for _, name := range []string{"pl-a", "pl-b", "pl-c"} {
		p := startTollgate(t, fmt.Sprintf(`cluster:
  node: %s
  trusted_proxies: [%s]
  redis: {address: %q, timeout: 200ms}
  heartbeat: 200ms
  dead_after: 1s
routes:
  - {name: gw, prefix: "1", gateways: [{address: %q}]}
profile_select: {selectors: [per-user]}
profiles:
  - {name: per-user, limit: {key: "$fU", max_calls: 6}}
cdr:
  migrate: true
`, name, proxyIP, r.Addr, gw.Addr()), "TOLLGATE_CDR_DATABASE="+dsn)
		addrs = append(addrs, p.addr())
	}
	k := testenv.StartKamailioDispatcher(t, testenv.DispatcherOptions{IP: proxyIP, Nodes: addrs, PingInterval: time.Second})
	testenv.Eventually(t, 10*time.Second, "three nodes in service", func() bool {
		st := k.DispatcherStates(t)
		return st[addrs[0]] == "AP" && st[addrs[1]] == "AP" && st[addrs[2]] == "AP"
	})

	s := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: k.Addr, Service: "1001",
		Calls: 20, Rate: 200, Limit: 20, Pause: 4 * time.Second, Timeout: 30 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	st, _ := s.Wait(ctx) // the refused calls fail the scenario; the records tell
	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs", 20)
	if st.Successful != 6 {
		t.Errorf("SIPp: %d calls completed, want 6 (%s)", st.Successful, st)
	}
	byCode := map[string]int{}
	nodes := map[string]bool{}
	for _, row := range query(t, dsn, "SELECT sip_code, node FROM cdrs") {
		byCode[fmt.Sprint(row["sip_code"])]++
		nodes[fmt.Sprint(row["node"])] = true
	}
	if byCode["200"] != 6 || byCode["402"] != 14 {
		t.Errorf("calls by final code %v, want 6 answered and 14 refused with 402", byCode)
	}
	if len(nodes) != 3 {
		t.Errorf("calls on nodes %v, want all three", nodes)
	}
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rdb.Close()
	testenv.Eventually(t, 10*time.Second, "the key's count back to nothing on every node", func() bool {
		for _, node := range []string{"pl-a", "pl-b", "pl-c"} {
			if n, err := rdb.HGet(context.Background(), "tollgate:calls:"+node, "p:sipp").Int(); err != redis.Nil && (err != nil || n != 0) {
				return false
			}
		}
		return true
	})
}

// TestClusterNodeLost: a node SIGKILLed with calls up. Within dead_after +
// 10 s one survivor writes exactly one CDR (reason "node lost", the dead
// node's name) and one RADIUS Stop per leg of each of its connected calls;
// the dead node, restarted, writes none of them again.
func TestClusterNodeLost(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	r := testenv.StartRedis(t)
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	gw := uas(t, "uas.xml", nil)
	start := func(name string) *proc {
		return startTollgate(t, fmt.Sprintf(`cluster:
  node: %s
  redis: {address: %q, timeout: 200ms}
  heartbeat: 200ms
  dead_after: 1s
routes:
  - {name: gw, prefix: "1", gateways: [{address: %q}]}
radius:
  acct_servers: [{address: %q, secret: %q}]
cdr:
  migrate: true
`, name, r.Addr, gw.Addr(), fr.AcctAddr, fr.Secret), "TOLLGATE_CDR_DATABASE="+dsn)
	}
	a := start("sw-a")
	start("sw-b")
	start("sw-c")
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rdb.Close()
	const up = 5
	long := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: a.addr(), Service: "1001",
		Calls: up, Rate: 50, Pause: time.Minute, Timeout: 90 * time.Second})
	testenv.Eventually(t, 15*time.Second, "the calls mirrored in Redis", func() bool {
		return rdb.HLen(context.Background(), "tollgate:journal:sw-a").Val() == up
	})
	testenv.Eventually(t, 10*time.Second, "their Starts", func() bool { return detailCount(t, fr, "Start") == 2*up })
	a.signal(syscall.SIGKILL)
	a.waitExit(10 * time.Second)
	long.Stop()
	killed := time.Now()
	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs WHERE node = 'sw-a' AND disconnect_reason = 'node lost'", up)
	testenv.Eventually(t, 11*time.Second-time.Since(killed), "a Stop per leg", func() bool { return detailCount(t, fr, "Stop") >= 2*up })
	if d := time.Since(killed); d > 11*time.Second {
		t.Errorf("records written %v after the kill, want within dead_after + 10 s", d)
	}

	a.start("TOLLGATE_CDR_DATABASE=" + dsn)
	// start waited for "SIP listening", which comes after the claim.
	if !strings.Contains(a.output(), `"msg":"calls taken over by a surviving node: not written again here","node":"sw-a","calls":5`) {
		t.Errorf("the restarted node did not drop the 5 calls a survivor wrote")
	}
	if n := query(t, dsn, "SELECT count(*) AS n FROM cdrs")[0]["n"]; n != int64(up) {
		t.Errorf("%v CDRs after the restart, want %d: none written twice", n, up)
	}
	if n := detailCount(t, fr, "Stop"); n != 2*up {
		t.Errorf("%d Stops after the restart, want %d", n, 2*up)
	}
}

// TestClusterRedisDown: with Redis stopped, a node configured
// when_down: open still takes calls subject to a limit, one configured
// closed refuses them with 503; both take calls as before once Redis is
// back, and no node takes another for dead.
func TestClusterRedisDown(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	r := testenv.StartRedis(t)
	gw := uas(t, "uas.xml", nil)
	nodes := map[string]*proc{}
	for _, mode := range []string{"open", "closed"} {
		nodes[mode] = startTollgate(t, fmt.Sprintf(`cluster:
  node: sw-%s
  redis: {address: %q, timeout: 100ms, when_down: %s}
  heartbeat: 200ms
  dead_after: 1s
limits:
  gateway_calls: 10
routes:
  - {name: gw, prefix: "1", gateways: [{address: %q}]}
cdr:
  migrate: true
`, mode, r.Addr, mode, gw.Addr()), "TOLLGATE_CDR_DATABASE="+dsn)
	}
	call := func(mode string) testenv.SIPpStats {
		s := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: nodes[mode].addr(), Service: "1001", Calls: 1, Timeout: 10 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		st, _ := s.Wait(ctx)
		return st
	}
	r.Stop()
	if st := call("open"); st.Successful != 1 {
		t.Errorf("fail-open node with Redis down: %s, want the call through", st)
	}
	if st := call("closed"); st.Successful != 0 {
		t.Errorf("fail-closed node with Redis down: %s, want the call refused", st)
	}
	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs", 2)
	if row := query(t, dsn, "SELECT sip_code, sip_reason FROM cdrs WHERE node = 'sw-closed'")[0]; fmt.Sprint(row["sip_code"]) != "503" {
		t.Errorf("fail-closed refusal %v %v, want 503", row["sip_code"], row["sip_reason"])
	}
	r.Start()
	testenv.Eventually(t, 10*time.Second, "the fail-closed node taking calls again", func() bool {
		return call("closed").Successful == 1
	})
	if st := call("open"); st.Successful != 1 {
		t.Errorf("fail-open node after Redis came back: %s", st)
	}
	if n := query(t, dsn, "SELECT count(*) AS n FROM cdrs WHERE disconnect_reason = 'node lost'")[0]["n"]; n != int64(0) {
		t.Errorf("%v calls written as node lost after a Redis outage, want none", n)
	}
}

// TestClusterRedisOutage: three Tollgates on their own loopback addresses
// (127.0.0.2, .3, .4) behind Kamailio's dispatcher hold a gateway capacity
// of 6 calls in Redis: 12 concurrent calls get exactly 6 through. Redis
// is then stopped for 30 s, and throughout it each node behaves as its
// cluster.redis.when_down says: the fail-open nodes (.2, .3) each take
// limit ÷ 3 nodes = 2 calls at once and refuse the rest with the gateway
// limit's 503, the fail-closed node (.4) refuses every limited call with
// 503 Limits Unavailable. With Redis back the limit is cluster-wide
// again: 12 concurrent calls, exactly 6 through.
func TestClusterRedisOutage(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	r := testenv.StartRedis(t)
	gw := uas(t, "uas.xml", nil)
	const proxyIP = "127.0.0.7"
	nodes := map[string]*proc{}
	var addrs []string
	for _, n := range []struct{ ip, name, down string }{
		{"127.0.0.2", "sw-2", "open"}, {"127.0.0.3", "sw-3", "open"}, {"127.0.0.4", "sw-4", "closed"},
	} {
		nodes[n.name] = startTollgateAt(t, n.ip, fmt.Sprintf(`cluster:
  node: %s
  trusted_proxies: [%s]
  redis: {address: %q, timeout: 100ms, when_down: %s}
  heartbeat: 200ms
  dead_after: 1s
limits:
  gateway_calls: 6
routes:
  - {name: gw, prefix: "1", gateways: [{address: %q}]}
cdr:
  migrate: true
`, n.name, proxyIP, r.Addr, n.down, gw.Addr()), "TOLLGATE_CDR_DATABASE="+dsn)
		addrs = append(addrs, nodes[n.name].addr())
	}
	k := testenv.StartKamailioDispatcher(t, testenv.DispatcherOptions{IP: proxyIP, Nodes: addrs, PingInterval: time.Second})
	testenv.Eventually(t, 10*time.Second, "three nodes in service", func() bool {
		st := k.DispatcherStates(t)
		return st[addrs[0]] == "AP" && st[addrs[1]] == "AP" && st[addrs[2]] == "AP"
	})
	// calls places n calls at once at remote, each held for 3 s, and
	// returns how many were answered.
	calls := func(remote string, n int) int {
		s := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: remote, Service: "1001",
			Calls: n, Rate: 200, Limit: n, Pause: 3 * time.Second, Timeout: 30 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		st, _ := s.Wait(ctx) // refused calls fail the scenario; answered ones are counted
		return st.Successful
	}
	if got := calls(k.Addr, 12); got != 6 {
		t.Fatalf("before the outage: %d of 12 concurrent calls through the dispatcher answered, want the capacity of 6", got)
	}

	r.Stop()
	stopped := time.Now()
	rounds := 0
	for rounds == 0 || time.Since(stopped) < 30*time.Second {
		rounds++
		if got := calls(nodes["sw-2"].addr(), 3); got != 2 {
			t.Errorf("outage round %d: fail-open sw-2 answered %d of 3 concurrent calls, want 6 ÷ 3 nodes = 2", rounds, got)
		}
		if got := calls(nodes["sw-4"].addr(), 1); got != 0 {
			t.Errorf("outage round %d: fail-closed sw-4 answered a call", rounds)
		}
	}
	restarted := time.Now()
	r.Start()
	testenv.Eventually(t, 20*time.Second, "the fail-closed node taking calls again", func() bool {
		return calls(nodes["sw-4"].addr(), 1) == 1
	})
	if got := calls(k.Addr, 12); got != 6 {
		t.Errorf("after the outage: %d of 12 concurrent calls answered, want the cluster-wide 6 again", got)
	}
	outage := func() []map[string]any {
		return query(t, dsn, "SELECT sip_code, sip_reason FROM cdrs WHERE node = 'sw-4' AND setup_time >= $1 AND setup_time < $2",
			stopped, restarted)
	}
	testenv.Eventually(t, 60*time.Second, "sw-4's records of the outage in PostgreSQL", func() bool { return len(outage()) >= rounds })
	byCode := map[string]int{}
	for _, row := range outage() {
		byCode[fmt.Sprint(row["sip_code"], " ", row["sip_reason"])]++
	}
	if len(byCode) != 1 || byCode["503 Limits Unavailable"] != rounds {
		t.Errorf("sw-4's calls during the outage %v, want all %d refused 503 Limits Unavailable", byCode, rounds)
	}
	t.Logf("Redis stopped for %v: %d rounds of calls", time.Since(stopped).Round(time.Second), rounds)
}
