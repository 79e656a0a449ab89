package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestInterfaces(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`sip:
  listen: ["udp:127.0.0.1:5060"]
  public_address: 198.51.100.1
  interfaces:
    - name: intern
      listen: ["udp:10.0.0.1:5060", "tcp:10.0.0.1:5060"]
      media_ip: 10.0.0.1
    - name: extern
      listen: ["udp:192.0.2.1:5060"]
      public_address: 203.0.113.7:5070
      media_ip: 192.0.2.1
      media_advertise: 203.0.113.7
profiles:
  - {name: bridge, outbound_interface: extern, rtprelay_interface: extern, aleg_rtprelay_interface: intern}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range c.SIP.Listeners() {
		got = append(got, l.Transport+" "+l.Addr()+" "+l.Interface+" "+l.Public+" "+string(rune('0'+l.InterfaceID)))
	}
	want := []string{
		"udp 127.0.0.1:5060 default 198.51.100.1 0",
		"udp 10.0.0.1:5060 intern  1",
		"tcp 10.0.0.1:5060 intern  1",
		"udp 192.0.2.1:5060 extern 203.0.113.7:5070 2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("listeners\n%q\nwant\n%q", got, want)
	}
	if b, a := c.SIP.MediaInterface("extern"); b != netip.MustParseAddr("192.0.2.1") || a != netip.MustParseAddr("203.0.113.7") {
		t.Errorf("extern media %v advertised %v", b, a)
	}
	if b, a := c.SIP.MediaInterface("intern"); b != a || b != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("intern media %v advertised %v", b, a)
	}
	if b, _ := c.SIP.MediaInterface(DefaultInterface); b.IsValid() {
		t.Errorf("the default interface has media %v, want the relay's own", b)
	}
	if ips := c.SIP.MediaIPs(); !slices.Equal(ips, []string{"10.0.0.1", "192.0.2.1"}) {
		t.Errorf("media IPs %v", ips)
	}
	p, _ := c.Profile("bridge")
	if p.Interfaces.OutboundInterface != "extern" || p.Interfaces.ALegRTPRelayInterface != "intern" {
		t.Errorf("profile interfaces %+v", p.Interfaces)
	}
}

// TestInterfacesWithoutListen: interfaces alone make no default interface
// (sip.listen's default address is not added).
func TestInterfacesWithoutListen(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte("sip:\n  interfaces: [{name: a, listen: [\"udp:127.0.0.2:5060\"]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if names := c.SIP.InterfaceNames(); !slices.Equal(names, []string{"a"}) || len(c.SIP.Listeners()) != 1 {
		t.Errorf("interfaces %v, listeners %v", names, c.SIP.Listeners())
	}
}

func TestInterfaceProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ yaml, want string }{
		{`sip: {interfaces: [{name: "", listen: ["udp:127.0.0.2:5060"]}]}`, "sip.interfaces[0].name"},
		{`sip: {interfaces: [{name: "a b", listen: ["udp:127.0.0.2:5060"]}]}`, "sip.interfaces[0].name"},
		{`sip: {listen: ["udp:127.0.0.1:5060"], interfaces: [{name: default, listen: ["udp:127.0.0.2:5060"]}]}`, "sip.interfaces[0].name"},
		{`sip: {interfaces: [{name: a, listen: ["udp:127.0.0.2:5060"]}, {name: a, listen: ["udp:127.0.0.3:5060"]}]}`, "sip.interfaces[1].name"},
		{`sip: {interfaces: [{name: a}]}`, "sip.interfaces[0].listen"},
		{`sip: {interfaces: [{name: a, listen: ["udp:example.net:5060"]}]}`, "sip.interfaces[0].listen[0]"},
		{`sip: {listen: ["udp:127.0.0.2:5060"], interfaces: [{name: a, listen: ["udp:127.0.0.2:5060"]}]}`, "sip.interfaces[0].listen[0]"},
		{`sip: {interfaces: [{name: a, listen: ["udp:127.0.0.2:5060"], media_ip: "::1"}]}`, "sip.interfaces[0].media_ip"},
		{`sip: {interfaces: [{name: a, listen: ["udp:127.0.0.2:5060"], media_advertise: 192.0.2.1}]}`, "sip.interfaces[0].media_advertise"},
		{"profiles: [{name: p, outbound_interface: nowhere}]", "profiles[0].outbound_interface"},
		{"profiles: [{name: p, rtprelay_interface: nowhere}]", "profiles[0].rtprelay_interface"},
		{"profiles: [{name: p, aleg_rtprelay_interface: nowhere}]", "profiles[0].aleg_rtprelay_interface"},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one about %s", tc.yaml, err, tc.want)
		}
	}
}
