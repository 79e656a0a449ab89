package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestBlindTransferWithBaresip is issue #15's blind transfer as a user
// makes it, with three real softphones (baresip) and the real binary:
// alice calls 1001 (bob) through the switch, then transfers bob to 1002
// (carol), also reached through the switch. Bob gets the REFER with its
// Refer-To (a REFER relayed without it was answered "400 Missing Refer-To
// header" and the call torn down), accepts it, and his new INVITE reaches
// carol through the switch; carol answers; bob's NOTIFYs (sipfrag 100,
// then 200) reach alice, whose baresip then ends the first call as
// transferred. Each call has its record, and only one.
//
// baresip 1.0.0 (Debian 12) has no attended transfer (its menu has
// "transfer" only; atransferstart/atransferexec came later), so the
// attended transfer is shown with SIPp (transfer_sipp_test.go).
func TestBlindTransferWithBaresip(t *testing.T) {
	t.Parallel()
	alice := testenv.StartBaresip(t, "alice")
	bob := testenv.StartBaresip(t, "1001")
	carol := testenv.StartBaresip(t, "1002")
	p := startTollgate(t, fmt.Sprintf(`routes:
  - {prefix: "1001", gateways: [{address: %q}]}
  - {prefix: "1002", gateways: [{address: %q}]}
`, bob.Addr(), carol.Addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	established := func(peer string) func(testenv.BaresipEvent) bool {
		return func(ev testenv.BaresipEvent) bool {
			return ev.Type == "CALL_ESTABLISHED" && strings.Contains(ev.PeerURI, peer)
		}
	}

	if _, err := alice.Command(ctx, "dial", "sip:1001@"+p.addr()); err != nil {
		t.Fatal(err)
	}
	for _, ua := range []*testenv.Baresip{alice, bob} {
		if _, err := ua.AwaitEvent(ctx, "the first call established", established("")); err != nil {
			t.Fatal(err)
		}
	}
	target := "sip:1002@" + p.addr()
	if _, err := alice.Command(ctx, "transfer", target); err != nil {
		t.Fatal(err)
	}

	// Bob, the transferee, got the REFER through the switch with its
	// Refer-To, and accepted it.
	refer := awaitMessage(t, bob, "the REFER", func(m testenv.BaresipMessage) bool {
		return !m.Sent(bob) && strings.HasPrefix(m.StartLine(), "REFER ")
	})
	if got := strings.Trim(refer.Header("Refer-To"), "<>"); got != target {
		t.Errorf("REFER reached bob with Refer-To %q, want %q:\n%s", got, target, refer.Text)
	}
	if refer.From != p.addr() {
		t.Errorf("REFER reached bob from %s, not through the switch (%s)", refer.From, p.addr())
	}
	awaitMessage(t, bob, "bob's 202 to the REFER", func(m testenv.BaresipMessage) bool {
		return m.Sent(bob) && strings.HasPrefix(m.StartLine(), "SIP/2.0 202") && m.Header("Call-ID") == refer.Header("Call-ID")
	})

	// Bob's INVITE to the transfer target went through the switch to carol,
	// who took the call from bob.
	if _, err := carol.AwaitEvent(ctx, "the transferred call", established("")); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.AwaitEvent(ctx, "the call to carol", established("1002")); err != nil {
		t.Fatal(err)
	}
	invite := awaitMessage(t, bob, "bob's INVITE to the target", func(m testenv.BaresipMessage) bool {
		return m.Sent(bob) && strings.HasPrefix(m.StartLine(), "INVITE ")
	})
	if invite.To != p.addr() || !strings.HasPrefix(invite.StartLine(), "INVITE "+target) {
		t.Errorf("bob's INVITE %q went to %s, want %s through the switch", invite.StartLine(), invite.To, target)
	}
	in := awaitMessage(t, carol, "the INVITE at carol", func(m testenv.BaresipMessage) bool {
		return !m.Sent(carol) && strings.HasPrefix(m.StartLine(), "INVITE ")
	})
	if in.From != p.addr() {
		t.Errorf("carol's INVITE came from %s, not through the switch (%s)", in.From, p.addr())
	}

	// The NOTIFYs of the REFER's subscription came back to alice, the last
	// one with the sipfrag of the 200, and alice's baresip saw the transfer
	// succeed: it ended the first call as transferred.
	awaitMessage(t, alice, "the NOTIFY with a 200 sipfrag", func(m testenv.BaresipMessage) bool {
		return !m.Sent(alice) && strings.HasPrefix(m.StartLine(), "NOTIFY ") &&
			strings.HasPrefix(m.Header("Event"), "refer") && strings.HasPrefix(m.Header("Content-Type"), "message/sipfrag") &&
			strings.HasPrefix(m.Body(), "SIP/2.0 200")
	})
	if _, err := alice.AwaitEvent(ctx, "the first call ended as transferred", func(ev testenv.BaresipEvent) bool {
		return ev.Type == "CALL_CLOSED" && strings.Contains(ev.Param, "transfer")
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.AwaitEvent(ctx, "the first call closed at bob", func(ev testenv.BaresipEvent) bool {
		return ev.Type == "CALL_CLOSED" && strings.Contains(ev.PeerURI, "alice")
	}); err != nil {
		t.Fatal(err)
	}

	if _, err := carol.Command(ctx, "hangup", ""); err != nil {
		t.Fatal(err)
	}
	recs := p.records(t, 2)
	byCalled := map[string]map[string]string{}
	for _, r := range recs {
		byCalled[r["called_received"]] = r
	}
	for _, called := range []string{"1001", "1002"} {
		r := byCalled[called]
		if r == nil {
			t.Errorf("no record of the call to %s: %v", called, recs)
			continue
		}
		if r["sip_code"] != "200" || r["disconnect_reason"] != "normal" {
			t.Errorf("call to %s: code %q reason %q, want 200 normal", called, r["sip_code"], r["disconnect_reason"])
		}
	}
	if r := byCalled["1002"]; r != nil && r["caller_number"] != "1001" {
		t.Errorf("the transferred call's caller is %q, want bob (1001)", r["caller_number"])
	}
}

// awaitMessage waits for a SIP message in ua's trace for which match
// holds and returns the first.
func awaitMessage(t *testing.T, ua *testenv.Baresip, what string, match func(testenv.BaresipMessage) bool) testenv.BaresipMessage {
	t.Helper()
	var found testenv.BaresipMessage
	testenv.Eventually(t, 10*time.Second, what, func() bool {
		for _, m := range ua.SIPTrace() {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}
