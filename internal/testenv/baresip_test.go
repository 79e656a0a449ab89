package testenv

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestBaresipCall: one baresip calls another directly; the callee answers
// by itself, both report the call established, and the caller's hangup
// closes it on both sides; the callee's SIP trace holds every message of it. A command baresip does not know is an error.
func TestBaresipCall(t *testing.T) {
	t.Parallel()
	alice, bob := StartBaresip(t, "alice"), StartBaresip(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := alice.Command(ctx, "dial", "sip:bob@"+bob.Addr()); err != nil {
		t.Fatal(err)
	}
	for _, ua := range []*Baresip{alice, bob} {
		if _, err := ua.AwaitEvent(ctx, "established call", func(ev BaresipEvent) bool { return ev.Type == "CALL_ESTABLISHED" }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := alice.Command(ctx, "hangup", ""); err != nil {
		t.Fatal(err)
	}
	ev, err := bob.AwaitEvent(ctx, "closed call", func(ev BaresipEvent) bool { return ev.Type == "CALL_CLOSED" })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ev.PeerURI, "alice") || ev.Direction != "incoming" {
		t.Errorf("bob's closed call: %+v, want the incoming one from alice", ev)
	}
	// bob gets the INVITE, rings, answers, gets the ACK and the BYE it answers.
	want := []string{"<INVITE", ">SIP/2.0", ">SIP/2.0", "<ACK", "<BYE", ">SIP/2.0"}
	var got []string
	Eventually(t, 5*time.Second, "bob's answer to the BYE in its trace", func() bool {
		got = got[:0]
		for _, m := range bob.SIPTrace() {
			dir := "<"
			if m.Sent(bob) {
				dir = ">"
			}
			got = append(got, dir+strings.Fields(m.StartLine())[0]+" "+m.Header("CSeq"))
		}
		return len(got) >= len(want)
	})
	if len(got) != len(want) {
		t.Fatalf("bob's SIP trace %q, want %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("bob's SIP trace %q, want %q", got, want)
			break
		}
	}
	if _, err := alice.Command(ctx, "no_such_command", ""); err == nil {
		t.Error("an unknown command was not an error")
	}
}
