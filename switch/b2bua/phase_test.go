package b2bua

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestPhaseTransitions drives the call's transition table through every
// phase × event: the moves a call may make, and a refusal for all others.
func TestPhaseTransitions(t *testing.T) {
	allowed := map[Phase]map[callEvent]Phase{
		PhaseSetup:       {evProgress: PhaseEarly, evAnswer: PhaseAwaitingACK, evEnd: PhaseEnding},
		PhaseEarly:       {evProgress: PhaseEarly, evAnswer: PhaseAwaitingACK, evEnd: PhaseEnding},
		PhaseAwaitingACK: {evAck: PhaseConnected, evEnd: PhaseEnding},
		PhaseConnected:   {evEnd: PhaseEnding},
		PhaseEnding:      {evReleased: PhaseEnded},
		PhaseEnded:       {},
	}
	for p := range numPhases {
		for ev := range numCallEvents {
			t.Run(p.String()+"/"+ev.String(), func(t *testing.T) {
				want, wantOK := allowed[p][ev]
				c, logs := unitCall()
				c.phase = p
				if ok := c.to(ev); ok != wantOK {
					t.Fatalf("to(%v) from %v = %v, want %v", ev, p, ok, wantOK)
				}
				if !wantOK {
					want = p // a refused move changes nothing...
					if !strings.Contains(logs.String(), "impossible call transition refused") {
						t.Errorf("refusal not logged: %q", logs) // ...but is told
					}
				}
				if c.phase != want {
					t.Errorf("phase after %v from %v = %v, want %v", ev, p, c.phase, want)
				}
			})
		}
	}
}

// TestLegTransitions does the same for a leg's states.
func TestLegTransitions(t *testing.T) {
	allowed := map[LegState]map[legEvent]LegState{
		LegIdle:         {legInvite: LegTrying, legGone: LegDisconnected},
		LegTrying:       {legProvisional: LegRinging, legAnswer: LegConnected, legCancel: LegCancelling, legGone: LegDisconnected},
		LegRinging:      {legProvisional: LegRinging, legAnswer: LegConnected, legCancel: LegCancelling, legGone: LegDisconnected},
		LegConnected:    {legOffer: LegUpdating, legGone: LegDisconnected},
		LegUpdating:     {legOfferDone: LegConnected, legCancel: LegCancelling, legGone: LegDisconnected},
		LegCancelling:   {legOfferDone: LegConnected, legGone: LegDisconnected},
		LegDisconnected: {},
	}
	for s := range numLegStates {
		for ev := range numLegEvents {
			t.Run(s.String()+"/"+ev.String(), func(t *testing.T) {
				want, wantOK := allowed[s][ev]
				c, logs := unitCall()
				l := &leg{name: "b", state: s}
				if ok := c.move(l, ev); ok != wantOK {
					t.Fatalf("move(%v) from %v = %v, want %v", ev, s, ok, wantOK)
				}
				if !wantOK {
					want = s
					if !strings.Contains(logs.String(), "impossible leg transition refused") {
						t.Errorf("refusal not logged: %q", logs)
					}
				}
				if l.state != want {
					t.Errorf("state after %v from %v = %v, want %v", ev, s, l.state, want)
				}
			})
		}
	}
}

// TestInDialogStates: requests within the dialog (BYE, INFO, a CANCEL of a
// re-INVITE) are taken in exactly the states where the dialog is confirmed.
func TestInDialogStates(t *testing.T) {
	want := map[LegState]bool{LegConnected: true, LegUpdating: true, LegCancelling: true}
	for s := range numLegStates {
		if got := s.inDialog(); got != want[s] {
			t.Errorf("%v.inDialog() = %v, want %v", s, got, want[s])
		}
	}
}

// TestOriginVersion: a re-offer of the agreed SDP numbers itself above the
// offer the peer answered last (RFC 3264 8).
func TestOriginVersion(t *testing.T) {
	agreed := []byte("v=0\r\no=tollgate 7 3 IN IP4 127.0.0.1\r\ns=-\r\n")
	for _, tc := range []struct{ last, want string }{
		{"v=0\r\no=tollgate 7 9 IN IP4 127.0.0.1\r\n", "o=tollgate 7 10 IN IP4"},
		{"v=0\r\no=tollgate 7 1 IN IP4 127.0.0.1\r\n", "o=tollgate 7 4 IN IP4"},
		{"", "o=tollgate 7 4 IN IP4"},
	} {
		got := nextVersion(agreed, []byte(tc.last))
		if !bytes.Contains(got, []byte(tc.want)) || !bytes.HasSuffix(got, []byte("127.0.0.1\r\ns=-\r\n")) {
			t.Errorf("nextVersion after %q = %q, want %q", tc.last, got, tc.want)
		}
	}
	if got := nextVersion([]byte("v=0\r\n"), nil); string(got) != "v=0\r\n" {
		t.Errorf("SDP without origin changed: %q", got)
	}
}

// unitCall is a call with no network behind it, its log captured.
func unitCall() (*Call, *bytes.Buffer) {
	var logs bytes.Buffer
	sw := &Switch{log: slog.New(slog.NewTextHandler(&logs, nil))}
	return &Call{ID: "unit", sw: sw}, &logs
}
