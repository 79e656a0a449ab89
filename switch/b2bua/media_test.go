package b2bua

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/testenv"
	"github.com/tollgate/tollgate/rtpproxyctl"
)

const exchanged = 50 // one second of G.711 each way

// mediaCall sets up a call through a switch on the built-in relay and
// returns the caller's dialog, the gateway's, and where each side must send
// its RTP (the relay ports written into the SDP it received).
func mediaCall(t *testing.T, sw *testSwitch, caller, gw *mediaPeer) (ds *sipgo.DialogClientSession, gs *sipgo.DialogServerSession, callerTo, gwTo netip.AddrPort) {
	t.Helper()
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answerMedia(sessions)
	ds, err := caller.callMedia(within(t, 20*time.Second), sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	gs = <-sessions
	gw.waitRequest(sip.ACK, 5*time.Second)
	callerTo = sdpTarget(t, ds.InviteResponse.Body())
	gwTo = sdpTarget(t, gw.invites()[0].Body())
	lo := netip.MustParseAddr("127.0.0.1")
	if callerTo.Addr() != lo || gwTo.Addr() != lo || callerTo.Port() == uint16(gw.rtp.port()) ||
		gwTo.Port() == uint16(caller.rtp.port()) || callerTo == gwTo {
		t.Fatalf("SDP not anchored: caller sends to %v (gateway RTP :%d), gateway sends to %v (caller RTP :%d)",
			callerTo, gw.rtp.port(), gwTo, caller.rtp.port())
	}
	return ds, gs, callerTo, gwTo
}

func TestMediaRelayedBothWays(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	sw, media := startMediaSwitch(t, builtinMedia(t, 40, "")+routeTo(gw.peer))
	ds, _, callerTo, gwTo := mediaCall(t, sw, caller, gw)
	if st := media.Builtin().Stats(); st.ActiveSessions != 1 || st.ActiveStreams != 2 {
		t.Errorf("relay stats during the call: %+v", st)
	}
	exchange(t, caller.rtp, gw.rtp, callerTo, gwTo, exchanged)

	if err := ds.Bye(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	r := sw.record(t)
	if r.RTPAtoB.Packets != cdr.Known(exchanged) || r.RTPBtoA.Packets != cdr.Known(exchanged) ||
		r.RTPAtoB.Bytes != cdr.Known(exchanged*rtpSize) || r.RTPBtoA.Bytes != cdr.Known(exchanged*rtpSize) || r.RTPAtoB.Lost != cdr.Known(0) || r.RTPBtoA.Lost != cdr.Known(0) {
		t.Errorf("RTP counters a->b %+v b->a %+v, want %d packets of %d bytes each way, none lost", r.RTPAtoB, r.RTPBtoA, exchanged, rtpSize)
	}
	if r.MediaRelay != "builtin" || r.CodecA != "PCMU" || r.CodecB != "PCMU" || r.DisconnectReason != cdr.ReasonNormal {
		t.Errorf("record: relay %q codecs %q/%q reason %q", r.MediaRelay, r.CodecA, r.CodecB, r.DisconnectReason)
	}
	testenv.Eventually(t, 20*time.Second, "relay session deleted", func() bool { return media.Builtin().Stats().ActiveSessions == 0 })
}

// TestMediaRTPCountersInRecord: the record carries the relay's counters
// per direction. The caller's phone loses three packets (sequence numbers
// it skips) and sends unevenly, so its direction has loss and jitter; the
// gateway's is clean. Bytes are the relay's own count of UDP payload.
func TestMediaRTPCountersInRecord(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	sw, media := startMediaSwitch(t, builtinMedia(t, 40, "")+routeTo(gw.peer))
	ds, _, callerTo, gwTo := mediaCall(t, sw, caller, gw)
	lost := func(i int) bool { return i == 10 || i == 11 || i == 30 }
	uneven := func(i int) time.Duration { return time.Duration(5+30*(i%2)) * time.Millisecond }
	var wg sync.WaitGroup
	sent := 0
	wg.Go(func() { sent = caller.rtp.sendUneven(callerTo, exchanged, lost, uneven) })
	wg.Go(func() { gw.rtp.send(gwTo, exchanged) })
	gw.rtp.expect(exchanged-3, caller.rtp.ssrc)
	caller.rtp.expect(exchanged, gw.rtp.ssrc)
	wg.Wait()
	if sent != exchanged-3 {
		t.Fatalf("caller sent %d packets", sent)
	}
	// RTCP: the caller's sender report, then the gateway's receiver report
	// naming it, received no time ago: the relay's round trip to the
	// gateway.
	callerRTCP, gwRTCP := newRTPEnd(t), newRTPEnd(t)
	sr := make([]byte, 28)
	sr[0], sr[1], sr[3] = 0x80, 200, 6
	binary.BigEndian.PutUint64(sr[8:], 0x83AA7E80_40000000)
	rr := make([]byte, 32)
	rr[0], rr[1], rr[3] = 0x81, 201, 7
	binary.BigEndian.PutUint32(rr[24:], 0x7E804000)
	rtcpTo := func(p netip.AddrPort) *net.UDPAddr {
		return net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.Addr(), p.Port()+1))
	}
	if _, err := callerRTCP.conn.WriteToUDP(sr, rtcpTo(callerTo)); err != nil {
		t.Fatal(err)
	}
	callID, tag := ds.InviteRequest.CallID().Value(), fromTag(ds.InviteRequest)
	testenv.Eventually(t, 10*time.Second, "the sender report relayed", func() bool {
		st := media.Builtin().SessionStats(callID, tag, "")
		return len(st) == 1 && st[0].FromOfferer.RTCPRelayed == 1
	})
	if _, err := gwRTCP.conn.WriteToUDP(rr, rtcpTo(gwTo)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the receiver report relayed", func() bool {
		st := media.Builtin().SessionStats(callID, tag, "")
		return len(st) == 1 && st[0].FromAnswerer.RTCPPackets == 1
	})

	if err := ds.Bye(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	r := sw.record(t)
	t.Logf("record: a->b %+v, b->a %+v", r.RTPAtoB, r.RTPBtoA)
	if ab := r.RTPAtoB; ab.Packets != cdr.Known(uint64(sent)) || ab.Bytes != cdr.Known(uint64(sent*rtpSize)) || ab.Lost != cdr.Known(3) || !ab.Jitter.Known || ab.Jitter.V <= 0 {
		t.Errorf("caller to gateway %+v, want %d packets, %d bytes, 3 lost, some jitter", ab, sent, sent*rtpSize)
	}
	if ba := r.RTPBtoA; ba.Packets != cdr.Known(exchanged) || ba.Bytes != cdr.Known(exchanged*rtpSize) || ba.Lost != cdr.Known(0) {
		t.Errorf("gateway to caller %+v, want %d packets, %d bytes, none lost", ba, exchanged, exchanged*rtpSize)
	}
	// Quality: the lossy direction scores below the clean one, which is at
	// most a clean call's 4.40; the round trip is the gateway's, measured
	// on loopback, and the caller's unknown (it received no sender report).
	ab, ba := r.RTPAtoB, r.RTPBtoA
	if !ab.MOS.Known || !ba.MOS.Known || ab.MOS.V >= ba.MOS.V || ba.MOS.V > 4.40 || ab.MOS.V < 1 {
		t.Errorf("MOS caller to gateway %+v, gateway to caller %+v", ab.MOS, ba.MOS)
	}
	if ab.RTT.Known || !ba.RTT.Known || ba.RTT.V < 0 || ba.RTT.V > time.Second {
		t.Errorf("round trips: to the caller %+v, to the gateway %+v", ab.RTT, ba.RTT)
	}
	testenv.Eventually(t, 20*time.Second, "relay session deleted", func() bool { return media.Builtin().Stats().ActiveSessions == 0 })
}

// TestMediaCallerBehindNAT: the caller's SDP names one port but its RTP
// comes from (and must go back to) another; the relay latches onto the
// real source.
func TestMediaCallerBehindNAT(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	sw, _ := startMediaSwitch(t, builtinMedia(t, 40, "")+routeTo(gw.peer))
	ds, _, callerTo, gwTo := mediaCall(t, sw, caller, gw)
	nat := newRTPEnd(t) // the caller's public mapping: not in its SDP
	n := exchanged
	done := make(chan struct{})
	go func() { defer close(done); nat.send(callerTo, n) }()
	// The gateway answers only once the caller's first packet has crossed
	// the relay, i.e. once the relay has learnt where the caller really is.
	gw.rtp.expect(1, nat.ssrc)
	go gw.rtp.send(gwTo, n)
	nat.expect(n, gw.rtp.ssrc)
	gw.rtp.expect(n-1, nat.ssrc)
	<-done
	select {
	case p := <-caller.rtp.got:
		t.Fatalf("media went to the SDP's port instead of the latched source: %v", p.Header)
	default:
	}
	if err := ds.Bye(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	r := sw.record(t)
	if r.RTPAtoB.Packets != cdr.Known(uint64(n)) || r.RTPBtoA.Packets != cdr.Known(uint64(n)) {
		t.Errorf("RTP counters a->b %+v b->a %+v, want %d each way", r.RTPAtoB, r.RTPBtoA, n)
	}
}

// TestMediaHoldUnholdKeepsMedia: re-INVITEs from both sides (hold with
// sendonly, then unhold) keep the relay ports, and audio flows afterwards.
func TestMediaHoldUnholdKeepsMedia(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	sw, media := startMediaSwitch(t, builtinMedia(t, 40, "")+routeTo(gw.peer))
	ds, gs, callerTo, gwTo := mediaCall(t, sw, caller, gw)
	ctx := within(t, 30*time.Second)
	exchange(t, caller.rtp, gw.rtp, callerTo, gwTo, 10)

	for _, dir := range []string{"sendonly", "sendrecv"} {
		res := reinviteFromCaller(t, ctx, ds, caller.rtp.sdp(dir))
		got := gw.waitRequest(sip.INVITE, 5*time.Second)
		if sdpTarget(t, got.Body()) != gwTo || sdpTarget(t, res.Body()) != callerTo ||
			!strings.Contains(string(got.Body()), "a="+dir) {
			t.Fatalf("caller %s re-INVITE moved the relay ports: gateway got %q, caller got %q", dir, got.Body(), res.Body())
		}
		gw.waitRequest(sip.ACK, 5*time.Second)
		waitSettled(t, sw)

		res = reinviteFromGateway(t, ctx, gs, gw.rtp.sdp(dir))
		got = caller.waitRequest(sip.INVITE, 5*time.Second)
		if sdpTarget(t, got.Body()) != callerTo || sdpTarget(t, res.Body()) != gwTo {
			t.Fatalf("gateway %s re-INVITE moved the relay ports: caller got %q, gateway got %q", dir, got.Body(), res.Body())
		}
		waitSettled(t, sw)
	}
	if st := media.Builtin().Stats(); st.ActiveSessions != 1 || st.ActiveStreams != 2 {
		t.Errorf("relay after re-INVITEs: %+v", st)
	}
	exchange(t, caller.rtp, gw.rtp, callerTo, gwTo, exchanged)
	ds.Bye(ctx)
	r := sw.record(t)
	if r.RTPAtoB.Packets != cdr.Known(10+exchanged) || r.RTPBtoA.Packets != cdr.Known(10+exchanged) || r.DisconnectReason != cdr.ReasonNormal {
		t.Errorf("record: a->b %+v b->a %+v reason %q", r.RTPAtoB, r.RTPBtoA, r.DisconnectReason)
	}
}

// TestMediaLateOffer: the caller's INVITE has no SDP; the gateway's 200
// carries the offer and the caller's ACK the answer, both anchored.
func TestMediaLateOffer(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	sw, _ := startMediaSwitch(t, builtinMedia(t, 40, "")+routeTo(gw.peer))
	gw.answerMedia(nil)
	ctx := within(t, 20*time.Second)
	ds, err := caller.callWith(ctx, sw.uri("100"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(gw.invites()[0].Body()) != 0 {
		t.Fatalf("late offer INVITE reached the gateway with a body")
	}
	callerTo := sdpTarget(t, ds.InviteResponse.Body())
	ack := sip.NewRequest(sip.ACK, ds.InviteResponse.Contact().Address)
	ack.SetBody([]byte(caller.rtp.sdp("sendrecv")))
	ack.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	if err := ds.WriteAck(ctx, ack); err != nil {
		t.Fatal(err)
	}
	gwAck := gw.waitRequest(sip.ACK, 5*time.Second)
	gwTo := sdpTarget(t, gwAck.Body())
	if callerTo.Port() == uint16(gw.rtp.port()) || gwTo.Port() == uint16(caller.rtp.port()) {
		t.Fatalf("late offer not anchored: caller sends to %v, gateway to %v", callerTo, gwTo)
	}
	exchange(t, caller.rtp, gw.rtp, callerTo, gwTo, 10)
	ds.Bye(ctx)
	if r := sw.record(t); r.RTPAtoB.Packets != cdr.Known(10) || r.RTPBtoA.Packets != cdr.Known(10) || r.CodecA != "PCMU" {
		t.Errorf("record: a->b %+v b->a %+v codec %q", r.RTPAtoB, r.RTPBtoA, r.CodecA)
	}
}

// TestMediaTimeoutEndsCall: audio stops, the relay's TTL expires, and its
// notification hangs up both legs with the reason "media timeout".
func TestMediaTimeoutEndsCall(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	sw, _ := startMediaSwitch(t, builtinMedia(t, 40, "    ttl: 2s\n")+routeTo(gw.peer))
	_, _, callerTo, gwTo := mediaCall(t, sw, caller, gw)
	exchange(t, caller.rtp, gw.rtp, callerTo, gwTo, 10)
	caller.waitRequest(sip.BYE, 30*time.Second)
	gw.waitRequest(sip.BYE, 30*time.Second)
	r := sw.record(t)
	if r.DisconnectReason != cdr.ReasonMediaTimeout || r.ReleasedBy != cdr.ReleasedBySwitch || r.SIPCode != 200 {
		t.Errorf("record: reason %q released by %q code %d", r.DisconnectReason, r.ReleasedBy, r.SIPCode)
	}
	sw.noRecord(t)
}

// TestMediaRelayFull: with no ports left the caller gets 503 and nothing
// leaks — neither ports nor goroutines — whether the relay refuses the
// offer (E72, no gateway is tried) or the answer (E71, the gateway's 200
// is ACKed and hung up).
func TestMediaRelayFull(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ports      int // two port pairs per call
		gwInvites  int // INVITEs the gateway sees: the refused call's too, when it is refused at the answer
		freeDuring int
	}{
		{"offer refused", 4, 1, 0},
		{"answer refused", 6, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
			sw, media := startMediaSwitch(t, builtinMedia(t, tc.ports, "")+routeTo(gw.peer))
			relay := media.Builtin()
			free := relay.Stats().PortPairsFree
			ds, _, _, _ := mediaCall(t, sw, caller, gw)

			second := newMediaPeer(t, "caller2")
			_, err := second.callMedia(within(t, 20*time.Second), sw.uri("100"))
			var de *sipgo.ErrDialogResponse
			if !errors.As(err, &de) || de.Res.StatusCode != 503 || de.Res.GetHeader("Retry-After") == nil {
				t.Fatalf("second call: %v, want 503 with Retry-After", err)
			}
			r := sw.record(t)
			if r.SIPCode != 503 || !r.ConnectTime.IsZero() {
				t.Errorf("refused call's record: %+v", r)
			}
			if n := len(gw.invites()); n != tc.gwInvites {
				t.Errorf("gateway saw %d INVITEs, want %d", n, tc.gwInvites)
			}
			if tc.gwInvites == 2 {
				gw.waitAll(10*time.Second, sip.ACK, sip.BYE) // the refused answer is hung up
			}
			testenv.Eventually(t, 20*time.Second, "the refused call's ports released", func() bool {
				st := relay.Stats()
				return st.ActiveSessions == 1 && st.PortPairsFree == tc.freeDuring
			})

			ds.Bye(within(t, 10*time.Second))
			sw.record(t)
			testenv.Eventually(t, 20*time.Second, "every port back and no session reader left", func() bool {
				st := relay.Stats()
				return st.ActiveSessions == 0 && st.PortPairsFree == free &&
					goroutines("relay.(*session).serve") == 0 && goroutines("b2bua.(*Call)") == 0
			})
		})
	}
}

// TestMediaMalformedSDP: a caller's bad SDP gets 488 before any gateway or
// relay port is used; a gateway's bad SDP fails that gateway only, and the
// next one takes the call.
func TestMediaMalformedSDP(t *testing.T) {
	bad, good, caller := newMediaPeer(t, "bad"), newMediaPeer(t, "good"), newMediaPeer(t, "caller")
	sw, media := startMediaSwitch(t, builtinMedia(t, 40, "")+routeTo(bad.peer, good.peer))
	relay := media.Builtin()

	_, err := caller.callWith(within(t, 10*time.Second), sw.uri("100"), []byte("v=0\r\nm=audio none RTP/AVP 0\r\n"))
	var de *sipgo.ErrDialogResponse
	if !errors.As(err, &de) || de.Res.StatusCode != 488 {
		t.Fatalf("caller with bad SDP got %v, want 488", err)
	}
	if r := sw.record(t); r.SIPCode != 488 || len(r.Attempts) != 0 || r.DisconnectReason != cdr.ReasonRejected {
		t.Errorf("record: %+v", r)
	}
	if n := len(bad.invites()); n != 0 {
		t.Errorf("a gateway was tried for a call with bad SDP")
	}
	if st := relay.Stats(); st.SessionsCreated != 0 {
		t.Errorf("relay used for a call with bad SDP: %+v", st)
	}

	bad.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		ds, err := bad.dsc.ReadInvite(req, tx)
		if err != nil {
			return
		}
		ds.RespondSDP([]byte("this is not SDP\r\n"))
	})
	good.answerMedia(nil)
	ctx := within(t, 20*time.Second)
	ds, err := caller.callMedia(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	bad.waitAll(5*time.Second, sip.ACK, sip.BYE)
	callerTo := sdpTarget(t, ds.InviteResponse.Body())
	gwTo := sdpTarget(t, good.invites()[0].Body())
	exchange(t, caller.rtp, good.rtp, callerTo, gwTo, 10)
	ds.Bye(ctx)
	r := sw.record(t)
	if len(r.Attempts) != 2 || r.Attempts[0].SIPCode != 502 || r.Gateway != good.addr() ||
		r.RTPAtoB.Packets != cdr.Known(10) || r.RTPBtoA.Packets != cdr.Known(10) {
		t.Errorf("record: attempts %+v gateway %s rtp %+v %+v", r.Attempts, r.Gateway, r.RTPAtoB, r.RTPBtoA)
	}
}

// TestMediaNoneLeavesSDPAlone: with mode none the SDP crosses byte for byte
// and the record has no media figures but the codecs the legs negotiated.
func TestMediaNoneLeavesSDPAlone(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	sw, media := startMediaSwitch(t, builtinMedia(t, 40, "")+routeTo(gw.peer)+"    media: none\n")
	gw.answerMedia(nil)
	ctx := within(t, 10*time.Second)
	ds, err := caller.callMedia(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(gw.invites()[0].Body()); got != caller.rtp.sdp("sendrecv") {
		t.Errorf("gateway got %q", got)
	}
	if got := string(ds.InviteResponse.Body()); got != gw.rtp.sdp("sendrecv") {
		t.Errorf("caller got %q", got)
	}
	ds.Bye(ctx)
	if r := sw.record(t); r.MediaRelay != "" || r.CodecA != "PCMU" || r.CodecB != "PCMU" || r.RTPAtoB.Packets.Known {
		t.Errorf("record of a call in mode none: relay %q codecs %q/%q packets %+v", r.MediaRelay, r.CodecA, r.CodecB, r.RTPAtoB.Packets)
	}
	if st := media.Builtin().Stats(); st.SessionsCreated != 0 {
		t.Errorf("relay used by a route in mode none: %+v", st)
	}
}

// TestMediaNoneDoesNoSDPWork: a call in mode none never touches its SDP,
// at any of the points where an anchored call would.
func TestMediaNoneDoesNoSDPWork(t *testing.T) {
	c := &Call{offerWay: earlyOffer, inviteA: sip.NewRequest(sip.INVITE, sip.Uri{Host: "127.0.0.1"})}
	c.inviteA.SetBody([]byte(sdpOffer))
	res := sip.NewResponseFromRequest(c.inviteA, 200, "OK", []byte(sdpAnswer))
	allocs := testing.AllocsPerRun(100, func() {
		if body, r := c.attemptOffer(config.Gateway{Address: "[::1]:5060"}, nil); body != nil || r != nil {
			t.Fatal("offer touched")
		}
		if body, err := c.calleeSDP(res); body != nil || err != nil {
			t.Fatal("answer touched")
		}
		if body, err := c.inDialogSDP(opOffer, sideOf(true), c.inviteA); body != nil || err != nil {
			t.Fatal("re-INVITE touched")
		}
		if body, ok := c.ackSDP(sideOf(true), c.inviteA); !ok || len(body) != len(sdpOffer) {
			t.Fatal("ACK touched")
		}
	})
	if allocs != 0 {
		t.Errorf("mode none allocates %v times per call for media", allocs)
	}
}

// BenchmarkMediaAnchoredCall is the media cost of one call on the built-in
// relay: the caller's offer and the gateway's answer parsed, anchored (U, L
// over the loopback control socket) and rewritten, then the session deleted
// with its counters (Q && D).
func BenchmarkMediaAnchoredCall(b *testing.B) {
	lo := 10000 + 2*int(time.Now().UnixNano()%4000)
	cfg, err := config.Parse([]byte(fmt.Sprintf("media:\n  mode: builtin\n  builtin: {port_min: %d, port_max: %d}\n"+
		"routes: [{prefix: \"\", gateways: [{address: \"127.0.0.1:9\"}]}]\n", lo, lo+99)))
	if err != nil {
		b.Fatal(err)
	}
	m := startTestMedia(b, b.Context(), cfg)
	defer m.Close()
	sw := &Switch{log: slog.New(slog.DiscardHandler)}
	inv := sip.NewRequest(sip.INVITE, sip.Uri{Host: "127.0.0.1"})
	inv.SetBody([]byte(sdpOffer))
	res := sip.NewResponseFromRequest(inv, 200, "OK", []byte(sdpAnswer))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		c := &Call{sw: sw, media: &callMedia{name: config.MediaBuiltin,
			relay: m.pool.Open(rtpproxyctl.Dialog{CallID: fmt.Sprint("bench-", i), CallerTag: "a", CalleeTag: "b"})}}
		if _, err := c.anchor(opOffer, rtpproxyctl.Caller, inv); err != nil {
			b.Fatal(err)
		}
		if _, err := c.anchor(opAnswer, rtpproxyctl.Callee, res); err != nil {
			b.Fatal(err)
		}
		var rec cdr.Record
		c.closeMedia(&rec)
	}
}
