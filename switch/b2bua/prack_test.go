package b2bua

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
)

// reliableGateway makes gw answer each INVITE with a reliable 183 carrying
// SDP (RSeq 7), wait for its PRACK, then answer 200.
func reliableGateway(t *testing.T, gw *peer, prack <-chan *sip.Request) {
	reliableGatewayAfter(t, gw, prack, nil)
}

// reliableGatewayAfter is reliableGateway whose 200 also waits for shown
// (when not nil): sipgo hands each received message to a goroutine of its
// own, so a test caller receiving the 183 and the 200 close together may
// handle the 200 first and drop the 183 as a stray response, whatever
// order they were sent in.
func reliableGatewayAfter(t *testing.T, gw *peer, prack <-chan *sip.Request, shown <-chan struct{}) {
	gw.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		ds, err := gw.dsc.ReadInvite(req, tx)
		if err != nil {
			return
		}
		if err := ds.Respond(183, "Session Progress", []byte(sdpAnswer), sip.NewHeader("Content-Type", "application/sdp"),
			sip.NewHeader("Require", "100rel"), sip.NewHeader("RSeq", "7")); err != nil {
			return
		}
		select {
		case r := <-prack:
			if hdrValue(r, "RAck") != "7 "+strconv.Itoa(int(req.CSeq().SeqNo))+" INVITE" {
				t.Errorf("gateway's PRACK RAck %q for its INVITE's CSeq %d", hdrValue(r, "RAck"), req.CSeq().SeqNo)
			}
		case <-time.After(5 * time.Second):
			t.Error("gateway: no PRACK")
			return
		}
		if shown != nil {
			select {
			case <-shown:
			case <-time.After(5 * time.Second):
			}
		}
		ds.RespondSDP([]byte(sdpAnswer))
	})
}

// prackPeer starts a gateway whose PRACKs go to the returned channel.
func prackPeer(t *testing.T) (*peer, chan *sip.Request) {
	prack := make(chan *sip.Request, 4)
	var gw *peer
	gw = startPeer(t, "gw", func(req *sip.Request, tx sip.ServerTransaction) {
		if req.Method == sip.PRACK {
			prack <- req
		}
		gw.inDialog(req, tx)
	})
	return gw, prack
}

// TestReliable183EndToEnd: a caller that supports 100rel gets the
// gateway's reliable 183 with SDP as a reliable 183 (the RSeq relayed);
// its PRACK reaches the gateway with the RAck naming the gateway's INVITE;
// the call completes.
func TestReliable183EndToEnd(t *testing.T) {
	t.Parallel()
	gw, prack := prackPeer(t)
	reliableGateway(t, gw, prack)
	sw := startSwitch(t, routeTo(gw))
	caller := newPeer(t, "caller")
	ctx := within(t, 20*time.Second)
	ds, err := caller.dcc.Invite(ctx, sw.uri("100"), []byte(sdpOffer),
		sip.NewHeader("Content-Type", "application/sdp"), sip.NewHeader("Supported", "100rel"))
	if err != nil {
		t.Fatal(err)
	}
	var got183 *sip.Response
	err = ds.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.StatusCode != 183 {
			return nil
		}
		got183 = res
		return callerPRACK(ctx, caller, ds.InviteRequest, res)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got183 == nil || hdrValue(got183, "RSeq") != "7" || hdrValue(got183, "Require") != "100rel" || len(got183.Body()) == 0 {
		t.Fatalf("caller's 183: %v", got183)
	}
	if err := ds.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if inv := gw.waitRequest(sip.INVITE, 5*time.Second); !listHas(inv, "Supported", "100rel") {
		t.Errorf("gateway INVITE does not offer 100rel: %v", inv.GetHeaders("Supported"))
	}
	gw.waitRequest(sip.ACK, 5*time.Second)
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal {
		t.Errorf("record reason %q", r.DisconnectReason)
	}
}

// TestReliable183CallerWithout100rel: the caller does not do 100rel, the
// gateway sends a reliable 183 anyway (the profile offers 100rel): the
// switch PRACKs it and relays the 183 unreliably, once; the call
// completes.
func TestReliable183CallerWithout100rel(t *testing.T) {
	t.Parallel()
	gw, prack := prackPeer(t)
	shown := make(chan struct{}, 1)
	reliableGatewayAfter(t, gw, prack, shown)
	sw := startSwitch(t, routeTo(gw)+"profile_select: {selectors: [rel]}\nprofiles: [{name: rel, offer_100rel: true}]\n")
	caller := newPeer(t, "caller")
	ctx := within(t, 20*time.Second)
	ds, err := caller.dcc.Invite(ctx, sw.uri("100"), []byte(sdpOffer), sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		t.Fatal(err)
	}
	var provisionals []*sip.Response
	if err := ds.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.StatusCode > 100 && res.StatusCode < 200 {
			provisionals = append(provisionals, res)
			select {
			case shown <- struct{}{}:
			default:
			}
		}
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	if len(provisionals) != 1 || provisionals[0].StatusCode != 183 || hdrValue(provisionals[0], "RSeq") != "" ||
		hdrValue(provisionals[0], "Require") != "" || len(provisionals[0].Body()) == 0 {
		t.Fatalf("caller's provisionals: %v", provisionals)
	}
	if err := ds.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if inv := gw.waitRequest(sip.INVITE, 5*time.Second); !listHas(inv, "Supported", "100rel") {
		t.Errorf("gateway INVITE does not offer 100rel: %v", inv.GetHeaders("Supported"))
	}
	gw.waitRequest(sip.ACK, 5*time.Second)
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal {
		t.Errorf("record reason %q", r.DisconnectReason)
	}
}

// TestReliable180ToCallerThatRequires: a caller that requires 100rel and a
// gateway that rings unreliably: the switch sends the caller its own
// reliable 180, retransmitted until the caller's PRACK, which it answers
// itself; the gateway hears no PRACK.
func TestReliable180ToCallerThatRequires(t *testing.T) {
	t.Parallel()
	gw, prack := prackPeer(t)
	answer := make(chan struct{})
	gw.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		ds, err := gw.dsc.ReadInvite(req, tx)
		if err != nil {
			return
		}
		ds.Respond(180, "Ringing", nil)
		select {
		case <-answer:
		case <-time.After(10 * time.Second):
		}
		ds.RespondSDP([]byte(sdpAnswer))
	})
	sw := startSwitch(t, routeTo(gw))
	caller := newPeer(t, "caller")
	ctx := within(t, 20*time.Second)
	ds, err := caller.dcc.Invite(ctx, sw.uri("100"), []byte(sdpOffer),
		sip.NewHeader("Content-Type", "application/sdp"), sip.NewHeader("Require", "100rel"))
	if err != nil {
		t.Fatal(err)
	}
	var ringing []*sip.Response
	if err := ds.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.StatusCode != 180 {
			return nil
		}
		ringing = append(ringing, res)
		if len(ringing) == 2 { // the first retransmission: acknowledge it now
			if err := callerPRACK(ctx, caller, ds.InviteRequest, res); err != nil {
				return err
			}
			close(answer)
		}
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	if len(ringing) < 2 || hdrValue(ringing[0], "Require") != "100rel" || hdrValue(ringing[0], "RSeq") == "" ||
		hdrValue(ringing[1], "RSeq") != hdrValue(ringing[0], "RSeq") {
		t.Fatalf("caller's 180s: %v", ringing)
	}
	if err := ds.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	gw.waitRequest(sip.ACK, 5*time.Second)
	select {
	case r := <-prack:
		t.Errorf("the gateway got a PRACK: %v", r)
	default:
	}
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	sw.record(t)
	testenv.Eventually(t, 5*time.Second, "no call left", func() bool { return sw.ActiveCalls() == 0 })
}

// callerPRACK sends the caller's PRACK of the reliable provisional res to
// its INVITE inv, in the early dialog, and waits for its 200.
func callerPRACK(ctx context.Context, caller *peer, inv *sip.Request, res *sip.Response) error {
	req := sip.NewRequest(sip.PRACK, res.Contact().Address)
	req.AppendHeader(sip.HeaderClone(inv.From()))
	req.AppendHeader(sip.HeaderClone(res.To()))
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo + 1, MethodName: sip.PRACK})
	req.AppendHeader(sip.NewHeader("RAck", hdrValue(res, "RSeq")+" "+strconv.Itoa(int(inv.CSeq().SeqNo))+" INVITE"))
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.SetDestination(res.Source())
	out, err := caller.cli.Do(ctx, req)
	if err != nil {
		return err
	}
	if out.StatusCode != 200 {
		return &sipgo.ErrDialogResponse{Res: out}
	}
	return nil
}

// TestUpdateInEarlyDialog: after the reliable 183 is PRACKed, the caller's
// UPDATE with a new offer crosses to the gateway within the early dialog
// and the gateway's answer comes back; then the call is answered.
func TestUpdateInEarlyDialog(t *testing.T) {
	t.Parallel()
	updated := make(chan *sip.Request, 1)
	var gw *peer
	gw = startPeer(t, "gw", func(req *sip.Request, tx sip.ServerTransaction) {
		gw.inDialog(req, tx)
		if req.Method == sip.UPDATE {
			updated <- req
		}
	})
	gw.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		ds, err := gw.dsc.ReadInvite(req, tx)
		if err != nil {
			return
		}
		ds.Respond(183, "Session Progress", []byte(sdpAnswer), sip.NewHeader("Content-Type", "application/sdp"),
			sip.NewHeader("Require", "100rel"), sip.NewHeader("RSeq", "1"))
		select {
		case <-updated:
		case <-time.After(5 * time.Second):
			t.Error("gateway: no UPDATE in the early dialog")
		}
		ds.RespondSDP([]byte(sdpAnswer))
	})
	sw := startSwitch(t, routeTo(gw))
	caller := newPeer(t, "caller")
	ctx := within(t, 20*time.Second)
	ds, err := caller.dcc.Invite(ctx, sw.uri("100"), []byte(sdpOffer),
		sip.NewHeader("Content-Type", "application/sdp"), sip.NewHeader("Supported", "100rel"))
	if err != nil {
		t.Fatal(err)
	}
	var updateRes *sip.Response
	err = ds.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.StatusCode != 183 {
			return nil
		}
		if err := callerPRACK(ctx, caller, ds.InviteRequest, res); err != nil {
			return err
		}
		inv := ds.InviteRequest
		up := sip.NewRequest(sip.UPDATE, res.Contact().Address)
		up.AppendHeader(sip.HeaderClone(inv.From()))
		up.AppendHeader(sip.HeaderClone(res.To()))
		up.AppendHeader(sip.HeaderClone(inv.CallID()))
		up.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo + 2, MethodName: sip.UPDATE})
		up.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		up.SetBody([]byte(strings.Replace(sdpOffer, "a=sendrecv", "a=sendonly", 1)))
		up.SetDestination(res.Source())
		updateRes, err = caller.cli.Do(ctx, up)
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	if updateRes == nil || updateRes.StatusCode != 200 || !strings.Contains(string(updateRes.Body()), "a=recvonly") {
		t.Fatalf("caller's early UPDATE answered %v", updateRes)
	}
	if err := ds.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal {
		t.Errorf("record reason %q", r.DisconnectReason)
	}
}

// TestReliable18xNeverPRACKed, against the real FreeRADIUS: a caller that
// requires 100rel and never PRACKs the switch's reliable 180: the switch
// retransmits it with one RSeq, then gives up at 64*T1 as RFC 3262 3 says
// — the caller gets 504, the gateway a CANCEL, and the call one record,
// reason "no prack", and one Stop per leg.
func TestReliable18xNeverPRACKed(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.silentRing(180)
	fr := startRadius(t, fmt.Sprintf(`"127.0.0.1"	Cleartext-Password := "cisco"
	Cisco-AVPair = "h323-ivr-in=Routing:%s"
`, gw.addr()))
	sw := startAAASwitch(t, radiusYAML(fr, "  auth: ip\n"))
	caller := newPeer(t, "caller")
	ctx := within(t, 64*sip.T1+30*time.Second)
	ds, err := caller.dcc.Invite(ctx, sw.uri("100"), []byte(sdpOffer),
		sip.NewHeader("Content-Type", "application/sdp"), sip.NewHeader("Require", "100rel"))
	if err != nil {
		t.Fatal(err)
	}
	var ringing []*sip.Response
	err = ds.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.StatusCode == 180 {
			ringing = append(ringing, res)
		}
		return nil
	}})
	var de *sipgo.ErrDialogResponse
	if !errors.As(err, &de) || de.Res.StatusCode != 504 {
		t.Fatalf("caller's INVITE ended with %v, want 504", err)
	}
	if len(ringing) < 2 || hdrValue(ringing[len(ringing)-1], "RSeq") != hdrValue(ringing[0], "RSeq") {
		t.Errorf("caller's 180s: %d, want retransmissions of one RSeq", len(ringing))
	}
	gw.waitCancelled(10 * time.Second)
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNoPRACK || r.SIPCode != 504 || r.ReleasedBy != cdr.ReleasedBySwitch {
		t.Errorf("record = %+v", r)
	}
	callID := ds.InviteRequest.CallID().Value()
	waitAcct(t, fr, callID, all(count("Stop", "answer", 1), count("Stop", "originate", 1)))
	sw.noRecord(t)
	testenv.Eventually(t, 5*time.Second, "no call left", func() bool { return sw.ActiveCalls() == 0 })
	if recs := ofCall(mustDetail(t, fr), callID); len(pick(recs, "Stop", "answer", "")) != 1 || len(pick(recs, "Stop", "originate", "")) != 1 {
		t.Errorf("Stops %+v, want one per leg", pick(recs, "Stop", "", ""))
	}
}
