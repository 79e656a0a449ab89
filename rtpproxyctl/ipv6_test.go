package rtpproxyctl_test

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/rtpproxyctl"
	"github.com/tollgate/tollgate/rtpproxyctl/relay"
)

var loopback6 = netip.MustParseAddr("::1")

// dualPool runs a relay with IPv4 and IPv6 media addresses, controlled
// over control ("udp6:[::1]:0": a standalone relay reached over IPv6, as
// an rtpproxy with -s udp6: is), and a Pool driving it.
func dualPool(t *testing.T, control string) *rtpproxyctl.Pool {
	t.Helper()
	lo, hi := freeRange(t, 40)
	log := slog.New(slog.DiscardHandler)
	r, err := relay.New(relay.Config{Control: []string{control}, PortMin: lo, PortMax: hi, MediaIP6: "::1"}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- r.Serve(ctx) }()
	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer pcancel()
	p, err := rtpproxyctl.New(pctx, rtpproxyctl.Config{
		Relays:  []rtpproxyctl.RelayConfig{{Address: r.ControlAddrs()[0]}},
		Options: rtpproxyctl.Options{Timeout: 300 * time.Millisecond, Retries: 9},
		Logger:  log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		cancel()
		<-served
	})
	return p
}

func listenOn(t *testing.T, ip netip.Addr) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		t.Fatalf("listen on %v: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func streamToward(c *net.UDPConn, toward netip.Addr) []rtpproxyctl.Stream {
	a := c.LocalAddr().(*net.UDPAddr).AddrPort()
	return []rtpproxyctl.Stream{{Index: 0, Addr: a.Addr().Unmap(), Port: int(a.Port()), PayloadTypes: []int{0}, ClockRate: 8000, Toward: toward}}
}

// TestIPv6AndMixedFamilies: a call whose parties are both IPv6 gets IPv6
// endpoints (the 6 modifier); a call between an IPv4 and an IPv6 party
// gets, for each SDP, an endpoint in the family of the party it goes to
// (the r modifier), whichever side is which, and RTP crosses both ways.
func TestIPv6AndMixedFamilies(t *testing.T) {
	t.Parallel()
	p := dualPool(t, "udp6:[::1]:0")
	for _, tc := range []struct {
		name           string
		caller, callee netip.Addr
	}{
		{"v6-v6", loopback6, loopback6},
		{"v4-v6", loopback, loopback6},
		{"v6-v4", loopback6, loopback},
		{"v4-v4", loopback, loopback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := listenOn(t, tc.caller), listenOn(t, tc.callee)
			m := p.Open(rtpproxyctl.Dialog{CallID: "fam-" + tc.name, CallerTag: "ta", CalleeTag: "tb"})
			toB, err := m.Offer(opCtx(t), rtpproxyctl.Caller, streamToward(a, tc.callee))
			if err != nil {
				t.Fatal(err)
			}
			toA, err := m.Answer(opCtx(t), rtpproxyctl.Callee, streamToward(b, tc.caller))
			if err != nil {
				t.Fatal(err)
			}
			if toB[0].Addr != tc.callee || toA[0].Addr != tc.caller {
				t.Fatalf("endpoints: toward the callee %v, toward the caller %v", toB[0], toA[0])
			}
			relayed(t, a, b, toA[0], 4)
			relayed(t, b, a, toB[0], 3)
			// A re-INVITE from the callee keeps the ports.
			re, err := m.Offer(opCtx(t), rtpproxyctl.Callee, streamToward(b, tc.caller))
			if err != nil || re[0] != toA[0] {
				t.Fatalf("callee re-INVITE: %v %v, want %v", re, err, toA[0])
			}
			// A hold from the caller reaches the callee as the hold
			// address of the callee's family.
			hold := streamToward(a, tc.callee)
			hold[0].Addr = netip.IPv4Unspecified()
			if tc.caller.Is6() {
				hold[0].Addr = netip.IPv6Unspecified()
			}
			held, err := m.Offer(opCtx(t), rtpproxyctl.Caller, hold)
			want := rtpproxyctl.Endpoint{Addr: netip.IPv4Unspecified(), Port: toB[0].Port}
			if tc.callee.Is6() {
				want.Addr = netip.IPv6Unspecified()
			}
			if err != nil || held[0] != want {
				t.Fatalf("hold: %v %v, want %v", held, err, want)
			}
			st, err := m.Delete(opCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if st.CallerToCallee.Packets != cdr.Known(4) || st.CalleeToCaller.Packets != cdr.Known(3) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}
