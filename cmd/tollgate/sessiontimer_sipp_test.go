package main

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
)

// sessionTimersYAML turns RFC 4028 session timers on for both legs: the
// gateway leg asks for 16 s, a caller that asks for none gets 16 s with the
// switch as its refresher, and either peer may ask for as little as 2 s —
// short, so that a refresh or an expiry comes within seconds. extra adds
// options under dialog_timers.
func sessionTimersYAML(extra string) string {
	return `dialog_timers:
  enable_session_timer: true
  enable_aleg_session_timer: true
  session_expires: 16
  minimum_timer: 2
` + extra
}

// sessionTimerCall runs one call of the uac scenario through a tollgate
// configured with body, whose only route goes to a SIPp running the uas
// scenario (both testdata/sipp), over transport; it returns the tollgate once both SIPps have
// finished their one call without a failure.
func sessionTimerCall(t *testing.T, transport, uac, uas, body string) *proc {
	t.Helper()
	gw := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: carrierScenario(uas), Calls: 1,
		Transport: transport, Timeout: 60 * time.Second})
	p := startTollgate(t, fmt.Sprintf("routes:\n  - {prefix: \"\", gateways: [{address: %q, transport: %s}]}\n%s",
		gw.Addr(), transport, body))
	st := p.sippRun(t, testenv.SIPpOptions{Scenario: carrierScenario(uac), Service: "15551230002", Calls: 1,
		Transport: transport, Timeout: 60 * time.Second})
	if st.Successful != 1 || st.Failed != 0 {
		t.Fatalf("SIPp caller: %s", st)
	}
	gw.WaitSuccess(t, 1)
	return p
}

// TestSessionTimerPeerRefreshWithSIPp: each peer refreshing its own leg,
// once by re-INVITE and twice by UPDATE, 3 s apart, keeps the call up past
// its Session-Expires. Each refresh is relayed to the other leg, as
// docs/profiles.md says, carrying that leg's own session: the caller's
// 10 s refreshes reach the gateway as its leg's 16 s with the switch as
// refresher; the gateway's 10 s refreshes (it lowered the switch's 16 s in
// its 2xx, and took the refreshing) reach the caller as its leg's 16 s. The
// requester gets its own session back in each 2xx. Both SIPps check every
// Session-Expires they get, and the call ends normally — over UDP and TCP.
func TestSessionTimerPeerRefreshWithSIPp(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"udp", "tcp"} {
		for _, peer := range []struct{ name, uac, uas string }{
			{"caller", "uac_sst_caller_refresh.xml", "uas_sst_caller_refresh.xml"},
			{"gateway", "uac_sst_gw_refresh.xml", "uas_sst_gw_refresh.xml"},
		} {
			t.Run(transport+" by the "+peer.name, func(t *testing.T) {
				t.Parallel()
				sippPair(t, transport, carrierScenario(peer.uac), carrierScenario(peer.uas), sessionTimersYAML(""), "normal")
			})
		}
	}
}

// TestSessionTimerExpiredWithSIPp: a caller that asked to refresh its 10 s
// session and never does has the call ended by the switch at 10 s less a
// third (RFC 4028 10), before its refresh of the gateway leg (8 s): both
// SIPps get a BYE and answer it; the record says "session timer expired",
// released by the switch, after a call of Session-Expires/2…Session-Expires;
// and the real FreeRADIUS gets exactly one Stop for each leg — over UDP and
// TCP.
func TestSessionTimerExpiredWithSIPp(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
			p := sessionTimerCall(t, transport, "uac_sst_expire.xml", "uas_sst_wait_bye.xml",
				sessionTimersYAML(fmt.Sprintf("radius:\n  acct_servers: [{address: %q, secret: %q}]\n", fr.AcctAddr, fr.Secret)))
			r := p.records(t, 1)[0]
			if r["disconnect_reason"] != cdr.ReasonSessionTimer || r["released_by"] != cdr.ReleasedBySwitch || r["sip_code"] != "200" {
				t.Errorf("record reason %q released by %q code %q, want %q by %q 200",
					r["disconnect_reason"], r["released_by"], r["sip_code"], cdr.ReasonSessionTimer, cdr.ReleasedBySwitch)
			}
			if ms, err := strconv.Atoi(r["duration_ms"]); err != nil || ms < 5000 || ms > 10000 {
				t.Errorf("call of %q ms, want Session-Expires/2…Session-Expires (5000…10000)", r["duration_ms"])
			}
			testenv.Eventually(t, 20*time.Second, "a Stop for each leg", func() bool { return detailCount(t, fr, "Stop") >= 2 })
			recs, err := fr.Detail()
			if err != nil {
				t.Fatal(err)
			}
			stops := map[string]int{}
			for _, rec := range recs {
				if rec.Get("Acct-Status-Type") == "Stop" {
					stops[rec.Get("h323-call-origin")]++
				}
			}
			if len(stops) != 2 || stops["h323-call-origin=answer"] != 1 || stops["h323-call-origin=originate"] != 1 {
				t.Errorf("Stops by leg %v, want one answer and one originate", stops)
			}
		})
	}
}

// TestSessionTimer422WithSIPp: a gateway answering 422 with Min-SE: 1800 gets
// the INVITE again asking for 1800 s, and the call completes; a caller
// asking for 60 s below the caller leg's floor of 90 (aleg_minimum_timer)
// gets 422 with Min-SE: 90 (aleg_session_expires, given to callers that ask
// for none, may not be below it), asks again for 90 in the same call, and
// completes it — the refused INVITE never reaching the gateway (its SIPp
// takes one call, and checks it asks for the gateway leg's 16 s) and
// leaving its own record. Over UDP and TCP.
func TestSessionTimer422WithSIPp(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport+" from the gateway", func(t *testing.T) {
			t.Parallel()
			sippPair(t, transport, "uac.xml", carrierScenario("uas_sst_422.xml"), sessionTimersYAML(""), "normal")
		})
		t.Run(transport+" to the caller", func(t *testing.T) {
			t.Parallel()
			p := sessionTimerCall(t, transport, "uac_sst_below_floor.xml", "uas_sst_wait_bye.xml",
				sessionTimersYAML("  aleg_session_expires: 90\n  aleg_minimum_timer: 90\n"))
			got := map[string]int{}
			for _, r := range p.records(t, 2) {
				got[r["sip_code"]+" "+r["disconnect_reason"]]++
			}
			if got["422 "+cdr.ReasonRejected] != 1 || got["200 "+cdr.ReasonNormal] != 1 {
				t.Errorf("records %v, want one 422 %q and one 200 %q", got, cdr.ReasonRejected, cdr.ReasonNormal)
			}
		})
	}
}
