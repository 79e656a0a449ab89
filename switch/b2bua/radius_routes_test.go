package b2bua

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/tollgate/tollgate/internal/testenv"
)

// TestRadiusRouteParameters: the per-route parameters of Routing: entries
// that change the hunt — auth=user:pass toward a challenging gateway,
// forward_on_fail, and gt=<timeout>,<skip> route groups. The called number
// picks the Access-Accept.
func TestRadiusRouteParameters(t *testing.T) {
	t.Parallel()
	authGW, busyGW, silentGW, spareGW, lastGW := newPeer(t, "authgw"), newPeer(t, "busygw"), newPeer(t, "silentgw"),
		newPeer(t, "sparegw"), newPeer(t, "lastgw")
	authGW.challenging(407, "tollgate", "s3cret")
	busyGW.reject(480, "Temporarily Unavailable")
	silentGW.silentRing(180)
	spareGW.answer(0, nil)
	lastGW.answer(0, nil)
	fr := startRadius(t, fmt.Sprintf(`"127.0.0.1"	Called-Station-Id == "100", Cleartext-Password := "cisco"
	h323-return-code = "h323-return-code=0",
	Cisco-AVPair = "h323-ivr-in=Routing:%[1]s;auth=tollgate:s3cret"

"127.0.0.1"	Called-Station-Id == "200", Cleartext-Password := "cisco"
	h323-return-code = "h323-return-code=0",
	Cisco-AVPair = "h323-ivr-in=Routing:%[2]s;forward_on_fail",
	Cisco-AVPair += "h323-ivr-in=Routing:%[5]s"

"127.0.0.1"	Called-Station-Id == "300", Cleartext-Password := "cisco"
	h323-return-code = "h323-return-code=0",
	Cisco-AVPair = "h323-ivr-in=Routing:%[3]s;gt=1,2",
	Cisco-AVPair += "h323-ivr-in=Routing:%[4]s",
	Cisco-AVPair += "h323-ivr-in=Routing:%[5]s"
`, authGW.addr(), busyGW.addr(), silentGW.addr(), spareGW.addr(), lastGW.addr()))
	sw := startAAASwitch(t, radiusYAML(fr, "  auth: ip\n"))
	caller := newPeer(t, "caller")

	t.Run("auth", func(t *testing.T) {
		_, rec := gwCall(t, sw, authGW, caller, "100")
		invs := authGW.invites()
		if len(invs) != 2 || invs[1].GetHeader("Proxy-Authorization") == nil {
			t.Fatalf("gateway got %d INVITEs, want a challenged one and an authenticated one", len(invs))
		}
		if rec.SIPCode != 200 || len(rec.Attempts) != 1 {
			t.Errorf("record: %d, attempts %+v", rec.SIPCode, rec.Attempts)
		}
	})
	t.Run("forward_on_fail", func(t *testing.T) {
		res := failedCall(t, caller, sw.uri("200"))
		if res.StatusCode != 480 {
			t.Errorf("caller got %d %s, want the route's 480", res.StatusCode, res.Reason)
		}
		if rec := sw.record(t); len(rec.Attempts) != 1 {
			t.Errorf("attempts %+v, want busygw only", rec.Attempts)
		}
		if n := len(lastGW.invites()); n != 0 {
			t.Errorf("the route after forward_on_fail got %d INVITEs", n)
		}
	})
	t.Run("group_timeout", func(t *testing.T) {
		_, rec := gwCall(t, sw, lastGW, caller, "300")
		silentGW.waitCancelled(10 * time.Second)
		if n := len(spareGW.invites()); n != 0 {
			t.Errorf("the route inside the timed-out group got %d INVITEs", n)
		}
		if len(rec.Attempts) != 2 || rec.Attempts[0].SIPReason != "Group Timeout" || !rec.Attempts[1].Answered {
			t.Errorf("attempts %+v, want silentgw timed out then lastgw answered", rec.Attempts)
		}
		if d := rec.Attempts[0].End.Sub(rec.Attempts[0].Start); d < time.Second {
			t.Errorf("group timed out after %v, before its 1 s", d)
		}
	})
}

// TestRadiusRouteRTPP: rtpp=0 sends its route the caller's own SDP on a
// switch that anchors media, the next route without rtpp is anchored
// again, and an answering rtpp=0 route's SDP reaches the caller untouched.
func TestRadiusRouteRTPP(t *testing.T) {
	direct1, anchored, direct2 := newPeer(t, "direct1"), newPeer(t, "anchored"), newPeer(t, "direct2")
	direct1.reject(503, "Service Unavailable")
	anchored.reject(503, "Service Unavailable")
	direct2.answer(0, nil)
	fr := startRadius(t, fmt.Sprintf(`"127.0.0.1"	Cleartext-Password := "cisco"
	h323-return-code = "h323-return-code=0",
	Cisco-AVPair = "h323-ivr-in=Routing:%s;rtpp=0",
	Cisco-AVPair += "h323-ivr-in=Routing:%s",
	Cisco-AVPair += "h323-ivr-in=Routing:%s;rtpp=0"
`, direct1.addr(), anchored.addr(), direct2.addr()))
	lo, hi := freeMediaRange(t, 8)
	cfg, port := testConfig(t, fmt.Sprintf("cdr: {dir: %q}\n", t.TempDir())+radiusYAML(fr, "  auth: ip\n")+
		fmt.Sprintf("media:\n  mode: builtin\n  builtin:\n    port_min: %d\n    port_max: %d\n", lo, hi))
	ctx, cancel := context.WithCancel(context.Background())
	radius, closeRADIUS := radiusAAA(t, ctx, cfg)
	media := startTestMedia(t, ctx, cfg)
	sw := runSwitch(t, cfg, port, Options{AAA: radius, Media: media.relays()}, func() {
		closeRADIUS()
		media.Close()
		cancel()
	})
	media.bind(sw.Switch)
	caller := newPeer(t, "caller")
	ds, err := caller.call(within(t, 20*time.Second), sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(direct1.invites()[0].Body()); got != sdpOffer {
		t.Errorf("first rtpp=0 route got\n%s\nwant the caller's SDP", got)
	}
	if p := audioPort(t, anchored.invites()[0]); p < lo || p > hi {
		t.Errorf("the route without rtpp got port %d, want the relay's %d-%d", p, lo, hi)
	}
	if got := string(direct2.invites()[0].Body()); got != sdpOffer {
		t.Errorf("second rtpp=0 route got\n%s\nwant the caller's SDP", got)
	}
	if got := string(ds.InviteResponse.Body()); got != sdpAnswer {
		t.Errorf("caller got answer\n%s\nwant the gateway's own", got)
	}
	if err := ds.Bye(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if r := sw.record(t); r.MediaRelay != "" {
		t.Errorf("record's media relay %q, want none for the unanchored call", r.MediaRelay)
	}
	testenv.Eventually(t, 20*time.Second, "relay sessions deleted", func() bool { return media.Builtin().Stats().ActiveSessions == 0 })
}

// audioPort is the port of the first m=audio line of a message's SDP.
func audioPort(t *testing.T, m sip.Message) int {
	t.Helper()
	for line := range strings.SplitSeq(string(m.Body()), "\r\n") {
		if rest, ok := strings.CutPrefix(line, "m=audio "); ok {
			p, _ := strconv.Atoi(strings.Fields(rest)[0])
			return p
		}
	}
	t.Fatalf("no m=audio in\n%s", m.Body())
	return 0
}
