package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestBlindTransferWithSIPp: a caller (uac_xfer_blind.xml) calls 1001 and
// transfers the gateway there (uas_xfer_blind.xml) to 1002 with a REFER
// carrying Refer-To and Referred-By. The transferee checks both reached it,
// answers 202, reports 100 then 200 in sipfrag NOTIFYs, and calls the
// Refer-To URI through the switch with the Referred-By; the target
// (uas_xfer_target.xml) checks that Referred-By crossed. The transferor
// checks each NOTIFY names its subscription by the CSeq of its own REFER,
// then hangs up; the transferee hangs up the new call. Every SIPp finishes
// its call, and each call has its record — over UDP and TCP.
func TestBlindTransferWithSIPp(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			timeout := 20 * time.Second
			transferee := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: carrierScenario("uas_xfer_blind.xml"),
				Service: "1001", Calls: 1, Transport: transport, Timeout: timeout})
			target := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: carrierScenario("uas_xfer_target.xml"),
				Service: "1002", Calls: 1, Transport: transport, Timeout: timeout})
			p := startTollgate(t, transferRoutes(transport, transferee, target))
			st := p.sippRun(t, testenv.SIPpOptions{Scenario: carrierScenario("uac_xfer_blind.xml"), Service: "1001",
				Keys: map[string]string{"target": "1002"}, Calls: 1, Transport: transport, Timeout: timeout})
			if st.Successful != 1 || st.Failed != 0 {
				t.Fatalf("SIPp transferor: %s", st)
			}
			transferee.WaitSuccess(t, 1)
			target.WaitSuccess(t, 1)
			transferRecords(t, p, "1001", "1002")
		})
	}
}

// transferRoutes routes 1001 to the transferee and 1002 to the target.
func transferRoutes(transport string, transferee, target *testenv.SIPp) string {
	return fmt.Sprintf(`routes:
  - {prefix: "1001", gateways: [{address: %q, transport: %s}]}
  - {prefix: "1002", gateways: [{address: %q, transport: %s}]}
`, transferee.Addr(), transport, target.Addr(), transport)
}

// transferRecords checks that the switch wrote one record per call, to
// the called numbers given (a number called twice given twice), each
// answered and ended normally.
func transferRecords(t *testing.T, p *proc, called ...string) {
	t.Helper()
	recs := p.records(t, len(called))
	want, got := map[string]int{}, map[string]int{}
	for _, n := range called {
		want[n]++
	}
	for _, r := range recs {
		got[r["called_received"]]++
		if r["sip_code"] != "200" || r["disconnect_reason"] != "normal" {
			t.Errorf("call to %s: code %q reason %q, want 200 normal", r["called_received"], r["sip_code"], r["disconnect_reason"])
		}
	}
	for n := range want {
		if got[n] != want[n] {
			t.Errorf("%d records of calls to %s, want %d: %v", got[n], n, want[n], recs)
		}
	}
}

// TestAttendedTransferWithSIPp: a caller (uac_xfer_attended.xml) holds two
// calls through the switch, to 1001 (the transferee, uas_xfer_attended.xml)
// and to 1002 (the target, uas_xfer_replaced.xml), and transfers the first
// to the second with a REFER whose Refer-To carries ?Replaces= naming the
// second call as the caller knows it. The switch rewrites it to the dialog
// the target knows; the transferee's INVITE with that Replaces goes
// through the switch to the target, which checks the Replaces names its
// own dialog of the second call (its to-tag is the one the target gave
// that Call-ID) and ends that dialog with a BYE built from it, which the
// switch takes as the replaced call's and relays to the caller. The
// NOTIFYs reach the caller with its REFER's CSeq as id; the caller hangs
// up the first call and the transferee the new one. Three calls, three
// records — over UDP and TCP.
func TestAttendedTransferWithSIPp(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			timeout := 20 * time.Second
			transferee := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: carrierScenario("uas_xfer_attended.xml"),
				Service: "1001", Calls: 1, Transport: transport, Timeout: timeout})
			target := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: carrierScenario("uas_xfer_replaced.xml"),
				Service: "1002", Calls: 2, Transport: transport, Timeout: timeout})
			p := startTollgate(t, transferRoutes(transport, transferee, target))
			st := p.sippRun(t, testenv.SIPpOptions{Scenario: carrierScenario("uac_xfer_attended.xml"), Service: "1001",
				Keys: map[string]string{"target": "1002"}, Calls: 1, Transport: transport, Timeout: timeout,
				// Call-IDs without "@", which a Replaces in a URI would have to escape.
				Extra: []string{"-cid_str", "%u-%p-xfer"}})
			if st.Successful != 1 || st.Failed != 0 {
				t.Fatalf("SIPp transferor: %s", st)
			}
			transferee.WaitSuccess(t, 1)
			target.WaitSuccess(t, 2)
			transferRecords(t, p, "1001", "1002", "1002")
		})
	}
}
