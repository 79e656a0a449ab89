package main

import (
	"context"
	"fmt"
	"testing"
	"time"

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
