package b2bua

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
)

func TestBasicCallCallerHangsUp(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answer(50*time.Millisecond, sessions)
	sw := startSwitch(t, routeTo(gw))
	caller := newPeer(t, "caller")

	ctx := within(t, 10*time.Second)
	ds, err := caller.call(ctx, sw.uri("15551230002"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(ds.InviteResponse.Body()); got != sdpAnswer {
		t.Errorf("caller got SDP %q, want the gateway's answer", got)
	}
	gwSession := <-sessions
	gw.waitRequest(sip.ACK, 5*time.Second)
	if len(sw.Snapshot()) != 1 {
		t.Errorf("snapshot = %+v, want one call", sw.Snapshot())
	}
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	gw.waitRequest(sip.BYE, 5*time.Second)
	<-gwSession.Context().Done()

	r := sw.record(t)
	if r.ReleasedBy != cdr.ReleasedByCaller || r.DisconnectReason != cdr.ReasonNormal ||
		r.SIPCode != 200 || r.Q850Cause != 16 {
		t.Errorf("record = %+v", r)
	}
	if r.CallIDA != ds.InviteRequest.CallID().Value() || r.CallIDB == "" || r.CallIDB == r.CallIDA {
		t.Errorf("call-ids a=%q b=%q", r.CallIDA, r.CallIDB)
	}
	if r.CalledReceived != "15551230002" || r.Gateway != gw.addr() || len(r.Attempts) != 1 ||
		r.ConnectTime.IsZero() || r.RingingTime.IsZero() || r.Duration <= 0 || r.SourceIP != "127.0.0.1" {
		t.Errorf("record = %+v", r)
	}
	if len(r.ConfID) != 35 || strings.Count(r.ConfID, " ") != 3 {
		t.Errorf("conf id %q", r.ConfID)
	}
	sw.noRecord(t)
	if sw.ActiveCalls() != 0 {
		t.Errorf("active calls = %d after hangup", sw.ActiveCalls())
	}
	// The INVITE's and the BYE's client transactions leave with their
	// final responses: none is kept for a timer.
	for deadline := time.Now().Add(5 * time.Second); sw.ClientTransactions() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d client transactions held after the call", sw.ClientTransactions())
		}
	}
}

func TestCalleeHangsUp(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answer(0, sessions)
	sw := startSwitch(t, routeTo(gw))
	caller := newPeer(t, "caller")
	ctx := within(t, 10*time.Second)
	ds, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	gwSession := <-sessions
	gw.waitRequest(sip.ACK, 5*time.Second)
	if err := gwSession.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	caller.waitRequest(sip.BYE, 5*time.Second)
	<-ds.Context().Done()
	r := sw.record(t)
	if r.ReleasedBy != cdr.ReleasedByCallee || r.DisconnectReason != cdr.ReasonNormal {
		t.Errorf("record = %+v", r)
	}
}

func TestCancelWhileRinging(t *testing.T) {
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
	gw.waitRequest(sip.INVITE, 5*time.Second)
	ringing := make(chan struct{})
	wctx, cancel := contextWithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		errc <- ds.WaitAnswer(wctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
			if res.StatusCode == 180 {
				close(ringing)
			}
			return nil
		}})
	}()
	<-ringing
	cancel() // sipgo sends CANCEL when the wait is cancelled after a provisional
	if err := <-errc; err == nil {
		t.Fatal("call answered, want cancelled")
	}
	gw.waitCancelled(5 * time.Second)
	r := sw.record(t)
	if r.DisconnectReason != cdr.ReasonCancelled || r.SIPCode != 487 || r.ReleasedBy != cdr.ReleasedByCaller ||
		!r.ConnectTime.IsZero() || r.RingingTime.IsZero() {
		t.Errorf("record = %+v", r)
	}
}

func TestFailover(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		first    func(p *peer)
		huntStop string
		wantTry2 bool
		wantCode int
		reason   string
	}{
		{"503 moves on", func(p *peer) { p.reject(503, "Service Unavailable") }, "", true, 200, cdr.ReasonNormal},
		{"486 moves on when not hunt-stop", func(p *peer) { p.reject(486, "Busy Here") }, "hunt_stop: []", true, 200, cdr.ReasonNormal},
		{"486 stops the hunt by default", func(p *peer) { p.reject(486, "Busy Here") }, "", false, 486, cdr.ReasonBusy},
		{"no progress moves on", func(p *peer) { p.silentRing(100) }, "no_progress: 300ms", true, 200, cdr.ReasonNormal},
		{"ringing too long moves on", func(p *peer) { p.silentRing(180) }, "max_ring: 400ms", true, 200, cdr.ReasonNormal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gw1, gw2 := newPeer(t, "gw1"), newPeer(t, "gw2")
			tc.first(gw1)
			gw2.answer(0, nil)
			yaml := routeTo(gw1, gw2)
			if tc.huntStop != "" {
				yaml += "    " + tc.huntStop + "\n"
			}
			sw := startSwitch(t, yaml)
			caller := newPeer(t, "caller")
			ctx := within(t, 15*time.Second)
			ds, err := caller.call(ctx, sw.uri("100"))
			code := 200
			var de *sipgo.ErrDialogResponse
			if errors.As(err, &de) {
				code = de.Res.StatusCode
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode {
				t.Fatalf("caller got %d, want %d", code, tc.wantCode)
			}
			if got := len(gw2.invites()) > 0; got != tc.wantTry2 {
				t.Fatalf("second gateway tried = %v, want %v", got, tc.wantTry2)
			}
			if code == 200 {
				ds.Bye(ctx)
			}
			r := sw.record(t)
			if r.DisconnectReason != tc.reason || r.SIPCode != tc.wantCode {
				t.Errorf("record = %+v", r)
			}
			wantAttempts := 1
			if tc.wantTry2 {
				wantAttempts = 2
				if r.Gateway != gw2.addr() || r.Attempts[0].Gateway != gw1.addr() {
					t.Errorf("attempts = %+v", r.Attempts)
				}
			}
			if len(r.Attempts) != wantAttempts {
				t.Errorf("attempts = %+v", r.Attempts)
			}
			sw.waitTableEmpty(t)
		})
	}
}

func TestAllGatewaysFail(t *testing.T) {
	t.Parallel()
	gw1, gw2, gw3 := newPeer(t, "gw1"), newPeer(t, "gw2"), newPeer(t, "gw3")
	gw1.reject(404, "Not Found")
	gw2.reject(502, "Bad Gateway")
	gw3.silentRing(100) // times out: a timeout is not a meaningful response
	sw := startSwitch(t, routeTo(gw1, gw2, gw3)+"    no_progress: 300ms\n")
	caller := newPeer(t, "caller")
	_, err := caller.call(within(t, 10*time.Second), sw.uri("100"))
	var de *sipgo.ErrDialogResponse
	if !errors.As(err, &de) || de.Res.StatusCode != 502 {
		t.Fatalf("caller got %v, want the last gateway response 502", err)
	}
	r := sw.record(t)
	if len(r.Attempts) != 3 || r.DisconnectReason != cdr.ReasonFailed || r.Q850Cause != 38 ||
		r.Attempts[0].SIPCode != 404 || r.Attempts[2].SIPCode != 408 {
		t.Errorf("record = %+v", r)
	}
	sw.waitTableEmpty(t)
}

func TestNoRoute(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sw := startSwitch(t, "routes:\n  - prefix: \"44\"\n    gateways: [{address: \""+gw.addr()+"\"}]\n")
	caller := newPeer(t, "caller")
	_, err := caller.call(within(t, 10*time.Second), sw.uri("33"))
	var de *sipgo.ErrDialogResponse
	if !errors.As(err, &de) || de.Res.StatusCode != 404 {
		t.Fatalf("caller got %v, want 404", err)
	}
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonRejected || len(r.Attempts) != 0 {
		t.Errorf("record = %+v", r)
	}
}

func TestEarlyMediaThenAnswer(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	relayed := make(chan struct{}) // the caller has the 183: the gateway may answer
	gw.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		ds, err := gw.dsc.ReadInvite(req, tx)
		if err != nil {
			return
		}
		ds.Respond(183, "Session Progress", []byte(sdpAnswer), sip.NewHeader("Content-Type", "application/sdp"))
		select {
		case <-relayed:
		case <-tx.Done():
			return
		}
		ds.RespondSDP([]byte(sdpAnswer))
	})
	sw := startSwitch(t, routeTo(gw))
	caller := newPeer(t, "caller")
	ctx := within(t, 10*time.Second)
	ds, err := caller.dcc.Invite(ctx, sw.uri("100"), []byte(sdpOffer), sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		t.Fatal(err)
	}
	var early *sip.Response
	err = ds.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.StatusCode == 183 && early == nil {
			early = res
			close(relayed)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	ds.Ack(ctx)
	if early == nil || string(early.Body()) != sdpAnswer || early.ContentType().Value() != "application/sdp" {
		t.Fatalf("183 with SDP not relayed: %v", early)
	}
	ds.Bye(ctx)
	if r := sw.record(t); r.RingingTime.IsZero() || r.PostDialDelay <= 0 {
		t.Errorf("record = %+v", r)
	}
}

func TestHoldUnholdFromEachSide(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answer(0, sessions)
	sw := startSwitch(t, routeTo(gw))
	caller := newPeer(t, "caller")
	ctx := within(t, 20*time.Second)
	ds, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	gs := <-sessions
	gw.waitRequest(sip.ACK, 5*time.Second)

	hold := strings.Replace(sdpOffer, "a=sendrecv", "a=sendonly", 1)
	for _, step := range []struct{ body, want string }{{hold, "a=recvonly"}, {sdpOffer, "a=sendrecv"}} {
		// From the caller.
		req := sip.NewRequest(sip.INVITE, ds.InviteResponse.Contact().Address)
		req.SetBody([]byte(step.body))
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res, err := ds.Do(ctx, req)
		if err != nil || res.StatusCode != 200 || !strings.Contains(string(res.Body()), step.want) {
			t.Fatalf("caller re-INVITE: %v %v", res, err)
		}
		ackUntilSettled(t, sw, func() error { return ds.WriteAck(ctx, ackFor(req, res)) })
		got := gw.waitRequest(sip.INVITE, 5*time.Second)
		if string(got.Body()) != step.body {
			t.Errorf("gateway got re-INVITE SDP %q", got.Body())
		}
		gw.waitRequest(sip.ACK, 5*time.Second)

		// From the gateway.
		req = sip.NewRequest(sip.INVITE, gs.InviteRequest.Contact().Address)
		req.SetBody([]byte(step.body))
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res, err = gs.Do(ctx, req)
		if err != nil || res.StatusCode != 200 || !strings.Contains(string(res.Body()), step.want) {
			t.Fatalf("gateway re-INVITE: %v %v", res, err)
		}
		ackUntilSettled(t, sw, func() error { return gs.WriteRequest(ackFor(req, res)) })
		caller.waitRequest(sip.INVITE, 5*time.Second)
	}
	ds.Bye(ctx)
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal {
		t.Errorf("record = %+v", r)
	}
}

// ackFor builds the ACK of a 2xx to an in-dialog INVITE sent by a test peer.
func ackFor(inv *sip.Request, res *sip.Response) *sip.Request {
	ack := sip.NewRequest(sip.ACK, inv.Recipient)
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.ACK})
	return ack
}

func TestInfoAndOptionsRelayed(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw))
	caller := newPeer(t, "caller")
	ctx := within(t, 10*time.Second)
	ds, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []sip.RequestMethod{sip.INFO, sip.OPTIONS} {
		req := sip.NewRequest(m, ds.InviteResponse.Contact().Address)
		if m == sip.INFO {
			req.SetBody([]byte("Signal=5\r\nDuration=160\r\n"))
			req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
		}
		res, err := ds.Do(ctx, req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %v %v", m, res, err)
		}
		got := gw.waitRequest(m, 5*time.Second)
		if m == sip.INFO && (string(got.Body()) != "Signal=5\r\nDuration=160\r\n" ||
			got.ContentType().Value() != "application/dtmf-relay") {
			t.Errorf("INFO arrived as %q", got.String())
		}
	}
	ds.Bye(ctx)
	sw.record(t)
}

func TestMaxDuration(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+"    max_duration: 1s\n")
	caller := newPeer(t, "caller")
	ctx := within(t, 10*time.Second)
	if _, err := caller.call(ctx, sw.uri("100")); err != nil {
		t.Fatal(err)
	}
	caller.waitRequest(sip.BYE, 5*time.Second)
	gw.waitRequest(sip.BYE, 5*time.Second)
	r := sw.record(t)
	if r.DisconnectReason != cdr.ReasonMaxDuration || r.ReleasedBy != cdr.ReleasedBySwitch ||
		r.Duration < time.Second || r.Duration > 3*time.Second {
		t.Errorf("record = %+v", r)
	}
}

func TestACKTimeout(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+"timers:\n  ack_timeout: 1500ms\n")
	caller := newPeer(t, "caller")
	ctx := within(t, 10*time.Second)
	ds, err := caller.dcc.Invite(ctx, sw.uri("100"), []byte(sdpOffer), sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal(err)
	}
	// The caller never ACKs.
	gw.waitRequest(sip.BYE, 10*time.Second)
	r := sw.record(t)
	if r.DisconnectReason != cdr.ReasonACKTimeout || r.ReleasedBy != cdr.ReleasedBySwitch {
		t.Errorf("record = %+v", r)
	}
}

func TestAdminHangup(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw))
	caller := newPeer(t, "caller")
	ctx := within(t, 10*time.Second)
	if _, err := caller.call(ctx, sw.uri("100")); err != nil {
		t.Fatal(err)
	}
	calls := sw.Snapshot()
	if len(calls) != 1 || calls[0].State != "connected" || calls[0].Gateway != gw.addr() {
		t.Fatalf("snapshot = %+v", calls)
	}
	if err := sw.Hangup(calls[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := sw.Hangup(calls[0].ID); !errors.Is(err, ErrNoSuchCall) {
		t.Errorf("second hangup: %v", err)
	}
	caller.waitRequest(sip.BYE, 5*time.Second)
	gw.waitRequest(sip.BYE, 5*time.Second)
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonAdminKill {
		t.Errorf("record = %+v", r)
	}
}

func TestTopologyHiding(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answer(0, sessions)
	sw := startSwitch(t, routeTo(gw))
	caller := newPeer(t, "caller")
	ctx := within(t, 10*time.Second)
	secret := "10.9.8.7"
	// A proxy in front of the switch that record-routes: the caller's ACK
	// and BYE reach the switch through the route (here the switch's own
	// address, the proxy's marker in a parameter).
	ds, err := caller.call(ctx, sw.uri("100"),
		sip.NewHeader("Record-Route", "<sip:"+sw.addr()+";lr;via="+secret+">"),
		sip.NewHeader("X-Secret", secret),
		sip.NewHeader("User-Agent", "CallerPBX/1.0"))
	if err != nil {
		t.Fatal(err)
	}
	inv := gw.invites()[0]
	text := inv.String()
	aCallID := ds.InviteRequest.CallID().Value()
	fromTag, _ := ds.InviteRequest.From().Params.Get("tag")
	for _, leak := range []string{aCallID, fromTag, secret, "CallerPBX", "caller@127.0.0.1:" + itoa(caller.port),
		"127.0.0.1:" + itoa(caller.port)} {
		if strings.Contains(text, leak) {
			t.Errorf("B leg INVITE leaks %q:\n%s", leak, text)
		}
	}
	if vias := inv.GetHeaders("Via"); len(vias) != 1 {
		t.Errorf("B leg INVITE has %d Via headers, want only ours", len(vias))
	}
	if c := inv.Contact(); c.Address.Port != sw.port {
		t.Errorf("B leg Contact %v is not the switch", c)
	}
	// And the reverse: the caller sees nothing of the gateway.
	res := ds.InviteResponse
	back := res.String()
	gs := <-sessions
	gwTag, _ := gs.InviteResponse.To().Params.Get("tag")
	for _, leak := range []string{inv.CallID().Value(), gwTag, "127.0.0.1:" + itoa(gw.port), "User-Agent: gw"} {
		if strings.Contains(back, leak) {
			t.Errorf("A leg 200 leaks %q:\n%s", leak, back)
		}
	}
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	gw.waitRequest(sip.BYE, 5*time.Second)
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal || r.ReleasedBy != cdr.ReleasedByCaller {
		t.Errorf("record = %+v, want a normal end by the caller", r)
	}
}
