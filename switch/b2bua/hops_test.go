package b2bua

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
)

// The tests below drive udpGateway (dialogs_test.go) message by
// message, so that its Contact or Via can name another place than where
// it listens, and see exactly which messages reach it.

func (g *udpGateway) port() int { return g.conn.LocalAddr().(*net.UDPAddr).Port }

// expect returns the next request of method that reaches the gateway, skipping
// responses and retransmissions of what it has seen.
func (g *udpGateway) expect(method sip.RequestMethod, d time.Duration) *sip.Request {
	g.t.Helper()
	buf := make([]byte, 65535)
	g.conn.SetReadDeadline(time.Now().Add(d))
	for {
		k, _, err := g.conn.ReadFrom(buf)
		if err != nil {
			g.t.Fatalf("gateway %s: no %s: %v", g.addr(), method, err)
		}
		if m, err := sip.ParseMessage(buf[:k]); err == nil {
			if req, ok := m.(*sip.Request); ok && req.Method == method {
				return req
			}
		}
	}
}

// nextResponse returns the next response that reaches the gateway.
func (g *udpGateway) nextResponse(d time.Duration) *sip.Response {
	g.t.Helper()
	buf := make([]byte, 65535)
	g.conn.SetReadDeadline(time.Now().Add(d))
	for {
		k, _, err := g.conn.ReadFrom(buf)
		if err != nil {
			g.t.Fatalf("gateway %s: no response: %v", g.addr(), err)
		}
		if m, err := sip.ParseMessage(buf[:k]); err == nil {
			if res, ok := m.(*sip.Response); ok {
				return res
			}
		}
	}
}

// send writes msg to the switch at addr.
func (g *udpGateway) send(addr string, msg fmt.Stringer) {
	g.t.Helper()
	to, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		g.t.Fatal(err)
	}
	if _, err := g.conn.WriteTo([]byte(msg.String()), to); err != nil {
		g.t.Fatal(err)
	}
}

// answer answers req with code, a To tag and, when not empty, contact
// and the SDP answer, back to the address in its Via.
func (g *udpGateway) answer(req *sip.Request, code int, contact string) *sip.Response {
	var body []byte
	if req.Method == sip.INVITE && code == 200 {
		body = []byte(sdpAnswer)
	}
	res := sip.NewResponseFromRequest(req, code, "OK", body)
	if !res.To().Params.Has("tag") {
		res.To().Params.Add("tag", "rawgw")
	}
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	if contact != "" {
		res.AppendHeader(sip.NewHeader("Contact", contact))
	}
	v := req.Via()
	g.send(net.JoinHostPort(v.Host, strconv.Itoa(v.Port)), res)
	return res
}

// hopCall places a call from a sipgo caller through the switch to gw,
// which answers with contact, and returns the caller's hang-up.
func hopCall(t *testing.T, sw *testSwitch, gw *udpGateway, contact string) (inv *sip.Request, hangUp func()) {
	t.Helper()
	caller := newPeer(t, "caller")
	ctx := within(t, 20*time.Second)
	type answered struct {
		bye func() error
		err error
	}
	done := make(chan answered, 1)
	go func() {
		ds, err := caller.call(ctx, sw.uri("100"))
		if err != nil {
			done <- answered{err: err}
			return
		}
		done <- answered{bye: func() error { return ds.Bye(ctx) }}
	}()
	inv = gw.expect(sip.INVITE, 10*time.Second)
	gw.answer(inv, 200, contact)
	a := <-done
	if a.err != nil {
		t.Fatal(a.err)
	}
	return inv, func() {
		if err := a.bye(); err != nil {
			t.Error(err)
		}
	}
}

// TestProfileNextHop1stReq: a gateway whose 2xx names in its Contact
// another address than its own is reached there within the dialog (RFC
// 3261) by default; with next_hop_1st_req false the ACK and BYE go where
// the INVITE went, still addressed to the Contact.
func TestProfileNextHop1stReq(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, option string
		pinned       bool
	}{{"default", "", false}, {"pinned", ", next_hop_1st_req: false", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gw, elsewhere := newUDPGateway(t), newUDPGateway(t)
			sw := startSwitch(t, fmt.Sprintf("routes:\n  - {prefix: \"\", gateways: [{address: %q}]}\n", gw.addr())+
				"profiles:\n  - {name: hop"+tc.option+"}\nprofile_select:\n  selectors: [hop]\n")
			contact := fmt.Sprintf("<sip:gw@127.0.0.1:%d>", elsewhere.port())
			_, hangUp := hopCall(t, sw, gw, contact)
			reached := elsewhere
			if tc.pinned {
				reached = gw
			}
			ack := reached.expect(sip.ACK, 5*time.Second)
			if ack.Recipient.Port != elsewhere.port() {
				t.Errorf("ACK to %s, want the Contact", ack.Recipient.String())
			}
			hangUp()
			bye := reached.expect(sip.BYE, 5*time.Second)
			reached.answer(bye, 200, "")
			if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal {
				t.Errorf("record = %+v", r)
			}
		})
	}
}

// TestProfileForceOutboundProxy: with force_outbound_proxy the requests
// within the gateway's dialog go through the outbound proxy with its
// Route, as the INVITE did, though the gateway's Contact names another
// address and no Record-Route kept the proxy; without it they go to the
// Contact.
func TestProfileForceOutboundProxy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, option string
		forced       bool
	}{{"rfc3261", "", false}, {"forced", ", force_outbound_proxy: true", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			proxy, gw := newUDPGateway(t), newUDPGateway(t)
			sw := startSwitch(t, fmt.Sprintf("routes:\n  - {prefix: \"\", gateways: [{address: %q}]}\n", gw.addr())+
				fmt.Sprintf("profiles:\n  - {name: op, outbound_proxy: \"sip:%s\"%s}\nprofile_select:\n  selectors: [op]\n",
					proxy.addr(), tc.option))
			caller := newPeer(t, "caller")
			ctx := within(t, 20*time.Second)
			done := make(chan error, 1)
			go func() {
				ds, err := caller.call(ctx, sw.uri("100"))
				if err == nil {
					err = ds.Bye(ctx)
				}
				done <- err
			}()
			inv := proxy.expect(sip.INVITE, 10*time.Second)
			proxy.answer(inv, 200, fmt.Sprintf("<sip:gw@%s>", gw.addr()))
			reached := gw
			if tc.forced {
				reached = proxy
			}
			ack := reached.expect(sip.ACK, 5*time.Second)
			route := hdrValue(ack, "Route")
			if want := "<sip:" + proxy.addr() + ";lr>"; tc.forced && route != want {
				t.Errorf("ACK Route %q, want %q", route, want)
			} else if !tc.forced && route != "" {
				t.Errorf("ACK Route %q, want none", route)
			}
			if ack.Recipient.Port != gw.port() {
				t.Errorf("ACK to %s, want the gateway's Contact", ack.Recipient.String())
			}
			bye := reached.expect(sip.BYE, 10*time.Second)
			if tc.forced && hdrValue(bye, "Route") == "" {
				t.Error("BYE without the proxy's Route")
			}
			reached.answer(bye, 200, "")
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal {
				t.Errorf("record = %+v", r)
			}
		})
	}
}

// TestProfileNextHopForReplies: the gateway's INFO within the dialog,
// whose Via names an address it does not listen on, is answered at the
// gateway's address with next_hop_for_replies; without it the answer
// follows the Via and never reaches the gateway.
func TestProfileNextHopForReplies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, option string
		toHop        bool
	}{{"via", "", false}, {"next-hop", ", next_hop_for_replies: true", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gw, lost := newUDPGateway(t), newUDPGateway(t)
			sw := startSwitch(t, fmt.Sprintf("routes:\n  - {prefix: \"\", gateways: [{address: %q}]}\n", gw.addr())+
				"profiles:\n  - {name: hop"+tc.option+"}\nprofile_select:\n  selectors: [hop]\n")
			inv, hangUp := hopCall(t, sw, gw, fmt.Sprintf("<sip:gw@%s>", gw.addr()))
			gw.expect(sip.ACK, 5*time.Second)
			info := sip.NewRequest(sip.INFO, inv.From().Address)
			via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP",
				Host: "127.0.0.1", Port: lost.port(), Params: sip.NewParams()}
			via.Params.Add("branch", sip.GenerateBranch())
			info.AppendHeader(via)
			from := &sip.FromHeader{Address: inv.To().Address, Params: sip.NewParams()}
			from.Params.Add("tag", "rawgw")
			info.AppendHeader(from)
			to := &sip.ToHeader{Address: inv.From().Address, Params: inv.From().Params.Clone()}
			info.AppendHeader(to)
			info.AppendHeader(inv.CallID())
			info.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INFO})
			mf := sip.MaxForwardsHeader(70)
			info.AppendHeader(&mf)
			info.SetBody(nil)
			gw.send(sw.addr(), info)
			got := gw
			if !tc.toHop {
				got = lost
			}
			if res := got.nextResponse(5 * time.Second); res.StatusCode != 200 || res.CSeq().MethodName != sip.INFO {
				t.Errorf("INFO answered %d %s", res.StatusCode, res.CSeq().MethodName)
			}
			hangUp()
			gw.answer(gw.expect(sip.BYE, 5*time.Second), 200, "")
			sw.record(t)
		})
	}
}

// TestProfilePatchRURINextHop: with patch_ruri_next_hop the Request-URI
// a ruri pattern built keeps its user and takes the next hop's host and
// port; the dialog's requests carry it too.
func TestProfilePatchRURINextHop(t *testing.T) {
	t.Parallel()
	gw := newUDPGateway(t)
	sw := startSwitch(t, fmt.Sprintf(`routes:
  - {prefix: "999", gateways: [{address: "127.0.0.1:9"}]}
profiles:
  - name: patch
    ruri: "sip:44$rU@carrier.example.com"
    next_hop: [%q]
    patch_ruri_next_hop: true
profile_select:
  selectors: [patch]
`, gw.addr()))
	inv, hangUp := hopCall(t, sw, gw, fmt.Sprintf("<sip:gw@%s>", gw.addr()))
	if u := inv.Recipient; u.User != "44100" || u.Host != "127.0.0.1" || u.Port != gw.port() {
		t.Errorf("R-URI %s, want sip:44100@%s", u.String(), gw.addr())
	}
	gw.expect(sip.ACK, 5*time.Second)
	hangUp()
	gw.answer(gw.expect(sip.BYE, 5*time.Second), 200, "")
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal {
		t.Errorf("record = %+v", r)
	}
}

// TestProfileContact: the gateway leg gets the profile's contact (SEMS's
// Contact), a pattern, with bleg_dlg_contact_params; the caller gets the
// listener's Contact with dlg_contact_params; the call still ends
// normally.
func TestProfileContact(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+`profiles:
  - name: ct
    contact: '"SBC" <sip:sbc-$rU@sbc.example.com:5099>'
    bleg_dlg_contact_params: ";leg=b;trunk"
    dlg_contact_params: "leg=a"
profile_select:
  selectors: [ct]
`)
	caller := newPeer(t, "caller")
	ctx := within(t, 10*time.Second)
	ds, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	inv := gw.invites()[0]
	if got, want := hdrValue(inv, "Contact"), `"SBC" <sip:sbc-100@sbc.example.com:5099;leg=b;trunk>`; got != want {
		t.Errorf("gateway INVITE Contact %s, want %s", got, want)
	}
	if got, want := hdrValue(ds.InviteResponse, "Contact"), "<sip:"+sw.addr()+";leg=a>"; got != want {
		t.Errorf("caller's 200 Contact %s, want %s", got, want)
	}
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	gw.waitRequest(sip.BYE, 5*time.Second)
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal {
		t.Errorf("record = %+v", r)
	}
}
