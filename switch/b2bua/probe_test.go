package b2bua

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/testenv"
)

// TestProbedGatewayDownIsSkipped: a probed gateway that answers no OPTIONS
// is marked down after two probes and the hunt goes straight to the next,
// with no attempt and no no-progress wait; its history says when. (A
// closed port, whose ICMP error marks it down at once:
// TestUnreachableProbeMarksDownAtOnce.)
func TestProbedGatewayDownIsSkipped(t *testing.T) {
	t.Parallel()
	live := newPeer(t, "live")
	live.answer(0, nil)
	silent, err := net.ListenPacket("udp4", "127.0.0.1:0") // takes the probes, answers none
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	dead := silent.LocalAddr().String()
	sw := startSwitch(t, fmt.Sprintf(`timers: {probe_interval: 100ms, no_progress: 10s}
routes:
  - prefix: ""
    gateways:
      - {address: %q, probe: true}
      - {address: %q, probe: true}
`, dead, live.addr()))
	state := func() map[string]GatewayHealth {
		m := map[string]GatewayHealth{}
		for _, g := range sw.GatewayHealth() {
			m[g.Address] = g
		}
		return m
	}
	testenv.Eventually(t, 5*time.Second, "the silent gateway down and the live one up", func() bool {
		m := state()
		return len(m[dead].History) == 1 && !m[dead].Up && m[dead].Failures >= probeDownAfter &&
			m[live.addr()].Up && !m[live.addr()].LastProbe.IsZero()
	})
	start := time.Now()
	_, r := gwCall(t, sw, live, newPeer(t, "caller"), "100")
	if len(r.Attempts) != 1 || r.Attempts[0].Gateway != live.addr() {
		t.Errorf("attempts %+v: want only the live gateway", r.Attempts)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the call took %v: the down gateway was waited for", d)
	}
}

// The probes' state machine: down after two misses in a row, or at once
// on an ICMP unreachable, up at the first answer, each change in the
// history.
func TestHealthNote(t *testing.T) {
	h := health{m: map[string]*GatewayHealth{}}
	gw := config.Gateway{Address: "192.0.2.1:5060", Transport: "udp", Probe: true}
	now := time.Now()
	for i, step := range []struct {
		result      probeResult
		up, changed bool
	}{
		{probeAnswered, true, false}, {probeUnanswered, true, false}, {probeUnanswered, false, true},
		{probeUnanswered, false, false}, {probeAnswered, true, true},
		{probeUnreachable, false, true}, {probeUnanswered, false, false}, {probeAnswered, true, true},
	} {
		changed, g := h.note(gw, step.result, now.Add(time.Duration(i)*time.Second))
		if g.Up != step.up || changed != step.changed || h.down(gw) == step.up {
			t.Fatalf("step %d: up %v changed %v, want %v %v", i, g.Up, changed, step.up, step.changed)
		}
	}
	if _, g := h.note(gw, probeAnswered, now); len(g.History) != 4 || g.History[0].Up || !g.History[1].Up ||
		g.History[2].Up || !g.History[3].Up {
		t.Errorf("history %+v", g.History)
	}
	if h.down(config.Gateway{Address: "192.0.2.1:5060", Transport: "udp"}) {
		t.Error("a gateway without probe: true is never down")
	}
}
