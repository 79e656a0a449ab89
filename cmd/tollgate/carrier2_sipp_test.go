package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
)

// sippCall is one call of a SIPp caller through a tollgate whose only route
// goes to a SIPp gateway, each SIPp with its own scenario and keys.
type sippCall struct {
	transport        string
	uac, uas         string            // a path (carrierScenario) or one of testenv's
	uacKeys, uasKeys map[string]string // -key values, beside testenv's defaults
	config           string            // configuration after the route
	// gatewayStays keeps the gateway's SIPp running once its scenario has
	// ended, until the record is written: a request the switch sends it
	// after that end (a BYE to a dialog it said it has lost) fails the
	// call, counted as a message for a dead call or for none.
	gatewayStays bool
}

// run places the call, asserts that both SIPps finished it with every
// check of their scenarios passed, and returns the switch and its one
// record.
func (c sippCall) run(t *testing.T, env ...string) (*proc, map[string]string) {
	t.Helper()
	if c.transport == "" {
		c.transport = "udp"
	}
	calls := 1
	if c.gatewayStays {
		calls = 0 // no limit: Stop ends it
	}
	gw := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: c.uas, Calls: calls, Keys: c.uasKeys,
		Transport: c.transport, Timeout: 60 * time.Second})
	p := startTollgate(t, fmt.Sprintf("routes:\n  - {prefix: \"\", gateways: [{address: %q, transport: %s}]}\n%s",
		gw.Addr(), c.transport, c.config), env...)
	st := p.sippRun(t, testenv.SIPpOptions{Scenario: c.uac, Service: "15551230002", Calls: 1, Keys: c.uacKeys,
		Transport: c.transport, Timeout: 60 * time.Second})
	if st.Successful != 1 || st.Failed != 0 {
		t.Fatalf("SIPp caller: %s", st)
	}
	if !c.gatewayStays {
		gw.WaitSuccess(t, 1)
		return p, p.records(t, 1)[0]
	}
	r := p.records(t, 1)[0]
	gw.Stop()
	if st, err := gw.Stats(); err != nil || st.Successful != 1 || st.Failed != 0 || st.DeadCallMsgs != 0 || st.OutOfCallMsgs != 0 {
		t.Fatalf("SIPp gateway: %s, %d messages for ended calls, %d for none (%v)", st, st.DeadCallMsgs, st.OutOfCallMsgs, err)
	}
	return p, r
}

// TestKeepaliveWithSIPp: with dialog keepalives every 2 s on one leg
// (keepalive_orig: the gateway's, keepalive_ans: the caller's), a peer
// that answers the in-dialog OPTIONS 481 has lost the dialog: the call
// ends, the other SIPp gets the BYE and the one that answered 481 none
// (RFC 5057: a 481 ends the dialog, so its scenario ends with the 481; the
// gateway's SIPp is kept running until the record is written, and a BYE
// reaching it then fails the test). A
// re-INVITE keepalive (keepalive_method INVITE) offering the media last
// agreed and answered 408 ends the call with a BYE to both. Each call
// gives one record with reason "keepalive failed", released by the switch,
// and a RADIUS Start and Stop per leg at the real FreeRADIUS.
func TestKeepaliveWithSIPp(t *testing.T) {
	t.Parallel()
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	for _, tc := range []struct {
		name, transport, uac, uas, timers string
		gatewayStays                      bool // the gateway answers 481: no BYE may reach it
	}{
		{"gateway answers OPTIONS 481", "udp", "uac_wait_bye.xml", carrierScenario("uas_keepalive_481.xml"), "keepalive_orig: 2", true},
		{"gateway answers OPTIONS 481 over TCP", "tcp", "uac_wait_bye.xml", carrierScenario("uas_keepalive_481.xml"), "keepalive_orig: 2", true},
		{"caller answers OPTIONS 481", "udp", carrierScenario("uac_keepalive_481.xml"), "uas.xml", "keepalive_ans: 2", false},
		{"gateway answers re-INVITE 408", "udp", "uac_wait_bye.xml", carrierScenario("uas_keepalive_408.xml"),
			"keepalive_orig: 2, keepalive_method: INVITE", false},
		{"caller answers re-INVITE 408", "udp", carrierScenario("uac_keepalive_408.xml"), "uas.xml",
			"keepalive_ans: 2, keepalive_method: INVITE", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, r := sippCall{transport: tc.transport, uac: tc.uac, uas: tc.uas, gatewayStays: tc.gatewayStays, config: fmt.Sprintf(`radius:
  acct_servers: [{address: %q, secret: %q}]
profiles: [{name: ka, %s}]
profile_select: {selectors: [ka]}
`, fr.AcctAddr, fr.Secret, tc.timers)}.run(t)
			if r["disconnect_reason"] != cdr.ReasonKeepalive || r["sip_code"] != "200" || r["released_by"] != cdr.ReleasedBySwitch {
				t.Errorf("record reason %q code %q released by %q, want %q 200 %q",
					r["disconnect_reason"], r["sip_code"], r["released_by"], cdr.ReasonKeepalive, cdr.ReleasedBySwitch)
			}
			waitLegAccounting(t, fr, r["call_id_a"])
		})
	}
}

// waitLegAccounting waits until FreeRADIUS holds a Stop for each leg of
// the call whose caller's Call-ID is callID, then asserts exactly one
// Start and one Stop per leg.
func waitLegAccounting(t *testing.T, fr *testenv.FreeRADIUS, callID string) {
	t.Helper()
	legs := func() map[string]int {
		recs, err := fr.Detail()
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, r := range recs {
			for _, p := range r.Attrs["Cisco-AVPair"] {
				if p == "call-id="+callID {
					n[r.Get("Acct-Status-Type")+" "+r.Get("h323-call-origin")]++
					break
				}
			}
		}
		return n
	}
	const stopA, stopB = "Stop h323-call-origin=answer", "Stop h323-call-origin=originate"
	testenv.Eventually(t, 20*time.Second, "a Stop per leg of "+callID, func() bool {
		n := legs()
		return n[stopA] > 0 && n[stopB] > 0
	})
	want := map[string]int{"Start h323-call-origin=answer": 1, "Start h323-call-origin=originate": 1, stopA: 1, stopB: 1}
	if n := legs(); fmt.Sprint(n) != fmt.Sprint(want) {
		t.Errorf("accounting of %s: %v, want %v", callID, n, want)
	}
}

// TestNATWithSIPp: a caller behind NAT (uac_nat.xml: Via port 5999 and a
// 192.168.1.50 Contact, while it sends from and listens on another port)
// reaches a completed call with nat_handling on: the 100, 180 and 200 reach
// its real port with rport forced to it, the gateway's BYE reaches it
// there with the flow as Request-URI, and its private Contact and Via
// port never reach the gateway. Over UDP: the flow of a TCP caller is its
// connection.
func TestNATWithSIPp(t *testing.T) {
	t.Parallel()
	_, r := sippCall{uac: carrierScenario("uac_nat.xml"), uas: carrierScenario("uas_nat_bye.xml"),
		config: "profiles: [{name: nat, nat_handling: true}]\nprofile_select: {selectors: [nat]}\n"}.run(t)
	if r["disconnect_reason"] != "normal" || r["sip_code"] != "200" || r["released_by"] != cdr.ReleasedByCallee {
		t.Errorf("record reason %q code %q released by %q, want normal 200 %q",
			r["disconnect_reason"], r["sip_code"], r["released_by"], cdr.ReleasedByCallee)
	}
}

// TestHoldOptionsWithSIPp: a hold offer in a re-INVITE — a=sendonly,
// a=inactive, or RFC 2543's c=0.0.0.0 — reaches the other SIPp as each
// SEMS hold option says, checked there (one direction attribute, the one
// wanted, and the c= address wanted): hold_alter_b2b_bleg with
// hold_activity_bleg and hold_zero_connection_bleg alter the caller's
// hold toward the gateway, the _aleg ones the gateway's toward the
// caller; an option of the other leg, or an offer that is no hold,
// leaves it as sent. With the built-in relay anchoring the media, the
// zero connection still wins over the relay's address.
func TestHoldOptionsWithSIPp(t *testing.T) {
	t.Parallel()
	const lo = "127.0.0.1"
	for _, tc := range []struct {
		name, transport string
		byGateway       bool   // the gateway holds, not the caller
		options         string // the profile's hold options
		anchored        bool   // media through the built-in relay
		dir, conn       string // the hold offer sent
		wantDir, want   string // what reaches the other side
	}{
		{name: "no option", dir: "sendonly", conn: lo, wantDir: "sendonly", want: lo},
		{name: "bleg default activity", options: "hold_alter_b2b_bleg: true",
			dir: "inactive", conn: lo, wantDir: "sendonly", want: lo},
		{name: "bleg activity inactive", options: "hold_alter_b2b_bleg: true, hold_activity_bleg: inactive",
			dir: "sendonly", conn: lo, wantDir: "inactive", want: lo},
		{name: "bleg activity inactive over TCP", transport: "tcp", options: "hold_alter_b2b_bleg: true, hold_activity_bleg: inactive",
			dir: "sendonly", conn: lo, wantDir: "inactive", want: lo},
		{name: "bleg activity recvonly of a 0.0.0.0 hold", options: "hold_alter_b2b_bleg: true, hold_activity_bleg: recvonly",
			dir: "sendrecv", conn: "0.0.0.0", wantDir: "recvonly", want: "0.0.0.0"},
		{name: "bleg zero connection", options: "hold_alter_b2b_bleg: true, hold_zero_connection_bleg: true",
			dir: "sendonly", conn: lo, wantDir: "sendonly", want: "0.0.0.0"},
		{name: "bleg zero connection anchored", options: "hold_alter_b2b_bleg: true, hold_zero_connection_bleg: true",
			anchored: true, dir: "inactive", conn: lo, wantDir: "sendonly", want: "0.0.0.0"},
		{name: "bleg options leave an unhold", options: "hold_alter_b2b_bleg: true, hold_activity_bleg: inactive, hold_zero_connection_bleg: true",
			dir: "sendrecv", conn: lo, wantDir: "sendrecv", want: lo},
		{name: "aleg options leave the gateway's leg", options: "hold_alter_b2b_aleg: true, hold_activity_aleg: inactive, hold_zero_connection_aleg: true",
			dir: "sendonly", conn: lo, wantDir: "sendonly", want: lo},
		{name: "aleg activity inactive and zero connection",
			byGateway: true, options: "hold_alter_b2b_aleg: true, hold_activity_aleg: inactive, hold_zero_connection_aleg: true",
			dir: "sendonly", conn: lo, wantDir: "inactive", want: "0.0.0.0"},
		{name: "aleg activity recvonly", byGateway: true, options: "hold_alter_b2b_aleg: true, hold_activity_aleg: recvonly",
			dir: "inactive", conn: lo, wantDir: "recvonly", want: lo},
		{name: "bleg options leave the caller's leg",
			byGateway: true, options: "hold_alter_b2b_bleg: true, hold_activity_bleg: inactive, hold_zero_connection_bleg: true",
			dir: "sendonly", conn: lo, wantDir: "sendonly", want: lo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			config := ""
			if tc.options != "" {
				config = "profiles: [{name: hold, " + tc.options + "}]\nprofile_select: {selectors: [hold]}\n"
			}
			if tc.anchored {
				min, max := testenv.FreeUDPRange(t, 20, 20000, 30000)
				config += fmt.Sprintf("media:\n  mode: builtin\n  builtin: {port_min: %d, port_max: %d}\n", min, max)
			}
			holder := map[string]string{"hold_dir": tc.dir, "hold_c": tc.conn}
			checker := map[string]string{"want_dir": tc.wantDir, "want_c": tc.want}
			call := sippCall{transport: tc.transport, config: config,
				uac: carrierScenario("uac_hold_offer.xml"), uacKeys: holder,
				uas: carrierScenario("uas_hold_check.xml"), uasKeys: checker}
			if tc.byGateway {
				call.uac, call.uacKeys = carrierScenario("uac_hold_check.xml"), checker
				call.uas, call.uasKeys = carrierScenario("uas_hold_offer.xml"), holder
			}
			if _, r := call.run(t); r["disconnect_reason"] != "normal" || r["sip_code"] != "200" {
				t.Errorf("record reason %q code %q, want normal 200", r["disconnect_reason"], r["sip_code"])
			}
		})
	}
}

// TestMultipartWithSIPp: a SIP-I INVITE (multipart/mixed: SDP and an ISUP
// IAM) is switched with the built-in relay anchoring its SDP part: the
// gateway's SIPp checks that the body keeps the caller's boundary, the SDP
// part names the relay's port and the ISUP part crosses byte for byte; with
// mime_filter blacklisting application/ISUP it gets the anchored SDP alone,
// as application/sdp. The caller gets the anchored answer and the call
// completes — over UDP and TCP.
func TestMultipartWithSIPp(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"udp", "tcp"} {
		for _, tc := range []struct{ name, uas, profile string }{
			{"passed", "uas_multipart.xml", ""},
			{"stripped", "uas_multipart_stripped.xml",
				"profiles: [{name: sipi, mime_filter: blacklist, mime_filter_list: [application/ISUP]}]\nprofile_select: {selectors: [sipi]}\n"},
		} {
			t.Run(transport+" "+tc.name, func(t *testing.T) {
				t.Parallel()
				min, max := testenv.FreeUDPRange(t, 20, 20000, 30000)
				_, r := sippCall{transport: transport, uac: carrierScenario("uac_multipart.xml"), uas: carrierScenario(tc.uas),
					config: fmt.Sprintf("media:\n  mode: builtin\n  builtin: {port_min: %d, port_max: %d}\n%s", min, max, tc.profile)}.run(t)
				if r["disconnect_reason"] != "normal" || r["sip_code"] != "200" {
					t.Errorf("record reason %q code %q, want normal 200", r["disconnect_reason"], r["sip_code"])
				}
			})
		}
	}
}
