package b2bua

import (
	"fmt"
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

func TestSessionTerms(t *testing.T) {
	t.Parallel()
	cfg := config.LegTimers{SessionTimer: true, SessionExpires: 1800 * time.Second, MinSE: 90 * time.Second, MaxSE: 3600 * time.Second}
	req := func(hdrs ...string) *sip.Request {
		r := sip.NewRequest(sip.INVITE, sip.Uri{Host: "x"})
		for _, h := range hdrs {
			name, v, _ := strings.Cut(h, ": ")
			r.AppendHeader(sip.NewHeader(name, v))
		}
		return r
	}
	for _, tc := range []struct {
		name     string
		cfg      config.LegTimers
		req      *sip.Request
		want     session
		tooSmall bool
	}{
		{"no timer, nothing asked", config.LegTimers{MinSE: 90 * time.Second}, req(), session{}, false},
		{"enforced, nothing asked: we refresh", cfg, req(), session{1800 * time.Second, refreshUs}, false},
		{"asked, refresher uac", cfg, req("Session-Expires: 600;refresher=uac"), session{600 * time.Second, refreshPeer}, false},
		{"asked, refresher uas", cfg, req("Session-Expires: 600;refresher=uas"), session{600 * time.Second, refreshUs}, false},
		{"asked, no refresher, supports timer", cfg, req("Session-Expires: 600", "Supported: 100rel, timer"), session{600 * time.Second, refreshPeer}, false},
		{"asked, no refresher, no timer support", cfg, req("x: 600"), session{600 * time.Second, refreshUs}, false},
		{"below the floor", cfg, req("Session-Expires: 60"), session{}, true},
		{"above the ceiling, lowered to it", cfg, req("Session-Expires: 7200;refresher=uac", "Min-SE: 90"), session{3600 * time.Second, refreshPeer}, false},
		{"above the ceiling, not below the peer's Min-SE", cfg, req("Session-Expires: 7200;refresher=uac", "Min-SE: 5000"), session{5000 * time.Second, refreshPeer}, false},
	} {
		lt := legTimers{cfg: &tc.cfg}
		got, tooSmall := lt.uasTerms(tc.req)
		if got != tc.want || tooSmall != tc.tooSmall {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.name, got, tooSmall, tc.want, tc.tooSmall)
		}
	}

	res := func(hdrs ...string) *sip.Response {
		r := sip.NewResponse(200, "OK")
		for _, h := range hdrs {
			name, v, _ := strings.Cut(h, ": ")
			r.AppendHeader(sip.NewHeader(name, v))
		}
		return r
	}
	asked := legTimers{cfg: &cfg, session: session{interval: 600 * time.Second}}
	for _, tc := range []struct {
		name string
		lt   legTimers
		res  *sip.Response
		want session
	}{
		{"peer without session timers: we refresh", asked, res(), session{600 * time.Second, refreshUs}},
		{"peer refreshes", asked, res("Session-Expires: 900;refresher=uas"), session{900 * time.Second, refreshPeer}},
		{"we refresh", asked, res("Session-Expires: 900;refresher=uac"), session{900 * time.Second, refreshUs}},
		{"not enforced, not asked", legTimers{cfg: &noLegTimers}, res(), session{}},
	} {
		if got := tc.lt.uacAnswered(tc.res); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// timersYAML is a dialog_timers section with short intervals, the floor
// lowered so that tests take seconds.
func timersYAML(opts string) string {
	return "dialog_timers: {minimum_timer: 1, " + opts + "}\n"
}

// connect places a call through sw to gw, which answers with its sessions
// channel, and consumes the gateway's INVITE and ACK.
func connect(t *testing.T, sw *testSwitch, gw, caller *peer, hdrs ...sip.Header) (*sipgo.DialogClientSession, *sipgo.DialogServerSession, time.Time) {
	t.Helper()
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answer(0, sessions)
	ds, err := caller.call(within(t, 20*time.Second), sw.uri("100"), hdrs...)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	gs := <-sessions
	gw.waitRequest(sip.INVITE, 5*time.Second)
	gw.waitRequest(sip.ACK, 5*time.Second)
	return ds, gs, at
}

// TestSessionRefreshedBySwitch: with session timers enforced on both legs
// and peers that ask for none, the switch is the refresher on each leg and
// refreshes both at half the interval, with an UPDATE or a re-INVITE
// offering the agreed media, again and again; the call goes on.
func TestSessionRefreshedBySwitch(t *testing.T) {
	t.Parallel()
	for _, method := range []sip.RequestMethod{sip.UPDATE, sip.INVITE} {
		t.Run(string(method), func(t *testing.T) {
			t.Parallel()
			gw, caller := newPeer(t, "gw"), newPeer(t, "caller")
			sw := startSwitch(t, routeTo(gw)+timersYAML(
				"enable_session_timer: true, enable_aleg_session_timer: true, session_expires: 2, session_refresh_method: "+string(method)))
			ds, _, _ := connect(t, sw, gw, caller)
			if got := hdrValue(ds.InviteResponse, "Session-Expires"); got != "2;refresher=uas" {
				t.Errorf("caller's 200 Session-Expires %q, want 2;refresher=uas", got)
			}
			for round := range 2 {
				for _, p := range []*peer{caller, gw} {
					r := p.waitRequest(method, 5*time.Second)
					if got := hdrValue(r, "Session-Expires"); got != "2;refresher=uac" {
						t.Errorf("round %d: %s's refresh Session-Expires %q", round, p.name, got)
					}
					if method == sip.INVITE && len(r.Body()) == 0 {
						t.Errorf("round %d: %s's re-INVITE offers no SDP", round, p.name)
					}
					if method == sip.UPDATE && len(r.Body()) != 0 {
						t.Errorf("round %d: %s's UPDATE carries a body", round, p.name)
					}
				}
			}
			if sw.ActiveCalls() != 1 {
				t.Fatal("the refreshed call ended")
			}
			waitSettled(t, sw)
			if err := ds.Bye(within(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal {
				t.Errorf("record reason %q", r.DisconnectReason)
			}
		})
	}
}

// TestSessionRefreshRelayed: the caller refreshes its leg and the gateway
// its own; each refresh crosses to the other leg with that leg's own
// Session-Expires, and each requester gets its session in the 2xx.
func TestSessionRefreshRelayed(t *testing.T) {
	t.Parallel()
	gw, caller := newPeer(t, "gw"), newPeer(t, "caller")
	sw := startSwitch(t, routeTo(gw)+timersYAML("enable_session_timer: true, session_expires: 3"))
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		ds, err := gw.dsc.ReadInvite(req, tx)
		if err != nil {
			return
		}
		se := hdrValue(req, "Session-Expires")
		if err := ds.Respond(200, "OK", []byte(sdpAnswer), sip.NewHeader("Content-Type", "application/sdp"),
			sip.NewHeader("Session-Expires", se+";refresher=uas"), sip.NewHeader("Require", "timer")); err == nil {
			sessions <- ds
		}
	})
	ctx := within(t, 20*time.Second)
	ds, err := caller.call(ctx, sw.uri("100"), sip.NewHeader("Session-Expires", "4;refresher=uac"), sip.NewHeader("Supported", "timer"))
	if err != nil {
		t.Fatal(err)
	}
	gs := <-sessions
	if got := hdrValue(ds.InviteResponse, "Session-Expires"); got != "4;refresher=uac" || hdrValue(ds.InviteResponse, "Require") != "timer" {
		t.Errorf("caller's 200: Session-Expires %q, Require %q", got, hdrValue(ds.InviteResponse, "Require"))
	}
	inv := gw.waitRequest(sip.INVITE, 5*time.Second)
	if got := hdrValue(inv, "Session-Expires"); got != "3" || hdrValue(inv, "Min-SE") != "1" {
		t.Errorf("gateway INVITE: Session-Expires %q, Min-SE %q", got, hdrValue(inv, "Min-SE"))
	}
	gw.waitRequest(sip.ACK, 5*time.Second)

	// The caller's UPDATE: the gateway is its leg's refresher.
	up := sip.NewRequest(sip.UPDATE, ds.InviteResponse.Contact().Address)
	up.AppendHeader(sip.NewHeader("Session-Expires", "4;refresher=uac"))
	up.AppendHeader(sip.NewHeader("Supported", "timer"))
	res, err := ds.Do(ctx, up)
	if err != nil || res.StatusCode != 200 || hdrValue(res, "Session-Expires") != "4;refresher=uac" {
		t.Fatalf("caller's UPDATE: %v %v", res, err)
	}
	if got := hdrValue(gw.waitRequest(sip.UPDATE, 5*time.Second), "Session-Expires"); got != "3;refresher=uas" {
		t.Errorf("gateway got the caller's refresh with Session-Expires %q, want 3;refresher=uas", got)
	}
	waitSettled(t, sw)

	// The gateway's UPDATE: the caller is its leg's refresher.
	up = sip.NewRequest(sip.UPDATE, gs.InviteRequest.Contact().Address)
	up.AppendHeader(sip.NewHeader("Session-Expires", "3;refresher=uas"))
	up.AppendHeader(sip.NewHeader("Supported", "timer"))
	res, err = gs.Do(ctx, up)
	if err != nil || res.StatusCode != 200 || hdrValue(res, "Session-Expires") != "3;refresher=uas" {
		t.Fatalf("gateway's UPDATE: %v %v", res, err)
	}
	if got := hdrValue(caller.waitRequest(sip.UPDATE, 5*time.Second), "Session-Expires"); got != "4;refresher=uas" {
		t.Errorf("caller got the gateway's refresh with Session-Expires %q, want 4;refresher=uas", got)
	}
	waitSettled(t, sw)
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal {
		t.Errorf("record reason %q", r.DisconnectReason)
	}
}

// TestSessionInterval422: a caller asking for less than the floor gets 422
// with our Min-SE and no gateway hears of it; a gateway's 422 is retried
// once with its Min-SE, and the call completes.
func TestSessionInterval422(t *testing.T) {
	t.Parallel()
	gw, caller := newPeer(t, "gw"), newPeer(t, "caller")
	sw := startSwitch(t, routeTo(gw)+timersYAML("enable_session_timer: true, session_expires: 2, aleg_minimum_timer: 3"))

	res := failedCall(t, caller, sw.uri("100"), sip.NewHeader("Session-Expires", "2"), sip.NewHeader("Supported", "timer"))
	if res.StatusCode != 422 || hdrValue(res, "Min-SE") != "3" {
		t.Errorf("caller below the floor: %d Min-SE %q", res.StatusCode, hdrValue(res, "Min-SE"))
	}
	if r := sw.record(t); r.SIPCode != 422 || r.DisconnectReason != cdr.ReasonRejected {
		t.Errorf("422 record: %d %q", r.SIPCode, r.DisconnectReason)
	}
	if n := len(gw.invites()); n != 0 {
		t.Errorf("the gateway got %d INVITEs for a refused call", n)
	}

	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		if se, _ := strconv.Atoi(hdrValue(req, "Session-Expires")); se < 5 {
			res := sip.NewResponseFromRequest(req, 422, "Session Interval Too Small", nil)
			res.AppendHeader(sip.NewHeader("Min-SE", "5"))
			tx.Respond(res)
			return
		}
		ds, err := gw.dsc.ReadInvite(req, tx)
		if err == nil && ds.RespondSDP([]byte(sdpAnswer)) == nil {
			sessions <- ds
		}
	})
	ctx := within(t, 20*time.Second)
	ds, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	<-sessions
	invs := gw.invites()
	if len(invs) != 2 {
		t.Fatalf("gateway got %d INVITEs, want 2", len(invs))
	}
	first, retry := invs[0], invs[1]
	if hdrValue(retry, "Session-Expires") != "5" || hdrValue(retry, "Min-SE") != "5" ||
		retry.CallID().Value() != first.CallID().Value() || retry.CSeq().SeqNo <= first.CSeq().SeqNo {
		t.Errorf("retry after 422: Session-Expires %q, Min-SE %q, CSeq %d after %d", hdrValue(retry, "Session-Expires"),
			hdrValue(retry, "Min-SE"), retry.CSeq().SeqNo, first.CSeq().SeqNo)
	}
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal {
		t.Errorf("record reason %q", r.DisconnectReason)
	}
}

// TestSessionExpiredAndKeepaliveFailed, against the real FreeRADIUS: a
// caller that asked to refresh and never does has the call ended within
// Session-Expires/2…Session-Expires, both legs BYEd; a gateway answering
// a keepalive 481 has the call ended too, the caller BYEd. Each gives
// exactly one record with its reason and one Stop per leg.
func TestSessionExpiredAndKeepaliveFailed(t *testing.T) {
	t.Parallel()
	lost := func(req *sip.Request, tx sip.ServerTransaction) {
		if req.Method == sip.OPTIONS {
			tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			return
		}
		tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	}
	gw := startPeer(t, "gw", lost)
	fr := startRadius(t, fmt.Sprintf(`"127.0.0.1"	Cleartext-Password := "cisco"
	h323-credit-time = "h323-credit-time=600",
	Cisco-AVPair = "h323-ivr-in=Routing:%s"
`, gw.addr()))
	sw := startAAASwitch(t, radiusYAML(fr, "  auth: ip\n")+timersYAML("")+`
profile_select:
  selectors: ["$H(P-Profile)"]
profiles:
  - {name: keepalive, keepalive_orig: 1}
`)
	caller := newPeer(t, "caller")

	for _, tc := range []struct {
		name    string
		hdrs    []sip.Header
		reason  string
		gwBye   bool
		earlier time.Duration
		later   time.Duration
	}{
		{"session timer", []sip.Header{sip.NewHeader("Session-Expires", "3;refresher=uac"), sip.NewHeader("Supported", "timer")},
			cdr.ReasonSessionTimer, true, 1500 * time.Millisecond, 3 * time.Second},
		{"keepalive", []sip.Header{sip.NewHeader("P-Profile", "keepalive")}, cdr.ReasonKeepalive, false, 900 * time.Millisecond, 3 * time.Second},
	} {
		ds, gs, at := connect(t, sw, gw, caller, tc.hdrs...)
		caller.waitRequest(sip.BYE, 10*time.Second)
		if cut := time.Since(at); cut < tc.earlier || cut > tc.later {
			t.Errorf("%s: call cut after %v, want %v…%v", tc.name, cut, tc.earlier, tc.later)
		}
		if tc.gwBye {
			<-gs.Context().Done()
		} else {
			gw.waitRequest(sip.OPTIONS, time.Second)
		}
		rec := sw.record(t)
		if rec.DisconnectReason != tc.reason || rec.ReleasedBy != cdr.ReleasedBySwitch {
			t.Errorf("%s: record reason %q released by %q", tc.name, rec.DisconnectReason, rec.ReleasedBy)
		}
		callID := ds.InviteRequest.CallID().Value()
		waitAcct(t, fr, callID, all(count("Stop", "answer", 1), count("Stop", "originate", 1)))
		sw.noRecord(t)
		testenv.Eventually(t, 5*time.Second, "no call left", func() bool { return sw.ActiveCalls() == 0 })
		if recs := ofCall(mustDetail(t, fr), callID); len(pick(recs, "Stop", "answer", "")) != 1 || len(pick(recs, "Stop", "originate", "")) != 1 {
			t.Errorf("%s: Stops %+v, want one per leg", tc.name, pick(recs, "Stop", "", ""))
		}
	}
}
