package b2bua

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/testenv"
)

func member(addr string, weight, priority int) config.Member {
	return config.Member{Gateway: config.Gateway{Address: addr, Transport: "udp"}, Weight: weight, Priority: priority}
}

// withinBinomial fails unless got successes in n trials are within six
// standard deviations of a binomial(n, p)'s mean: with a seeded source the
// counts never change, and the bound still says the draw follows the
// weights rather than one lucky seed's numbers.
func withinBinomial(t *testing.T, what string, got, n int, p float64) {
	t.Helper()
	mean, sd := float64(n)*p, math.Sqrt(float64(n)*p*(1-p))
	if math.Abs(float64(got)-mean) > 6*sd+1 {
		t.Errorf("%s: %d of %d, want %.0f ± %.0f (p %.3f)", what, got, n, mean, 6*sd+1, p)
	}
}

// TestDrawMembersByWeight: the first member of each drawn order follows
// the weights of its tier, the second the weights of what is left (drawn
// without replacement), a standby (weight 0) comes after every weighted
// member of its tier, and a higher tier after the whole lower one.
func TestDrawMembersByWeight(t *testing.T) {
	ms := []config.Member{
		member("10.0.0.9:5060", 5, 1), // the second tier, listed first
		member("10.0.0.1:5060", 70, 0),
		member("10.0.0.2:5060", 20, 0),
		member("10.0.0.0:5060", 0, 0), // standby
		member("10.0.0.3:5060", 10, 0),
	}
	const n = 20000
	src := rand.New(rand.NewPCG(18, 7))
	first, second := map[string]int{}, map[string]int{}
	for range n {
		got := drawMembers(slices.Clone(ms), src.IntN)
		if len(got) != len(ms) {
			t.Fatalf("drew %d members of %d", len(got), len(ms))
		}
		if got[3].Gateway.Address != "10.0.0.0:5060" || got[4].Gateway.Address != "10.0.0.9:5060" {
			t.Fatalf("order %v: want the standby fourth and the second tier last", addrs(got))
		}
		first[got[0].Gateway.Address]++
		second[got[1].Gateway.Address]++
	}
	withinBinomial(t, "first 10.0.0.1 (weight 70)", first["10.0.0.1:5060"], n, 0.7)
	withinBinomial(t, "first 10.0.0.2 (weight 20)", first["10.0.0.2:5060"], n, 0.2)
	withinBinomial(t, "first 10.0.0.3 (weight 10)", first["10.0.0.3:5060"], n, 0.1)
	// P(2 second) = P(1 first)·20/30 + P(3 first)·20/90.
	withinBinomial(t, "second 10.0.0.2", second["10.0.0.2:5060"], n, 0.7*20/30+0.1*20/90)
}

// TestDrawMembersStandbysOnly: a tier of standbys alone keeps its listed
// order, and an empty group draws nothing.
func TestDrawMembersStandbysOnly(t *testing.T) {
	ms := []config.Member{member("10.0.0.2:5060", 0, 0), member("10.0.0.1:5060", 0, 0)}
	if got := addrs(drawMembers(ms, rand.New(rand.NewPCG(1, 2)).IntN)); got != "10.0.0.2:5060 10.0.0.1:5060" {
		t.Errorf("standbys drawn as %s, want their listed order", got)
	}
	if got := drawMembers(nil, rand.IntN); len(got) != 0 {
		t.Errorf("an empty group drew %v", got)
	}
}

func addrs(ms []config.Member) string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Gateway.Address
	}
	return strings.Join(out, " ")
}

// seededDraw is a GroupDraw for tests: seeded, and safe for the calls'
// goroutines.
func seededDraw(seed uint64) func(int) int {
	var mu sync.Mutex
	src := rand.New(rand.NewPCG(seed, seed))
	return func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		return src.IntN(n)
	}
}

// TestGatewayGroupSpreadsCalls: a route hunting a group sends each call
// first to a member drawn by weight (3:1 here), never to a member its
// probes found down, and fails over to the group's other members.
func TestGatewayGroupSpreadsCalls(t *testing.T) {
	heavy, light := newPeer(t, "heavy"), newPeer(t, "light")
	heavy.answer(0, nil)
	light.answer(0, nil)
	dead := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)) // answers no OPTIONS
	cfg, port := testConfig(t, fmt.Sprintf(`timers: {probe_interval: 200ms}
gateway_groups:
  - name: carriers
    members:
      - {address: %q, weight: 3}
      - {address: %q}
      - {address: %q, weight: 1000, probe: true}
routes:
  - prefix: ""
    gateways: [{group: carriers}]
`, heavy.addr(), light.addr(), dead))
	sw := runSwitch(t, cfg, port, Options{GroupDraw: seededDraw(18)}, nil)
	testenv.Eventually(t, 10*time.Second, "the dead member marked down", func() bool {
		for _, g := range sw.GatewayHealth() {
			if g.Address == dead && !g.Up {
				return true
			}
		}
		return false
	})
	caller := newPeer(t, "caller")
	const calls = 60
	got := map[string]int{}
	for range calls {
		ds, err := caller.call(within(t, 20*time.Second), sw.uri("100"))
		if err != nil {
			t.Fatal(err)
		}
		if err := ds.Bye(within(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		r := sw.record(t)
		if len(r.Attempts) != 1 {
			t.Fatalf("call hunted %d gateways, want the drawn one only: %+v", len(r.Attempts), r.Attempts)
		}
		got[r.Gateway]++
	}
	t.Logf("spread %v", got)
	if got[dead] != 0 {
		t.Errorf("the down member got %d calls", got[dead])
	}
	withinBinomial(t, "calls to the weight-3 member", got[heavy.addr()], calls, 0.75)
	if got[light.addr()] == 0 {
		t.Errorf("the weight-1 member got no call of %d", calls)
	}

	// A failing member: the hunt goes on to the other one.
	heavy.reject(503, "Service Unavailable")
	for range 4 {
		ds, err := caller.call(within(t, 20*time.Second), sw.uri("100"))
		if err != nil {
			t.Fatal(err)
		}
		if err := ds.Bye(within(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if r := sw.record(t); r.Gateway != light.addr() {
			t.Errorf("call ended on %s, want the working member %s", r.Gateway, light.addr())
		}
	}
}

// TestGatewayMediaPerAttempt: a gateway's media mode decides for the
// attempts sent to it, one attempt at a time: on a switch whose mode is
// none, a gateway with media builtin gets the relay's SDP, the next one
// (the route's none) the caller's own, and an answering builtin one is
// anchored again both ways.
func TestGatewayMediaPerAttempt(t *testing.T) {
	anchored, plain, answering := newPeer(t, "anchored"), newPeer(t, "plain"), newPeer(t, "answering")
	anchored.reject(503, "Service Unavailable")
	plain.reject(503, "Service Unavailable")
	answering.answer(0, nil)
	lo, hi := freeMediaRange(t, 12)
	sw, media := startMediaSwitch(t, fmt.Sprintf(`media:
  mode: none
  builtin: {port_min: %d, port_max: %d}
routes:
  - prefix: ""
    gateways:
      - {address: %q, media: builtin}
      - {address: %q}
      - {address: %q, media: builtin}
`, lo, hi, anchored.addr(), plain.addr(), answering.addr()))
	caller := newPeer(t, "caller")
	ds, err := caller.call(within(t, 20*time.Second), sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	if p := audioPort(t, anchored.invites()[0]); p < lo || p > hi {
		t.Errorf("the builtin gateway got port %d, want the relay's %d-%d", p, lo, hi)
	}
	if got := string(plain.invites()[0].Body()); got != sdpOffer {
		t.Errorf("the gateway without media got\n%s\nwant the caller's SDP", got)
	}
	if p := audioPort(t, answering.invites()[0]); p < lo || p > hi {
		t.Errorf("the answering builtin gateway got port %d, want the relay's %d-%d", p, lo, hi)
	}
	if p := audioPort(t, ds.InviteResponse); p < lo || p > hi {
		t.Errorf("the caller's answer has port %d, want the relay's %d-%d", p, lo, hi)
	}
	if err := ds.Bye(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if r := sw.record(t); r.MediaRelay != config.MediaBuiltin {
		t.Errorf("record's media relay %q, want builtin", r.MediaRelay)
	}
	testenv.Eventually(t, 20*time.Second, "relay sessions deleted", func() bool { return media.Builtin().Stats().ActiveSessions == 0 })
}

// TestGatewayMediaNoneInGroup: on a switch anchoring every call, a group
// member with media none gets the caller's own SDP and its answer reaches
// the caller untouched, with no relay session left behind.
func TestGatewayMediaNoneInGroup(t *testing.T) {
	direct := newPeer(t, "direct")
	direct.answer(0, nil)
	sw, media := startMediaSwitch(t, builtinMedia(t, 8, "")+fmt.Sprintf(`gateway_groups:
  - name: direct
    members: [{address: %q, media: none}]
routes:
  - prefix: ""
    gateways: [{group: direct}]
`, direct.addr()))
	ds, err := newPeer(t, "caller").call(within(t, 20*time.Second), sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(direct.invites()[0].Body()); got != sdpOffer {
		t.Errorf("the media none member got\n%s\nwant the caller's SDP", got)
	}
	if got := string(ds.InviteResponse.Body()); got != sdpAnswer {
		t.Errorf("caller got answer\n%s\nwant the gateway's own", got)
	}
	if n := media.Builtin().Stats().ActiveSessions; n != 0 {
		t.Errorf("%d relay sessions during an unanchored call", n)
	}
	if err := ds.Bye(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if r := sw.record(t); r.MediaRelay != "" {
		t.Errorf("record's media relay %q, want none", r.MediaRelay)
	}
}

// BenchmarkRouteHopsGroup is the hunt of one call over a route of one
// gateway and a group of four weighted members in two tiers: what a group
// adds to the setup path.
func BenchmarkRouteHopsGroup(b *testing.B) {
	route := &config.Route{Name: "r", Gateways: []config.Gateway{
		{Address: "10.0.0.9:5060", Transport: "udp"},
		{Group: "carriers", Members: []config.Member{
			member("10.0.0.1:5060", 70, 0), member("10.0.0.2:5060", 20, 0), member("10.0.0.3:5060", 10, 0), member("10.0.0.4:5060", 0, 1),
		}},
	}}
	c := &Call{sw: &Switch{health: health{m: map[string]*GatewayHealth{}}, draw: rand.IntN}}
	b.ReportAllocs()
	for b.Loop() {
		if hops := c.routeHops(route); len(hops) != 5 {
			b.Fatalf("%d hops", len(hops))
		}
	}
}

// BenchmarkRouteHopsPlain is BenchmarkRouteHopsGroup's route with the five
// gateways listed: the hunt without a group, for comparison.
func BenchmarkRouteHopsPlain(b *testing.B) {
	route := &config.Route{Name: "r"}
	for _, a := range []string{"10.0.0.9:5060", "10.0.0.1:5060", "10.0.0.2:5060", "10.0.0.3:5060", "10.0.0.4:5060"} {
		route.Gateways = append(route.Gateways, config.Gateway{Address: a, Transport: "udp"})
	}
	c := &Call{sw: &Switch{health: health{m: map[string]*GatewayHealth{}}, draw: rand.IntN}}
	b.ReportAllocs()
	for b.Loop() {
		if hops := c.routeHops(route); len(hops) != 5 {
			b.Fatalf("%d hops", len(hops))
		}
	}
}

// TestGatewayMediaWithoutRelay: a gateway of the routing tables may name a
// relay that does not run; its calls then go through unanchored, with the
// caller's own SDP, rather than being refused.
func TestGatewayMediaWithoutRelay(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(newPeer(t, "file")))
	sw.SetRoutes([]config.Route{{Name: "db", Prefix: "", Gateways: []config.Gateway{
		{Group: "carriers", Members: []config.Member{{Gateway: config.Gateway{Address: gw.addr(), Media: config.MediaBuiltin}, Weight: 1}}}}}})
	inv, r := gwCall(t, sw, gw, newPeer(t, "caller"), "100")
	if got := string(inv.Body()); got != sdpOffer {
		t.Errorf("the gateway got\n%s\nwant the caller's SDP", got)
	}
	if r.Route != "db" || r.MediaRelay != "" {
		t.Errorf("record's route %q, media relay %q: want db, none", r.Route, r.MediaRelay)
	}
}
