package b2bua

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/tollgate/tollgate/cdr"
)

// TestProfileCallID: with call_id "$ci_leg2" (SEMS's Call-ID option) the
// gateway leg's Call-ID is the caller's with "_leg2", and the dialog
// built on it carries the call to its end.
func TestProfileCallID(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+"profiles:\n  - {name: dbg, call_id: \"$ci_leg2\"}\nprofile_select:\n  selectors: [dbg]\n")
	caller := newPeer(t, "caller")
	ctx := within(t, 10*time.Second)
	ds, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	want := ds.InviteRequest.CallID().Value() + "_leg2"
	if got := gw.invites()[0].CallID().Value(); got != want {
		t.Errorf("gateway Call-ID %q, want %q", got, want)
	}
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if bye := gw.waitRequest(sip.BYE, 5*time.Second); bye.CallID().Value() != want {
		t.Errorf("BYE Call-ID %q", bye.CallID().Value())
	}
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal {
		t.Errorf("record = %+v", r)
	}
}

// TestNewCallIDIsUUIDv4: call IDs are random version 4 UUIDs (RFC 4122),
// distinct, in the text form aaa.ParseConfID reads back.
func TestNewCallIDIsUUIDv4(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newCallID()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || len(id) != 36 {
			t.Fatalf("%q: version %v, variant %v, error %v", id, u.Version(), u.Variant(), err)
		}
		if seen[id] {
			t.Fatalf("%q twice", id)
		}
		seen[id] = true
	}
}

// TestNewTagIsHex: our tags are 16 lowercase hex digits, distinct, so none
// can spell "CSeq" or another header name a peer such as SIPp searches a
// whole message for.
func TestNewTagIsHex(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		tag := newTag()
		if len(tag) != 16 || strings.Trim(tag, "0123456789abcdef") != "" {
			t.Fatalf("tag %q: want 16 lowercase hex digits", tag)
		}
		if seen[tag] {
			t.Fatalf("%q twice", tag)
		}
		seen[tag] = true
	}
}
