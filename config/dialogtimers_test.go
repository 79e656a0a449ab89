package config

import (
	"strings"
	"testing"
	"time"
)

// TestDialogTimersResolved: a profile's option wins over the global one,
// an unset one takes the global value, then the default; the caller leg's
// aleg_ options fall back to the gateway leg's, as SEMS's do.
func TestDialogTimersResolved(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(route + `
dialog_timers:
  enable_session_timer: true
  session_expires: 600
  minimum_timer: 60
  keepalive_orig: 30
profiles:
  - name: sst
    enable_aleg_session_timer: true
    aleg_session_expires: 300
    session_refresh_method: INVITE
    accept_501_reply: false
    keepalive_ans: 20
    keepalive_method: INVITE
`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.CallLegTimers(nil)
	want := LegTimers{SessionTimer: true, SessionExpires: 600 * time.Second, MinSE: 60 * time.Second,
		RefreshMethod: RefreshUpdateFallbackInvite, Accept501: true, Keepalive: 30 * time.Second, KeepaliveMethod: KeepaliveOptions}
	if *b != want {
		t.Errorf("global gateway leg: %+v, want %+v", *b, want)
	}
	if a.SessionTimer || a.SessionExpires != 600*time.Second || a.Keepalive != 0 {
		t.Errorf("global caller leg: %+v", a)
	}
	p, _ := c.Profile("sst")
	a, b = c.CallLegTimers(p)
	if !b.SessionTimer || b.SessionExpires != 600*time.Second || b.RefreshMethod != RefreshInvite || b.Accept501 || b.KeepaliveMethod != KeepaliveInvite {
		t.Errorf("profile gateway leg: %+v", b)
	}
	if !a.SessionTimer || a.SessionExpires != 300*time.Second || a.MinSE != 60*time.Second || a.RefreshMethod != RefreshInvite ||
		a.Accept501 || a.Keepalive != 20*time.Second {
		t.Errorf("profile caller leg: %+v", a)
	}
}

// TestDialogTimersChecked: what check-config refuses, where it is.
func TestDialogTimersChecked(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(route + `
dialog_timers:
  session_refresh_method: OPTIONS
  keepalive_method: BYE
profiles:
  - name: short
    enable_session_timer: true
    session_expires: 30
    minimum_timer: 0
  - name: low
    enable_aleg_session_timer: true
    aleg_session_expires: 30
    keepalive_orig: -1
`))
	if err == nil {
		t.Fatal("accepted")
	}
	text := err.Error()
	for _, want := range []string{
		`dialog_timers.session_refresh_method: "OPTIONS": want UPDATE_FALLBACK_INVITE, UPDATE or INVITE`,
		`dialog_timers.keepalive_method: "BYE": want OPTIONS or INVITE`,
		`profiles[0].minimum_timer: 0: want a number of seconds, at least 1`,
		`profiles[1].keepalive_orig: -1: want a number of seconds, 0 for none`,
		`profiles[1]: aleg_session_expires 30s is below aleg_minimum_timer 1m30s`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
}
