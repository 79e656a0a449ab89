package b2bua

import (
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
)

// TestPrepaidReauthorisation: FreeRADIUS grants a prepaid call 3 s at a
// time. Asking 1 s before each grant ends, the call is re-authorised
// twice (at 2 s and 5 s connected), refused the third time (at 8 s), and
// ends at the third grant's end, 9 s, with its own reason.
func TestPrepaidReauthorisation(t *testing.T) {
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answer(0, sessions)
	fr := startRadius(t, fmt.Sprintf(`"127.0.0.1"	Service-Type == Authorize-Only, Acct-Session-Time < 7, Cleartext-Password := "cisco"
	h323-credit-time = "h323-credit-time=3",
	h323-return-code = "h323-return-code=0"

"127.0.0.1"	Service-Type == Authorize-Only, Auth-Type := Reject
	h323-return-code = "h323-return-code=4"

"127.0.0.1"	Cleartext-Password := "cisco"
	h323-credit-time = "h323-credit-time=3",
	Cisco-AVPair = "h323-ivr-in=Routing:%s"
`, gw.addr()))
	sw := startAAASwitch(t, radiusYAML(fr, "  auth: ip\nprepaid: {reauthorize_before: 1s}\n"))
	caller := newPeer(t, "caller")
	ctx := within(t, 30*time.Second)
	if _, err := caller.call(ctx, sw.uri("15551230002")); err != nil {
		t.Fatal(err)
	}
	connected := time.Now()
	gwSession := <-sessions
	caller.waitRequest(sip.BYE, 15*time.Second)
	if cut := time.Since(connected); cut < 8500*time.Millisecond || cut > 10*time.Second {
		t.Errorf("three grants of 3 s cut the call after %v, want 9 s", cut)
	}
	<-gwSession.Context().Done()
	rec := sw.record(t)
	if rec.DisconnectReason != cdr.ReasonCreditNotRenewed || rec.CreditGranted != 9*time.Second {
		t.Errorf("record: reason %q, credit %v", rec.DisconnectReason, rec.CreditGranted)
	}
}
