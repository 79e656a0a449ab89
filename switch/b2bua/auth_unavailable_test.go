package b2bua

import (
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
)

// TestRadiusAuthUnavailable: the auth server does not answer. By default
// the caller gets 503; with radius.auth_unavailable: accept the call goes
// through by its static route, its CDR says so, and it is accounted as
// usual (Start and Stop of both legs reach the accounting server).
func TestRadiusAuthUnavailable(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answer(0, sessions)
	auth := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	acct := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	auth.Stop()
	radius := func(unavailable string) string {
		return fmt.Sprintf(`radius:
  auth: ip
  auth_unavailable: %s
  auth_servers: [{address: %q, secret: %q, timeout: 200ms, retries: -1}]
  acct_servers: [{address: %q, secret: %q}]
`, unavailable, auth.AuthAddr, auth.Secret, acct.AcctAddr, acct.Secret) + routeTo(gw)
	}
	caller := newPeer(t, "caller")
	ctx := within(t, 30*time.Second)

	rejecting := startAAASwitch(t, radius("reject"))
	if _, err := caller.call(ctx, rejecting.uri("15551230002")); err == nil {
		t.Fatal("call answered without authorisation")
	} else if code, _ := finalCode(err); code != 503 {
		t.Fatalf("call without authorisation: %v, want 503", err)
	}
	if r := rejecting.record(t); r.RADIUS.Auth != cdr.AuthError {
		t.Errorf("refused call's RADIUS auth %q", r.RADIUS.Auth)
	}

	accepting := startAAASwitch(t, radius("accept"))
	ds, err := caller.call(ctx, accepting.uri("15551230002"))
	if err != nil {
		t.Fatalf("call with auth_unavailable accept: %v", err)
	}
	<-sessions
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	r := accepting.record(t)
	if r.RADIUS.Auth != cdr.AuthUnavailable || r.ConnectTime.IsZero() {
		t.Errorf("accepted call's record: auth %q connected %v", r.RADIUS.Auth, r.ConnectTime)
	}
	recs := waitAcct(t, acct, r.CallIDA, all(count("Start", "answer", 1), count("Stop", "answer", 1),
		count("Start", "originate", 1), count("Stop", "originate", 1)))
	if len(recs) != 4 {
		t.Errorf("%d accounting records, want a Start and a Stop per leg", len(recs))
	}
}
