package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestBehindDispatcher: two Tollgates behind Kamailio's dispatcher. Calls
// spread over both; each knows the real caller from the X-Orig-* headers
// of its trusted proxy; BYEs of both directions pass through the
// dispatcher's Record-Route; a node drained with SIGUSR1 answers the probes
// 503, the dispatcher takes it out of rotation and it gets no new call, and
// SIGUSR2 brings it back.
func TestBehindDispatcher(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	answer := uas(t, "uas.xml", nil)
	hangup := uas(t, "uas_bye.xml", nil)
	const proxyIP = "127.0.0.5"
	var nodes []*proc
	for _, name := range []string{"sw-a", "sw-b"} {
		nodes = append(nodes, startTollgate(t, fmt.Sprintf(`cluster:
  node: %s
  trusted_proxies: [%s]
routes:
  - {name: answer, prefix: "1", gateways: [{address: %q}]}
  - {name: hangup, prefix: "2", gateways: [{address: %q}]}
cdr:
  migrate: true
`, name, proxyIP, answer.Addr(), hangup.Addr()), "TOLLGATE_CDR_DATABASE="+dsn))
	}
	a, b := nodes[0].addr(), nodes[1].addr()
	k := testenv.StartKamailioDispatcher(t, testenv.DispatcherOptions{IP: proxyIP, Nodes: []string{a, b}, PingInterval: time.Second})
	inService := func(want map[string]string) func() bool {
		return func() bool {
			st := k.DispatcherStates(t)
			for n, f := range want {
				if st[n] != f {
					return false
				}
			}
			return true
		}
	}
	testenv.Eventually(t, 10*time.Second, "both nodes in service", inService(map[string]string{a: "AP", b: "AP"}))

	run := func(o testenv.SIPpOptions) testenv.SIPpStats {
		t.Helper()
		o.Remote = k.Addr
		s := testenv.StartSIPp(t, o)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		st, err := s.Wait(ctx)
		if err != nil {
			t.Fatalf("SIPp %s: %v (%s)", o.Scenario, err, st)
		}
		return st
	}
	run(testenv.SIPpOptions{Scenario: "uac.xml", Service: "1001", Calls: 4, Rate: 20})
	run(testenv.SIPpOptions{Scenario: "uac_wait_bye.xml", Service: "2002", Calls: 2, Rate: 20, Timeout: 20 * time.Second})
	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs WHERE disconnect_reason = 'normal'", 6)
	rows := query(t, dsn, "SELECT node, source_ip, source_port, released_by FROM cdrs")
	perNode := map[string]int{}
	_, kport, _ := net.SplitHostPort(k.Addr)
	for _, r := range rows {
		perNode[fmt.Sprint(r["node"])]++
		if r["source_ip"] != "127.0.0.1" || fmt.Sprint(r["source_port"]) == kport {
			t.Errorf("caller %v:%v, want SIPp's address, not the dispatcher's", r["source_ip"], r["source_port"])
		}
	}
	if perNode["sw-a"] == 0 || perNode["sw-b"] == 0 {
		t.Errorf("calls per node %v, want both used", perNode)
	}

	nodes[0].signal(syscall.SIGUSR1)
	testenv.Eventually(t, 10*time.Second, "the drained node out of rotation", inService(map[string]string{a: "IP", b: "AP"}))
	run(testenv.SIPpOptions{Scenario: "uac.xml", Service: "1001", Calls: 4, Rate: 20})
	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs", 10)
	if n := query(t, dsn, "SELECT count(*) AS n FROM cdrs WHERE node = 'sw-a'")[0]["n"]; fmt.Sprint(n) != strconv.Itoa(perNode["sw-a"]) {
		t.Errorf("the drained node has %v records, had %d: it got new calls", n, perNode["sw-a"])
	}
	nodes[0].signal(syscall.SIGUSR2)
	testenv.Eventually(t, 10*time.Second, "the resumed node back in rotation", inService(map[string]string{a: "AP", b: "AP"}))
}
