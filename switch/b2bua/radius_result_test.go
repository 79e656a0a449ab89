package b2bua

import (
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
)

// TestRadiusResultInRecords: against a real FreeRADIUS, the records say
// what RADIUS answered and how many accounting records each call made: an
// IP-authorised call whose first gateway fails and second answers, with
// interim updates; a digest route without credentials (no Access-Request);
// a wrong digest password (rejected with a return code); and, on a second
// switch whose auth server never answers, an authorisation error.
func TestRadiusResultInRecords(t *testing.T) {
	t.Parallel()
	gw1, gw2 := newPeer(t, "gw1"), newPeer(t, "gw2")
	gw1.reject(503, "Service Unavailable")
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw2.answer(0, sessions)
	fr := startRadius(t, `"127.0.0.1"	Cleartext-Password := "cisco"
	h323-return-code = "h323-return-code=0"

"alice"	Cleartext-Password := "alice-secret"
	h323-return-code = "h323-return-code=0"

DEFAULT	Auth-Type := Reject
	h323-return-code = "h323-return-code=7"
`)
	sw := startAAASwitch(t, radiusYAML(fr, "  realm: tollgate.test\n  accounting: {interim: 1s}\n")+fmt.Sprintf(`routes:
  - {prefix: "", auth: ip, gateways: [{address: %q}, {address: %q}]}
  - {prefix: "9", auth: digest, gateways: [{address: %q}]}
`, gw1.addr(), gw2.addr(), gw2.addr()))
	caller := newPeer(t, "caller")
	ctx := within(t, 90*time.Second)

	// 1. Accepted by IP, hunted to gw2, up for at least one interim update.
	ds, err := caller.call(ctx, sw.uri("15551230002"))
	if err != nil {
		t.Fatal(err)
	}
	<-sessions
	callID := ds.InviteRequest.CallID().Value()
	waitAcct(t, fr, callID, all(count("Interim-Update", "answer", 1), count("Interim-Update", "originate", 1)))
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	rec := sw.record(t)
	r := rec.RADIUS
	if r.Auth != cdr.AuthAccept || r.AuthMethod != cdr.AuthByIP || r.Server != fr.AuthAddr || r.ReturnCode != 0 || r.Latency <= 0 {
		t.Errorf("accepted call's RADIUS auth = %+v", r)
	}
	// Starts: answer and gw2's originate leg; Stops: those two and gw1's
	// failed attempt; Interim-Updates come in pairs, one per leg.
	if r.AcctStarts != 2 || r.AcctStops != 3 || r.AcctInterims < 2 || r.AcctInterims%2 != 0 || r.AcctQueued != 0 {
		t.Errorf("accepted call's accounting counts = %+v", r)
	}
	// FreeRADIUS logged exactly what the record counted.
	recs := waitAcct(t, fr, callID, all(count("Stop", "answer", 1), count("Stop", "originate", 2)))
	got := map[string]int{}
	for _, d := range recs {
		got[d.Get("Acct-Status-Type")]++
	}
	if got["Start"] != r.AcctStarts || got["Stop"] != r.AcctStops || got["Interim-Update"] != r.AcctInterims {
		t.Errorf("FreeRADIUS logged %v; the record counted %+v", got, r)
	}

	// 2. A digest route without credentials is challenged: RADIUS is not asked.
	_, err = caller.call(ctx, sw.uri("9123"))
	if code, _ := finalCode(err); code != 407 {
		t.Fatalf("digest route without credentials: %v", err)
	}
	if r := sw.record(t).RADIUS; r != (cdr.RADIUS{}) {
		t.Errorf("challenged call's RADIUS = %+v, want none", r)
	}

	// 3. A wrong password: challenged (one record), then rejected.
	_, err = caller.callWith(ctx, sw.uri("9123"), "alice", "wrong")
	code, res := finalCode(err)
	if code != 403 {
		t.Fatalf("wrong password: %v", err)
	}
	sw.record(t) // the challenge
	r = sw.record(t).RADIUS
	if r.Auth != cdr.AuthReject || r.AuthMethod != cdr.AuthByDigest || r.Server != fr.AuthAddr || r.ReturnCode <= 0 ||
		aaa.DefaultReturnCodes().Lookup(r.ReturnCode).Reason != res.Reason || r.Latency <= 0 {
		t.Errorf("rejected call's RADIUS = %+v (the caller got %d %s)", r, code, res.Reason)
	}
	if r.AcctStarts+r.AcctInterims != 0 || r.AcctStops != 1 {
		t.Errorf("a refused call sends its answer leg's Stop only: %+v", r)
	}

	// 4. No auth server answers: an error, with no server and no return code.
	dead := fmt.Sprintf("127.0.0.1:%d", testenv.FreeUDPPort(t))
	sw2 := startAAASwitch(t, fmt.Sprintf(`radius:
  auth: ip
  auth_servers: [{address: %q, secret: x, timeout: 300ms, retries: -1}]
routes:
  - {prefix: "", gateways: [{address: %q}]}
`, dead, gw2.addr()))
	_, err = caller.call(ctx, sw2.uri("15551230002"))
	if code, _ := finalCode(err); code != 503 {
		t.Fatalf("call with the auth server down: %v", err)
	}
	r = sw2.record(t).RADIUS
	if r.Auth != cdr.AuthError || r.AuthMethod != cdr.AuthByIP || r.Server != "" || r.ReturnCode != -1 || r.Latency <= 0 {
		t.Errorf("unanswered authorisation's RADIUS = %+v", r)
	}
}
