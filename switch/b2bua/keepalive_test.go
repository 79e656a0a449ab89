package b2bua

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
)

// TestKeepaliveReinviteOnCallerLeg: keepalive_ans with keepalive_method
// INVITE re-INVITEs the caller with the media it agreed to; a caller that
// answers 408 has lost the call, which ends with the gateway BYEd.
func TestKeepaliveReinviteOnCallerLeg(t *testing.T) {
	t.Parallel()
	reinvites := make(chan *sip.Request, 1)
	caller := startPeer(t, "caller", func(req *sip.Request, tx sip.ServerTransaction) {
		if req.Method == sip.INVITE {
			reinvites <- req
			tx.Respond(sip.NewResponseFromRequest(req, 408, "Request Timeout", nil))
			return
		}
		tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	gw := newPeer(t, "gw")
	sw := startSwitch(t, routeTo(gw)+"dialog_timers: {keepalive_ans: 1, keepalive_method: INVITE}\n")
	_, gs, at := connect(t, sw, gw, caller)
	select {
	case r := <-reinvites:
		if len(r.Body()) == 0 {
			t.Error("keepalive re-INVITE offers no SDP")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no keepalive re-INVITE")
	}
	<-gs.Context().Done() // the gateway's BYE
	if cut := time.Since(at); cut < 900*time.Millisecond || cut > 3*time.Second {
		t.Errorf("call cut after %v", cut)
	}
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonKeepalive {
		t.Errorf("record reason %q", r.DisconnectReason)
	}
	testenv.Eventually(t, 5*time.Second, "no call left", func() bool { return sw.ActiveCalls() == 0 })
}
