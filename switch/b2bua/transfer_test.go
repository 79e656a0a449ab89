package b2bua

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// tagOf is a From or To header's tag.
func tagOf(h interface{ Value() string }) string {
	_, tag, _ := strings.Cut(h.Value(), "tag=")
	tag, _, _ = strings.Cut(tag, ";")
	return tag
}

// referReplaces is the Replaces embedded in a Refer-To value, unescaped.
func referReplaces(t *testing.T, referTo string) string {
	t.Helper()
	_, v, ok := strings.Cut(referTo, "?Replaces=")
	if !ok {
		t.Fatalf("Refer-To %q has no Replaces", referTo)
	}
	v, _, _ = strings.Cut(v, ">")
	out, err := url.QueryUnescape(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// gatewaySees is the Replaces naming a gateway's dialog as the gateway
// itself sees it (RFC 3891: to-tag is the recipient's own tag).
func gatewaySees(ds *sipgo.DialogServerSession) string {
	return ds.InviteRequest.CallID().Value() + ";to-tag=" + tagOf(ds.InviteResponse.To()) +
		";from-tag=" + tagOf(ds.InviteRequest.From())
}

// TestAttendedTransfer: the caller, with one call to 100 and one to 200
// through the switch, transfers the first to the second (RFC 5589 4.1
// attended transfer) with the Replaces of the second as it sees it. The
// gateway, transferee of the first, gets the REFER with Refer-To and
// Referred-By, and its INVITE with that Replaces reaches it again (as
// transfer target) naming its own dialog of the second call, whether the
// switch rewrote the Refer-To (fix_replaces_ref) or the INVITE
// (fix_replaces_inv); its NOTIFY reaches the caller, and its BYE of the
// replaced dialog ends the second call.
func TestAttendedTransfer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, yaml string }{
		{"fix_replaces_ref", ""},
		{"fix_replaces_inv", "profiles:\n  - name: p\n    fix_replaces_ref: false\nprofile_select:\n  selectors: [\"p\"]\n"},
		// A transparent header filter copies Replaces too: it must still
		// cross once, and rewritten.
		{"fix_replaces_inv transparent", "profiles:\n  - name: p\n    fix_replaces_ref: false\n    header_filter: transparent\nprofile_select:\n  selectors: [\"p\"]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			refers := make(chan *sip.Request, 1)
			var gw *peer
			gw = startPeer(t, "gw", func(req *sip.Request, tx sip.ServerTransaction) {
				if req.Method == sip.REFER {
					refers <- req
					tx.Respond(sip.NewResponseFromRequest(req, 202, "Accepted", nil))
					return
				}
				gw.inDialog(req, tx)
			})
			sessions := make(chan *sipgo.DialogServerSession, 3)
			replacing := make(chan *sip.Request, 1)
			gw.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
				if req.GetHeader("Replaces") != nil {
					replacing <- req
				}
				ds, err := gw.dsc.ReadInvite(req, tx)
				if err != nil {
					return
				}
				if ds.RespondSDP([]byte(sdpAnswer)) == nil {
					sessions <- ds
				}
			})
			sw := startSwitch(t, routeTo(gw)+tc.yaml)
			caller := newPeer(t, "caller")
			ctx := within(t, 20*time.Second)

			d1, err := caller.call(ctx, sw.uri("100"))
			if err != nil {
				t.Fatal(err)
			}
			b1 := <-sessions
			d2, err := caller.call(ctx, sw.uri("200"))
			if err != nil {
				t.Fatal(err)
			}
			b2 := <-sessions

			// The caller's view of its second call, as the transfer
			// target (the switch, to the caller) would match it.
			rep := d2.InviteRequest.CallID().Value() + ";to-tag=" + tagOf(d2.InviteResponse.To()) +
				";from-tag=" + tagOf(d2.InviteRequest.From())
			refer := sip.NewRequest(sip.REFER, d1.InviteResponse.Contact().Address)
			refer.AppendHeader(sip.NewHeader("Refer-To", "<sip:200@"+sw.addr()+"?Replaces="+url.QueryEscape(rep)+">"))
			refer.AppendHeader(sip.NewHeader("Referred-By", "<sip:caller@127.0.0.1>"))
			res, err := d1.Do(ctx, refer)
			if err != nil || res.StatusCode != 202 {
				t.Fatalf("REFER: %v %v", res, err)
			}
			got := <-refers
			if rb := got.GetHeader("Referred-By"); rb == nil || rb.Value() != "<sip:caller@127.0.0.1>" {
				t.Errorf("Referred-By = %v", rb)
			}
			referTo := got.GetHeader("Refer-To")
			if referTo == nil {
				t.Fatal("REFER relayed without Refer-To")
			}
			replacesHdr := referReplaces(t, referTo.Value())
			if tc.name == "fix_replaces_ref" && replacesHdr != gatewaySees(b2) {
				t.Errorf("Refer-To Replaces = %q, want the gateway's dialog %q", replacesHdr, gatewaySees(b2))
			}

			// The transferee follows the REFER through the switch.
			d3, err := gw.call(ctx, sw.uri("200"), sip.NewHeader("Replaces", replacesHdr))
			if err != nil {
				t.Fatal(err)
			}
			inv := <-replacing
			if r := inv.GetHeaders("Replaces"); len(r) != 1 || r[0].Value() != gatewaySees(b2) {
				t.Errorf("INVITE Replaces = %v, want once %q", r, gatewaySees(b2))
			}
			<-sessions

			notify := sip.NewRequest(sip.NOTIFY, b1.InviteRequest.Contact().Address)
			notify.AppendHeader(sip.NewHeader("Event", "refer"))
			notify.AppendHeader(sip.NewHeader("Subscription-State", "terminated;reason=noresource"))
			notify.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag"))
			notify.SetBody([]byte("SIP/2.0 200 OK\r\n"))
			if res, err := b1.Do(ctx, notify); err != nil || res.StatusCode != 200 {
				t.Fatalf("NOTIFY: %v %v", res, err)
			}
			n := caller.waitRequest(sip.NOTIFY, 5*time.Second)
			if string(n.Body()) != "SIP/2.0 200 OK\r\n" || n.GetHeader("Event").Value() != "refer" {
				t.Errorf("NOTIFY relayed as %q, Event %v", n.Body(), n.GetHeader("Event"))
			}

			// The target hangs up the dialog replaced: the second call ends.
			if err := b2.Bye(ctx); err != nil {
				t.Fatal(err)
			}
			caller.waitRequest(sip.BYE, 5*time.Second)
			if err := d1.Bye(ctx); err != nil {
				t.Fatal(err)
			}
			if err := d3.Bye(ctx); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				sw.record(t)
			}
		})
	}
}

// TestBlindTransfer: the gateway refers the caller to another number
// (RFC 5589 6.1); the caller gets the REFER with its Refer-To and
// Referred-By, its INVITE to the target carries its Referred-By there, and the NOTIFYs of the REFER's subscription reach the
// gateway with the subscription's id as the gateway knows it, while with allow_subless_notify: false a NOTIFY of an event
// nobody subscribed to is answered 481.
func TestBlindTransfer(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 2)
	gw.answer(0, sessions)
	sw := startSwitch(t, routeTo(gw)+"profiles:\n  - name: p\n    allow_subless_notify: false\nprofile_select:\n  selectors: [\"p\"]\n")
	refers := make(chan *sip.Request, 1)
	var caller *peer
	caller = startPeer(t, "caller", func(req *sip.Request, tx sip.ServerTransaction) {
		if req.Method == sip.REFER {
			refers <- req
			tx.Respond(sip.NewResponseFromRequest(req, 202, "Accepted", nil))
			return
		}
		caller.inDialog(req, tx)
	})
	ctx := within(t, 20*time.Second)
	d1, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	b1 := <-sessions

	refer := sip.NewRequest(sip.REFER, b1.InviteRequest.Contact().Address)
	refer.AppendHeader(sip.NewHeader("Refer-To", "<sip:300@"+sw.addr()+">"))
	refer.AppendHeader(sip.NewHeader("Referred-By", "<sip:gw@127.0.0.1>"))
	if res, err := b1.Do(ctx, refer); err != nil || res.StatusCode != 202 {
		t.Fatalf("REFER: %v %v", res, err)
	}
	got := <-refers
	if rt := got.GetHeader("Refer-To"); rt == nil || rt.Value() != "<sip:300@"+sw.addr()+">" {
		t.Errorf("Refer-To = %v", rt)
	}
	if rb := got.GetHeader("Referred-By"); rb == nil || rb.Value() != "<sip:gw@127.0.0.1>" {
		t.Errorf("Referred-By = %v", rb)
	}

	// The transferee calls the target, saying who referred it (RFC 3892),
	// and reports on the subscription.
	d2, err := caller.call(ctx, sw.uri("300"), sip.NewHeader("Referred-By", "<sip:gw@127.0.0.1>"))
	if err != nil {
		t.Fatal(err)
	}
	if rb := (<-sessions).InviteRequest.GetHeaders("Referred-By"); len(rb) != 1 || rb[0].Value() != "<sip:gw@127.0.0.1>" {
		t.Errorf("the transfer target got Referred-By %v, want once <sip:gw@127.0.0.1>", rb)
	}
	notify := func(event, state string) int {
		n := sip.NewRequest(sip.NOTIFY, d1.InviteResponse.Contact().Address)
		n.AppendHeader(sip.NewHeader("Event", event))
		n.AppendHeader(sip.NewHeader("Subscription-State", state))
		n.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag"))
		n.SetBody([]byte("SIP/2.0 200 OK\r\n"))
		res, err := d1.Do(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode
	}
	if code := notify("dialog", "active"); code != 481 {
		t.Errorf("NOTIFY without subscription answered %d, want 481", code)
	}
	// The caller names the subscription by the CSeq of the REFER it got,
	// the gateway by that of the REFER it sent (RFC 3515 2.4.6).
	if code := notify(fmt.Sprintf("refer;id=%d", got.CSeq().SeqNo), "terminated;reason=noresource"); code != 200 {
		t.Errorf("NOTIFY of the REFER answered %d", code)
	}
	n := gw.waitRequest(sip.NOTIFY, 5*time.Second)
	if string(n.Body()) != "SIP/2.0 200 OK\r\n" {
		t.Errorf("NOTIFY body %q", n.Body())
	}
	if ev, want := n.GetHeader("Event").Value(), fmt.Sprintf("refer;id=%d", refer.CSeq().SeqNo); ev != want {
		t.Errorf("NOTIFY reached the referrer with Event %q, want %q", ev, want)
	}
	// Terminated: the subscription is gone.
	if code := notify("refer", "active"); code != 481 {
		t.Errorf("NOTIFY after its subscription ended answered %d, want 481", code)
	}
	if err := d1.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d2.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	sw.record(t)
	sw.record(t)
}

// TestReferEventID: the id of a REFER's subscription is the CSeq of the
// REFER, which differs on the two legs; NOTIFYs from the notifier and
// SUBSCRIBEs from the referrer cross with the other leg's, an id the
// switch never relayed or an event of another package is left alone, and
// a NOTIFY ending the subscription forgets it.
func TestReferEventID(t *testing.T) {
	c := &Call{}
	// The caller's REFER with CSeq 23467 went to the gateway as CSeq 2.
	referA := sip.NewRequest(sip.REFER, sip.Uri{Host: "sw"})
	referA.AppendHeader(&sip.CSeqHeader{SeqNo: 23467, MethodName: sip.REFER})
	referB := sip.NewRequest(sip.REFER, sip.Uri{Host: "gw"})
	referB.AppendHeader(&sip.CSeqHeader{SeqNo: 2, MethodName: sip.REFER})
	// The notifier's NOTIFY may come before its 202 is relayed: the
	// subscription and its id are known from the moment the REFER leaves.
	pending := c.subscribing(referA, referB, false)
	early := sip.NewRequest(sip.NOTIFY, sip.Uri{Host: "sw"})
	early.AppendHeader(sip.NewHeader("Event", "refer;id=2"))
	early.AppendHeader(sip.NewHeader("Subscription-State", "active"))
	if got := c.referEvent(early, false); got != "refer;id=23467" {
		t.Errorf("NOTIFY before the 202: Event relayed as %q, want refer;id=23467", got)
	}
	c.subscribed(pending, referB, true)

	req := func(m sip.RequestMethod, event, state string) *sip.Request {
		r := sip.NewRequest(m, sip.Uri{Host: "sw"})
		r.AppendHeader(sip.NewHeader("Event", event))
		if state != "" {
			r.AppendHeader(sip.NewHeader("Subscription-State", state))
		}
		return r
	}
	for _, tc := range []struct {
		name  string
		req   *sip.Request
		fromA bool
		want  string
	}{
		{"NOTIFY from the notifier", req(sip.NOTIFY, "refer;id=2", "active"), false, "refer;id=23467"},
		{"NOTIFY with spaces", req(sip.NOTIFY, "Refer ; id = 2", "active"), false, "Refer ;id=23467"},
		{"NOTIFY without id", req(sip.NOTIFY, "refer", "active"), false, ""},
		{"NOTIFY of an id never relayed", req(sip.NOTIFY, "refer;id=3", "active"), false, ""},
		{"NOTIFY from the wrong leg", req(sip.NOTIFY, "refer;id=2", "active"), true, ""},
		{"NOTIFY of another package", req(sip.NOTIFY, "dialog;id=2", "active"), false, ""},
		{"SUBSCRIBE from the referrer", req(sip.SUBSCRIBE, "refer;id=23467", ""), true, "refer;id=2"},
		{"SUBSCRIBE from the notifier", req(sip.SUBSCRIBE, "refer;id=23467", ""), false, ""},
		{"NOTIFY ending it", req(sip.NOTIFY, "refer;id=2", "terminated;reason=noresource"), false, "refer;id=23467"},
		{"NOTIFY after its end", req(sip.NOTIFY, "refer;id=2", "active"), false, ""},
	} {
		if got := c.referEvent(tc.req, tc.fromA); got != tc.want {
			t.Errorf("%s: Event relayed as %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestReferRefused: a REFER refused leaves no subscription behind — its
// NOTIFYs are not translated, nor allowed when the profile refuses
// subscription-less ones — unless the leg had one of that package already.
func TestReferRefused(t *testing.T) {
	c := &Call{}
	refer := func(seq uint32) *sip.Request {
		r := sip.NewRequest(sip.REFER, sip.Uri{Host: "sw"})
		r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: sip.REFER})
		return r
	}
	notify := sip.NewRequest(sip.NOTIFY, sip.Uri{Host: "sw"})
	notify.AppendHeader(sip.NewHeader("Event", "refer;id=3"))
	c.subscribed(c.subscribing(refer(9), refer(3), false), refer(3), false)
	if c.subs.events[subKey{false, "refer"}] {
		t.Error("a refused REFER left its subscription")
	}
	if got := c.referEvent(notify, false); got != "" {
		t.Errorf("a refused REFER's id still translated: %q", got)
	}
	c.subscribed(c.subscribing(refer(10), refer(4), false), refer(4), true)
	c.subscribed(c.subscribing(refer(11), refer(5), false), refer(5), false)
	if !c.subs.events[subKey{false, "refer"}] {
		t.Error("a refused REFER ended the subscription an accepted one made")
	}
}
