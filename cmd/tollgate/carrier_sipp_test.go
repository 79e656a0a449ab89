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
// reason.
func sippPair(t *testing.T, transport, uac, uas, extra, reason string) {
	t.Helper()
	gw := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: carrierScenario(uas), Calls: 1,
		Transport: transport, Timeout: 60 * time.Second})
	p := startTollgate(t, fmt.Sprintf("routes:\n  - {prefix: \"\", gateways: [{address: %q, transport: %s}]}\n%s",
		gw.Addr(), transport, extra))
	st := p.sippRun(t, testenv.SIPpOptions{Scenario: carrierScenario(uac), Service: "15551230002", Calls: 1,
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
// call completes — over UDP and TCP.
func TestReliable183WithSIPp(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			sippPair(t, transport, "uac_100rel.xml", "uas_183_100rel.xml", "", "normal")
		})
	}
}

// TestSessionTimerRefreshWithSIPp: with session timers on both legs (10 s,
// refreshed by UPDATE), the caller that asked for none gets 10 s with the
// switch as refresher, the gateway that leaves the refreshing to the switch
// gets its UPDATE, each leg at half its interval, and the call, kept up past
// that refresh, ends normally — over UDP and TCP.
func TestSessionTimerRefreshWithSIPp(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			sippPair(t, transport, "uac_sst.xml", "uas_sst.xml", `dialog_timers:
  enable_session_timer: true
  enable_aleg_session_timer: true
  session_expires: 10
  minimum_timer: 2
  session_refresh_method: UPDATE
`, "normal")
		})
	}
}
