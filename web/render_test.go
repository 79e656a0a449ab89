package web

import "testing"

// TestStateClassOfEveryLegState: the active-calls page colours a call by
// its caller leg's state, and a call whose re-INVITE is in progress
// (updating) is still up.
func TestStateClassOfEveryLegState(t *testing.T) {
	t.Parallel()
	want := map[string]string{"idle": "muted", "trying": "warn", "ringing": "warn", "connected": "ok",
		"updating": "ok", "cancelling": "warn", "disconnected": "muted"}
	for state, cls := range want {
		if got := stateClass(state); got != cls {
			t.Errorf("stateClass(%q) = %q, want %q", state, got, cls)
		}
	}
}
