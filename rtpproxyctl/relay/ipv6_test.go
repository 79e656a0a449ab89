package relay

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

// newPeerOn is newPeer on the loopback address of ip's family.
func newPeerOn(t *testing.T, ip string) *udpPeer {
	t.Helper()
	if ip == "127.0.0.1" {
		return newPeer(t)
	}
	a := net.ParseIP(ip)
	for range 100 {
		c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: a})
		if err != nil {
			t.Fatalf("this machine has no IPv6 loopback: %v", err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		if port%2 != 0 || port == 65535 {
			c.Close()
			continue
		}
		c2, err := net.ListenUDP("udp6", &net.UDPAddr{IP: a, Port: port + 1})
		if err != nil {
			c.Close()
			continue
		}
		t.Cleanup(func() { c.Close(); c2.Close() })
		return &udpPeer{rtp: c, rtcp: c2}
	}
	t.Fatal("no even port pair for a test peer")
	return nil
}

// dialUDP6 is dialUDP for an udp6: control socket.
func dialUDP6(t *testing.T, addr string) *udpClient {
	t.Helper()
	c, err := net.Dial("udp6", strings.TrimPrefix(addr, "udp6:"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &udpClient{t: t, c: c.(*net.UDPConn)}
}

// relayThrough checks that RTP and RTCP cross the session both ways: a
// sends to the relay port pa (at relayA), b to pb (at relayB), and each
// packet arrives from the relay port that faces the receiver.
func relayThrough(t *testing.T, a, b *udpPeer, relayA, relayB string, pa, pb int) {
	t.Helper()
	to := func(ip string, port int) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(port))
	}
	for i := range 3 {
		if _, err := a.rtp.WriteToUDPAddrPort(rtpPacket(1111, uint16(i), uint32(160*i), 160), to(relayA, pa)); err != nil {
			t.Fatal(err)
		}
		if _, src := recvFrom(t, b.rtp); src != pb {
			t.Fatalf("A->B RTP left from %d, want %d", src, pb)
		}
		if _, err := b.rtp.WriteToUDPAddrPort(rtpPacket(2222, uint16(i), uint32(160*i), 160), to(relayB, pb)); err != nil {
			t.Fatal(err)
		}
		if _, src := recvFrom(t, a.rtp); src != pa {
			t.Fatalf("B->A RTP left from %d, want %d", src, pa)
		}
	}
	if _, err := b.rtcp.WriteToUDPAddrPort([]byte{0x81, 200, 0, 1, 0, 0, 0x04, 0x57}, to(relayB, pb+1)); err != nil {
		t.Fatal(err)
	}
	if _, src := recvFrom(t, a.rtcp); src != pa+1 {
		t.Fatalf("B's RTCP left from %d, want %d", src, pa+1)
	}
}

// TestIPv6Session: with an IPv6 media address, U6 and L6 (the 6 modifier,
// as Kamailio's rtpproxy module sends for an IP6 SDP) get IPv6 ports,
// replied with rtpproxy's " 6", over an udp6 control socket; media crosses
// both ways, a re-INVITE keeps its port and "::" is hold.
func TestIPv6Session(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{Control: []string{"udp6:[::1]:0"}, MediaIP6: "::1"})
	cl := dialUDP6(t, r.ControlAddrs()[0])
	a, b := newPeerOn(t, "::1"), newPeerOn(t, "::1")
	m := &matcher{t: t, vars: map[string]string{}}
	m.set("A", a.port())
	m.set("B", b.port())
	step := func(send, want string) {
		t.Helper()
		m.match(want, cl.do(m.expand(send)))
	}
	step("c1 U6 call-6 ::1 {A} ft\n", "c1 {PB} ::1 6\n")
	step("c2 L6 call-6 ::1 {B} ft tt\n", "c2 {PA} ::1 6\n")
	relayThrough(t, a, b, "::1", "::1", atoi(m.vars["PA"]), atoi(m.vars["PB"]))
	step("c3 U6 call-6 ::1 {A} ft tt\n", "c3 {PB} ::1 6\n")
	step("c4 U6 call-6 :: {A} ft tt\n", "c4 {PB} ::1 6\n")
	step("c5 Q call-6 ft tt\n", "c5 60 3 3 6 0\n")
	step("c6 U6 call-6 127.0.0.1 {A} ft tt\n", "c6 E37\n")
	step("c7 U call-7 ::1 {A} ft\n", "c7 {P7} 127.0.0.1\n") // not a v4 literal: ignored, as rtpproxy does
	step("c8 D call-6 ft tt\n", "c8 0\n")
}

// TestFamilyBridge: an IPv4 party and an IPv6 one on one session. The r
// modifier (the other party's address) gives the port the reply names a
// local address of that party's family; media crosses between the
// families both ways, and re-INVITEs keep their ports.
func TestFamilyBridge(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{Control: []string{"udp:127.0.0.1:0"}, MediaIP6: "::1"})
	cl := dialUDP(t, r.ControlAddrs()[0])
	a, b := newPeerOn(t, "127.0.0.1"), newPeerOn(t, "::1")
	m := &matcher{t: t, vars: map[string]string{}}
	m.set("A", a.port())
	m.set("B", b.port())
	step := func(send, want string) {
		t.Helper()
		m.match(want, cl.do(m.expand(send)))
	}
	// A's offer first anchored before the gateway is known (an IPv4
	// port), then again for an IPv6 gateway: the B-facing leg moves.
	step("c1 U call-b 127.0.0.1 {A} ft\n", "c1 {PB4} 127.0.0.1\n")
	step("c2 Ur[::1] call-b 127.0.0.1 {A} ft\n", "c2 {PB} ::1 6\n")
	step("c3 L6r127.0.0.1 call-b ::1 {B} ft tt\n", "c3 {PA} 127.0.0.1\n")
	relayThrough(t, a, b, "127.0.0.1", "::1", atoi(m.vars["PA"]), atoi(m.vars["PB"]))
	// Re-INVITEs from either side, with or without r: same ports.
	step("c4 Ur[::1] call-b 127.0.0.1 {A} ft tt\n", "c4 {PB} ::1 6\n")
	step("c5 U6 call-b ::1 {B} tt ft\n", "c5 {PA} 127.0.0.1\n")
	step("c6 L call-b 127.0.0.1 {A} tt ft\n", "c6 {PB} ::1 6\n")
	relayThrough(t, a, b, "127.0.0.1", "::1", atoi(m.vars["PA"]), atoi(m.vars["PB"]))
	// And back: v6 caller, v4 callee.
	c, d := newPeerOn(t, "::1"), newPeerOn(t, "127.0.0.1")
	m.set("C", c.port())
	m.set("D", d.port())
	step("c7 U6r127.0.0.1 call-c ::1 {C} ft\n", "c7 {PD} 127.0.0.1\n")
	step("c8 Lr[::1] call-c 127.0.0.1 {D} ft tt\n", "c8 {PC} ::1 6\n")
	relayThrough(t, c, d, "::1", "127.0.0.1", atoi(m.vars["PC"]), atoi(m.vars["PD"]))
}

// TestAddressModifiers: what l, r and 6 refuse, with and without IPv6
// media, in rtpproxy's error codes.
func TestAddressModifiers(t *testing.T) {
	t.Parallel()
	v4only := &Relay{media: mediaAddrs{local: [numFamilies]netip.Addr{netip.MustParseAddr("127.0.0.1")}}}
	both := &Relay{media: mediaAddrs{local: [numFamilies]netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}}}
	wild6 := &Relay{media: mediaAddrs{local: [numFamilies]netip.Addr{netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("::")}}}
	for _, tc := range []struct {
		r    *Relay
		mods string
		addr string
		want string // "" for success
	}{
		{v4only, "6", "::1", "E36"},
		{v4only, "r[::1]", "127.0.0.1", "E32"},
		{v4only, "l[::1]", "127.0.0.1", "E31"},
		{v4only, "l127.0.0.1", "127.0.0.1", ""},
		{v4only, "r10.0.0.1", "127.0.0.1", ""},
		{v4only, "6r127.0.0.1", "::1", ""}, // an IPv6 party's SDP, a v4 port: no v6 media needed
		{both, "6", "::1", ""},
		{both, "l[::2]", "127.0.0.1", "E31"},
		{both, "l[::1]", "127.0.0.1", ""},
		{both, "r[2001:db8::1]", "127.0.0.1", ""},
		{both, "r[::1", "127.0.0.1", "E16"},
		{both, "6", "127.0.0.1", "E37"},
		{both, "6", "fe80::1%eth0", "E37"},
		{wild6, "l[2001:db8::7]", "127.0.0.1", ""},
	} {
		_, err := tc.r.parseUpdate(command{op: 'U', mods: tc.mods, args: []string{"c", tc.addr, "5", "f"}})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("U%s with %s: %q, want %q", tc.mods, tc.addr, got, tc.want)
		}
	}
}

// TestIPv6Config: the IPv6 media options are checked like the IPv4 ones.
func TestIPv6Config(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{
		{MediaIP6: "127.0.0.1"},
		{MediaIP6: "::ffff:127.0.0.1"},
		{MediaIP6: "fe80::1%lo"},
		{AdvertiseIP6: "2001:db8::1"},
		{MediaIP6: "::1", AdvertiseIP6: "not-an-ip"},
	} {
		if _, err := c.WithDefaults().validate(); err == nil {
			t.Errorf("%+v: accepted", c)
		}
	}
	m, err := Config{MediaIP6: "::", AdvertiseIP6: "2001:db8::1"}.WithDefaults().validate()
	if err != nil || m.advertise[ipv6] != "2001:db8::1" || m.advertise[ipv4] != "127.0.0.1" {
		t.Errorf("got %+v, %v", m, err)
	}
	if m, _ := (Config{MediaIP6: "::"}).WithDefaults().validate(); m.advertise[ipv6] != "" {
		t.Errorf("wildcard without advertise replies %q, want the port alone", m.advertise[ipv6])
	}
}
