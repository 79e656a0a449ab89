package b2bua

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
)

// TestAnswerOutlivesItsTransaction holds the switch to RFC 3261 13.3.1.4
// once sipgo has let the caller's INVITE transaction go (acceptedTimer,
// Timer L): the 2xx is still retransmitted until the ACK, the late ACK
// still connects the call, and a late retransmission of the INVITE is
// absorbed, neither a new call nor a 482.
func TestAnswerOutlivesItsTransaction(t *testing.T) {
	t.Parallel()
	sw := startSwitch(t, routeToRawGateway(t)+"timers:\n  ack_timeout: 30s\n")
	rc := newRawCaller(t, sw)
	caller, to, me := rc.conn, rc.sw, rc.local
	swAddr := sw.addr()
	const callID = "accepted-1"
	invite := []byte(benchInvite(swAddr, me, callID))
	caller.WriteTo(invite, to)

	// Count the 2xx until one arrives after Timer L has ended the transaction.
	buf := make([]byte, 65535)
	var first time.Time
	var oks int
	var toHdr string
	deadline := time.Now().Add(20 * time.Second)
	for {
		caller.SetReadDeadline(deadline)
		n, _, err := caller.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %d 200 OKs: %v", oks, err)
		}
		if !bytes.HasPrefix(buf[:n], []byte("SIP/2.0 200 ")) {
			continue
		}
		oks++
		if first.IsZero() {
			first = time.Now()
			toHdr = header(buf[:n], "To")
		}
		if time.Since(first) > acceptedTimer+time.Second && oks >= 4 {
			break
		}
	}
	if oks < 4 {
		t.Fatalf("%d 200 OKs before %v, want the retransmissions of RFC 3261 13.3.1.4", oks, acceptedTimer)
	}

	caller.WriteTo([]byte(benchInDialog("ACK", swAddr, me, callID, toHdr, 1)), to)
	// The same INVITE again, after the ACK: a late retransmission.
	caller.WriteTo(invite, to)
	caller.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	for {
		n, _, err := caller.ReadFrom(buf)
		if err != nil {
			break // nothing but at most 2xx retransmissions crossing the ACK
		}
		if !bytes.HasPrefix(buf[:n], []byte("SIP/2.0 200 ")) {
			t.Fatalf("late INVITE retransmission answered: %q", firstLine(string(buf[:n])))
		}
	}
	caller.WriteTo([]byte(benchInDialog("BYE", swAddr, me, callID, toHdr, 2)), to)
	caller.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, _, err := caller.ReadFrom(buf)
		if err != nil {
			t.Fatal("no answer to BYE:", err)
		}
		if bytes.HasPrefix(buf[:n], []byte("SIP/2.0 200 ")) && bytes.Contains(buf[:n], []byte(" BYE\r\n")) {
			break
		}
	}
	r := sw.record(t)
	if r.DisconnectReason != cdr.ReasonNormal || r.ReleasedBy != cdr.ReleasedByCaller || r.ConnectTime.IsZero() {
		t.Errorf("record = %+v", r)
	}
	sw.noRecord(t)
}

// TestByeRetransmittedAfterItsTransaction holds the switch to what
// completedTimer trades: a BYE retransmitted while its transaction is
// Completed gets its 200 again; one retransmitted after it, a 481 — never
// a second record, nor a BYE that ends anything twice.
func TestByeRetransmittedAfterItsTransaction(t *testing.T) {
	t.Parallel()
	sw := startSwitch(t, routeToRawGateway(t))
	rc := newRawCaller(t, sw)
	caller, to, me := rc.conn, rc.sw, rc.local
	swAddr := sw.addr()
	const callID = "completed-1"
	caller.WriteTo([]byte(benchInvite(swAddr, me, callID)), to)

	buf := make([]byte, 65535)
	// answer reads until the response to method and returns its status line.
	answer := func(method string) string {
		t.Helper()
		caller.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			n, _, err := caller.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no response to %s: %v", method, err)
			}
			if bytes.HasPrefix(buf[:n], []byte("SIP/2.0 ")) && bytes.Contains(buf[:n], []byte(" "+method+"\r\n")) &&
				!bytes.HasPrefix(buf[:n], []byte("SIP/2.0 1")) {
				return firstLine(string(buf[:n]))
			}
		}
	}
	if got := answer("INVITE"); got != "SIP/2.0 200 OK" {
		t.Fatalf("INVITE answered %q", got)
	}
	toHdr := header(buf, "To")
	caller.WriteTo([]byte(benchInDialog("ACK", swAddr, me, callID, toHdr, 1)), to)
	bye := []byte(benchInDialog("BYE", swAddr, me, callID, toHdr, 2))
	caller.WriteTo(bye, to)
	if got := answer("BYE"); got != "SIP/2.0 200 OK" {
		t.Fatalf("BYE answered %q", got)
	}
	caller.WriteTo(bye, to)
	if got := answer("BYE"); got != "SIP/2.0 200 OK" {
		t.Fatalf("BYE retransmitted within Timer J answered %q, want its 200 again", got)
	}
	time.Sleep(2*completedTimer + time.Second) // s.finished keeps it for one to two spans
	caller.WriteTo(bye, to)
	if got := answer("BYE"); got != "SIP/2.0 481 Call/Transaction Does Not Exist" {
		t.Fatalf("BYE retransmitted after Timer J answered %q, want 481", got)
	}
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal || r.ReleasedBy != cdr.ReleasedByCaller {
		t.Errorf("record = %+v", r)
	}
	sw.noRecord(t)
}

// answerAndHangUp has p answer the next call and send its BYE as soon as
// it has the ACK of its 200; hungUp waits until that BYE is answered,
// failing the test when it is not within 10 s.
func (p *peer) answerAndHangUp() (hungUp func(t *testing.T)) {
	sessions := make(chan *sipgo.DialogServerSession, 1)
	p.answer(0, sessions)
	bye := make(chan error, 1)
	go func() {
		ds := <-sessions
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		bye <- ds.Bye(ctx) // sipgo sends it once it has our ACK
	}()
	return func(t *testing.T) {
		t.Helper()
		select {
		case err := <-bye:
			if err != nil {
				t.Fatal("the gateway's BYE:", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the gateway's BYE was not answered")
		}
	}
}

// TestNoByeBeforeTheCallersAck holds the switch to RFC 3261 15 on the
// caller's leg, where it is the callee: a gateway that hangs up as soon as
// it has our ACK does not get the caller a BYE before the caller has ACKed
// our 200 — the 200 is retransmitted meanwhile, and the BYE follows the
// ACK — nor, when the ACK never comes, before the switch gives up on it.
// A caller that hangs up instead of ACKing gets no BYE at all, and no more
// 200s.
func TestNoByeBeforeTheCallersAck(t *testing.T) {
	t.Parallel()
	for _, then := range []string{"ACK", "nothing", "BYE"} {
		t.Run("the caller sends "+then, func(t *testing.T) {
			t.Parallel()
			gw := newPeer(t, "gw")
			hungUp := gw.answerAndHangUp()
			sw := startSwitch(t, routeTo(gw)+"timers:\n  ack_timeout: 2s\n")
			rc := newRawCaller(t, sw)
			caller, to, me := rc.conn, rc.sw, rc.local
			swAddr := sw.addr()
			callID := "no-early-bye-" + then
			caller.WriteTo([]byte(benchInvite(swAddr, me, callID)), to)

			buf := make([]byte, 65535)
			// read returns the next message within d, "" when none came.
			read := func(d time.Duration) string {
				caller.SetReadDeadline(time.Now().Add(d))
				n, _, err := caller.ReadFrom(buf)
				if err != nil {
					return ""
				}
				return string(buf[:n])
			}
			// quietly reads for d, failing on a BYE; it counts the 200s.
			quietly := func(d time.Duration, why string) (oks int) {
				for quiet := time.Now().Add(d); time.Now().Before(quiet); {
					msg := read(time.Until(quiet))
					if strings.HasPrefix(msg, "BYE ") {
						t.Fatal("BYE to the caller " + why)
					}
					if strings.HasPrefix(msg, "SIP/2.0 200 ") && strings.Contains(msg, " INVITE\r\n") {
						oks++
					}
				}
				return oks
			}
			toHdr := header(rc.awaitPrefix(t, "SIP/2.0 200 "), "To")
			// The gateway has our ACK and hangs up; the caller has not ACKed.
			hungUp(t)
			if quietly(1200*time.Millisecond, "before its ACK of our 200") == 0 {
				t.Error("our 200 was not retransmitted while its ACK was awaited")
			}
			switch then {
			case "ACK":
				caller.WriteTo([]byte(benchInDialog("ACK", swAddr, me, callID, toHdr, 1)), to)
			case "BYE":
				caller.WriteTo([]byte(benchInDialog("BYE", swAddr, me, callID, toHdr, 2)), to)
			}
			if then == "BYE" {
				if msg := read(10 * time.Second); !strings.HasPrefix(msg, "SIP/2.0 200 ") || !strings.Contains(msg, " BYE\r\n") {
					t.Fatalf("the caller's BYE answered %q", firstLine(msg))
				}
				// ack_timeout has run out by the end of this: still nothing.
				if oks := quietly(2*time.Second, "that hung up itself"); oks > 1 { // one may cross the BYE
					t.Errorf("%d 200s retransmitted after the caller's BYE", oks)
				}
			} else {
				caller.WriteTo(okTo(rc.awaitPrefix(t, "BYE ")), to)
			}
			if r := sw.record(t); r.ReleasedBy != cdr.ReleasedByCallee || r.ConnectTime.IsZero() {
				t.Errorf("record = %+v", r)
			}
			sw.waitTableEmpty(t)
		})
	}
}

// TestRequestAfterOurAckFollowsTheAnswer holds the relay to the order of
// the dialog: a gateway that sends an INFO as soon as it has our ACK gets
// it to the caller only after our 200, whose relay that ACK is part of.
func TestRequestAfterOurAckFollowsTheAnswer(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		ds, err := gw.dsc.ReadInvite(req, tx)
		if err != nil {
			return
		}
		ds.OnState(func(s sip.DialogState) {
			if s != sip.DialogStateConfirmed {
				return
			}
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				ds.Do(ctx, sip.NewRequest(sip.INFO, ds.InviteRequest.Contact().Address)) //nolint:errcheck // the caller's answer is not what is tested
			}()
		})
		ds.RespondSDP([]byte(sdpAnswer)) //nolint:errcheck // a failed answer fails the caller's wait below
	})
	sw := startSwitch(t, routeTo(gw))
	rc := newRawCaller(t, sw)
	caller, to, me := rc.conn, rc.sw, rc.local
	swAddr := sw.addr()
	buf := make([]byte, 65535)
	for i := range 5 {
		callID := "info-after-ack-" + strconv.Itoa(i)
		caller.WriteTo([]byte(benchInvite(swAddr, me, callID)), to)
		var toHdr string
		for info := false; !info; {
			caller.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, _, err := caller.ReadFrom(buf)
			if err != nil {
				t.Fatalf("call %d: no INFO: %v", i, err)
			}
			msg := buf[:n]
			if header(msg, "Call-ID") != callID {
				continue // the previous call's BYE answered
			}
			switch {
			case bytes.HasPrefix(msg, []byte("SIP/2.0 200 ")) && toHdr == "":
				toHdr = header(msg, "To")
			case bytes.HasPrefix(msg, []byte("INFO ")):
				if toHdr == "" {
					t.Fatalf("call %d: the gateway's INFO reached the caller before our 200", i)
				}
				info = true
				caller.WriteTo(okTo(msg), to)
			}
		}
		caller.WriteTo([]byte(benchInDialog("ACK", swAddr, me, callID, toHdr, 1)), to)
		caller.WriteTo([]byte(benchInDialog("BYE", swAddr, me, callID, toHdr, 2)), to)
		if r := sw.record(t); r.ReleasedBy != cdr.ReleasedByCaller {
			t.Errorf("call %d: record = %+v", i, r)
		}
	}
}

// okTo is a raw 200 OK to the request req, echoing its dialog headers.
func okTo(req []byte) []byte {
	return []byte("SIP/2.0 200 OK\r\nVia: " + header(req, "Via") + "\r\nFrom: " + header(req, "From") +
		"\r\nTo: " + header(req, "To") + "\r\nCall-ID: " + header(req, "Call-ID") + "\r\nCSeq: " + header(req, "CSeq") +
		"\r\nContent-Length: 0\r\n\r\n")
}

// routeToRawGateway starts a rawGateway for the test and returns the
// routes section that sends every call to it.
func routeToRawGateway(t *testing.T) string {
	t.Helper()
	gw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	go rawGateway(gw)
	return fmt.Sprintf("routes:\n  - prefix: \"\"\n    gateways: [{address: %q}]\n", gw.LocalAddr().String())
}

// TestLateOfferEndedBeforeTheAckStillAcksTheGateway: the gateway's 2xx to
// a late offer carries the offer, whose answer comes in the caller's ACK.
// A call that ends before that ACK — its max_duration runs out, or the
// switch gives up on the ACK — still ACKs the gateway's 2xx, as RFC 3261
// 13.2.2.4 asks of every 2xx, before its BYE.
func TestLateOfferEndedBeforeTheAckStillAcksTheGateway(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, route, timers, reason string
		callerAcks                  bool
	}{
		{"max duration", "max_duration: 1s, ", "ack_timeout: 3s", cdr.ReasonMaxDuration, true},
		{"no ACK in time", "", "ack_timeout: 1s", cdr.ReasonACKTimeout, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			lateOfferEndedBeforeTheAck(t, c.route, c.timers, c.reason, c.callerAcks)
		})
	}
}

// lateOfferEndedBeforeTheAck is one case of
// TestLateOfferEndedBeforeTheAckStillAcksTheGateway: route and timers are
// YAML for the route and the timers, reason the record's; callerAcks has
// the caller ACK once the gateway has its BYE, and wait for its own.
func lateOfferEndedBeforeTheAck(t *testing.T, route, timers, reason string, callerAcks bool) {
	gw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	// The gateway reads in the order the switch sent: the methods it got.
	methods := make(chan string, 16)
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := gw.ReadFrom(buf)
			if err != nil {
				return
			}
			req := buf[:n]
			method, _, _ := strings.Cut(string(req), " ")
			methods <- method
			switch method {
			case "INVITE":
				gw.WriteTo([]byte("SIP/2.0 200 OK\r\nVia: "+header(req, "Via")+"\r\nFrom: "+header(req, "From")+
					"\r\nTo: "+header(req, "To")+";tag=gw\r\nCall-ID: "+header(req, "Call-ID")+"\r\nCSeq: "+header(req, "CSeq")+
					"\r\nContact: <sip:gw@"+gw.LocalAddr().String()+">\r\nContent-Type: application/sdp\r\nContent-Length: "+
					strconv.Itoa(len(sdpAnswer))+"\r\n\r\n"+sdpAnswer), from)
			case "BYE":
				gw.WriteTo(okTo(req), from)
			}
		}
	}()
	sw := startSwitch(t, fmt.Sprintf("routes:\n  - {prefix: \"\", %sgateways: [{address: %q}]}\ntimers:\n  %s\n",
		route, gw.LocalAddr().String(), timers))
	rc := newRawCaller(t, sw)
	const callID = "late-offer-no-ack"
	invite := benchInvite(sw.addr(), rc.local, callID)
	invite = invite[:strings.Index(invite, "Content-Type:")] + "Content-Length: 0\r\n\r\n" // no SDP: a late offer
	rc.conn.WriteTo([]byte(invite), rc.sw)
	toHdr := header(rc.awaitPrefix(t, "SIP/2.0 200 "), "To")

	var got []string
	for len(got) < 3 {
		select {
		case m := <-methods:
			got = append(got, m)
		case <-time.After(10 * time.Second):
			t.Fatalf("the gateway got %v, want INVITE, ACK, BYE", got)
		}
	}
	if want := []string{"INVITE", "ACK", "BYE"}; !slices.Equal(got, want) {
		t.Fatalf("the gateway got %v, want %v", got, want)
	}
	if callerAcks {
		// The caller's late ACK now gets it its BYE, and the gateway nothing more.
		rc.conn.WriteTo([]byte(benchInDialog("ACK", sw.addr(), rc.local, callID, toHdr, 1)), rc.sw)
	}
	rc.conn.WriteTo(okTo(rc.awaitPrefix(t, "BYE ")), rc.sw)
	select {
	case m := <-methods:
		t.Errorf("the gateway got a %s after its BYE", m)
	case <-time.After(300 * time.Millisecond):
	}
	if r := sw.record(t); r.DisconnectReason != reason {
		t.Errorf("record = %+v", r)
	}
}

// awaitPrefix reads the caller's messages until one starts with prefix,
// for up to 10 s, and returns it.
func (c *rawCaller) awaitPrefix(t *testing.T, prefix string) []byte {
	t.Helper()
	buf := make([]byte, 65535)
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, _, err := c.conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("the caller got no %q: %v", prefix, err)
		}
		if bytes.HasPrefix(buf[:n], []byte(prefix)) {
			return buf[:n]
		}
	}
}

// TestInviteRetransmittedAfterTheCall: a copy of the caller's INVITE that
// arrives after the call has ended — delayed in the network, or resent by
// a caller that never saw our 100 or 200 — is absorbed, as the INVITE's
// transaction would have absorbed it in its Accepted state (RFC 6026 7.1),
// although the ACK ended that transaction: it is no new call, no 482, and
// no second record.
func TestInviteRetransmittedAfterTheCall(t *testing.T) {
	t.Parallel()
	sw := startSwitch(t, routeToRawGateway(t))
	rc := newRawCaller(t, sw)
	caller, to, me := rc.conn, rc.sw, rc.local
	swAddr := sw.addr()
	const callID = "invite-after-the-call"
	invite := []byte(benchInvite(swAddr, me, callID))
	caller.WriteTo(invite, to)
	toHdr := header(rc.awaitPrefix(t, "SIP/2.0 200 "), "To")
	caller.WriteTo([]byte(benchInDialog("ACK", swAddr, me, callID, toHdr, 1)), to)
	caller.WriteTo([]byte(benchInDialog("BYE", swAddr, me, callID, toHdr, 2)), to)
	for {
		if msg := rc.awaitPrefix(t, "SIP/2.0 200 "); bytes.Contains(msg, []byte(" BYE\r\n")) {
			break
		}
	}
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal {
		t.Errorf("record = %+v", r)
	}
	caller.WriteTo(invite, to)
	buf := make([]byte, 65535)
	caller.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, _, err := caller.ReadFrom(buf)
		if err != nil {
			break
		}
		if !bytes.HasPrefix(buf[:n], []byte("SIP/2.0 200 ")) { // a 200 may still cross the BYE
			t.Fatalf("the INVITE's late copy answered: %q", firstLine(string(buf[:n])))
		}
	}
	sw.noRecord(t)
}
