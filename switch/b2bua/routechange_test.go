package b2bua

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// TestCallsInProgressKeepTheirRoute: routes replaced while a call hunts and
// while another is connected (an admin's change on the Routing page) leave
// both on the route they arrived with — the hunting call's next attempt
// goes to its own route's next gateway, not the new route's, and the
// connected call stays up and is recorded under its route — while the
// next call takes the new route.
func TestCallsInProgressKeepTheirRoute(t *testing.T) {
	t.Parallel()
	first, second, newGW := newPeer(t, "old-first"), newPeer(t, "old-second"), newPeer(t, "new")
	release := make(chan struct{})
	first.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, 180, "Ringing", nil))
		<-release // the route changes while this attempt rings
		tx.Respond(sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil))
	})
	second.answer(0, nil)
	newGW.answer(0, nil)
	sw := startSwitch(t, routeTo(newGW)) // the file's route, replaced below
	oldRoute := []config.Route{{Name: "old", Prefix: "", Gateways: []config.Gateway{{Address: first.addr()}, {Address: second.addr()}}}}
	newRoute := []config.Route{{Name: "new", Prefix: "", Gateways: []config.Gateway{{Address: newGW.addr()}}}}
	sw.SetRoutes(oldRoute)

	caller := newPeer(t, "caller")
	ctx := within(t, 20*time.Second)
	type result struct {
		err error
		bye func() error
	}
	hunting := make(chan result, 1)
	go func() {
		ds, err := caller.call(ctx, sw.uri("100"))
		r := result{err: err}
		if ds != nil {
			r.bye = func() error { return ds.Bye(ctx) }
		}
		hunting <- r
	}()
	first.waitRequest(sip.INVITE, 5*time.Second)
	sw.SetRoutes(newRoute)
	if r := sw.Config().Route(config.RouteQuery{Called: "100"}); r == nil || r.Name != "new" {
		t.Fatalf("after the change the switch routes by %+v, want the new route", r)
	}
	close(release)
	res := <-hunting
	if res.err != nil {
		t.Fatalf("the hunting call: %v", res.err)
	}
	second.waitRequest(sip.INVITE, 5*time.Second)
	second.waitRequest(sip.ACK, 5*time.Second)
	if n := len(newGW.invites()); n != 0 {
		t.Fatalf("the new route's gateway got %d INVITEs of the call that arrived before the change", n)
	}

	// Connected, it outlives a change back and forth of the routing table.
	sw.SetRoutes(oldRoute)
	sw.SetRoutes(newRoute)
	if calls := sw.Snapshot(); len(calls) != 1 || calls[0].State != "connected" || calls[0].Gateway != second.addr() {
		t.Fatalf("after the changes the calls up are %+v, want the one on the old route", calls)
	}
	if err := res.bye(); err != nil {
		t.Fatal(err)
	}
	second.waitRequest(sip.BYE, 5*time.Second)
	r := sw.record(t)
	if r.Route != "old" || r.Gateway != second.addr() || len(r.Attempts) != 2 || r.Attempts[0].Gateway != first.addr() {
		t.Errorf("the call that arrived before the change: route %q gateway %q attempts %+v, want the old route's two gateways",
			r.Route, r.Gateway, r.Attempts)
	}

	if _, r := gwCall(t, sw, newGW, caller, "100"); r.Route != "new" || r.Gateway != newGW.addr() {
		t.Errorf("the call after the change: route %q gateway %q, want the new route", r.Route, r.Gateway)
	}
}
