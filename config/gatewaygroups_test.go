package config

import (
	"strings"
	"testing"
)

// TestGatewayGroups: a route's entry naming a group gets the group's
// members, with their weights (left out: 1), tiers, defaults and media.
func TestGatewayGroups(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`
media:
  mode: builtin
gateway_groups:
  - name: carriers
    members:
      - {address: "127.0.0.1:1", weight: 70}
      - {address: "127.0.0.1:2", media: none}
      - {address: "127.0.0.1:3", weight: 0, priority: 1, transport: tcp}
routes:
  - prefix: ""
    gateways: [{address: "127.0.0.1:9", media: none}, {group: carriers}]
`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Route(RouteQuery{Called: "1"})
	if len(r.Gateways) != 2 || r.Gateways[0].Media != MediaNone || r.Gateways[1].Group != "carriers" {
		t.Fatalf("route gateways %+v", r.Gateways)
	}
	ms := r.Gateways[1].Members
	want := []Member{
		{Gateway: Gateway{Address: "127.0.0.1:1", Transport: "udp"}, Weight: 70},
		{Gateway: Gateway{Address: "127.0.0.1:2", Transport: "udp", Media: MediaNone}, Weight: DefaultGroupWeight},
		{Gateway: Gateway{Address: "127.0.0.1:3", Transport: "tcp"}, Weight: 0, Priority: 1},
	}
	if len(ms) != len(want) {
		t.Fatalf("members %+v, want %+v", ms, want)
	}
	for i := range want {
		if ms[i].Gateway.Address != want[i].Gateway.Address || ms[i].Gateway.Transport != want[i].Gateway.Transport ||
			ms[i].Gateway.Media != want[i].Gateway.Media || ms[i].Weight != want[i].Weight || ms[i].Priority != want[i].Priority {
			t.Errorf("member %d: %+v, want %+v", i, ms[i], want[i])
		}
	}
}

// TestGatewayGroupProblems: each mistake in a group or a reference to one
// is named with its line.
func TestGatewayGroupProblems(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`gateway_groups:
  - name: a
    members:
      - {address: "127.0.0.1:1", weight: 1001}
      - {address: "nohostport", priority: -1, media: video}
      - {group: b, address: "127.0.0.1:2"}
  - name: a
    members: []
routes:
  - prefix: ""
    gateways:
      - {group: nosuch}
      - {group: a, address: "127.0.0.1:3"}
      - {address: "127.0.0.1:4", media: loud}
`))
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, w := range []string{
		"line 4, column 42: gateway_groups[0].members[0].weight: 1001: want 0 (standby) to 1000",
		"line 5, column 19: gateway_groups[0].members[1].address",
		"gateway_groups[0].members[1].priority: -1",
		"gateway_groups[0].members[1].media: \"video\"",
		"gateway_groups[0].members[2].group: a group's member is a gateway",
		"line 7, column 11: gateway_groups[1].name: \"a\" already used by gateway_groups[0]",
		"gateway_groups[1].members: a group needs at least one member",
		"routes[0].gateways[0].group: \"nosuch\": no such gateway group",
		"routes[0].gateways[1].group: an entry names either a group or a gateway",
		"routes[0].gateways[2].media: \"loud\"",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
}
