package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// carrierScenario is the path of one of this package's SIPp scenarios
// (testdata/sipp), the carrier features' pairs: a UAC and a UAS that each
// check what reached them.
func carrierScenario(name string) string { return filepath.Join("testdata", "sipp", name) }

// sippPair runs one call of the uac scenario through a tollgate whose
// only route goes to a SIPp running the uas scenario, over transport, and
// asserts that both SIPps finished their one call and the record says
// reason. A scenario is a path (carrierScenario) or the name of one of
// testenv's.
func sippPair(t *testing.T, transport, uac, uas, extra, reason string) {
	t.Helper()
	gw := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: uas, Calls: 1,
		Transport: transport, Timeout: 60 * time.Second})
	p := startTollgate(t, fmt.Sprintf("routes:\n  - {prefix: \"\", gateways: [{address: %q, transport: %s}]}\n%s",
		gw.Addr(), transport, extra))
	st := p.sippRun(t, testenv.SIPpOptions{Scenario: uac, Service: "15551230002", Calls: 1,
		Transport: transport, Timeout: 60 * time.Second})
	if st.Successful != 1 || st.Failed != 0 {
		t.Fatalf("SIPp caller: %s", st)
	}
	gw.WaitSuccess(t, 1)
	if r := p.records(t, 1)[0]; r["disconnect_reason"] != reason || r["sip_code"] != "200" {
		t.Errorf("record reason %q code %q, want %q 200", r["disconnect_reason"], r["sip_code"], reason)
	}
}

// TestReliable183WithSIPp: a gateway's reliable 183 with SDP reaches a
// caller that supports 100rel as a reliable 183, the caller's PRACK
// reaches the gateway with its RAck naming the gateway's INVITE, and the
// call completes; a caller that does not support 100rel (uac.xml) gets
// the 183 unreliably while the switch, offering 100rel to the gateway
// (offer_100rel), PRACKs it itself — over UDP and TCP.
func TestReliable183WithSIPp(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			sippPair(t, transport, carrierScenario("uac_100rel.xml"), carrierScenario("uas_183_100rel.xml"), "", "normal")
		})
		t.Run(transport+" caller without 100rel", func(t *testing.T) {
			t.Parallel()
			sippPair(t, transport, "uac.xml", carrierScenario("uas_183_100rel.xml"),
				"profiles: [{name: rel, offer_100rel: true}]\nprofile_select: {selectors: [rel]}\n", "normal")
		})
	}
}

// TestSessionTimerRefreshWithSIPp: with session timers on both legs (10 s,
// refreshed by UPDATE, or by a re-INVITE offering the media last agreed),
// the caller that asked for none gets 10 s with the
// switch as refresher, the gateway that leaves the refreshing to the switch
// gets the refresh, each leg at half its interval, and the call, kept up past
// that refresh, ends normally — over UDP and TCP.
func TestSessionTimerRefreshWithSIPp(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"udp", "tcp"} {
		for _, method := range []struct{ name, uac, uas string }{
			{"UPDATE", "uac_sst.xml", "uas_sst.xml"},
			{"INVITE", "uac_sst_invite.xml", "uas_sst_invite.xml"},
		} {
			t.Run(transport+" "+method.name, func(t *testing.T) {
				t.Parallel()
				sippPair(t, transport, carrierScenario(method.uac), carrierScenario(method.uas), `dialog_timers:
  enable_session_timer: true
  enable_aleg_session_timer: true
  session_expires: 10
  minimum_timer: 2
  session_refresh_method: `+method.name+"\n", "normal")
			})
		}
	}
}
