package b2bua

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/testenv"
)

// startSwitchV6 runs a switch on UDP at [::1] (and at 127.0.0.1, where
// the harness checks it listens), with the built-in relay when media.
func startSwitchV6(t *testing.T, yaml string, media bool) *testSwitch {
	t.Helper()
	if media {
		yaml += builtinMedia(t, 40, "")
	}
	port := testenv.FreePort(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(
		"sip:\n  listen: [\"udp:127.0.0.1:%d\", \"udp:[::1]:%d\"]\n%s", port, port, yaml)))
	if err != nil {
		t.Fatal(err)
	}
	if !media {
		return runSwitch(t, cfg, port, Options{}, nil)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	m := startTestMedia(t, sctx, cfg)
	ts := runSwitch(t, cfg, port, Options{Media: m.relays()}, func() { m.Close() })
	m.bind(ts.Switch)
	return ts
}

// TestIPv6Gateway: with caller and gateway on [::1], the gateway's 2xx is
// ACKed and its dialog hung up with BYE, whether the call connects (no
// relay) or the built-in relay refuses the gateway's IPv6 answer.
func TestIPv6Gateway(t *testing.T) {
	t.Parallel()
	sdp6 := strings.ReplaceAll(sdpAnswer, "IN IP4 127.0.0.1", "IN IP6 ::1")
	for _, media := range []bool{false, true} {
		t.Run(fmt.Sprintf("relay=%v", media), func(t *testing.T) {
			t.Parallel()
			gw := startPeerOn(t, "gw", "::1", nil)
			gw.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
				ds, err := gw.dsc.ReadInvite(req, tx)
				if err != nil {
					return
				}
				ds.RespondSDP([]byte(sdp6))
			})
			sw := startSwitchV6(t, "routes:\n  - prefix: \"\"\n    gateways: [{address: \""+gw.addr()+"\"}]\n", media)
			caller := startPeerOn(t, "caller", "::1", nil)
			ctx := within(t, 10*time.Second)
			ds, err := caller.call(ctx, sip.Uri{Scheme: "sip", User: "100", Host: "[::1]", Port: sw.port})
			if !media {
				if err != nil {
					t.Fatal(err)
				}
				gw.waitRequest(sip.ACK, 5*time.Second)
				if err := ds.Bye(ctx); err != nil {
					t.Fatal(err)
				}
				gw.waitRequest(sip.BYE, 5*time.Second)
				if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal || r.ReleasedBy != cdr.ReleasedByCaller {
					t.Errorf("record = %+v", r)
				}
				return
			}
			var de *sipgo.ErrDialogResponse
			if !errors.As(err, &de) {
				t.Fatalf("caller got %v, want a failure: the relay refuses the answer", err)
			}
			gw.waitAll(5*time.Second, sip.ACK, sip.BYE)
			if r := sw.record(t); r.ConnectTime.IsZero() != true || r.SIPCode != de.Res.StatusCode {
				t.Errorf("record = %+v, caller got %d", r, de.Res.StatusCode)
			}
		})
	}
}

// TestWrongCSeqACK: an ACK whose CSeq is not the INVITE's acknowledges
// nothing of ours (RFC 3261 13.2.2.4), so our 2xx retransmissions go on
// until the right ACK stops them.
func TestWrongCSeqACK(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw))
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	swAddr, _ := net.ResolveUDPAddr("udp", sw.addr())
	local := conn.LocalAddr().String()
	callID, tag := sip.GenerateTagN(16), sip.GenerateTagN(8)
	head := func(method string, seq int, branch, toTag string) string {
		to := "<sip:100@" + sw.addr() + ">"
		if toTag != "" {
			to += ";tag=" + toTag
		}
		return method + " sip:100@" + sw.addr() + " SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP " + local + ";rport;branch=z9hG4bK" + branch + "\r\n" +
			"Max-Forwards: 70\r\nFrom: <sip:caller@" + local + ">;tag=" + tag + "\r\n" +
			"To: " + to + "\r\nCall-ID: " + callID + "\r\n" +
			"CSeq: " + strconv.Itoa(seq) + " " + method + "\r\n" +
			"Contact: <sip:caller@" + local + ">\r\n"
	}
	send := func(msg string) {
		t.Helper()
		if _, err := conn.WriteTo([]byte(msg), swAddr); err != nil {
			t.Fatal(err)
		}
	}
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
