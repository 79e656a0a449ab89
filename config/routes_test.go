package config

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A database route replaces the file's route of its prefix, the file's
// other routes stay, and the original configuration is left as it was for
// the calls that hold it.
func TestWithRoutesMergesOverTheFile(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`
timers: {no_progress: 3s}
routes:
  - {prefix: "", gateways: [{address: "127.0.0.1:1"}]}
  - {prefix: "44", gateways: [{address: "127.0.0.1:2"}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	n := c.WithRoutes([]Route{
		{Name: "uk-db", Prefix: "44", Gateways: []Gateway{{Address: "127.0.0.1:3"}}},
		{Name: "de-db", Prefix: "49", Gateways: []Gateway{{Address: "127.0.0.1:4"}}},
	})
	if r := n.Route(RouteQuery{Called: "4420"}); r == nil || r.Name != "uk-db" || r.Gateways[0].Transport != "udp" || r.NoProgress != 3*time.Second ||
		len(r.HuntStop) == 0 || r.Auth != AuthNone {
		t.Errorf("44: %+v, want the database's route with the file's defaults", r)
	}
	if r := n.Route(RouteQuery{Called: "4930"}); r == nil || r.Name != "de-db" {
		t.Errorf("49: %+v", r)
	}
	if r := n.Route(RouteQuery{Called: "1"}); r == nil || r.Gateways[0].Address != "127.0.0.1:1" {
		t.Errorf("the file's default route: %+v", r)
	}
	if r := c.Route(RouteQuery{Called: "4420"}); r.Gateways[0].Address != "127.0.0.1:2" {
		t.Errorf("the original configuration changed: %+v", r)
	}
}

// A gateway's digest password stays out of JSON, which the web UI's
// configuration view and API are made of.
func TestGatewayPasswordNotInJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Gateway{Address: "127.0.0.1:1", AuthUser: "u", AuthPassword: "s3cret"})
	if err != nil || strings.Contains(string(b), "s3cret") {
		t.Errorf("%s %v", b, err)
	}
}

// The rule that chooses among the routes that match a call: priority,
// then the longest called prefix, then the longest caller prefix, then
// the order of the list. Source and interface narrow a route without
// ranking it: a route narrowed by them alone needs a priority (or an
// earlier place) to win over the broader route of its prefix.
func TestRouteMatchRule(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`
sip:
  listen: ["udp:127.0.0.1:5060"]
  interfaces: [{name: intern, listen: ["udp:127.0.0.2:5060"]}]
routes:
  - {name: default, prefix: "", gateways: [{address: "127.0.0.1:1"}]}
  - {name: uk, prefix: "44", gateways: [{address: "127.0.0.1:1"}]}
  - {name: uk-mobile, prefix: "447", gateways: [{address: "127.0.0.1:1"}]}
  - {name: uk-from-fr, prefix: "44", caller_prefix: "33", gateways: [{address: "127.0.0.1:1"}]}
  - {name: uk-from-paris, prefix: "44", caller_prefix: "331", gateways: [{address: "127.0.0.1:1"}]}
  - {name: uk-peer, prefix: "44", source: [192.0.2.0/24, "2001:db8::1"], priority: 1, gateways: [{address: "127.0.0.1:1"}]}
  - {name: uk-intern, prefix: "44", interface: intern, priority: 1, gateways: [{address: "127.0.0.1:1"}]}
  - {name: uk-shadowed, prefix: "44", source: [203.0.113.0/24], gateways: [{address: "127.0.0.1:1"}]}
  - {name: vip, prefix: "", caller_prefix: "999", priority: 10, gateways: [{address: "127.0.0.1:1"}]}
  - {name: de-a, prefix: "49", caller_prefix: "1", priority: 5, gateways: [{address: "127.0.0.1:1"}]}
  - {name: de-b, prefix: "49", source: [198.51.100.7], priority: 5, gateways: [{address: "127.0.0.1:1"}]}
  - {name: de-long, prefix: "491", gateways: [{address: "127.0.0.1:1"}]}
  - {name: de-c, prefix: "49", caller_prefix: "2", priority: 5, gateways: [{address: "127.0.0.1:1"}]}
  - {name: de-d, prefix: "49", caller_prefix: "2", interface: intern, priority: 5, gateways: [{address: "127.0.0.1:1"}]}
  - {name: low, prefix: "7", priority: -1, gateways: [{address: "127.0.0.1:1"}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		why  string
		q    RouteQuery
		want string
	}{
		{"the called prefix alone", RouteQuery{Called: "4420", Caller: "1"}, "uk"},
		{"the longest called prefix", RouteQuery{Called: "4471", Caller: "1"}, "uk-mobile"},
		{"a longer called prefix beats a caller prefix", RouteQuery{Called: "4471", Caller: "331"}, "uk-mobile"},
		{"the longest caller prefix", RouteQuery{Called: "4420", Caller: "3312"}, "uk-from-paris"},
		{"a shorter caller prefix", RouteQuery{Called: "4420", Caller: "3399"}, "uk-from-fr"},
		{"a source in a block", RouteQuery{Called: "4420", Caller: "1", Source: ip("192.0.2.9")}, "uk-peer"},
		{"priority beats a caller prefix", RouteQuery{Called: "4420", Caller: "331", Source: ip("192.0.2.9")}, "uk-peer"},
		{"priority beats a longer called prefix", RouteQuery{Called: "4471", Source: ip("192.0.2.9")}, "uk-peer"},
		{"an IPv6 source address", RouteQuery{Called: "4420", Source: ip("2001:db8::1")}, "uk-peer"},
		{"an IPv4-mapped source", RouteQuery{Called: "4420", Source: ip("::ffff:192.0.2.9")}, "uk-peer"},
		{"another IPv6 source", RouteQuery{Called: "4420", Source: ip("2001:db8::2")}, "uk"},
		{"no source known", RouteQuery{Called: "4420"}, "uk"},
		{"tie of priority and prefixes: listed first", RouteQuery{Called: "4420", Source: ip("192.0.2.9"), Interface: "intern"}, "uk-peer"},
		{"the interface", RouteQuery{Called: "4420", Interface: "intern"}, "uk-intern"},
		{"another interface", RouteQuery{Called: "4420", Interface: DefaultInterface}, "uk"},
		{"narrowed by source alone, listed after the broad route", RouteQuery{Called: "4420", Source: ip("203.0.113.5")}, "uk"},
		{"a high priority on the empty prefix", RouteQuery{Called: "4420", Caller: "9991"}, "vip"},
		{"priority beats the longer 491", RouteQuery{Called: "4912", Caller: "1"}, "de-a"},
		{"equal priority: the caller prefix", RouteQuery{Called: "4912", Caller: "1", Source: ip("198.51.100.7")}, "de-a"},
		{"equal priority, source only", RouteQuery{Called: "4912", Caller: "3", Source: ip("198.51.100.7")}, "de-b"},
		{"no priority route matches: the longest prefix", RouteQuery{Called: "4912", Caller: "3"}, "de-long"},
		{"nothing of 49 matches", RouteQuery{Called: "4950", Caller: "3"}, "default"},
		{"equal in everything: listed first", RouteQuery{Called: "4950", Caller: "2", Interface: "intern"}, "de-c"},
		{"a negative priority loses to the default route", RouteQuery{Called: "77"}, "default"},
	} {
		r := c.Route(tc.q)
		if r == nil || r.Name != tc.want {
			t.Errorf("%s: %+v chose %v, want %s", tc.why, tc.q, routeName(r), tc.want)
		}
	}

	only, err := Parse([]byte(`routes: [{prefix: "44", caller_prefix: "1", gateways: [{address: "127.0.0.1:1"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	if r := only.Route(RouteQuery{Called: "4420", Caller: "2"}); r != nil {
		t.Errorf("a caller no route takes got %s", r.Name)
	}
}

// A route's selected_profile takes only the calls for which the profile
// selectors chose that profile; a route's fallback profile: plays no part.
// It ranks after the caller prefix: when priority, called and caller
// prefixes tie, a route with the criterion beats one without, whatever
// their order; a priority or a longer prefix still beats it.
func TestRouteMatchRuleSelectedProfile(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`
profile_select: {selectors: ["$H(X-Profile)"]}
profiles: [{name: gold}, {name: silver}, {name: fallback}]
routes:
  - {name: uk, prefix: "44", profile: fallback, gateways: [{address: "127.0.0.1:1"}]}
  - {name: uk-gold, prefix: "44", selected_profile: gold, gateways: [{address: "127.0.0.1:1"}]}
  - {name: uk-silver, prefix: "44", selected_profile: silver, gateways: [{address: "127.0.0.1:1"}]}
  - {name: uk-fr, prefix: "44", caller_prefix: "33", gateways: [{address: "127.0.0.1:1"}]}
  - {name: uk-fr-gold, prefix: "44", caller_prefix: "33", selected_profile: gold, gateways: [{address: "127.0.0.1:1"}]}
  - {name: uk-mobile, prefix: "447", gateways: [{address: "127.0.0.1:1"}]}
  - {name: uk-peer, prefix: "44", source: [192.0.2.0/24], priority: 1, gateways: [{address: "127.0.0.1:1"}]}
  - {name: de-broad, prefix: "49", gateways: [{address: "127.0.0.1:1"}]}
  - {name: de-silver, prefix: "49", selected_profile: silver, gateways: [{address: "127.0.0.1:1"}]}
  - {name: fr-fallback-only, prefix: "33", selected_profile: fallback, gateways: [{address: "127.0.0.1:1"}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		why  string
		q    RouteQuery
		want string
	}{
		{"no profile selected", RouteQuery{Called: "4420", Caller: "1"}, "uk"},
		{"the selectors chose gold", RouteQuery{Called: "4420", Caller: "1", SelectedProfile: "gold"}, "uk-gold"},
		{"the selectors chose silver", RouteQuery{Called: "4420", Caller: "1", SelectedProfile: "silver"}, "uk-silver"},
		{"a profile no route names", RouteQuery{Called: "4420", Caller: "1", SelectedProfile: "fallback"}, "uk"},
		{"the caller prefix ranks before the profile", RouteQuery{Called: "4420", Caller: "331", SelectedProfile: "silver"}, "uk-fr"},
		{"tie of caller prefix: the profile criterion wins", RouteQuery{Called: "4420", Caller: "331", SelectedProfile: "gold"}, "uk-fr-gold"},
		{"tie of caller prefix, no profile selected", RouteQuery{Called: "4420", Caller: "331"}, "uk-fr"},
		{"a longer called prefix beats the profile", RouteQuery{Called: "4471", SelectedProfile: "gold"}, "uk-mobile"},
		{"a priority beats the profile", RouteQuery{Called: "4420", SelectedProfile: "gold", Source: netip.MustParseAddr("192.0.2.1")}, "uk-peer"},
		{"tie with a route listed first: the profile criterion wins", RouteQuery{Called: "4912", SelectedProfile: "silver"}, "de-silver"},
		{"tie with a route listed first, another profile", RouteQuery{Called: "4912", SelectedProfile: "gold"}, "de-broad"},
		{"nothing else of 33", RouteQuery{Called: "3312", SelectedProfile: "gold"}, "no route"},
		{"the only route of 33", RouteQuery{Called: "3312", SelectedProfile: "fallback"}, "fr-fallback-only"},
	} {
		if r := c.Route(tc.q); routeName(r) != tc.want {
			t.Errorf("%s: %+v chose %v, want %s", tc.why, tc.q, routeName(r), tc.want)
		}
	}
}

// selected_profile must name a configured profile, and two routes that
// differ in it alone match different calls.
func TestRouteSelectedProfileProblems(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`profiles: [{name: gold}]
routes:
  - {prefix: "1", selected_profile: golden, gateways: [{address: "127.0.0.1:1"}]}
  - {prefix: "2", selected_profile: gold, gateways: [{address: "127.0.0.1:1"}]}
  - {prefix: "2", gateways: [{address: "127.0.0.1:1"}]}
  - {prefix: "2", selected_profile: gold, gateways: [{address: "127.0.0.1:2"}]}
`))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Error", err)
	}
	msg := err.Error()
	for _, w := range []string{
		`line 3, column 37: routes[0].selected_profile: "golden": no such profile; want one of the names in profiles (gold)`,
		`routes[3].prefix: routes[1] already matches the same calls`,
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	if len(ce.Problems) != 2 {
		t.Errorf("%d problems, want 2:\n%s", len(ce.Problems), msg)
	}
}

func routeName(r *Route) string {
	if r == nil {
		return "no route"
	}
	return r.Name
}

func TestParseSource(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"10.0.0.0/8": "10.0.0.0/8", "192.0.2.1": "192.0.2.1/32", "::ffff:192.0.2.1": "192.0.2.1/32",
		"2001:db8::/32": "2001:db8::/32", "::ffff:192.0.2.0/120": "192.0.2.0/24", "0.0.0.0/0": "0.0.0.0/0",
	} {
		if p, err := ParseSource(in); err != nil || p.String() != want {
			t.Errorf("ParseSource(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, in := range []string{"10.1.2.3/8", "300.1.1.1", "example.com", "fe80::1%eth0", "10.0.0.0/33", "", "::ffff:0.0.0.0/90"} {
		if p, err := ParseSource(in); err == nil {
			t.Errorf("ParseSource(%q) = %v, want an error", in, p)
		}
	}
}

// Each new field has its own message, at its own line, and two routes that
// match the same calls are refused: one of them could never be chosen.
func TestRouteCriteriaProblems(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`routes:
  - prefix: "1"
    caller_prefix: "abc"
    source: [10.0.0.0/8, 10.1.2.3/8, nonsense]
    interface: nowhere
    gateways: [{address: "127.0.0.1:1"}]
  - {prefix: "2", source: [192.0.2.1, 10.0.0.0/8], gateways: [{address: "127.0.0.1:1"}]}
  - {prefix: "2", source: [10.0.0.0/8, 192.0.2.1/32], priority: 3, gateways: [{address: "127.0.0.1:1"}]}
  - {prefix: "2", caller_prefix: "1", source: [10.0.0.0/8, 192.0.2.1/32], gateways: [{address: "127.0.0.1:1"}]}
`))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Error", err)
	}
	msg := err.Error()
	for _, w := range []string{
		`line 3, column 20: routes[0].caller_prefix: "abc": want digits`,
		`line 4, column 26: routes[0].source[1]: "10.1.2.3/8" has host bits set: want 10.0.0.0/8`,
		`routes[0].source[2]: "nonsense": want an IP address or a CIDR block`,
		`line 5, column 16: routes[0].interface: "nowhere": no such interface; want one of default`,
		`routes[2].prefix: routes[1] already matches the same calls`,
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	if len(ce.Problems) != 5 {
		t.Errorf("%d problems, want 5:\n%s", len(ce.Problems), msg)
	}
}

// A database route replaces the file's route that matches the same calls,
// and only that one: a database route for the same prefix but one caller
// range leaves the file's route for the other callers.
func TestWithRoutesReplacesTheSameMatch(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`
routes:
  - {name: file-uk, prefix: "44", gateways: [{address: "127.0.0.1:1"}]}
  - {name: file-peer, prefix: "44", source: [192.0.2.0/24], priority: 1, gateways: [{address: "127.0.0.1:2"}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	n := c.WithRoutes([]Route{
		{Name: "db-fr", Prefix: "44", CallerPrefix: "33", Gateways: []Gateway{{Address: "127.0.0.1:3"}}},
		{Name: "db-peer", Prefix: "44", Source: []string{"192.0.2.0/24"}, Priority: 1, Gateways: []Gateway{{Address: "127.0.0.1:4"}}},
	})
	for _, tc := range []struct {
		q    RouteQuery
		want string
	}{
		{RouteQuery{Called: "4420", Caller: "1"}, "file-uk"},
		{RouteQuery{Called: "4420", Caller: "331"}, "db-fr"},
		{RouteQuery{Called: "4420", Caller: "1", Source: netip.MustParseAddr("192.0.2.7")}, "db-peer"},
	} {
		if r := n.Route(tc.q); routeName(r) != tc.want {
			t.Errorf("%+v: %s, want %s", tc.q, routeName(r), tc.want)
		}
	}
	if len(n.Routes) != 3 {
		t.Errorf("%d routes, want 3 (file-peer replaced)", len(n.Routes))
	}
}

// BenchmarkRouteLookup looks up a call's route among 10,000 routes, as
// every INVITE does. plain: the routes have called prefixes only, as
// before routes had criteria. criteria: every prefix has several routes
// with caller prefixes, sources and priorities, which the lookup filters
// and, with a priority somewhere, walks every prefix length for;
// 1000-sources-last: the worst case, the last of 1,000 routes of one
// prefix told apart by source alone.
func BenchmarkRouteLookup(b *testing.B) {
	gw := []Gateway{{Address: "127.0.0.1:1"}}
	plain := make([]Route, 0, 10000)
	for i := range 10000 {
		plain = append(plain, Route{Name: strconv.Itoa(i), Prefix: strconv.Itoa(100000 + i*7), Gateways: gw})
	}
	mixed := make([]Route, 0, 10000)
	for i := range 2000 {
		p := strconv.Itoa(10000 + i*3)
		mixed = append(mixed,
			Route{Name: p, Prefix: p, Gateways: gw},
			Route{Name: p + "-a", Prefix: p, CallerPrefix: "33", Gateways: gw},
			Route{Name: p + "-b", Prefix: p, CallerPrefix: "331", Gateways: gw},
			Route{Name: p + "-c", Prefix: p, Source: []string{"192.0.2.0/24", "198.51.100.0/24"}, Priority: 1, Gateways: gw},
			Route{Name: p + "-d", Prefix: p + "9", Source: []string{"203.0.113.7"}, Priority: i % 3, Gateways: gw})
	}
	// One prefix shared by a thousand customers told apart by source: the
	// lookup tests them one by one, a linear cost the operator chooses.
	shared := make([]Route, 0, 10000)
	for i := range 9000 {
		shared = append(shared, Route{Name: strconv.Itoa(i), Prefix: strconv.Itoa(100000 + i*7), Gateways: gw})
	}
	for i := range 1000 {
		shared = append(shared, Route{Name: "c" + strconv.Itoa(i), Prefix: "44", Priority: 1, Gateways: gw,
			Source: []string{netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String()}})
	}
	for _, bc := range []struct {
		name   string
		routes []Route
		q      RouteQuery
	}{
		{"plain", plain, RouteQuery{Called: "1000707123456", Caller: "33123456", Source: netip.MustParseAddr("192.0.2.10")}},
		{"plain-miss", plain, RouteQuery{Called: "9990707123456"}},
		{"criteria", mixed, RouteQuery{Called: "1300023456789", Caller: "33123456", Source: netip.MustParseAddr("192.0.2.10")}},
		{"criteria-caller", mixed, RouteQuery{Called: "1300023456789", Caller: "3319999", Source: netip.MustParseAddr("10.0.0.1")}},
		{"1000-sources-last", shared, RouteQuery{Called: "4420", Source: netip.AddrFrom4([4]byte{10, 0, 3, 231})}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tb := newRouteTable(bc.routes)
			if tb.lookup(&bc.q) == nil && bc.name != "plain-miss" {
				b.Fatalf("%+v: no route", bc.q)
			}
			b.ReportAllocs()
			for b.Loop() {
				tb.lookup(&bc.q)
			}
		})
	}
}
