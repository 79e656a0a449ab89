package b2bua

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/internal/testenv"
)

// twoInterfaces is a switch with, beside its default interface on
// 127.0.0.1, an "intern" interface on 127.0.0.2 and an "extern" one on
// 127.0.0.3 (Linux routes all of 127/8 to lo), each with its media on its
// own address, and a profile bridging them: calls come in on intern and
// go out on extern. The gateway leg's INVITE carries the interface
// patterns of the caller's request in X-Interface.
//
// externMedia is extern's media options beyond media_ip.
func twoInterfaces(t *testing.T, gw *peer, externMedia string) (sw *testSwitch, intern, extern int) {
	t.Helper()
	intern, extern = testenv.FreePort(t), testenv.FreePort(t)
	sw, _ = startMediaSwitch(t, fmt.Sprintf(`  interfaces:
    - {name: intern, listen: ["udp:127.0.0.2:%d"], media_ip: 127.0.0.2}
    - {name: extern, listen: ["udp:127.0.0.3:%d", "tcp:127.0.0.3:%d"], public_address: "127.0.0.3", media_ip: 127.0.0.3%s}
profiles:
  - name: bridge
    outbound_interface: extern
    rtprelay_interface: extern
    aleg_rtprelay_interface: intern
    append_headers: ["X-Interface: $Rn $Rf $Ri $Rp $RI"]
`, intern, extern, extern, externMedia)+builtinMedia(t, 40, "")+routeTo(gw)+"    profile: bridge\n")
	return sw, intern, extern
}

// TestInterfacesBridgeACall: a call comes in on one interface and leaves on
// another. Each peer sees only the interface facing it: in Via, Contact and
// the address the messages come from, in the SDP's media address, and in
// the requests within the dialog, whichever side hangs up.
func TestInterfacesBridgeACall(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	sw, intern, extern := twoInterfaces(t, gw.peer, "")
	internAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), uint16(intern))
	externAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), uint16(extern))
	target := sip.Uri{Scheme: "sip", User: "100", Host: "127.0.0.2", Port: intern}

	for _, hangup := range []string{"gateway", "caller"} {
		t.Run("bye from "+hangup, func(t *testing.T) {
			sessions := make(chan *sipgo.DialogServerSession, 1)
			gw.answerMedia(sessions)
			before := len(gw.invites())
			ds, err := caller.callMedia(within(t, 20*time.Second), target)
			if err != nil {
				t.Fatal(err)
			}
			gs := <-sessions
			gw.waitRequest(sip.ACK, 5*time.Second)
			inv := gw.invites()[before]

			// The gateway sees extern, and only extern.
			checkSentBy(t, "INVITE to the gateway", inv, externAddr)
			if c := inv.Contact(); c == nil || c.Address.Host != "127.0.0.3" || c.Address.Port != extern {
				t.Errorf("gateway saw Contact %v, want 127.0.0.3:%d", c, extern)
			}
			if x := inv.GetHeader("X-Interface"); x == nil || x.Value() != "intern 1 127.0.0.2 "+strconv.Itoa(intern)+" 127.0.0.2" {
				t.Errorf("X-Interface %v, want the caller's interface: intern 1 127.0.0.2 %d 127.0.0.2", x, intern)
			}
			gwTo := sdpTarget(t, inv.Body())
			// The caller sees intern.
			res := ds.InviteResponse
			if src := res.Source(); src != internAddr.String() {
				t.Errorf("caller's 200 came from %s, want %v", src, internAddr)
			}
			if c := res.Contact(); c == nil || c.Address.Host != "127.0.0.2" || c.Address.Port != intern {
				t.Errorf("caller saw Contact %v, want 127.0.0.2:%d", c, intern)
			}
			callerTo := sdpTarget(t, res.Body())
			if gwTo.Addr() != externAddr.Addr() || callerTo.Addr() != internAddr.Addr() {
				t.Fatalf("media: the gateway sends to %v (want 127.0.0.3), the caller to %v (want 127.0.0.2)", gwTo, callerTo)
			}
			// The relay's sockets are bound where the SDPs say.
			exchange(t, caller.rtp, gw.rtp, callerTo, gwTo, 10)

			if hangup == "gateway" {
				if err := gs.Bye(within(t, 10*time.Second)); err != nil {
					t.Fatal(err)
				}
				bye := caller.waitRequest(sip.BYE, 10*time.Second)
				checkSentBy(t, "BYE to the caller", bye, internAddr)
			} else {
				if err := ds.Bye(within(t, 10*time.Second)); err != nil {
					t.Fatal(err)
				}
				bye := gw.waitRequest(sip.BYE, 10*time.Second)
				checkSentBy(t, "BYE to the gateway", bye, externAddr)
			}
			if r := sw.record(t); r.SIPCode != 200 {
				t.Errorf("record: code %d", r.SIPCode)
			}
		})
	}
}

// checkSentBy fails unless req came from addr and its top Via names it.
func checkSentBy(t *testing.T, what string, req *sip.Request, addr netip.AddrPort) {
	t.Helper()
	if req == nil {
		t.Fatalf("%s: none", what)
	}
	if src := req.Source(); src != addr.String() {
		t.Errorf("%s came from %s, want %v", what, src, addr)
	}
	if v := req.Via(); v == nil || v.Host != addr.Addr().String() || v.Port != int(addr.Port()) {
		t.Errorf("%s: Via %v, want %v", what, v, addr)
	}
}

// TestInterfaceMediaAdvertise: an interface's media_advertise is what the
// SDP of its leg names, while the relay's socket is bound on its media_ip.
func TestInterfaceMediaAdvertise(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	_, intern, _ := twoInterfaces(t, gw.peer, ", media_advertise: 203.0.113.7")
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answerMedia(sessions)
	ds, err := caller.callMedia(within(t, 20*time.Second), sip.Uri{Scheme: "sip", User: "100", Host: "127.0.0.2", Port: intern})
	if err != nil {
		t.Fatal(err)
	}
	<-sessions
	gwTo := sdpTarget(t, gw.invites()[0].Body())
	if gwTo.Addr() != netip.MustParseAddr("203.0.113.7") {
		t.Fatalf("the gateway is told to send media to %v, want the advertised 203.0.113.7", gwTo)
	}
	if c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP("127.0.0.3"), Port: int(gwTo.Port())}); err == nil {
		c.Close()
		t.Errorf("127.0.0.3:%d is free: the relay did not bind the gateway's media on extern's media_ip", gwTo.Port())
	}
	if callerTo := sdpTarget(t, ds.InviteResponse.Body()); callerTo.Addr() != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("the caller is told to send media to %v, want intern's 127.0.0.2", callerTo)
	}
	if err := ds.Bye(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestInterfacesTCPGateway: a gateway leg over TCP leaves through its
// interface too: the connection comes from extern's address, and Via and
// Contact name extern's TCP listener.
func TestInterfacesTCPGateway(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	intern, extern := testenv.FreePort(t), testenv.FreePort(t)
	startMediaSwitch(t, fmt.Sprintf(`  interfaces:
    - {name: intern, listen: ["udp:127.0.0.2:%d"]}
    - {name: extern, listen: ["udp:127.0.0.3:%d", "tcp:127.0.0.3:%d"]}
profiles:
  - {name: bridge, outbound_interface: extern}
routes:
  - {prefix: "", gateways: [{address: %q, transport: tcp}], profile: bridge}
`, intern, extern, extern, gw.addr()))
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answerMedia(sessions)
	ds, err := caller.callMedia(within(t, 20*time.Second), sip.Uri{Scheme: "sip", User: "100", Host: "127.0.0.2", Port: intern})
	if err != nil {
		t.Fatal(err)
	}
	<-sessions
	inv := gw.invites()[0]
	if src, err := netip.ParseAddrPort(inv.Source()); err != nil || src.Addr() != netip.MustParseAddr("127.0.0.3") || inv.Transport() != "TCP" {
		t.Errorf("the gateway's INVITE came over %s from %s, want TCP from 127.0.0.3", inv.Transport(), inv.Source())
	}
	if v := inv.Via(); v == nil || v.Host != "127.0.0.3" || v.Port != extern || v.Transport != "TCP" {
		t.Errorf("Via %v, want SIP/2.0/TCP 127.0.0.3:%d", v, extern)
	}
	if c := inv.Contact(); c == nil || c.Address.Host != "127.0.0.3" || c.Address.Port != extern {
		t.Errorf("Contact %v, want 127.0.0.3:%d", c, extern)
	}
	if err := ds.Bye(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}
