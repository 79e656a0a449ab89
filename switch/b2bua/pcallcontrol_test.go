package b2bua

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
)

// pccProfiles are two profiles reading P-CallControl, chosen by
// X-Profile: one trusting the test's callers (127.0.0.1), one trusting
// only a network they are not in. Both pass every other header across,
// to show that P-CallControl never crosses.
const pccProfiles = `profiles:
  - name: trusting
    header_filter: transparent
    p_callcontrol: {trusted: ["127.0.0.0/8"]}
  - name: wary
    header_filter: transparent
    p_callcontrol: {trusted: ["192.0.2.0/24"]}
  - name: timeronly
    p_callcontrol: {trusted: ["127.0.0.1"], modules: [call_timer]}
profile_select:
  selectors: ["$H(X-Profile)"]
`

// TestPCallControlLimit: a trusted source's P-CallControl sets a
// parallel-call limit for its key (the second call is refused 402 while
// the first is up); the same header from an untrusted source is ignored;
// the gateway never sees it.
func TestPCallControlLimit(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+pccProfiles)
	ctx := within(t, 20*time.Second)
	pcc := sip.NewHeader("P-CallControl", "limit;key=acct-7;max_calls=1")

	first, err := newPeer(t, "a1").call(ctx, sw.uri("100"), sip.NewHeader("X-Profile", "trusting"), pcc)
	if err != nil {
		t.Fatal(err)
	}
	res := failedCall(t, newPeer(t, "a2"), sw.uri("100"), sip.NewHeader("X-Profile", "trusting"), pcc)
	if res.StatusCode != 402 {
		t.Errorf("second call of acct-7: %d %s, want 402", res.StatusCode, res.Reason)
	}
	wary, err := newPeer(t, "b1").call(ctx, sw.uri("100"), sip.NewHeader("X-Profile", "wary"), pcc)
	if err != nil {
		t.Fatalf("untrusted header limited the call: %v", err)
	}
	for _, inv := range gw.invites() {
		if h := hdrValue(inv, "P-CallControl"); h != "" {
			t.Errorf("gateway got P-CallControl %q", h)
		}
		if hdrValue(inv, "X-Profile") == "" {
			t.Error("the other headers did not cross: the test shows nothing")
		}
	}
	if err := first.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if err := wary.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		sw.record(t)
	}
	// The count went with the first call.
	again, err := newPeer(t, "a3").call(ctx, sw.uri("100"), sip.NewHeader("X-Profile", "trusting"), pcc)
	if err != nil {
		t.Fatalf("acct-7 after its call ended: %v", err)
	}
	if err := again.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	sw.record(t)
}

// TestPCallControlTimer: a trusted P-CallControl's call_timer cuts the
// connected call like the profile's call_timer; a module the profile does
// not let the header choose, or an entry that does not parse, refuses the
// call 400 rather than let it through without what its sender meant.
func TestPCallControlTimer(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+pccProfiles)
	caller := newPeer(t, "caller")
	_, err := caller.call(within(t, 20*time.Second), sw.uri("100"), sip.NewHeader("X-Profile", "timeronly"),
		sip.NewHeader("P-CallControl", "cc_call_timer;timer=1"))
	if err != nil {
		t.Fatal(err)
	}
	caller.waitRequest(sip.BYE, 10*time.Second)
	gw.waitRequest(sip.BYE, 10*time.Second)
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonMaxDuration || r.ReleasedBy != cdr.ReleasedBySwitch {
		t.Errorf("record = %+v", r)
	}
	for _, v := range []string{"limit;key=k;max_calls=1", "call_timer;timer=soon", "voicemail"} {
		res := failedCall(t, newPeer(t, "bad"), sw.uri("100"), sip.NewHeader("X-Profile", "timeronly"),
			sip.NewHeader("P-CallControl", v))
		if res.StatusCode != 400 {
			t.Errorf("P-CallControl %q: %d %s, want 400", v, res.StatusCode, res.Reason)
		}
		sw.record(t)
	}
}
