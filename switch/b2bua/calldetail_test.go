package b2bua

import (
	"testing"
	"time"

	"github.com/emiago/sipgo"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestCallDetail: a connected call's detail names its phase, both legs
// connected with their dialogs, its attempt and its route's max duration;
// an ended or unknown call has none.
func TestCallDetail(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answer(0, sessions)
	sw := startSwitch(t, "routes:\n  - {prefix: \"\", max_duration: 1h, gateways: [{address: \""+gw.addr()+"\"}]}\n")
	caller := newPeer(t, "caller")
	ctx := within(t, 30*time.Second)
	ds, err := caller.call(ctx, sw.uri("4420"))
	if err != nil {
		t.Fatal(err)
	}
	<-sessions
	calls := sw.Snapshot()
	if len(calls) != 1 {
		t.Fatalf("%d calls up", len(calls))
	}
	var d CallDetail
	testenv.Eventually(t, 10*time.Second, "the call's ACK", func() bool {
		var ok bool
		d, ok = sw.CallDetail(calls[0].ID)
		return ok && d.Phase != "awaiting_ack"
	})
	if d.Phase != "connected" || d.Called != "4420" || d.Gateway != gw.addr() || len(d.Attempts) != 1 || d.MaxDuration != time.Hour ||
		len(d.Legs) != 2 || d.Legs[0].Name != "caller" || d.Legs[1].Name != "gateway" {
		t.Fatalf("detail %+v", d)
	}
	for _, l := range d.Legs {
		if l.State != "connected" || l.CallID == "" || l.Peer == "" {
			t.Errorf("leg %+v", l)
		}
	}
	if d.Legs[0].CallID == d.Legs[1].CallID {
		t.Errorf("both legs share the Call-ID %q", d.Legs[0].CallID)
	}
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, sw, 0)
	if _, ok := sw.CallDetail(calls[0].ID); ok {
		t.Error("an ended call still has a detail")
	}
}
