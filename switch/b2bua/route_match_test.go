package b2bua

import (
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestRoutesOfOnePrefixByCallerSourceAndInterface: four routes share the
// called prefix 44 and send calls to four gateways, told apart by the
// caller's number, the caller's real source address (named by a trusted
// front proxy, as IP authorisation reads it) and the interface the INVITE
// came to; a call none of them narrows to takes the plain route.
func TestRoutesOfOnePrefixByCallerSourceAndInterface(t *testing.T) {
	t.Parallel()
	plainGW, frGW, peerGW, internGW := newPeer(t, "plain"), newPeer(t, "fr"), newPeer(t, "peer"), newPeer(t, "intern")
	for _, gw := range []*peer{plainGW, frGW, peerGW, internGW} {
		gw.answer(0, nil)
	}
	intern := testenv.FreePort(t)
	sw := startSwitch(t, fmt.Sprintf(`  interfaces:
    - {name: intern, listen: ["udp:127.0.0.2:%d"]}
cluster:
  trusted_proxies: [127.0.0.1]
routes:
  - {name: uk, prefix: "44", gateways: [{address: %q}]}
  - {name: uk-from-fr, prefix: "44", caller_prefix: "33", gateways: [{address: %q}]}
  - {name: uk-peer, prefix: "44", source: [198.51.100.0/24], priority: 1, gateways: [{address: %q}]}
  - {name: uk-intern, prefix: "44", interface: intern, priority: 2, gateways: [{address: %q}]}
`, intern, plainGW.addr(), frGW.addr(), peerGW.addr(), internGW.addr()))
	plainCaller, frCaller := newPeer(t, "1555"), newPeer(t, "33123")
	internTarget := sip.Uri{Scheme: "sip", User: "4420", Host: "127.0.0.2", Port: intern}
	origIP := func(ip string) sip.Header { return sip.NewHeader("X-Orig-IP", ip) }

	for _, tc := range []struct {
		why    string
		caller *peer
		target sip.Uri
		hdrs   []sip.Header
		gw     *peer
		route  string
	}{
		{"no criterion narrows the call", plainCaller, sw.uri("4420"), nil, plainGW, "uk"},
		{"a French caller", frCaller, sw.uri("4420"), nil, frGW, "uk-from-fr"},
		{"a caller from the peer's network, behind the proxy", plainCaller, sw.uri("4420"), []sip.Header{origIP("198.51.100.7")}, peerGW, "uk-peer"},
		{"the peer's source outranks the caller prefix", frCaller, sw.uri("4420"), []sip.Header{origIP("198.51.100.7")}, peerGW, "uk-peer"},
		{"another source", plainCaller, sw.uri("4420"), []sip.Header{origIP("203.0.113.9")}, plainGW, "uk"},
		{"the intern interface", frCaller, internTarget, nil, internGW, "uk-intern"},
	} {
		before := len(tc.gw.invites())
		ctx := within(t, 20*time.Second)
		ds, err := tc.caller.call(ctx, tc.target, tc.hdrs...)
		if err != nil {
			t.Fatalf("%s: %v", tc.why, err)
		}
		tc.gw.waitRequest(sip.ACK, 5*time.Second)
		if err := ds.Bye(ctx); err != nil {
			t.Fatal(err)
		}
		tc.gw.waitRequest(sip.BYE, 5*time.Second)
		if r := sw.record(t); r.Route != tc.route {
			t.Errorf("%s: the record's route is %q, want %s", tc.why, r.Route, tc.route)
		}
		if n := len(tc.gw.invites()); n != before+1 {
			t.Errorf("%s: gateway %s got %d INVITEs, want %d", tc.why, tc.gw.name, n, before+1)
		}
	}
	for gw, want := range map[*peer]int{plainGW: 2, frGW: 1, peerGW: 2, internGW: 1} {
		if n := len(gw.invites()); n != want {
			t.Errorf("gateway %s got %d calls, want %d", gw.name, n, want)
		}
	}
}

// TestRoutesOfOnePrefixBySelectedProfile: three routes share the called
// prefix 44 and send calls to three gateways, told apart by the profile the
// selector (a header) chose: gold to one, silver to another, and the calls
// no selector places to the plain route, whose fallback profile is silver
// yet does not make the silver route match (only the selectors count).
// The call gets the profile the selectors chose, or the plain route's
// fallback, as before; a selector naming no configured profile is still
// refused 500 before any gateway is tried.
func TestRoutesOfOnePrefixBySelectedProfile(t *testing.T) {
	t.Parallel()
	plainGW, goldGW, silverGW := newPeer(t, "plain"), newPeer(t, "gold"), newPeer(t, "silver")
	for _, gw := range []*peer{plainGW, goldGW, silverGW} {
		gw.answer(0, nil)
	}
	sw := startSwitch(t, fmt.Sprintf(`routes:
  - {name: uk, prefix: "44", profile: silver, gateways: [{address: %q}]}
  - {name: uk-gold, prefix: "44", selected_profile: gold, gateways: [{address: %q}]}
  - {name: uk-silver, prefix: "44", selected_profile: silver, gateways: [{address: %q}]}
profile_select: {selectors: ["$H(X-Tier)"]}
profiles:
  - {name: gold, append_headers: ["X-Applied: gold"]}
  - {name: silver, append_headers: ["X-Applied: silver"]}
`, plainGW.addr(), goldGW.addr(), silverGW.addr()))
	caller := newPeer(t, "1555")
	tier := func(p string) sip.Header { return sip.NewHeader("X-Tier", p) }

	for _, tc := range []struct {
		why     string
		hdrs    []sip.Header
		gw      *peer
		route   string
		applied string
	}{
		{"no selector places the call: the plain route and its fallback profile", nil, plainGW, "uk", "silver"},
		{"the selector chose gold", []sip.Header{tier("gold")}, goldGW, "uk-gold", "gold"},
		{"the selector chose silver", []sip.Header{tier("silver")}, silverGW, "uk-silver", "silver"},
	} {
		inv, r := gwCall(t, sw, tc.gw, caller, "4420", tc.hdrs...)
		if got := hdrValue(inv, "X-Applied"); got != tc.applied {
			t.Errorf("%s: profile %q applied, want %s", tc.why, got, tc.applied)
		}
		if r.Route != tc.route {
			t.Errorf("%s: the record's route is %q, want %s", tc.why, r.Route, tc.route)
		}
	}
	if res := failedCall(t, caller, sw.uri("4420"), tier("bronze")); res.StatusCode != 500 {
		t.Errorf("a selector naming no profile: %d %s, want 500", res.StatusCode, res.Reason)
	}
	sw.record(t)
	for gw, want := range map[*peer]int{plainGW: 1, goldGW: 1, silverGW: 1} {
		if n := len(gw.invites()); n != want {
			t.Errorf("gateway %s got %d calls, want %d", gw.name, n, want)
		}
	}
}
