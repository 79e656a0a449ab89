package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"sync"
	"time"
)

// throttle slows password guessing without handing strangers a way to lock
// a user out (OWASP's "Blocking Brute Force Attacks": backoff and device
// cookies, no CAPTCHA, no hard lockout):
//
//   - one name from one address backs off exponentially after a few
//     failures, up to a long wait: that is where guessing happens, and it
//     costs nobody else anything;
//   - one address over all names, and one name over all addresses, back
//     off too but only up to a short wait: they slow a spray and a botnet,
//     yet an office behind one NAT address, or an admin whose name a
//     stranger is guessing, waits a minute at most;
//   - a browser that logged in as that name before (it holds a device
//     cookie signed by this process) is held to a backoff of its own
//     instead, so that no stranger, not even one behind the same address,
//     can keep its owner out at all.
//
// Wrong current passwords sent with an API token back off on their own
// account (per name): a leaked token must not become a way to guess the
// password quickly, nor to lock its owner's login.
//
// It lives in memory: a restart forgets it, and the device cookies with it
// (their key is made at start), which costs an attacker a restart per try.
type throttle struct {
	mu      sync.Mutex
	entries map[string]*backoff
	now     func() time.Time
	key     []byte // signs device cookies
}

type backoff struct {
	fails int
	last  time.Time
}

// limit is a backoff rule: free failures, then 1 s doubling up to max.
type limit struct {
	free int
	max  time.Duration
}

var (
	pairLimit  = limit{free: 3, max: 15 * time.Minute} // one name from one address
	addrLimit  = limit{free: 20, max: time.Minute}     // one address, every name
	nameLimit  = limit{free: 10, max: time.Minute}     // one name, every address
	tokenLimit = limit{free: 3, max: 15 * time.Minute} // wrong passwords sent with a token
)

const (
	// forgetAfter is how long a key must stay quiet before its failures are
	// forgotten; above every limit's max, so a backoff cannot be waited out
	// into a fresh start.
	forgetAfter = time.Hour
	maxEntries  = 100000
)

func newThrottle() *throttle {
	key := make([]byte, 32)
	rand.Read(key)
	return &throttle{entries: map[string]*backoff{}, now: time.Now, key: key}
}

// attempt is one password check: whose, from where, and how.
type attempt struct {
	name, ip string
	// trusted: the browser holds a device cookie of an earlier login of name.
	trusted bool
	// token: the password was sent with an API token (password change).
	token bool
}

type keyed struct {
	key string
	lim limit
}

// keys are the counters an attempt is held to; the first is its own and is
// the one a success clears.
func (a attempt) keys() []keyed {
	if a.token {
		return []keyed{{"token\x00" + a.name, tokenLimit}}
	}
	if a.trusted {
		return []keyed{{"device\x00" + a.name, pairLimit}}
	}
	return []keyed{
		{"pair\x00" + a.name + "\x00" + a.ip, pairLimit},
		{"ip\x00" + a.ip, addrLimit},
		{"user\x00" + a.name, nameLimit},
	}
}

// blocked returns how long the attempt must wait (0: go on).
func (t *throttle) blocked(a attempt) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var wait time.Duration
	for _, k := range a.keys() {
		b := t.entries[k.key]
		if b == nil {
			continue
		}
		if now.Sub(b.last) >= forgetAfter {
			delete(t.entries, k.key)
			continue
		}
		wait = max(wait, k.lim.wait(b, now))
	}
	return wait
}

func (l limit) wait(b *backoff, now time.Time) time.Duration {
	if b.fails <= l.free {
		return 0
	}
	d := min(time.Second<<min(b.fails-l.free-1, 30), l.max)
	return max(b.last.Add(d).Sub(now), 0)
}

func (t *throttle) failed(a attempt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.entries) >= maxEntries {
		t.prune(now)
	}
	for _, k := range a.keys() {
		b := t.entries[k.key]
		if b == nil || now.Sub(b.last) >= forgetAfter {
			b = &backoff{}
			t.entries[k.key] = b
		}
		b.fails++
		b.last = now
	}
}

// succeeded forgets the attempt's own failures (not the address's nor the
// name's: one good password must not reset a spray over many accounts).
func (t *throttle) succeeded(a attempt) {
	t.mu.Lock()
	delete(t.entries, a.keys()[0].key)
	t.mu.Unlock()
}

// prune bounds memory under a flood of distinct addresses and names.
func (t *throttle) prune(now time.Time) {
	for k, b := range t.entries {
		if now.Sub(b.last) >= forgetAfter {
			delete(t.entries, k)
		}
	}
	if len(t.entries) >= maxEntries {
		clear(t.entries)
	}
}

// deviceCookie names the cookie a browser gets at a successful login: a MAC
// of the user name under this process's key, so it proves an earlier login
// of that name without naming it or granting anything else.
const deviceCookie = "tollgate_device"

func (t *throttle) deviceMAC(name string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(name))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

func (t *throttle) trustedDevice(cookie, name string) bool {
	return hmac.Equal([]byte(cookie), []byte(t.deviceMAC(name)))
}

func retryAfter(d time.Duration) string { return strconv.Itoa(int(d.Seconds()) + 1) }

func humanWait(d time.Duration) string {
	if d < time.Minute {
		return strconv.Itoa(int(d.Seconds())+1) + " seconds"
	}
	return strconv.Itoa(int(d.Minutes())+1) + " minutes"
}
