package web

import (
	"testing"
	"time"
)

// clockThrottle is a throttle on a clock the test moves.
func clockThrottle() (*throttle, *time.Time) {
	t := newThrottle()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	t.now = func() time.Time { return now }
	return t, &now
}

func TestThrottleBacksOffPerNameAndAddress(t *testing.T) {
	t.Parallel()
	th, now := clockThrottle()
	guess := attempt{name: "admin", ip: "192.0.2.66"}
	var waits []time.Duration
	for range 16 {
		th.failed(guess)
		waits = append(waits, th.blocked(guess))
	}
	// Three free failures, then 1 s doubling, up to 15 minutes.
	for i, want := range []time.Duration{0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900} {
		if waits[i] != want*time.Second {
			t.Fatalf("wait after failure %d = %v, want %v s (all: %v)", i+1, waits[i], want, waits)
		}
	}
	*now = now.Add(15 * time.Minute)
	if w := th.blocked(guess); w != 0 {
		t.Fatalf("still blocked after the wait: %v", w)
	}
	th.failed(guess)
	if w := th.blocked(guess); w != 15*time.Minute {
		t.Fatalf("the next failure after the wait = %v, want the full 15 min again", w)
	}
	// A success clears that pair, not the name's nor the address's count.
	th.succeeded(guess)
	if th.entries["pair\x00admin\x00192.0.2.66"] != nil || th.entries["user\x00admin"] == nil || th.entries["ip\x00192.0.2.66"] == nil {
		t.Fatalf("after a success: %v", th.entries)
	}
}

// TestThrottleStrangerCannotLockOutOwner is the hole of issue #18: five
// wrong passwords from anyone used to lock a name out for 15 minutes.
func TestThrottleStrangerCannotLockOutOwner(t *testing.T) {
	t.Parallel()
	th, _ := clockThrottle()
	for range 500 {
		th.failed(attempt{name: "admin", ip: "192.0.2.66"})
	}
	if w := th.blocked(attempt{name: "admin", ip: "198.51.100.7", trusted: true}); w != 0 {
		t.Fatalf("the admin's own browser waits %v", w)
	}
	if w := th.blocked(attempt{name: "admin", ip: "198.51.100.7"}); w > time.Minute {
		t.Fatalf("the admin from a new browser waits %v, more than the short cap", w)
	}
	if w := th.blocked(attempt{name: "viewer", ip: "198.51.100.7"}); w != 0 {
		t.Fatalf("another user waits %v", w)
	}
}

// TestThrottleNATOffice: 20 failures from one address used to lock out
// every user behind it.
func TestThrottleNATOffice(t *testing.T) {
	t.Parallel()
	th, _ := clockThrottle()
	for i := range 300 {
		th.failed(attempt{name: "guess" + string(rune('a'+i%26)), ip: "203.0.113.1"})
	}
	if w := th.blocked(attempt{name: "operator", ip: "203.0.113.1"}); w == 0 || w > time.Minute {
		t.Fatalf("a colleague behind the same address waits %v, want a short wait", w)
	}
	if w := th.blocked(attempt{name: "operator", ip: "203.0.113.1", trusted: true}); w != 0 {
		t.Fatalf("a colleague's own browser waits %v", w)
	}
}

func TestThrottleTokenPasswordsDoNotLockLogin(t *testing.T) {
	t.Parallel()
	th, _ := clockThrottle()
	tok := attempt{name: "admin", ip: "192.0.2.5", token: true}
	for range 50 {
		th.failed(tok)
	}
	if th.blocked(tok) == 0 {
		t.Fatal("a token's wrong passwords are not throttled")
	}
	if w := th.blocked(attempt{name: "admin", ip: "192.0.2.5"}); w != 0 {
		t.Fatalf("the login from the token's address waits %v", w)
	}
}

func TestDeviceCookieNamesItsUser(t *testing.T) {
	t.Parallel()
	th := newThrottle()
	c := th.deviceMAC("admin")
	if !th.trustedDevice(c, "admin") || th.trustedDevice(c, "viewer") || newThrottle().trustedDevice(c, "admin") {
		t.Fatal("a device cookie proves a login of its name to this process only")
	}
}
