package b2bua

import (
	"testing"

	"github.com/tollgate/tollgate/config"
)

// TestSetRoutesReachNewCalls: routes given by SetRoutes (the database's)
// take over the file's route of their prefix for the next call, answer a
// gateway's digest challenge with the gateway's credentials, outlive a
// reload of the file, and hand the prefix back to the file when removed.
func TestSetRoutesReachNewCalls(t *testing.T) {
	t.Parallel()
	fileGW, dbGW := newPeer(t, "file"), newPeer(t, "db")
	fileGW.answer(0, nil)
	dbGW.challenging(401, "trunk7", "s3cret")
	sw := startSwitch(t, routeTo(fileGW))
	caller := newPeer(t, "caller")

	sw.SetRoutes([]config.Route{{Name: "db", Prefix: "", Gateways: []config.Gateway{
		{Address: dbGW.addr(), AuthUser: "trunk7", AuthPassword: "s3cret"}}}})
	_, r := gwCall(t, sw, dbGW, caller, "100")
	if n := len(dbGW.invites()); n != 2 {
		t.Fatalf("the database's gateway got %d INVITEs, want the challenged one and its answer", n)
	}
	if r.Route != "db" {
		t.Errorf("record's route %q, want db", r.Route)
	}

	reloaded, _ := testConfig(t, routeTo(fileGW))
	sw.Reload(reloaded)
	if r := sw.Config().Route(config.RouteQuery{Called: "100"}); r == nil || r.Name != "db" {
		t.Errorf("after a reload of the file, route %+v: want the database's", r)
	}

	sw.SetRoutes(nil)
	if _, r := gwCall(t, sw, fileGW, caller, "100"); r.Route != "default" {
		t.Errorf("record's route %q, want the file's default", r.Route)
	}
}
