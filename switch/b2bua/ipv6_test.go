package b2bua

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/testenv"
)

// startSwitchV6 runs a switch on UDP at [::1] and at 127.0.0.1, with the
// media section media ("" for none), its relay started as `tollgate serve`
// (builtin) or as a standalone rtpproxy-protocol relay (rtpproxy) would.
func startSwitchV6(t *testing.T, yaml, media string) *testSwitch {
	t.Helper()
	port := testenv.FreePort(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(
		"sip:\n  listen: [\"udp:127.0.0.1:%d\", \"udp:[::1]:%d\"]\n%s%s", port, port, yaml, media)))
	if err != nil {
		t.Fatal(err)
	}
	if media == "" {
		return runSwitch(t, cfg, port, Options{}, nil)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	m := startTestMedia(t, sctx, cfg)
	ts := runSwitch(t, cfg, port, Options{Media: m.relays()}, func() { m.Close() })
	m.bind(ts.Switch)
	return ts
}

// dualStackMedia is the built-in relay with IPv4 and IPv6 media addresses.
func dualStackMedia(t *testing.T) string {
	return builtinMedia(t, 40, "    media_ip6: \"::1\"\n")
}

// dualStackRTPProxy is mode rtpproxy toward a relay reached over IPv6
// (udp6:), which has IPv4 and IPv6 media addresses: the switch speaks to
// it as to any rtpproxy, with the 6 and r modifiers.
func dualStackRTPProxy(t *testing.T) string {
	lo, hi := freeMediaRange(t, 40)
	return fmt.Sprintf("media:\n  mode: rtpproxy\n  rtpproxy:\n    relays: [{address: \"udp6:[::1]:%d\"}]\n"+
		"  builtin:\n    port_min: %d\n    port_max: %d\n    media_ip6: \"::1\"\n", testenv.FreeUDPPort(t), lo, hi)
}

// hostURI is a SIP URI at host (an IPv6 one in brackets, as sipgo keeps
// it).
func hostURI(host string, port int, user string) sip.Uri {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return sip.Uri{Scheme: "sip", User: user, Host: host, Port: port}
}

// TestIPv6Gateway: caller and gateway on [::1], with media none (the SDP
// crosses as it is), on the built-in relay, and on an external relay over
// the rtpproxy protocol: a completed call whose RTP crosses both ways,
// each side's SDP in IPv6 (c=, o=, a=rtcp) with the relay's address when
// anchored, and one record with the packets counted.
func TestIPv6Gateway(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		media func(*testing.T) string
	}{
		{"none", func(*testing.T) string { return "" }},
		{"builtin", dualStackMedia},
		{"rtpproxy", dualStackRTPProxy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			familyCall(t, "::1", "::1", tc.media(t), tc.name != "none")
		})
	}
}

// TestMixedFamilies: an IPv4 caller and an IPv6 gateway, and the reverse,
// with media anchored on the built-in relay and on an external one: the
// relay bridges the families, and the SDP each side receives is of that
// side's family.
func TestMixedFamilies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		caller, callee string
		media          func(*testing.T) string
	}{
		{"v4-to-v6/builtin", "127.0.0.1", "::1", dualStackMedia},
		{"v6-to-v4/builtin", "::1", "127.0.0.1", dualStackMedia},
		{"v4-to-v6/rtpproxy", "127.0.0.1", "::1", dualStackRTPProxy},
		{"v6-to-v4/rtpproxy", "::1", "127.0.0.1", dualStackRTPProxy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			familyCall(t, tc.caller, tc.callee, tc.media(t), true)
		})
	}
}

// familyCall runs one call from a caller on callerHost to a gateway on
// gwHost, media as given, and checks what each side received: its SDP in
// its own family, pointing at the relay when anchored, at the other party
// when not; RTP both ways; a re-INVITE from the gateway keeping the
// caller's relay port; the record's counters.
func familyCall(t *testing.T, callerHost, gwHost, media string, anchored bool) {
	t.Helper()
	gw, caller := newMediaPeerOn(t, "gw", gwHost), newMediaPeerOn(t, "caller", callerHost)
	sw := startSwitchV6(t, "routes:\n  - prefix: \"\"\n    gateways: [{address: \""+gw.addr()+"\"}]\n", media)
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answerMedia(sessions)
	ctx := within(t, 20*time.Second)
	ds, err := caller.callMedia(ctx, hostURI(callerHost, sw.port, "100"))
	if err != nil {
		t.Fatal(err)
	}
	gs := <-sessions
	gw.waitRequest(sip.ACK, 5*time.Second)
	toGW, toCaller := ds.InviteResponse.Body(), gw.invites()[0].Body()
	callerTo, gwTo := sdpTarget(t, toGW), sdpTarget(t, toCaller)
	checkFamily(t, "SDP the caller got", toGW, netip.MustParseAddr(callerHost))
	checkFamily(t, "SDP the gateway got", toCaller, netip.MustParseAddr(gwHost))
	if anchored == (callerTo.Port() == uint16(gw.rtp.port())) || anchored == (gwTo.Port() == uint16(caller.rtp.port())) {
		t.Fatalf("anchored %v: the caller sends to %v (gateway RTP :%d), the gateway to %v (caller RTP :%d)",
			anchored, callerTo, gw.rtp.port(), gwTo, caller.rtp.port())
	}
	exchange(t, caller.rtp, gw.rtp, callerTo, gwTo, 20)
	if anchored {
		// The gateway's re-INVITE is anchored toward the caller, in the
		// caller's family, on the port the caller already sends to.
		res := reinviteFromGateway(t, ctx, gs, gw.rtp.sdp("sendrecv"))
		checkFamily(t, "gateway re-INVITE's answer", res.Body(), netip.MustParseAddr(gwHost))
		re := lastReINVITE(t, caller.peer)
		checkFamily(t, "re-INVITE the caller got", re.Body(), netip.MustParseAddr(callerHost))
		if got := sdpTarget(t, re.Body()); got != callerTo {
			t.Errorf("re-INVITE moved the caller's relay port: %v, was %v", got, callerTo)
		}
		exchange(t, caller.rtp, gw.rtp, callerTo, gwTo, 10)
		// The caller holds with the unspecified address of its family:
		// the gateway gets that of its own, and the same o= line as in
		// the INVITE (RFC 3264: o= does not change within the session).
		callerIP := netip.MustParseAddr(callerHost)
		held := netip.IPv4Unspecified()
		if callerIP.Is6() {
			held = netip.IPv6Unspecified()
		}
		reinviteFromCaller(t, ctx, ds, heldSDP(callerIP, held, caller.rtp.port(), "sendonly"))
		hold := lastReINVITE(t, gw.peer).Body()
		wantHold := "c=IN IP4 0.0.0.0\r\n"
		if strings.Contains(gwHost, ":") {
			wantHold = "c=IN IP6 ::\r\n"
		}
		if originLine(hold) != originLine(toCaller) || !strings.Contains(string(hold), wantHold) {
			t.Errorf("hold the gateway got:\n%s\nwant %q and the o= line of\n%s", hold, wantHold, toCaller)
		}
	}
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	gw.waitRequest(sip.BYE, 5*time.Second)
	r := sw.record(t)
	if r.DisconnectReason != cdr.ReasonNormal || r.ReleasedBy != cdr.ReleasedByCaller {
		t.Errorf("record: reason %q released by %q", r.DisconnectReason, r.ReleasedBy)
	}
	if anchored && (r.RTPAtoB.Packets != cdr.Known(30) || r.RTPBtoA.Packets != cdr.Known(30)) {
		t.Errorf("RTP counters a->b %+v b->a %+v, want 30 packets each way", r.RTPAtoB, r.RTPBtoA)
	}
}

// checkFamily checks that every address line of an SDP (o=, c=, a=rtcp)
// is of want's family, and its media address want itself when want is a
// loopback (both relay and parties run on the loopback).
func checkFamily(t *testing.T, what string, body []byte, want netip.Addr) {
	t.Helper()
	fam, other := " IP4 ", " IP6 "
	if want.Is6() {
		fam, other = other, fam
	}
	for _, l := range strings.Split(string(body), "\r\n") {
		if strings.HasPrefix(l, "o=") || strings.HasPrefix(l, "c=") || strings.HasPrefix(l, "a=rtcp:") {
			if !strings.Contains(l, fam) || strings.Contains(l, other) {
				t.Errorf("%s: %q is not in the%sfamily\n%s", what, l, fam, body)
			}
		}
	}
	if got := sdpTarget(t, body).Addr(); got != want {
		t.Errorf("%s: media at %v, want %v", what, got, want)
	}
}

// lastReINVITE is the last in-dialog INVITE the peer received.
func lastReINVITE(t *testing.T, p *peer) *sip.Request {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.received) - 1; i >= 0; i-- {
		r := p.received[i]
		if tag, _ := r.To().Params.Get("tag"); r.Method == sip.INVITE && tag != "" {
			return r
		}
	}
	t.Fatalf("%s received no re-INVITE", p.name)
	return nil
}

// originLine is the o= line of an SDP.
func originLine(body []byte) string {
	for _, l := range strings.Split(string(body), "\r\n") {
		if strings.HasPrefix(l, "o=") {
			return l
		}
	}
	return ""
}

// TestGatewayAddr: the address whose family a gateway's media gets: its
// IP literal, else its listener's address, else its listener's family.
func TestGatewayAddr(t *testing.T) {
	t.Parallel()
	v4 := &listener{ip: net.ParseIP("192.0.2.1")}
	any4 := &listener{ip: net.ParseIP("0.0.0.0")}
	any6 := &listener{ip: net.ParseIP("::"), v6: true}
	for _, tc := range []struct {
		address string
		l       *listener
		want    netip.Addr
	}{
		{"[2001:db8::5]:5060", v4, netip.MustParseAddr("2001:db8::5")},
		{"[fe80::5%eth0]:5060", v4, netip.MustParseAddr("fe80::5")},
		{"198.51.100.7:5060", any6, netip.MustParseAddr("198.51.100.7")},
		{"gw.example.net:5060", v4, netip.MustParseAddr("192.0.2.1")},
		{"gw.example.net", any4, netip.IPv4Unspecified()},
		{"gw.example.net:5060", any6, netip.IPv6Unspecified()},
	} {
		if got := gatewayAddr(config.Gateway{Address: tc.address}, tc.l); got != tc.want {
			t.Errorf("%s via %v: %v, want %v", tc.address, tc.l.ip, got, tc.want)
		}
	}
}
