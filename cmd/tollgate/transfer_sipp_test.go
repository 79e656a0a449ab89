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
// its call, and each call has its record.
func TestBlindTransferWithSIPp(t *testing.T) {
	t.Parallel()
	timeout := 20 * time.Second
	transferee := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: carrierScenario("uas_xfer_blind.xml"),
		Service: "1001", Calls: 1, Timeout: timeout})
	target := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: carrierScenario("uas_xfer_target.xml"),
		Service: "1002", Calls: 1, Timeout: timeout})
	p := startTollgate(t, fmt.Sprintf(`routes:
  - {prefix: "1001", gateways: [{address: %q}]}
  - {prefix: "1002", gateways: [{address: %q}]}
`, transferee.Addr(), target.Addr()))
	st := p.sippRun(t, testenv.SIPpOptions{Scenario: carrierScenario("uac_xfer_blind.xml"), Service: "1001",
		Keys: map[string]string{"target": "1002"}, Calls: 1, Timeout: timeout})
	if st.Successful != 1 || st.Failed != 0 {
		t.Fatalf("SIPp transferor: %s", st)
	}
	transferee.WaitSuccess(t, 1)
	target.WaitSuccess(t, 1)
	transferRecords(t, p, "1001", "1002")
}

// transferRecords checks that the switch wrote one record per call, to
// each called number, each answered and ended normally.
func transferRecords(t *testing.T, p *proc, called ...string) {
	t.Helper()
	recs := p.records(t, len(called))
	byCalled := map[string]map[string]string{}
	for _, r := range recs {
		byCalled[r["called_received"]] = r
	}
	for _, n := range called {
		r := byCalled[n]
		if r == nil {
			t.Errorf("no record of the call to %s: %v", n, recs)
			continue
		}
		if r["sip_code"] != "200" || r["disconnect_reason"] != "normal" {
			t.Errorf("call to %s: code %q reason %q, want 200 normal", n, r["sip_code"], r["disconnect_reason"])
		}
	}
}
