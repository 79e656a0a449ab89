package b2bua

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
)

// waitAcct polls the detail file until ok accepts the records of one call.
func waitAcct(t *testing.T, fr *testenv.FreeRADIUS, callID string, ok func([]testenv.DetailRecord) bool) []testenv.DetailRecord {
	t.Helper()
	var recs []testenv.DetailRecord
	testenv.Eventually(t, 30*time.Second, "the accounting of "+callID, func() bool {
		all, err := fr.Detail()
		if err != nil {
			t.Fatal(err)
		}
		recs = ofCall(all, callID)
		return ok(recs)
	})
	return recs
}

// count is a waitAcct condition: n records with status and origin.
func count(status, origin string, n int) func([]testenv.DetailRecord) bool {
	return func(r []testenv.DetailRecord) bool { return len(pick(r, status, origin, "")) >= n }
}

func all(conds ...func([]testenv.DetailRecord) bool) func([]testenv.DetailRecord) bool {
	return func(r []testenv.DetailRecord) bool {
		for _, c := range conds {
			if !c(r) {
				return false
			}
		}
		return true
	}
}

// TestRadiusRoutesAndAccounting: an IP-authorised trunk whose Access-Accept
// gives two routes; the first fails and the second answers (with the
// route's called number, CLI and bill-to). Four calls: answered and hung up
// by the caller, busy, cancelled, and cut by credit expiry; every
// accounting record is checked attribute by attribute.
func TestRadiusRoutesAndAccounting(t *testing.T) {
	t.Parallel()
	gw1, gw2 := newPeer(t, "gw1"), newPeer(t, "gw2")
	gw1.reject(503, "Service Unavailable")
	fr := startRadius(t, fmt.Sprintf(`"127.0.0.1"	Cleartext-Password := "cisco"
	h323-credit-time = "h323-credit-time=60",
	h323-return-code = "h323-return-code=0",
	Cisco-AVPair = "h323-ivr-in=Routing:%s;np_expires=3",
	Cisco-AVPair += "h323-ivr-in=Routing:5550002@%s;credit-time=4;bill-to=acme;hs_scodes=486;ash=X-Account%%3A%%20acme",
	Cisco-AVPair += "h323-ivr-in=CLI:15559998888"
`, gw1.addr(), gw2.addr()))
	sw := startAAASwitch(t, radiusYAML(fr, "  auth: ip\n  accounting: {interim: 1s}\n"))
	caller := newPeer(t, "caller")
	ctx := within(t, 90*time.Second)
	cisco := aaa.FormatTime

	// common are the attributes of every record of a call's leg.
	common := func(rec cdr.Record, origin, user, calling, called, remote string, setup time.Time) map[string]string {
		return map[string]string{
			"User-Name": user, "Calling-Station-Id": calling, "Called-Station-Id": called,
			"Acct-Session-Id": rec.CallIDA, "h323-conf-id": "h323-conf-id=" + rec.ConfID,
			"h323-remote-address": "h323-remote-address=" + remote, "h323-call-origin": "h323-call-origin=" + origin,
			"h323-call-type": "h323-call-type=VoIP", "h323-setup-time": "h323-setup-time=" + cisco(setup),
		}
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	answerLeg := func(rec cdr.Record) map[string]string {
		return common(rec, "answer", "127.0.0.1", "caller", "15551230002", "127.0.0.1", rec.SetupTime)
	}
	gw2Leg := func(rec cdr.Record) map[string]string {
		return common(rec, "originate", "acme", "15559998888", "5550002", gw2.addr(), rec.Attempts[1].Start)
	}
	// checkFailedGW1 checks the Stop of the failed first attempt.
	checkFailedGW1 := func(rec cdr.Record, recs []testenv.DetailRecord) {
		t.Helper()
		stops := pick(recs, "Stop", "originate", gw1.addr())
		if len(stops) != 1 {
			t.Fatalf("gw1 Stops: %+v", stops)
		}
		at := rec.Attempts[0]
		wantAttrs(t, "gw1 Stop", stops[0], with(
			common(rec, "originate", "127.0.0.1", "15559998888", "15551230002", gw1.addr(), at.Start),
			"h323-connect-time", "h323-connect-time="+cisco(at.End), "h323-disconnect-time", "h323-disconnect-time="+cisco(at.End),
			"Acct-Session-Time", "0", "h323-disconnect-cause", "h323-disconnect-cause=3F", "h323-voice-quality", "h323-voice-quality=0",
			"Acct-Terminate-Cause", "User-Request"), "release-source=4", "call-id="+rec.CallIDA)
	}

	// 1. Answered; the caller hangs up after the first Interim-Update.
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw2.answer(0, sessions)
	ds, err := caller.call(ctx, sw.uri("15551230002"))
	if err != nil {
		t.Fatal(err)
	}
	<-sessions
	if inv := gw2.invites(); len(inv) != 1 || inv[0].Recipient.User != "5550002" || inv[0].From().Address.User != "15559998888" ||
		inv[0].GetHeader("X-Account") == nil || inv[0].GetHeader("X-Account").Value() != "acme" {
		t.Fatalf("gw2 INVITE: %v", inv)
	}
	if len(gw1.invites()) != 1 {
		t.Fatalf("gw1 saw %d INVITEs", len(gw1.invites()))
	}
	callID := ds.InviteRequest.CallID().Value()
	waitAcct(t, fr, callID, all(count("Interim-Update", "answer", 1), count("Interim-Update", "originate", 1)))
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	rec := sw.record(t)
	if rec.Account != "127.0.0.1" || rec.CreditGranted != 4*time.Second || rec.Route != "radius" ||
		rec.Gateway != gw2.addr() || rec.CalledSent != "5550002" || len(rec.Attempts) != 2 {
		t.Errorf("record = %+v", rec)
	}
	recs := waitAcct(t, fr, callID, all(count("Stop", "answer", 1), count("Stop", "originate", 2)))
	checkFailedGW1(rec, recs)
	session := strconv.Itoa(int(rec.Duration / time.Second))
	for _, leg := range []struct {
		name, origin string
		attrs        map[string]string
	}{{"answer", "answer", answerLeg(rec)}, {"gw2", "originate", gw2Leg(rec)}} {
		remote := strings.TrimPrefix(leg.attrs["h323-remote-address"], "h323-remote-address=")
		starts := pick(recs, "Start", leg.origin, remote)
		interims := pick(recs, "Interim-Update", leg.origin, remote)
		stops := pick(recs, "Stop", leg.origin, remote)
		if len(starts) != 1 || len(interims) < 1 || len(stops) != 1 {
			t.Fatalf("%s: %d Start, %d Interim, %d Stop", leg.name, len(starts), len(interims), len(stops))
		}
		wantAttrs(t, leg.name+" Start", starts[0], with(maps(leg.attrs), "Acct-Status-Type", "Start",
			"h323-connect-time", "h323-connect-time="+cisco(rec.ConnectTime), "Acct-Session-Time", "-",
			"h323-disconnect-time", "-", "h323-disconnect-cause", "-"), "call-id="+callID)
		wantAttrs(t, leg.name+" Interim", interims[0], with(maps(leg.attrs),
			"h323-connect-time", "h323-connect-time="+cisco(rec.ConnectTime), "h323-disconnect-time", "-"), "call-id="+callID)
		if n, err := strconv.Atoi(interims[0].Get("Acct-Session-Time")); err != nil || n < 1 {
			t.Errorf("%s Interim Acct-Session-Time = %q", leg.name, interims[0].Get("Acct-Session-Time"))
		}
		wantAttrs(t, leg.name+" Stop", stops[0], with(maps(leg.attrs),
			"h323-connect-time", "h323-connect-time="+cisco(rec.ConnectTime),
			"h323-disconnect-time", "h323-disconnect-time="+cisco(rec.DisconnectTime),
			"Acct-Session-Time", session, "h323-disconnect-cause", "h323-disconnect-cause=10",
			"h323-voice-quality", "h323-voice-quality=0", "Acct-Terminate-Cause", "User-Request"),
			"release-source=2", "call-id="+callID)
	}

	// 2. Busy: 486 is the second route's hunt-stop code.
	gw2.reject(486, "Busy Here")
	_, err = caller.call(ctx, sw.uri("15551230002"))
	if code, _ := finalCode(err); code != 486 {
		t.Fatalf("busy call: %v", err)
	}
	rec = sw.record(t)
	recs = waitAcct(t, fr, rec.CallIDA, all(count("Stop", "answer", 1), count("Stop", "originate", 2)))
	checkFailedGW1(rec, recs)
	if n := len(pick(recs, "Start", "answer", "")) + len(pick(recs, "Start", "originate", "")); n != 0 {
		t.Errorf("busy call has %d Start records", n)
	}
	never := func(m map[string]string, end time.Time) map[string]string {
		return with(m, "h323-connect-time", "h323-connect-time="+cisco(end),
			"h323-disconnect-time", "h323-disconnect-time="+cisco(end), "Acct-Session-Time", "0")
	}
	wantAttrs(t, "busy answer Stop", pick(recs, "Stop", "answer", "")[0], with(never(answerLeg(rec), rec.DisconnectTime),
		"h323-disconnect-cause", "h323-disconnect-cause=11", "Acct-Terminate-Cause", "User-Request"), "release-source=4")
	wantAttrs(t, "busy gw2 Stop", pick(recs, "Stop", "originate", gw2.addr())[0], with(never(gw2Leg(rec), rec.Attempts[1].End),
		"h323-disconnect-cause", "h323-disconnect-cause=11"), "release-source=4")

	// 3. Cancelled by the caller while the second gateway rings.
	gw2.silentRing(180)
	cctx, cancel := contextWithCancel(ctx)
	errc := make(chan error, 1)
	ringing := make(chan struct{}, 1)
	go func() {
		ds, err := caller.dcc.Invite(cctx, sw.uri("15551230002"), []byte(sdpOffer), sip.NewHeader("Content-Type", "application/sdp"))
		if err == nil {
			// CANCEL is allowed once the caller has a provisional (RFC 3261 9.1).
			err = ds.WaitAnswer(cctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
				if res.StatusCode == 180 {
					ringing <- struct{}{}
				}
				return nil
			}})
		}
		errc <- err
	}()
	select {
	case <-ringing:
	case <-time.After(10 * time.Second):
		t.Fatal("the caller never heard the second gateway ring")
	}
	cancel()
	gw2.waitCancelled(10 * time.Second)
	<-errc
	rec = sw.record(t)
	if rec.DisconnectReason != cdr.ReasonCancelled {
		t.Fatalf("cancelled call record: %+v", rec)
	}
	recs = waitAcct(t, fr, rec.CallIDA, all(count("Stop", "answer", 1), count("Stop", "originate", 2)))
	checkFailedGW1(rec, recs)
	wantAttrs(t, "cancelled answer Stop", pick(recs, "Stop", "answer", "")[0], with(never(answerLeg(rec), rec.DisconnectTime),
		"h323-disconnect-cause", "h323-disconnect-cause=10", "Acct-Terminate-Cause", "User-Request"), "release-source=2")
	wantAttrs(t, "cancelled gw2 Stop", pick(recs, "Stop", "originate", gw2.addr())[0], with(never(gw2Leg(rec), rec.DisconnectTime),
		"h323-disconnect-cause", "h323-disconnect-cause=10"), "release-source=2")

	// 4. Cut when the route's 4 s of credit run out: BYE both legs.
	gw2.answer(0, sessions)
	_, err = caller.call(ctx, sw.uri("15551230002"))
	if err != nil {
		t.Fatal(err)
	}
	connected := time.Now()
	gwSession := <-sessions
	caller.waitRequest(sip.BYE, 10*time.Second)
	if cut := time.Since(connected); cut < 3*time.Second || cut > 5*time.Second {
		t.Errorf("credit of 4s cut the call after %v", cut)
	}
	<-gwSession.Context().Done()
	rec = sw.record(t)
	if rec.DisconnectReason != cdr.ReasonCreditExpired || rec.ReleasedBy != cdr.ReleasedBySwitch ||
		rec.CreditGranted != 4*time.Second || rec.Duration < 4*time.Second || rec.Duration > 5*time.Second {
		t.Errorf("credit-expired record: %+v", rec)
	}
	recs = waitAcct(t, fr, rec.CallIDA, all(count("Stop", "answer", 1), count("Stop", "originate", 2)))
	checkFailedGW1(rec, recs)
	if len(pick(recs, "Start", "answer", "")) != 1 || len(pick(recs, "Start", "originate", gw2.addr())) != 1 {
		t.Errorf("credit-expired call Starts: %+v", recs)
	}
	for _, leg := range []struct {
		name   string
		stop   testenv.DetailRecord
		common map[string]string
	}{{"answer", pick(recs, "Stop", "answer", "")[0], answerLeg(rec)}, {"gw2", pick(recs, "Stop", "originate", gw2.addr())[0], gw2Leg(rec)}} {
		wantAttrs(t, "credit-expired "+leg.name+" Stop", leg.stop, with(leg.common,
			"h323-connect-time", "h323-connect-time="+cisco(rec.ConnectTime),
			"h323-disconnect-time", "h323-disconnect-time="+cisco(rec.DisconnectTime),
			"Acct-Session-Time", strconv.Itoa(int(rec.Duration/time.Second)),
			"h323-disconnect-cause", "h323-disconnect-cause=10", "Acct-Terminate-Cause", "NAS-Request"), "release-source=8")
	}
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestRadiusRefusals: IP authorisation rejected with a mapped return code;
// digest challenged, accepted with the right password (routed by the
// static table, the Access-Accept having no route), refused with a wrong
// one; zero credit refused. Refused calls send no accounting.
func TestRadiusRefusals(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answer(0, sessions)
	fr := startRadius(t, `"127.0.0.1"	Auth-Type := Reject
	h323-return-code = "h323-return-code=4"

"alice"	Cleartext-Password := "alice-secret"
	h323-credit-time = "3600",
	h323-return-code = "h323-return-code=0"

"zed"	Cleartext-Password := "zed-secret"
	h323-credit-time = "0",
	h323-return-code = "0"

DEFAULT	Auth-Type := Reject
	h323-return-code = "h323-return-code=1"
`)
	sw := startAAASwitch(t, radiusYAML(fr, "  realm: tollgate.test\n")+fmt.Sprintf(`routes:
  - {prefix: "", auth: ip, gateways: [{address: %q}]}
  - {prefix: "9", auth: digest, gateways: [{address: %q}]}
`, gw.addr(), gw.addr()))
	caller := newPeer(t, "caller")
	ctx := within(t, 60*time.Second)

	_, err := caller.call(ctx, sw.uri("15551230002"))
	if code, res := finalCode(err); code != 402 || res.Reason != "Zero Balance" {
		t.Errorf("rejected trunk: %v", err)
	}
	_, err = caller.call(ctx, sw.uri("9123"))
	code, res := finalCode(err)
	if code != 407 {
		t.Fatalf("digest route without credentials: %v", err)
	}
	if h := res.GetHeader("Proxy-Authenticate"); h == nil || !strings.Contains(h.Value(), `realm="tollgate.test"`) ||
		!strings.Contains(h.Value(), "nonce=") {
		t.Errorf("challenge: %v", h)
	}
	_, err = caller.callWith(ctx, sw.uri("9123"), "alice", "wrong")
	if code, res := finalCode(err); code != 403 || res.Reason != "Invalid Password" {
		t.Errorf("wrong password: %v", err)
	}
	_, err = caller.callWith(ctx, sw.uri("9123"), "zed", "zed-secret")
	if code, res := finalCode(err); code != 402 || res.Reason != "No Credit" {
		t.Errorf("zero credit: %v", err)
	}
	ds, err := caller.callWith(ctx, sw.uri("9123"), "alice", "alice-secret")
	if err != nil {
		t.Fatalf("right password: %v\n%s", err, fr.Log())
	}
	<-sessions
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	var accepted cdr.Record
	var refused []cdr.Record
	for accepted.ID == "" {
		r := sw.record(t)
		if r.SIPCode == 200 {
			accepted = r
		} else {
			refused = append(refused, r)
		}
	}
	if accepted.Account != "alice" || accepted.CreditGranted != time.Hour || accepted.Gateway != gw.addr() {
		t.Errorf("accepted record: %+v", accepted)
	}
	// 402, 407, then 407 and 403 (wrong), 407 and 402 (zed), 407 (alice).
	if len(refused) != 7 {
		t.Errorf("%d refused records, want 7", len(refused))
	}
	recs := waitAcct(t, fr, ds.InviteRequest.CallID().Value(), all(count("Stop", "answer", 1), count("Stop", "originate", 1)))
	if len(recs) != 4 || recs[0].Get("User-Name") != "alice" {
		t.Errorf("accepted call's accounting: %+v", recs)
	}
	// Every refused call gets its answer leg's Stop (DESIGN.md: a Stop for
	// every call that reached the switch), never answered; a digest
	// challenge is no call and gets none.
	want := map[string]string{"402": "15", "403": "39"}
	stops := 0
	// A digest caller retries on the challenged INVITE's Call-ID: tell the
	// calls apart by their conf-id.
	ofConf := func(recs []testenv.DetailRecord, conf string) []testenv.DetailRecord {
		var out []testenv.DetailRecord
		for _, r := range recs {
			if r.Get("h323-conf-id") == "h323-conf-id="+conf {
				out = append(out, r)
			}
		}
		return out
	}
	for _, r := range refused {
		if r.SIPCode == 407 {
			continue
		}
		waitAcct(t, fr, r.CallIDA, func(recs []testenv.DetailRecord) bool { return len(ofConf(recs, r.ConfID)) > 0 })
		stops++
	}
	every := mustDetail(t, fr)
	for _, r := range refused {
		recs := ofConf(every, r.ConfID)
		if r.SIPCode == 407 {
			if len(recs) != 0 {
				t.Errorf("a challenge was accounted: %+v", recs)
			}
			continue
		}
		if len(recs) != 1 {
			t.Errorf("refused %d: %d records, want its Stop only", r.SIPCode, len(recs))
			continue
		}
		user := "127.0.0.1"
		if r.SIPCode == 403 {
			user = "alice" // the identity the caller claimed
		} else if r.CalledReceived == "9123" {
			user = "zed"
		}
		wantAttrs(t, fmt.Sprintf("refused %d Stop", r.SIPCode), recs[0], map[string]string{
			"User-Name": user, "Acct-Session-Time": "0", "h323-call-origin": "h323-call-origin=answer",
			"h323-disconnect-cause": "h323-disconnect-cause=" + want[itoa(r.SIPCode)], "h323-conf-id": "h323-conf-id=" + r.ConfID,
		}, "call-id="+r.CallIDA)
	}
	if stops != 3 {
		t.Errorf("%d refused calls accounted, want 3", stops)
	}
}

func mustDetail(t *testing.T, fr *testenv.FreeRADIUS) []testenv.DetailRecord {
	t.Helper()
	recs, err := fr.Detail()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestRadiusServerFailoverAndAccountLimit: the first auth and accounting
// servers never answer, so the second ones serve; an account with a
// limit of one call is refused a second call while the first is up. The
// last call is killed by the administrator: the switch releases it.
func TestRadiusServerFailoverAndAccountLimit(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 2)
	gw.answer(0, sessions)
	fr := startRadius(t, fmt.Sprintf(`"127.0.0.1"	Cleartext-Password := "cisco"
	Cisco-AVPair = "h323-ivr-in=Routing:%s"
`, gw.addr()))
	dead := fmt.Sprintf("127.0.0.1:%d", testenv.FreeUDPPort(t))
	sw := startAAASwitch(t, fmt.Sprintf(`radius:
  auth: ip
  auth_servers:
    - {address: %q, secret: x, timeout: 300ms, retries: -1}
    - {address: %q, secret: %q, timeout: 3s}
  acct_servers:
    - {address: %q, secret: x, timeout: 300ms, retries: -1}
    - {address: %q, secret: %q, timeout: 3s}
limits: {account_calls: 1}
`, dead, fr.AuthAddr, fr.Secret, dead, fr.AcctAddr, fr.Secret))
	caller := newPeer(t, "caller")
	ctx := within(t, 60*time.Second)

	first, err := caller.call(ctx, sw.uri("15551230002"))
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	<-sessions
	_, err = caller.call(ctx, sw.uri("15551230002"))
	if code, res := finalCode(err); code != 403 || res.Reason != "Too Many Parallel Calls" {
		t.Errorf("second parallel call: %v", err)
	}
	if r := sw.record(t); r.SIPCode != 403 || r.DisconnectReason != cdr.ReasonRejected {
		t.Errorf("refused record: %+v", r)
	}
	if err := first.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	sw.record(t)
	third, err := caller.call(ctx, sw.uri("15551230002"))
	if err != nil {
		t.Fatalf("call after the first ended: %v", err)
	}
	<-sessions
	if err := sw.Hangup(sw.Snapshot()[0].ID); err != nil {
		t.Fatal(err)
	}
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonAdminKill {
		t.Errorf("killed call's record: %+v", r)
	}
	for _, ds := range []*sipgo.DialogClientSession{first, third} {
		recs := waitAcct(t, fr, ds.InviteRequest.CallID().Value(), all(count("Start", "answer", 1), count("Stop", "answer", 1),
			count("Start", "originate", 1), count("Stop", "originate", 1)))
		release, cause := "release-source=2", "User-Request"
		if ds == third {
			release, cause = "release-source=8", "NAS-Request"
		}
		stops := pick(recs, "Stop", "", "")
		if len(stops) != 2 {
			t.Errorf("%d Stop records, want 2", len(stops))
		}
		for _, stop := range stops {
			wantAttrs(t, "Stop", stop, map[string]string{"Acct-Terminate-Cause": cause}, release)
		}
	}
}

// TestRadiusAccountingOutage: every accounting server is down while calls
// are made; their records are queued and delivered once it is back, none
// lost and none twice.
func TestRadiusAccountingOutage(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 3)
	gw.answer(0, sessions)
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	sw := startAAASwitch(t, fmt.Sprintf(`radius:
  acct_servers: [{address: %q, secret: %q, timeout: 300ms, retries: -1}]
  probe_interval: 200ms
`, fr.AcctAddr, fr.Secret)+routeTo(gw))
	caller := newPeer(t, "caller")
	ctx := within(t, 90*time.Second)

	fr.Stop()
	const calls = 3
	for range calls {
		ds, err := caller.call(ctx, sw.uri("15551230002"))
		if err != nil {
			t.Fatal(err)
		}
		<-sessions
		if err := ds.Bye(ctx); err != nil {
			t.Fatal(err)
		}
		if r := sw.record(t); r.Account != "" {
			t.Errorf("a call without authorisation has account %q", r.Account)
		}
	}
	testenv.Eventually(t, 30*time.Second, fmt.Sprintf("%d records queued", 4*calls), func() bool {
		return sw.aaa.QueuedAccounting() >= 4*calls
	})
	fr.Start()
	end, _ := ctx.Deadline()
	testenv.Eventually(t, time.Until(end), "the accounting queue to drain", func() bool { return sw.aaa.QueuedAccounting() == 0 })
	recs, err := fr.WaitDetail(ctx, 4*calls)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		key := r.Get("Acct-Session-Id") + "/" + r.Get("h323-call-origin") + "/" + r.Get("Acct-Status-Type")
		if seen[key] {
			t.Errorf("record delivered twice: %s", key)
		}
		seen[key] = true
		if r.Get("User-Name") != "127.0.0.1" {
			t.Errorf("User-Name %q, want the source IP", r.Get("User-Name"))
		}
	}
	if len(recs) != 4*calls {
		t.Errorf("%d records delivered, want %d", len(recs), 4*calls)
	}
}

// TestLimitsWithoutRadius: calls per second per source and parallel calls
// per gateway hold without any RADIUS server.
func TestLimitsWithoutRadius(t *testing.T) {
	t.Parallel()
	gw1, gw2 := newPeer(t, "gw1"), newPeer(t, "gw2")
	sessions := make(chan *sipgo.DialogServerSession, 2)
	gw1.answer(0, sessions)
	gw2.answer(0, sessions)
	sw := startSwitch(t, "limits: {gateway_calls: 1, calls_per_second: 0.5, burst: 2}\n"+routeTo(gw1, gw2))
	caller := newPeer(t, "caller")
	ctx := within(t, 30*time.Second)

	first, err := caller.call(ctx, sw.uri("1"))
	if err != nil {
		t.Fatal(err)
	}
	<-sessions
	second, err := caller.call(ctx, sw.uri("1"))
	if err != nil {
		t.Fatal(err)
	}
	<-sessions
	if len(gw1.invites()) != 1 || len(gw2.invites()) != 1 {
		t.Errorf("gateway limit: gw1 %d INVITEs, gw2 %d", len(gw1.invites()), len(gw2.invites()))
	}
	_, err = caller.call(ctx, sw.uri("1"))
	if code, res := finalCode(err); code != 503 || res.Reason != "Call Rate Limit Exceeded" || res.GetHeader("Retry-After") == nil {
		t.Errorf("third call within the burst: %v", err)
	}
	for _, ds := range []*sipgo.DialogClientSession{first, second} {
		if err := ds.Bye(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitCalls(t, sw, 0)
}

// TestRadiusStopForOverloadRefusal: a call refused 503 over the call limit,
// before it is even a call, still gets its answer leg's Stop.
func TestRadiusStopForOverloadRefusal(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answer(0, sessions)
	fr := startRadius(t, "")
	sw := startAAASwitch(t, routeTo(gw)+radiusYAML(fr, "")+"limits: {max_calls: 1}\n")
	caller := newPeer(t, "caller")
	ctx := within(t, 30*time.Second)
	ds, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	<-sessions
	_, err = caller.call(ctx, sw.uri("200"))
	if code, _ := finalCode(err); code != 503 {
		t.Fatalf("second call: %v, want 503", err)
	}
	refused := sw.record(t)
	recs := waitAcct(t, fr, refused.CallIDA, count("Stop", "answer", 1))
	wantAttrs(t, "overload Stop", recs[0], map[string]string{
		"User-Name": "127.0.0.1", "Called-Station-Id": "200", "Acct-Session-Time": "0",
		"h323-disconnect-cause": "h323-disconnect-cause=3F", "h323-conf-id": "h323-conf-id=" + refused.ConfID,
	}, "call-id="+refused.CallIDA, "release-source=8")
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	sw.record(t)
}

// TestRadiusStopsWhenTheGatewayHangsUpBeforeTheCallersAck: the gateway
// hangs up as soon as it has our ACK, while the caller's ACK is still
// awaited, so the caller's BYE waits for that ACK after the call has
// ended (RFC 3261 15). The billing server still gets one Start and one
// Stop per leg, the Stops saying the callee released the call, and the
// caller's late ACK brings it its BYE and no second Stop.
func TestRadiusStopsWhenTheGatewayHangsUpBeforeTheCallersAck(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	hungUp := gw.answerAndHangUp()
	fr := startRadius(t, "")
	sw := startAAASwitch(t, routeTo(gw)+radiusYAML(fr, "")+"timers:\n  ack_timeout: 5s\n")
	rc := newRawCaller(t, sw)
	const callID = "radius-bye-before-ack"
	rc.send(t, []byte(benchInvite(sw.addr(), rc.local, callID)))
	toHdr := header(rc.awaitPrefix(t, "SIP/2.0 200 "), "To")
	hungUp(t)
	rec := sw.record(t)
	if rec.ReleasedBy != cdr.ReleasedByCallee {
		t.Errorf("record = %+v", rec)
	}
	// The Stops do not wait for the caller's ACK.
	waitAcct(t, fr, callID, all(count("Start", "answer", 1), count("Start", "originate", 1),
		count("Stop", "answer", 1), count("Stop", "originate", 1)))

	rc.send(t, []byte(benchInDialog("ACK", sw.addr(), rc.local, callID, toHdr, 1)))
	rc.send(t, okTo(rc.awaitPrefix(t, "BYE ")))
	sw.waitTableEmpty(t)
	time.Sleep(time.Second) // room for a second Stop, which must not come
	recs, err := fr.Detail()
	if err != nil {
		t.Fatal(err)
	}
	recs = ofCall(recs, callID)
	for _, origin := range []string{"answer", "originate"} {
		starts, stops := pick(recs, "Start", origin, ""), pick(recs, "Stop", origin, "")
		if len(starts) != 1 || len(stops) != 1 {
			t.Fatalf("%s leg: %d Starts, %d Stops, want one each", origin, len(starts), len(stops))
		}
		wantAttrs(t, origin+" Stop", stops[0], map[string]string{"h323-disconnect-cause": "h323-disconnect-cause=10",
			"Acct-Terminate-Cause": "User-Request"}, "release-source=4", "call-id="+callID)
	}
}
