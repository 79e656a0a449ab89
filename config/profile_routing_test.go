package config

import (
	"errors"
	"net"
	"strings"
	"testing"
)

func TestParseNextHop(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{
		"10.0.0.1:5070":                    {"10.0.0.1:5070", "udp"},
		"gw.example.com":                   {"gw.example.com:5060", "udp"},
		"[2001:db8::1]:5062;transport=TCP": {"[2001:db8::1]:5062", "tcp"},
		" 10.0.0.2:5060;transport=udp ":    {"10.0.0.2:5060", "udp"},
	} {
		addr, tr, err := ParseNextHop(in)
		if err != nil || addr != want[0] || tr != want[1] {
			t.Errorf("ParseNextHop(%q) = %q %q %v, want %q %q", in, addr, tr, err, want[0], want[1])
		}
	}
	for _, in := range []string{"", ":5060", "10.0.0.1:99999", "10.0.0.1:5060;transport=sctp", "10.0.0.1;lr", "a b:5060"} {
		if _, _, err := ParseNextHop(in); err == nil {
			t.Errorf("ParseNextHop(%q) accepted", in)
		}
	}
	for in, want := range map[string][2]string{
		"sip:proxy.example.com":                   {"proxy.example.com:5060", "udp"},
		"sip:edge@10.0.0.9:5080;transport=tcp;lr": {"10.0.0.9:5080", "tcp"},
	} {
		addr, tr, err := ParseOutboundProxy(in)
		if err != nil || addr != want[0] || tr != want[1] {
			t.Errorf("ParseOutboundProxy(%q) = %q %q %v", in, addr, tr, err)
		}
	}
	if _, _, err := ParseOutboundProxy("proxy.example.com"); err == nil {
		t.Error("an outbound proxy without sip: accepted")
	}
}

func TestProfileRoutingOptions(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(route + `
profiles:
  - name: p
    next_hop: ["10.0.0.1:5060", "$H(X-Hop)"]
    outbound_proxy: "sip:10.0.0.9"
    gateway_auth: {user: "$fU", password: "pw"}
    caller_auth: {user: "c"}
    auth: digest
    accounting: false
    prepaid: false
    media: builtin
`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Profile("p")
	if len(p.NextHop) != 2 || p.OutboundProxy == nil || p.GatewayUser == nil || p.GatewayPassword == nil || p.CallerUser == nil ||
		p.Auth != AuthDigest || p.Accounting == nil || *p.Accounting || p.Prepaid == nil || *p.Prepaid || p.Media != MediaBuiltin {
		t.Errorf("profile = %+v", p)
	}
	if !c.UsesMedia(MediaBuiltin) {
		t.Error("a profile's media mode does not start its relay")
	}

	var ce *Error
	_, err = Parse([]byte(route + `
profiles:
  - name: bad
    next_hop: ["10.0.0.1:5060;transport=sctp"]
    outbound_proxy: "10.0.0.9"
    gateway_auth: {password: "pw"}
    caller_auth: {password: "pw"}
    auth: always
    media: magic
`))
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{
		`profiles[0].next_hop[0]: next hop "10.0.0.1:5060;transport=sctp"`,
		`profiles[0].outbound_proxy: outbound proxy "10.0.0.9": want a sip: URI`,
		`profiles[0].gateway_auth.user: a user is needed`,
		`profiles[0].caller_auth.user: a user is needed`,
		`profiles[0].auth: "always": want none, ip or digest`,
		`profiles[0].media: "magic": want none, rtpproxy or builtin`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%s", want, err)
		}
	}
}

// FuzzParseNextHop: whatever a next hop or outbound proxy pattern expands
// to, parsing returns an error or an address that splits into host and a
// valid port, with udp or tcp.
func FuzzParseNextHop(f *testing.F) {
	for _, s := range []string{"10.0.0.1:5070", "gw.example.com", "[2001:db8::1]:5062;transport=TCP", "sip:edge@10.0.0.9:5080;transport=tcp;lr", ":", "a;b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, parse := range []func(string) (string, string, error){ParseNextHop, ParseOutboundProxy} {
			addr, transport, err := parse(s)
			if err != nil {
				continue
			}
			host, port, serr := net.SplitHostPort(addr)
			if serr != nil || host == "" || port == "" || (transport != "udp" && transport != "tcp") {
				t.Fatalf("%q gave %q %q", s, addr, transport)
			}
		}
	})
}
