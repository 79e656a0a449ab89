package b2bua

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// bigOffer is sdpOffer padded with attribute lines until the switch's
// INVITE to a gateway is about 1400 bytes: over RFC 3261 18.1.1's 1300.
var bigOffer = sdpOffer + strings.Repeat("a=x-pad:"+strings.Repeat("p", 60)+"\r\n", 11)

// TestBigInviteOverTCP: a large INVITE reaches a udp gateway over TCP, and
// a udp_only gateway over UDP, whole.
func TestBigInviteOverTCP(t *testing.T) {
	t.Parallel()
	gw, udpOnly := newPeer(t, "gw"), newPeer(t, "udponly")
	gw.answer(0, nil)
	udpOnly.answer(0, nil)
	sw := startSwitch(t, fmt.Sprintf(`routes:
  - {prefix: "1", gateways: [{address: %q}]}
  - {prefix: "2", gateways: [{address: %q, udp_only: true}]}
`, gw.addr(), udpOnly.addr()))
	caller := newPeer(t, "caller")
	for _, tc := range []struct {
		user      string
		gw        *peer
		transport string
	}{{"100", gw, "TCP"}, {"200", udpOnly, "UDP"}} {
		ds, _ := place(t, caller, sw.uri(tc.user), bigOffer, nil)
		inv := tc.gw.invites()[0]
		if n := len(inv.String()); n <= bigRequest {
			t.Fatalf("the gateway's INVITE is %d bytes: the test needs more than %d", n, bigRequest)
		}
		if inv.Transport() != tc.transport || inv.Via().Transport != tc.transport {
			t.Errorf("%s: INVITE came over %s with Via %s, want %s", tc.gw.name, inv.Transport(), inv.Via().Transport, tc.transport)
		}
		if string(inv.Body()) != bigOffer {
			t.Errorf("%s: the offer arrived cut: %d bytes of %d", tc.gw.name, len(inv.Body()), len(bigOffer))
		}
		hangUp(t, sw, tc.gw, ds)
	}
}

// TestBigInviteFallsBackToUDP: a gateway whose TCP port refuses
// connections gets the large INVITE over UDP (RFC 3261 18.1.1), here
// answered 486 by a bare UDP socket.
func TestBigInviteFallsBackToUDP(t *testing.T) {
	t.Parallel()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			msg, err := sip.ParseMessage(buf[:n])
			if req, ok := msg.(*sip.Request); err == nil && ok && req.Method == sip.INVITE {
				conn.WriteTo([]byte(sip.NewResponseFromRequest(req, 486, "Busy Here", nil).String()), from)
			}
		}
	}()
	sw := startSwitch(t, fmt.Sprintf("routes: [{prefix: \"\", gateways: [{address: %q}]}]\n", conn.LocalAddr().String()))
	caller := newPeer(t, "caller")
	ctx := within(t, 20*time.Second)
	ds, err := caller.dcc.Invite(ctx, sw.uri("100"), []byte(bigOffer), sdpType)
	if err != nil {
		t.Fatal(err)
	}
	err = ds.WaitAnswer(ctx, sipgo.AnswerOptions{})
	var de *sipgo.ErrDialogResponse
	if !errors.As(err, &de) || de.Res.StatusCode != 486 {
		t.Fatalf("call: %v, want the gateway's 486 over UDP", err)
	}
	if r := sw.record(t); len(r.Attempts) != 1 {
		t.Errorf("attempts %+v", r.Attempts)
	}
}
