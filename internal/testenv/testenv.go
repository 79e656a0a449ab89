// Package testenv starts the real components Tollgate's tests talk to — SIPp, baresip,
// PostgreSQL, FreeRADIUS, Kamailio, Redis, Chromium — on free loopback ports, and
// installs the Debian package that provides one when it is missing, so that a
// test never depends on a service started by hand and never skips.
package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago
// and that no Free*Port call of this process has returned before.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	port, err := PickUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// FreeTCPPort returns a TCP port on 127.0.0.1 that was free a moment ago
// and that no Free*Port call of this process has returned before.
func FreeTCPPort(t testing.TB) int {
	t.Helper()
	port, err := PickTCPPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// PickUDPPort is FreeUDPPort for callers without a test (the load
// driver, internal/bench): the same ports, never one returned before.
func PickUDPPort() (int, error) {
	return unclaimedPort("UDP", func() (int, bool, error) {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, false, fmt.Errorf("testenv: no free UDP port: %w", err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, true, nil
	})
}

// PickTCPPort is FreeTCPPort for callers without a test.
func PickTCPPort() (int, error) {
	return unclaimedPort("TCP", func() (int, bool, error) {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, false, fmt.Errorf("testenv: no free TCP port: %w", err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, true, nil
	})
}

// unclaimedPort calls pick (which reports whether its port is usable)
// until it gives a usable port that handedOut has not seen, and claims it.
func unclaimedPort(kind string, pick func() (port int, usable bool, err error)) (int, error) {
	for range 50 {
		port, usable, err := pick()
		if err != nil {
			return 0, err
		}
		if usable && handedOut.claim(port) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("testenv: no free %s port that was not handed out already", kind)
}

// handedOut are the ports the Free*Port functions have returned in this
// process. The kernel may give the port a test has just closed to the next
// bind to port 0, so two ports asked for in a row (a SIP listener's and
// the web UI's) came out the same once in a while, and the second listener
// failed with "address already in use". A port is never handed out twice:
// a test process asks for a few thousand of the ~28,000 ephemeral ports.
var handedOut = portSet{ports: map[int]bool{}}

type portSet struct {
	mu    sync.Mutex
	ports map[int]bool
}

// claim records port and reports whether it was not yet recorded.
func (s *portSet) claim(port int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ports[port] {
		return false
	}
	s.ports[port] = true
	return true
}

// FreeUDPRange returns n consecutive UDP ports on 127.0.0.1, free a moment
// ago, starting at a random even port in [from, to): a media relay's port
// range. Ranges below the kernel's ephemeral ports (32768 up) are not taken
// from under the test by outgoing sockets; packages that run their tests at
// the same time pass different zones so their ranges never meet, and the
// ranges handed out in one process never overlap until their test ends, so
// that parallel tests do not share ports either.
func FreeUDPRange(t testing.TB, n, from, to int) (lo, hi int) {
	t.Helper()
	for range 100 {
		lo = from + rand.IntN((to-from-n)/2)*2
		if udpRangeFree(lo, n) && udpRanges.take(lo, lo+n-1) {
			t.Cleanup(func() { udpRanges.release(lo) })
			return lo, lo + n - 1
		}
	}
	t.Fatalf("testenv: no %d free UDP ports in %d-%d", n, from, to)
	return 0, 0
}

// udpRanges are the port ranges FreeUDPRange has handed out to tests still
// running, by first port.
var udpRanges = takenRanges{hi: map[int]int{}}

type takenRanges struct {
	mu sync.Mutex
	hi map[int]int
}

// take records [lo, hi] unless it meets a range already taken.
func (r *takenRanges) take(lo, hi int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for l, h := range r.hi {
		if lo <= h && l <= hi {
			return false
		}
	}
	r.hi[lo] = hi
	return true
}

func (r *takenRanges) release(lo int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.hi, lo)
}

func udpRangeFree(lo, n int) bool {
	for p := lo; p < lo+n; p++ {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// FreePort returns a port on 127.0.0.1 free for both UDP and TCP, as a SIP
// listener needs, and that no Free*Port call of this process has returned
// before.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := unclaimedPort("UDP and TCP", func() (int, bool, error) {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, false, fmt.Errorf("testenv: no free TCP port: %w", err)
		}
		defer l.Close()
		c, err := net.ListenPacket("udp4", l.Addr().String())
		if err != nil {
			return 0, false, nil // taken for UDP: pick another
		}
		c.Close()
		return l.Addr().(*net.TCPAddr).Port, true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return port
}

var installMu sync.Mutex

// RequireBinary returns the path of binary, installing the Debian package pkg
// with apt-get when the binary is missing. It fails the test loudly when the
// install fails: a missing component is never a reason to skip.
func RequireBinary(t testing.TB, binary, pkg string) string {
	t.Helper()
	p, err := LookOrInstall(binary, pkg, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// LookOrInstall is RequireBinary for programs without a test (make bench's
// driver): the path of binary, after installing pkg when it is missing,
// saying so through logf.
func LookOrInstall(binary, pkg string, logf func(format string, args ...any)) (string, error) {
	installMu.Lock()
	defer installMu.Unlock()
	find := func() (string, bool) {
		if p, err := exec.LookPath(binary); err == nil {
			return p, true
		}
		if _, err := os.Stat(binary); err == nil {
			return binary, true
		}
		return "", false
	}
	if p, ok := find(); ok {
		return p, nil
	}
	logf("testenv: %s missing, installing Debian package %s", binary, pkg)
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", pkg}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("testenv: apt-get %v: %w\n%s", args, err, out)
		}
	}
	if p, ok := find(); ok {
		return p, nil
	}
	return "", fmt.Errorf("testenv: %s still missing after installing %s", binary, pkg)
}
