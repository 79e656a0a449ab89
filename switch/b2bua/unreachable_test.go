package b2bua

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestRefusedGatewayFailsAtOnce: a tcp gateway that refuses the
// connection fails its attempt at once (503, a real failure); the hunt does
// not wait for the no-progress timer. (A udp gateway's ICMP port
// unreachable: TestUnreachableUDPGatewayFailsAtOnce.)
func TestRefusedGatewayFailsAtOnce(t *testing.T) {
	t.Parallel()
	live := newPeer(t, "live")
	live.answer(0, nil)
	refusing := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	sw := startSwitch(t, fmt.Sprintf(`timers: {no_progress: 20s}
routes:
  - prefix: ""
    gateways:
      - {address: %q, transport: tcp}
      - {address: %q}
`, refusing, live.addr()))
	start := time.Now()
	_, r := gwCall(t, sw, live, newPeer(t, "caller"), "100")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the call took %v: the refusing gateway was waited for", d)
	}
	if len(r.Attempts) != 2 || r.Attempts[0].SIPCode != 503 {
		t.Errorf("attempts %+v: want the refused one (503), then the live gateway", r.Attempts)
	}
}

// TestUnreachableUDPGatewayFailsAtOnce: a udp gateway whose port is closed
// answers the INVITE with an ICMP port unreachable, which fails the attempt
// at once (503, the ICMP error named) and the hunt goes to the next gateway,
// over IPv4 and IPv6. no_progress is an hour: the call completes within
// gwCall's 20 s only if the ICMP error ended the attempt.
func TestUnreachableUDPGatewayFailsAtOnce(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			network := "udp4"
			if strings.Contains(host, ":") {
				network = "udp6"
			}
			live := startPeerOn(t, "live", host, nil)
			live.answer(0, nil)
			closed := closedUDPAddr(t, network, host).String()
			sw := startSwitchV6(t, fmt.Sprintf(`timers: {no_progress: 1h}
routes:
  - prefix: ""
    gateways:
      - {address: %q}
      - {address: %q}
`, closed, live.addr()), "")
			before := sw.Stats().AttemptsByOutcome()[OutcomeUnreachable]
			_, r := gwCall(t, sw, live, newPeer(t, "caller"), "100")
			if len(r.Attempts) != 2 || r.Attempts[0].Gateway != closed || r.Attempts[1].Gateway != live.addr() {
				t.Fatalf("attempts %+v: want the closed port, then the live gateway", r.Attempts)
			}
			if a := r.Attempts[0]; a.SIPCode != 503 || a.SIPReason != "Gateway Unreachable (ICMP port unreachable)" || a.Ringing {
				t.Errorf("closed port's attempt %+v, want 503 Gateway Unreachable (ICMP port unreachable)", a)
			}
			if !r.Attempts[1].Answered {
				t.Errorf("live gateway's attempt %+v not answered", r.Attempts[1])
			}
			if n := sw.Stats().AttemptsByOutcome()[OutcomeUnreachable] - before; n != 1 {
				t.Errorf("%d unreachable attempts counted, want 1", n)
			}
		})
	}
}

// TestUnreachableProbeMarksDownAtOnce: an OPTIONS probe answered by an ICMP
// port unreachable marks its gateway down at the first probe — a silent
// one needs two, and with an interval of an hour a second never comes.
func TestUnreachableProbeMarksDownAtOnce(t *testing.T) {
	t.Parallel()
	live := newPeer(t, "live")
	live.answer(0, nil)
	closed := closedUDPAddr(t, "udp4", "127.0.0.1").String()
	sw := startSwitch(t, fmt.Sprintf(`timers: {probe_interval: 1h, no_progress: 1h}
routes:
  - prefix: ""
    gateways:
      - {address: %q, probe: true}
      - {address: %q, probe: true}
`, closed, live.addr()))
	testenv.Eventually(t, 10*time.Second, "the closed port's gateway down after one probe", func() bool {
		for _, g := range sw.GatewayHealth() {
			if g.Address == closed {
				return !g.Up && g.Failures == 1 && len(g.History) == 1
			}
		}
		return false
	})
	_, r := gwCall(t, sw, live, newPeer(t, "caller"), "100")
	if len(r.Attempts) != 1 || r.Attempts[0].Gateway != live.addr() {
		t.Errorf("attempts %+v: want only the live gateway", r.Attempts)
	}
}

// TestUnreachablesWatch: reports reach the watches of their destination,
// however the gateway's address was written, each watch once; a host name
// is not watched.
func TestUnreachablesWatch(t *testing.T) {
	var u unreachables
	got := map[string][]string{}
	watch := func(name, dest string) *unreachWatch {
		return u.watch(dest, func(why string) { got[name] = append(got[name], why) })
	}
	a := watch("a", "192.0.2.1:5060")
	b := watch("b", "192.0.2.1") // port 5060
	c := watch("c", "[2001:db8::1]:5080")
	d := watch("d", "2001:db8::1") // port 5060
	e := watch("e", "[2001:db8::1]")
	if w := watch("name", "gw.example.net:5060"); w != nil {
		t.Error("a host name is watched")
	}
	u.stop(nil) // a destination never watched
	report := func(dest, why string) int {
		return u.report(unreachable{dest: netip.MustParseAddrPort(dest), why: why})
	}
	if n := report("192.0.2.1:5060", "port unreachable"); n != 2 {
		t.Errorf("%d watches told, want 2", n)
	}
	report("192.0.2.1:5060", "host unreachable") // each watch hears the first only
	if n := report("[2001:db8::1]:5060", "port unreachable"); n != 2 {
		t.Errorf("%d v6 watches told, want 2", n)
	}
	if n := report("[::ffff:192.0.2.1]:5060", "port unreachable"); n != 2 {
		t.Errorf("a v4-mapped report told %d watches, want 2", n)
	}
	u.stop(a)
	u.stop(b)
	if n := report("192.0.2.1:5060", "port unreachable"); n != 0 {
		t.Errorf("%d stopped watches told", n)
	}
	u.stop(c)
	u.stop(d)
	u.stop(e)
	if len(u.m) != 0 {
		t.Errorf("stopped watches kept: %v", u.m)
	}
	want := map[string][]string{"a": {"port unreachable"}, "b": {"port unreachable"}, "d": {"port unreachable"}, "e": {"port unreachable"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("told %v, want %v", got, want)
	}
}
