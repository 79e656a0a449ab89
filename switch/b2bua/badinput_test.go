package b2bua

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/internal/testenv"
)

// request builds a raw request to the switch from a test socket.
func request(method, ruri, extra, body string) string {
	return method + " " + ruri + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK" + sip.GenerateTagN(10) + "\r\n" +
		"From: <sip:bad@127.0.0.1>;tag=" + sip.GenerateTagN(8) + "\r\n" +
		"To: <" + ruri + ">\r\n" +
		"Call-ID: " + sip.GenerateTagN(16) + "\r\n" +
		"CSeq: 1 " + method + "\r\n" +
		"Contact: <sip:bad@127.0.0.1:9>\r\n" +
		extra +
		"Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body
}

func TestBadRequestsGetTheirAnswer(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answer(0, sessions)
	sw := startSwitch(t, routeTo(gw))
	// A call in progress that none of the bad requests may disturb.
	caller := newPeer(t, "caller")
	ctx := within(t, 20*time.Second)
	ds, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	ruri := "sip:100@" + sw.addr()
	cases := []struct {
		name, msg, want string
	}{
		{"Max-Forwards 0", request("INVITE", ruri, "Max-Forwards: 0\r\n", ""), "SIP/2.0 483 "},
		{"unsupported Require", request("INVITE", ruri, "Max-Forwards: 70\r\nRequire: 100rel, foo\r\n", ""), "SIP/2.0 420 "},
		{"BYE for no dialog", strings.Replace(request("BYE", ruri, "Max-Forwards: 70\r\n", ""),
			">\r\nCall-ID", ">;tag=nosuchtag\r\nCall-ID", 1), "SIP/2.0 481 "},
		{"in-dialog INVITE for no dialog", strings.Replace(request("INVITE", ruri, "Max-Forwards: 70\r\n", ""),
			">\r\nCall-ID", ">;tag=nosuchtag\r\nCall-ID", 1), "SIP/2.0 481 "},
		{"unknown method", request("FOOBAR", ruri, "Max-Forwards: 70\r\n", ""), "SIP/2.0 501 "},
		{"REGISTER", request("REGISTER", ruri, "Max-Forwards: 70\r\n", ""), "SIP/2.0 405 "},
		{"OPTIONS out of dialog", optionsMsg(sw.addr(), 70), "SIP/2.0 200 "},
		{"OPTIONS with Max-Forwards 0", optionsMsg(sw.addr(), 0), "SIP/2.0 200 "},
	}
	for _, tc := range cases {
		res := rawExchange(t, sw.addr(), tc.msg, 3*time.Second)
		if !strings.HasPrefix(res, tc.want) {
			t.Errorf("%s: got %q, want %s", tc.name, firstLine(res), tc.want)
		}
		if tc.want == "SIP/2.0 420 " && (!strings.Contains(res, "Unsupported: foo") || strings.Contains(res, "Unsupported: 100rel")) {
			t.Errorf("420 whose Unsupported is not foo alone: %q", res)
		}
	}
	// The call is still up and still works.
	req := sip.NewRequest(sip.INFO, ds.InviteResponse.Contact().Address)
	if res, err := ds.Do(ctx, req); err != nil || res.StatusCode != 200 {
		t.Fatalf("call disturbed: %v %v", res, err)
	}
	ds.Bye(ctx)
	if r := sw.record(t); r.SIPCode != 200 {
		t.Errorf("record = %+v", r)
	}
	// Refused requests create no calls and no records.
	sw.noRecord(t)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

func TestConcurrentCallLimit(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+"limits:\n  max_calls: 1\n  retry_after: 7s\n")
	caller := newPeer(t, "caller")
	ctx := within(t, 10*time.Second)
	first, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = caller.call(ctx, sw.uri("100"))
	var de *sipgo.ErrDialogResponse
	if !errors.As(err, &de) || de.Res.StatusCode != 503 {
		t.Fatalf("second call: %v, want 503", err)
	}
	if ra := de.Res.GetHeader("Retry-After"); ra == nil || ra.Value() != "7" {
		t.Errorf("503 Retry-After = %v", ra)
	}
	// The refused call has its record too: billing and ASR count it.
	if r := sw.record(t); r.DisconnectReason != "rejected" || r.SIPCode != 503 || r.ReleasedBy != "switch" {
		t.Errorf("refused call's record = %+v", r)
	}
	first.Bye(ctx)
	if r := sw.record(t); r.DisconnectReason != "normal" {
		t.Errorf("first call's record = %+v", r)
	}
	sw.noRecord(t)
	// The slot is free again.
	again, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatalf("call after the limit freed: %v", err)
	}
	again.Bye(ctx)
	sw.record(t)
}

func TestShutdownDrainsThenHangsUp(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+"timers:\n  drain: 1s\n")
	caller := newPeer(t, "caller")
	ctx := within(t, 20*time.Second)
	first, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		sw.Shutdown(context.Background())
		close(done)
	}()
	// While draining, new calls are refused...
	testenv.Eventually(t, 2*time.Second, "the switch shutting down", func() bool { return sw.Admission() == ShuttingDown })
	_, err = caller.call(ctx, sw.uri("100"))
	var de *sipgo.ErrDialogResponse
	if !errors.As(err, &de) || de.Res.StatusCode != 503 {
		t.Fatalf("call while draining: %v, want 503", err)
	}
	if r := sw.record(t); r.DisconnectReason != "rejected" || r.SIPCode != 503 {
		t.Errorf("refused call's record = %+v", r)
	}
	// ...a call may still end normally...
	first.Bye(ctx)
	if r := sw.record(t); r.DisconnectReason != "normal" {
		t.Errorf("first record = %+v", r)
	}
	// ...and the rest are cut when the drain time is over.
	<-done
	caller.waitRequest(sip.BYE, 5*time.Second)
	<-second.Context().Done()
	if r := sw.record(t); r.DisconnectReason != "shutdown" || r.ReleasedBy != "switch" {
		t.Errorf("second record = %+v", r)
	}
}

// A second INVITE with the Call-ID, From tag and CSeq of a call in progress
// but another branch is a merged request (RFC 3261 8.2.2.2): 482, and no
// second call.
func TestMergedRequestGets482(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.silentRing(180)
	sw := startSwitch(t, routeTo(gw))
	ruri := "sip:100@" + sw.addr()
	invite := func(branch string) string {
		return "INVITE " + ruri + " SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK" + branch + "\r\n" +
			"Max-Forwards: 70\r\nFrom: <sip:merged@127.0.0.1>;tag=merged1\r\nTo: <" + ruri + ">\r\n" +
			"Call-ID: merged-call@test\r\nCSeq: 7 INVITE\r\nContact: <sip:merged@127.0.0.1:9>\r\n" +
			"Content-Length: 0\r\n\r\n"
	}
	c, err := net.Dial("udp", sw.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(invite("first")))
	gw.waitRequest(sip.INVITE, 5*time.Second)
	if res := rawExchange(t, sw.addr(), invite("second"), 3*time.Second); !strings.HasPrefix(res, "SIP/2.0 482 ") {
		t.Fatalf("merged INVITE got %q, want 482", firstLine(res))
	}
	if n := len(sw.Snapshot()); n != 1 {
		t.Fatalf("%d calls up, want the first one only", n)
	}
}
