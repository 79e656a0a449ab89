package b2bua

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestNegotiatedCodec(t *testing.T) {
	sdp := func(fmts string, rtpmaps ...string) []byte {
		s := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP " + fmts + "\r\n"
		for _, r := range rtpmaps {
			s += "a=rtpmap:" + r + "\r\n"
		}
		return []byte(s)
	}
	baresip := sdp("96 9 0 8 101", "96 opus/48000/2", "101 telephone-event/8000")
	for _, tc := range []struct {
		name          string
		offer, answer []byte
		want          string
	}{
		{"the answer's first codec the offer has", baresip, sdp("8 101", "101 telephone-event/8000"), "PCMA"},
		{"a transcoder's codec the offerer lacks is passed over", sdp("8 101"), sdp("0 8 101"), "PCMA"},
		{"telephone-event is no codec", sdp("101 0", "101 telephone-event/8000"), sdp("101 0", "101 telephone-event/8000"), "PCMU"},
		{"an unreadable offer: the answer's first", []byte("junk"), sdp("18 0"), "G729"},
		{"no answer", baresip, nil, ""},
		{"a disabled stream", baresip, []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n"), ""},
	} {
		if got := negotiatedCodec(tc.offer, tc.answer); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestNegotiatedCodecFollowsReinvite: in media mode none, the record has
// the codec each leg agreed at setup (PCMU), replaced by the one a
// re-INVITE agreed (PCMA).
func TestNegotiatedCodecFollowsReinvite(t *testing.T) {
	caller := newMediaPeer(t, "caller")
	gw := &mediaPeer{rtp: newRTPEnd(t)}
	gw.peer = startPeer(t, "gw", func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, 200, "OK", []byte(pcmaSDP(gw.rtp.port())))
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "gw", Host: "127.0.0.1", Port: gw.port}})
		tx.Respond(res)
		if req.Method == sip.INVITE {
			select {
			case <-tx.Acks():
			case <-tx.Done():
			case <-time.After(5 * time.Second):
			}
		}
	})
	sw := startSwitch(t, routeTo(gw.peer))
	gw.answerMedia(nil)
	ctx := within(t, 20*time.Second)
	ds, err := caller.callMedia(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	reinviteFromCaller(t, ctx, ds, pcmaSDP(caller.rtp.port()))
	ds.Bye(ctx)
	if r := sw.record(t); r.CodecA != "PCMA" || r.CodecB != "PCMA" {
		t.Errorf("codecs after the re-INVITE: %q/%q, want PCMA/PCMA", r.CodecA, r.CodecB)
	}
}
