package b2bua

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
)

// TestDTMFInterworking: a caller that sends its digits as RFC 4733 events
// and a gateway that only speaks SIP INFO (its SDP has no
// telephone-event), with aleg_dtmf_mode rfc4733 and dtmf_mode info on the
// built-in relay. The caller is offered telephone-event in the answer; its
// digit 5 reaches the gateway as one INFO (application/dtmf-relay, with
// the event's duration) and not in the RTP, whose sequence numbers show
// no loss; the gateway's INFO with 7 (and its application/dtmf 9) reach
// the caller as RFC 4733 events in the gateway's stream: marker on the
// first, one timestamp, durations growing to the INFO's, the end packet
// three times.
func TestDTMFInterworking(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	sw, _ := startMediaSwitch(t, builtinMedia(t, 8, "")+routeTo(gw.peer)+`profile_select:
  selectors: ["iw"]
profiles:
  - name: iw
    media: builtin
    aleg_dtmf_mode: rfc4733
    dtmf_mode: info
`)
	sessions := make(chan *sipgo.DialogServerSession, 1)
	infoOnly := fmt.Sprintf("v=0\r\no=- 9 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n", gw.rtp.port())
	gw.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		ds, err := gw.dsc.ReadInvite(req, tx)
		if err != nil {
			return
		}
		if err := ds.RespondSDP([]byte(infoOnly)); err == nil {
			sessions <- ds
		}
	})
	ds, err := caller.callMedia(within(t, 20*time.Second), sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	gs := <-sessions
	gw.waitRequest(sip.ACK, 5*time.Second)
	answer := string(ds.InviteResponse.Body())
	if !strings.Contains(answer, " RTP/AVP 0 101\r\n") || !strings.Contains(answer, "a=rtpmap:101 telephone-event/8000") {
		t.Fatalf("the caller's answer lacks telephone-event:\n%s", answer)
	}
	callerTo, gwTo := sdpTarget(t, ds.InviteResponse.Body()), sdpTarget(t, gw.invites()[0].Body())

	// RFC 4733 from the caller: one INFO to the gateway.
	dst := net.UDPAddrFromAddrPort(callerTo)
	send := func(pt uint8, seq uint16, ts uint32, payload []byte) {
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: 77}, Payload: payload}).Marshal()
		if _, err := caller.rtp.conn.WriteToUDP(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	send(0, 1, 160, payload(1))
	for i, dur := range []uint16{400, 800, 1280, 1280, 1280} {
		flags := byte(10)
		if i >= 2 {
			flags |= 0x80
		}
		send(101, uint16(2+i), 320, []byte{5, flags, byte(dur >> 8), byte(dur)})
	}
	send(0, 7, 1760, payload(7))
	info := gw.waitRequest(sip.INFO, 10*time.Second)
	if ct := info.ContentType(); ct == nil || ct.Value() != "application/dtmf-relay" || string(info.Body()) != "Signal=5\r\nDuration=160\r\n" {
		t.Fatalf("gateway INFO: %v\n%s", ct, info.Body())
	}
	for _, want := range []uint16{1, 2} {
		select {
		case p := <-gw.rtp.got:
			if p.PayloadType != 0 || p.SequenceNumber != want {
				t.Fatalf("gateway got pt %d seq %d, want audio seq %d", p.PayloadType, p.SequenceNumber, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("gateway got no packet %d", want)
		}
	}

	// INFO from the gateway: RFC 4733 events to the caller, in the
	// gateway's stream.
	go gw.rtp.send(gwTo, 1)
	first := <-caller.rtp.got
	for _, tc := range []struct {
		ct, body string
		event    byte
		durs     []uint16
	}{
		{"application/dtmf-relay", "Signal=7\r\nDuration=120\r\n", 7, []uint16{400, 800, 960, 960, 960}},
		{"application/dtmf", "9", 9, []uint16{400, 800, 1200, 1280, 1280, 1280}},
	} {
		req := sip.NewRequest(sip.INFO, gs.InviteRequest.Contact().Address)
		req.AppendHeader(sip.NewHeader("Content-Type", tc.ct))
		req.SetBody([]byte(tc.body))
		res, err := gs.Do(within(t, 10*time.Second), req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("gateway INFO %q: %v %v", tc.body, res, err)
		}
		var ts uint32
		for i, want := range tc.durs {
			var p rtp.Packet
			select {
			case p = <-caller.rtp.got:
			case <-time.After(10 * time.Second):
				t.Fatalf("digit %d: event packet %d never came", tc.event, i)
			}
			if i == 0 {
				ts = p.Timestamp
			}
			end := p.Payload[1]&0x80 != 0
			if p.PayloadType != 101 || p.SSRC != first.SSRC || p.Timestamp != ts || p.Marker != (i == 0) || len(p.Payload) != 4 ||
				p.Payload[0] != tc.event || end != (want == tc.durs[len(tc.durs)-1]) || binary.BigEndian.Uint16(p.Payload[2:]) != want {
				t.Fatalf("digit %d, event packet %d: %+v % x", tc.event, i, p.Header, p.Payload)
			}
		}
	}
	if err := ds.Bye(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	sw.record(t)
}
