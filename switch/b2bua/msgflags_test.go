package b2bua

import (
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/testenv"
)

func TestReadMsgFlags(t *testing.T) {
	t.Parallel()
	on := &config.Profile{RTP: config.RTPOptions{MsgFlags: true}}
	for _, tc := range []struct {
		p     *config.Profile
		value string // "" for no header
		want  msgFlagsState
	}{
		{on, "2", msgFlagsSymmetric},
		{on, "6", msgFlagsSymmetric},
		{on, "A", msgFlagsSymmetric},  // 10: flags 8 and 2
		{on, "02", msgFlagsNone},      // least significant digit first: 0x20
		{on, "20", msgFlagsSymmetric}, // 0x02
		{on, "1", msgFlagsNone},
		{on, "zz", msgFlagsNone},
		{on, "", msgFlagsNone},
		{&config.Profile{}, "2", msgFlagsNone}, // rtprelay_msgflags_symmetric_rtp not set
	} {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "100", Host: "127.0.0.1"})
		if tc.value != "" {
			req.AppendHeader(sip.NewHeader("P-MsgFlags", tc.value))
		}
		if got := readMsgFlags(tc.p, req); got != tc.want {
			t.Errorf("P-MsgFlags %q, option %v: %v, want %v", tc.value, tc.p.RTP.MsgFlags, got, tc.want)
		}
	}
}

// TestMsgFlagsSymmetricRTP: with rtprelay_msgflags_symmetric_rtp, a
// caller whose INVITE carries P-MsgFlags: 2 is sent media only where its
// own media comes from: the gateway's first packet, sent before the
// caller's, is dropped rather than sent to the caller's SDP address, and
// once the caller sends from another port the gateway's media goes there.
func TestMsgFlagsSymmetricRTP(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	sw, media := startMediaSwitch(t, builtinMedia(t, 8, "")+routeTo(gw.peer)+`profile_select:
  selectors: ["proxied"]
profiles:
  - name: proxied
    media: builtin
    rtprelay_msgflags_symmetric_rtp: true
`)
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answerMedia(sessions)
	ctx := within(t, 20*time.Second)
	ds, err := caller.dcc.Invite(ctx, sw.uri("100"), []byte(caller.rtp.sdp("sendrecv")),
		sip.NewHeader("Content-Type", "application/sdp"), sip.NewHeader("P-MsgFlags", "2"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ds.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	<-sessions
	callerTo, gwTo := sdpTarget(t, ds.InviteResponse.Body()), sdpTarget(t, gw.invites()[0].Body())

	gw.rtp.send(gwTo, 1)
	callID, tag := ds.InviteRequest.CallID().Value(), fromTag(ds.InviteRequest)
	testenv.Eventually(t, 10*time.Second, "the gateway's first packet dropped", func() bool {
		st := media.Builtin().SessionStats(callID, tag, "")
		return len(st) == 1 && st[0].FromAnswerer.Dropped == 1
	})
	moved := newRTPEnd(t) // the caller, as its NAT shows it
	moved.send(callerTo, 1)
	gw.rtp.expect(1, moved.ssrc)
	gw.rtp.send(gwTo, 1)
	select {
	case p := <-moved.got:
		if p.SSRC != gw.rtp.ssrc {
			t.Fatalf("caller's new port got SSRC %x, want the gateway's %x", p.SSRC, gw.rtp.ssrc)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway's packet never reached the port the caller sends from")
	}
	select {
	case p := <-caller.rtp.got:
		t.Fatalf("the caller's SDP address got a packet: %+v", p.Header)
	default:
	}
	if err := ds.Bye(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	sw.record(t)
}
