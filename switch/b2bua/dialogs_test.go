package b2bua

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
)

// TestWrongCSeqACK: an ACK whose CSeq is not the INVITE's acknowledges
// nothing of ours (RFC 3261 13.2.2.4), so our 2xx retransmissions go on
// until the right ACK stops them.
func TestWrongCSeqACK(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw))
	caller := newRawCaller(t, sw)
	conn, head := caller.conn, caller.head
	send := func(msg string) { t.Helper(); caller.send(t, []byte(msg)) }
	// next200 returns the To tag of the next 2xx within d, "" if none.
	next200 := func(d time.Duration) string {
		t.Helper()
		buf := make([]byte, 65535)
		conn.SetReadDeadline(time.Now().Add(d))
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return ""
			}
			res, err := sip.ParseMessage(buf[:n])
			if r, ok := res.(*sip.Response); err == nil && ok && r.StatusCode == 200 {
				toTag, _ := r.To().Params.Get("tag")
				return toTag
			}
		}
	}
	send(head("INVITE", 7, sip.GenerateTagN(10), "") + "Content-Type: application/sdp\r\n" +
		"Content-Length: " + strconv.Itoa(len(sdpOffer)) + "\r\n\r\n" + sdpOffer)
	toTag := next200(5 * time.Second)
	if toTag == "" {
		t.Fatal("no 200 for the INVITE")
	}
	send(head("ACK", 8, sip.GenerateTagN(10), toTag) + "Content-Length: 0\r\n\r\n")
	if next200(2*time.Second) == "" {
		t.Fatal("an ACK with CSeq 8 stopped the 2xx retransmissions of INVITE 7")
	}
	send(head("ACK", 7, sip.GenerateTagN(10), toTag) + "Content-Length: 0\r\n\r\n")
	// Retransmissions double from T1: the next is due 2*T1 after the
	// last, so 3*T1 without one shows the right ACK stopped them.
	if next200(3*sip.T1) != "" {
		t.Fatal("the ACK with the INVITE's CSeq did not stop the 2xx retransmissions")
	}
	send(head("BYE", 8, sip.GenerateTagN(10), toTag) + "Content-Length: 0\r\n\r\n")
	if next200(5*time.Second) == "" {
		t.Fatal("BYE not answered")
	}
	gw.waitRequest(sip.BYE, 5*time.Second)
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal || r.ReleasedBy != cdr.ReleasedByCaller {
		t.Errorf("record = %+v", r)
	}
}

// TestCallerByeInEarlyDialog: the caller's BYE in its early dialog (after
// a 180 with our tag) abandons the call like a CANCEL: the BYE gets 200,
// the INVITE 487, the gateway's INVITE is cancelled, and the call has one
// record, cancelled by the caller.
func TestCallerByeInEarlyDialog(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.silentRing(180)
	sw := startSwitch(t, routeTo(gw))
	caller := newPeer(t, "caller")
	ctx := within(t, 10*time.Second)
	ds, err := caller.dcc.Invite(ctx, sw.uri("100"), []byte(sdpOffer), sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		t.Fatal(err)
	}
	ringing := make(chan *sip.Response, 1)
	answered := make(chan error, 1)
	go func() {
		answered <- ds.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
			if res.StatusCode == 180 {
				ringing <- res
			}
			return nil
		}})
	}()
	var early *sip.Response
	select {
	case early = <-ringing:
	case <-ctx.Done():
		t.Fatal("no 180")
	}
	bye := sip.NewRequest(sip.BYE, early.Contact().Address)
	bye.AppendHeader(sip.HeaderClone(ds.InviteRequest.From()))
	bye.AppendHeader(sip.HeaderClone(early.To()))
	bye.AppendHeader(sip.HeaderClone(ds.InviteRequest.CallID()))
	bye.AppendHeader(&sip.CSeqHeader{SeqNo: ds.InviteRequest.CSeq().SeqNo + 1, MethodName: sip.BYE})
	res, err := caller.cli.Do(ctx, bye)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("early BYE: %v %v", res, err)
	}
	var de *sipgo.ErrDialogResponse
	if err := <-answered; !errors.As(err, &de) || de.Res.StatusCode != 487 {
		t.Fatalf("INVITE ended with %v, want 487", err)
	}
	gw.waitCancelled(5 * time.Second)
	r := sw.record(t)
	if r.DisconnectReason != cdr.ReasonCancelled || r.ReleasedBy != cdr.ReleasedByCaller ||
		r.SIPCode != 487 || !r.ConnectTime.IsZero() {
		t.Errorf("record = %+v", r)
	}
	sw.noRecord(t)
}

// udpGateway is a gateway on a bare UDP socket, for exchanges a SIP stack
// would not make on its own (a 2xx after the CANCEL of its INVITE).
type udpGateway struct {
	t    *testing.T
	conn net.PacketConn
}

func newUDPGateway(t *testing.T) *udpGateway {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &udpGateway{t: t, conn: conn}
}

func (g *udpGateway) addr() string { return g.conn.LocalAddr().String() }

// next returns the next request, or nil after d.
func (g *udpGateway) next(d time.Duration) (*sip.Request, net.Addr) {
	buf := make([]byte, 65535)
	g.conn.SetReadDeadline(time.Now().Add(d))
	for {
		n, from, err := g.conn.ReadFrom(buf)
		if err != nil {
			return nil, nil
		}
		if m, err := sip.ParseMessage(buf[:n]); err == nil {
			if req, ok := m.(*sip.Request); ok {
				return req, from
			}
		}
	}
}

// respond answers req with code, to tag and body.
func (g *udpGateway) respond(req *sip.Request, to net.Addr, code int, tag string, body string) {
	res := sip.NewResponseFromRequest(req, code, "Reply", nil)
	if tag != "" {
		res.To().Params.Add("tag", tag)
	}
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "gw", Host: "127.0.0.1",
		Port: g.conn.LocalAddr().(*net.UDPAddr).Port}})
	if body != "" {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody([]byte(body))
	}
	if _, err := g.conn.WriteTo([]byte(res.String()), to); err != nil {
		g.t.Error(err)
	}
}

// TestCancelCrossingAnswer: the caller cancels as the gateway answers; the
// gateway's 200 crosses the switch's CANCEL. The caller hears 487, the
// gateway's 2xx is ACKed and hung up, and the call has one record,
// cancelled by the caller.
func TestCancelCrossingAnswer(t *testing.T) {
	t.Parallel()
	gw := newUDPGateway(t)
	sw := startSwitch(t, "routes:\n  - prefix: \"\"\n    gateways: [{address: \""+gw.addr()+"\"}]\n")
	caller := newPeer(t, "caller")
	ctx := within(t, 10*time.Second)
	ds, err := caller.dcc.Invite(ctx, sw.uri("100"), []byte(sdpOffer), sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		t.Fatal(err)
	}
	inv, from := gw.next(5 * time.Second)
	if inv == nil || inv.Method != sip.INVITE {
		t.Fatalf("gateway got %v, want the INVITE", inv)
	}
	tag := sip.GenerateTagN(8)
	gw.respond(inv, from, 180, tag, "")

	wctx, cancel := contextWithCancel(ctx)
	answered := make(chan error, 1)
	ringing := make(chan struct{})
	go func() {
		answered <- ds.WaitAnswer(wctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
			if res.StatusCode == 180 {
				close(ringing)
			}
			return nil
		}})
	}()
	<-ringing
	cancel() // sipgo sends CANCEL when the wait is cancelled after a provisional
	if err := <-answered; err == nil {
		t.Fatal("call answered, want cancelled")
	}
	// The gateway answered before it saw the switch's CANCEL.
	c, cfrom := gw.next(5 * time.Second)
	if c == nil || c.Method != sip.CANCEL {
		t.Fatalf("gateway got %v, want the CANCEL", c)
	}
	gw.respond(inv, from, 200, tag, sdpAnswer)
	gw.respond(c, cfrom, 200, tag, "")
	got := map[sip.RequestMethod]bool{}
	for !got[sip.ACK] || !got[sip.BYE] {
		req, rfrom := gw.next(5 * time.Second)
		if req == nil {
			t.Fatalf("gateway got %v of ACK and BYE for its crossing 200", got)
		}
		got[req.Method] = true
		if req.Method == sip.BYE {
			gw.respond(req, rfrom, 200, "", "")
		}
	}
	r := sw.record(t)
	if r.DisconnectReason != cdr.ReasonCancelled || r.ReleasedBy != cdr.ReleasedByCaller ||
		r.SIPCode != 487 || !r.ConnectTime.IsZero() {
		t.Errorf("record = %+v", r)
	}
	sw.noRecord(t)
}

// TestCancelReinvite: the caller cancels its pending re-INVITE; sipgo
// answers it 200 and 487, and the switch must cancel the re-INVITE it
// relayed to the gateway, which would otherwise stay pending there. The
// call then goes on: both legs take the next offer.
func TestCancelReinvite(t *testing.T) {
	t.Parallel()
	cancelled := make(chan *sip.Request, 1)
	var gw *peer
	gw = startPeer(t, "gw", func(req *sip.Request, tx sip.ServerTransaction) {
		if req.Method != sip.INVITE || len(cancelled) > 0 || !strings.Contains(string(req.Body()), "a=sendonly") {
			gw.inDialog(req, tx)
			return
		}
		tx.OnCancel(func(*sip.Request) { cancelled <- req })
		<-tx.Done() // never answered: only a CANCEL ends it
	})
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw))
	caller := newPeer(t, "caller")
	ctx := within(t, 20*time.Second)
	ds, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	gw.waitRequest(sip.ACK, 5*time.Second)

	req := sip.NewRequest(sip.INVITE, ds.InviteResponse.Contact().Address)
	req.SetBody([]byte(strings.Replace(sdpOffer, "a=sendrecv", "a=sendonly", 1)))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	tx, err := ds.TransactionRequest(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Terminate()
	gw.waitRequest(sip.INVITE, 5*time.Second)
	cancel := sip.NewRequest(sip.CANCEL, req.Recipient)
	cancel.AppendHeader(sip.HeaderClone(req.Via()))
	for _, h := range []sip.Header{req.From(), req.To(), req.CallID()} {
		cancel.AppendHeader(sip.HeaderClone(h))
	}
	cancel.AppendHeader(&sip.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sip.CANCEL})
	if res, err := caller.cli.Do(ctx, cancel); err != nil || res.StatusCode != 200 {
		t.Fatalf("CANCEL: %v %v", res, err)
	}
	for res := range tx.Responses() {
		if res.StatusCode >= 200 {
			if res.StatusCode != 487 {
				t.Fatalf("cancelled re-INVITE got %d, want 487", res.StatusCode)
			}
			break
		}
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the gateway's re-INVITE was never cancelled")
	}
	waitSettled(t, sw)
	reinviteFromCaller(t, ctx, ds, sdpOffer)
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal || r.ReleasedBy != cdr.ReleasedByCaller {
		t.Errorf("record = %+v", r)
	}
}

// TestRefusedReinviteAnswerRepaired: the gateway answers a re-INVITE with
// SDP the relay cannot anchor (no c=). The caller hears 488 and keeps its
// media; the gateway, whose 200 was ACKed, is offered again the media it
// had, under a higher SDP version, so both legs agree and RTP still flows
// both ways through the relay.
func TestRefusedReinviteAnswerRepaired(t *testing.T) {
	gw := &mediaPeer{rtp: newRTPEnd(t)}
	var refused atomic.Bool // the first re-INVITE only
	gw.peer = startPeer(t, "gw", func(req *sip.Request, tx sip.ServerTransaction) {
		if req.Method != sip.INVITE || refused.Swap(true) {
			gw.inDialog(req, tx)
			return
		}
		noC := strings.Replace(gw.rtp.sdp("recvonly"), "c=IN IP4 127.0.0.1\r\n", "", 1)
		res := sip.NewResponseFromRequest(req, 200, "OK", []byte(noC))
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "gw", Host: "127.0.0.1", Port: gw.port}})
		tx.Respond(res)
		select {
		case <-tx.Acks():
		case <-tx.Done():
		}
	})
	caller := newMediaPeer(t, "caller")
	sw, _ := startMediaSwitch(t, builtinMedia(t, 40, "")+routeTo(gw.peer))
	ds, _, callerTo, gwTo := mediaCall(t, sw, caller, gw)
	ctx := within(t, 30*time.Second)
	first := gw.invites()[0]

	req := sip.NewRequest(sip.INVITE, ds.InviteResponse.Contact().Address)
	req.SetBody([]byte(caller.rtp.sdp("sendonly")))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res, err := ds.Do(ctx, req)
	if err != nil || res.StatusCode != 488 {
		t.Fatalf("caller's re-INVITE got %v %v, want 488", res, err)
	}
	// Two re-INVITEs, each ACKed; sipgo may note an ACK after the
	// request that follows it.
	var invites []*sip.Request
	acks := 0
	for len(invites) < 2 || acks < 2 {
		select {
		case r := <-gw.reqs:
			switch r.Method {
			case sip.INVITE:
				invites = append(invites, r)
			case sip.ACK:
				acks++
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("gateway got %d re-INVITEs and %d ACKs, want 2 of each", len(invites), acks)
		}
	}
	failed, again := invites[0], invites[1]
	_, _, failedV, _ := originVersion(failed.Body())
	_, _, againV, ok := originVersion(again.Body())
	if !ok || againV <= failedV || sdpTarget(t, again.Body()) != gwTo ||
		!strings.Contains(string(again.Body()), "a=sendrecv") ||
		string(nextVersion(first.Body(), failed.Body())) != string(again.Body()) {
		t.Fatalf("gateway not offered its agreed media again:\nfirst %q\nrefused %q\nagain %q", first.Body(), failed.Body(), again.Body())
	}
	waitSettled(t, sw)
	exchange(t, caller.rtp, gw.rtp, callerTo, gwTo, 10)
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal || r.ReleasedBy != cdr.ReleasedByCaller {
		t.Errorf("record = %+v", r)
	}
	sw.noRecord(t)
}

// TestConnectedCallHoldsNoGoroutine: once the caller has ACKed, a call is
// its state and its timers, and no goroutine of its own; that is what
// keeps 100,000 held calls cheap. Not parallel: it counts the process's
// goroutines.
func TestConnectedCallHoldsNoGoroutine(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw))
	caller := newPeer(t, "caller")
	ctx := within(t, 10*time.Second)
	ds, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "the call connected, with no goroutine of its own", func() bool {
		var c *Call
		sw.calls.each(func(x *Call) { c = x })
		if c == nil {
			return false
		}
		c.mu.Lock()
		connected := c.phase == PhaseConnected
		c.mu.Unlock()
		return connected && goroutines("b2bua.(*Call)") == 0
	})
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	sw.record(t)
}

// TestRetransmittedBYEGetsTheCachedAnswer: a caller that read no answer to
// its BYE within T1 sends it again. The BYE's server transaction answers
// the copy with the 200 it sent (RFC 3261 17.2.2) — a 200 that reaches a
// SIPp caller after its first one ended the call, logged as "Dead call" —
// and the switch does not handle it again: that would be a 481 (the call
// is over), a second BYE to the gateway, or a second record.
func TestRetransmittedBYEGetsTheCachedAnswer(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw))
	caller := newRawCaller(t, sw)
	conn := caller.conn
	request := func(method string, seq int, branch, toTag, rest string) []byte {
		return []byte(caller.head(method, seq, branch, toTag) + rest)
	}
	send := func(msg []byte) { t.Helper(); caller.send(t, msg) }
	// final returns the next final response to method.
	final := func(method sip.RequestMethod) *sip.Response {
		t.Helper()
		buf := make([]byte, 65535)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no final response to %s: %v", method, err)
			}
			msg, err := sip.ParseMessage(buf[:n])
			if r, ok := msg.(*sip.Response); err == nil && ok && r.StatusCode >= 200 && r.CSeq().MethodName == method {
				return r
			}
		}
	}
	send(request("INVITE", 1, "inv", "", "Content-Type: application/sdp\r\n"+
		"Content-Length: "+strconv.Itoa(len(sdpOffer))+"\r\n\r\n"+sdpOffer))
	toTag, _ := final(sip.INVITE).To().Params.Get("tag")
	send(request("ACK", 1, "ack", toTag, "Content-Length: 0\r\n\r\n"))
	bye := request("BYE", 2, "bye", toTag, "Content-Length: 0\r\n\r\n")
	send(bye)
	first := final(sip.BYE)
	send(bye)
	again := final(sip.BYE)
	againTag, _ := again.To().Params.Get("tag")
	if first.StatusCode != 200 || again.StatusCode != 200 || againTag != toTag {
		t.Fatalf("BYE answered %d, its retransmission %d (To tag %q, want %q)", first.StatusCode, again.StatusCode, againTag, toTag)
	}
	if r := sw.record(t); r.ReleasedBy != cdr.ReleasedByCaller {
		t.Errorf("record = %+v", r)
	}
	gw.waitRequest(sip.BYE, 5*time.Second)
	gw.mu.Lock()
	defer gw.mu.Unlock()
	byes := 0
	for _, r := range gw.received {
		if r.Method == sip.BYE {
			byes++
		}
	}
	if byes != 1 {
		t.Errorf("the gateway got %d BYEs, want 1", byes)
	}
}

// rawCaller is a caller on a plain UDP socket, for the tests that send the
// exact bytes a sipgo client would not (a wrong CSeq, a retransmission).
type rawCaller struct {
	conn        net.PacketConn
	sw          net.Addr
	swHost      string
	local       string
	callID, tag string
}

func newRawCaller(t *testing.T, sw *testSwitch) *rawCaller {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	swAddr, err := net.ResolveUDPAddr("udp", sw.addr())
	if err != nil {
		t.Fatal(err)
	}
	return &rawCaller{conn: conn, sw: swAddr, swHost: sw.addr(), local: conn.LocalAddr().String(),
		callID: sip.GenerateTagN(16), tag: sip.GenerateTagN(8)}
}

// head is a request of the caller's one dialog up to its headers' end, for
// the test to add more headers and the body; toTag "" before the answer.
func (c *rawCaller) head(method string, seq int, branch, toTag string) string {
	to := "<sip:100@" + c.swHost + ">"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	return method + " sip:100@" + c.swHost + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + c.local + ";rport;branch=z9hG4bK" + branch + "\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:caller@" + c.local + ">;tag=" + c.tag + "\r\n" +
		"To: " + to + "\r\nCall-ID: " + c.callID + "\r\n" +
		"CSeq: " + strconv.Itoa(seq) + " " + method + "\r\n" +
		"Contact: <sip:caller@" + c.local + ">\r\n"
}

func (c *rawCaller) send(t *testing.T, msg []byte) {
	t.Helper()
	if _, err := c.conn.WriteTo(msg, c.sw); err != nil {
		t.Fatal(err)
	}
}
