package web

import (
	"strconv"
	"sync"
	"time"
)

// throttle slows password guessing: after too many failed logins within a
// window, from one address or for one user name, further attempts are
// refused until the window passes. It lives in memory: a restart forgets
// it, which costs an attacker a restart of the appliance per window.
type throttle struct {
	mu      sync.Mutex
	entries map[string]*failures
	now     func() time.Time
}

type failures struct {
	count int
	since time.Time
}

const (
	throttleWindow  = 15 * time.Minute
	maxFailsPerUser = 5  // one account: few, the owner knows the password
	maxFailsPerIP   = 20 // one address: an office behind NAT has many users
	maxEntries      = 100000
)

func newThrottle() *throttle {
	return &throttle{entries: map[string]*failures{}, now: time.Now}
}

func ipKey(ip string) string     { return "ip\x00" + ip }
func userKey(name string) string { return "user\x00" + name }

// blocked returns how long a login from ip for name must wait (0: go on).
func (t *throttle) blocked(ip, name string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return max(t.wait(ipKey(ip), maxFailsPerIP), t.wait(userKey(name), maxFailsPerUser))
}

func (t *throttle) wait(key string, limit int) time.Duration {
	f := t.entries[key]
	if f == nil {
		return 0
	}
	left := throttleWindow - t.now().Sub(f.since)
	if left <= 0 {
		delete(t.entries, key)
		return 0
	}
	if f.count < limit {
		return 0
	}
	return left
}

func (t *throttle) failed(ip, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.entries) >= maxEntries {
		t.prune(now)
	}
	for _, k := range []string{ipKey(ip), userKey(name)} {
		f := t.entries[k]
		if f == nil || now.Sub(f.since) >= throttleWindow {
			f = &failures{since: now}
			t.entries[k] = f
		}
		f.count++
	}
}

// succeeded forgets the user's failures (not the address's: one good
// password must not reset a spray over many accounts).
func (t *throttle) succeeded(_, name string) {
	t.mu.Lock()
	delete(t.entries, userKey(name))
	t.mu.Unlock()
}

// prune bounds memory under a flood of distinct addresses and names.
func (t *throttle) prune(now time.Time) {
	for k, f := range t.entries {
		if now.Sub(f.since) >= throttleWindow {
			delete(t.entries, k)
		}
	}
	if len(t.entries) >= maxEntries {
		clear(t.entries)
	}
}

func retryAfter(d time.Duration) string { return strconv.Itoa(int(d.Seconds()) + 1) }

func humanWait(d time.Duration) string {
	if d < time.Minute {
		return strconv.Itoa(int(d.Seconds())+1) + " seconds"
	}
	return strconv.Itoa(int(d.Minutes())+1) + " minutes"
}
