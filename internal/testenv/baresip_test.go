package testenv

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestBaresipCall: one baresip calls another directly; the callee answers
// by itself, both report the call established, and the caller's hangup
// closes it on both sides. A command baresip does not know is an error.
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
	if !strings.Contains(bob.Output(), "BYE sip:bob") {
		t.Errorf("bob's SIP trace has no BYE:\n%s", bob.Output())
	}
	if _, err := alice.Command(ctx, "no_such_command", ""); err == nil {
		t.Error("an unknown command was not an error")
	}
}
