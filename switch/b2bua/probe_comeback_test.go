package b2bua

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestProbedGatewayStopsAnsweringAndComesBack: a probed gateway that
// answered, and took calls, stops answering OPTIONS; it is marked down and
// the hunt skips it (no INVITE reaches it, though it would still answer
// one) until it answers again, when it is up and takes the next call.
func TestProbedGatewayStopsAnsweringAndComesBack(t *testing.T) {
	t.Parallel()
	var options atomic.Int32 // optionsAnswered or optionsIgnored
	const (
		optionsAnswered int32 = iota
		optionsIgnored
	)
	var gw *peer
	gw = startPeer(t, "probed", func(req *sip.Request, tx sip.ServerTransaction) {
		if req.Method == sip.OPTIONS && options.Load() == optionsIgnored {
			return
		}
		gw.inDialog(req, tx)
	})
	gw.answer(0, nil)
	backup := newPeer(t, "backup")
	backup.answer(0, nil)
	sw := startSwitch(t, fmt.Sprintf(`timers: {probe_interval: 100ms, no_progress: 10s}
routes:
  - prefix: ""
    gateways:
      - {address: %q, probe: true}
      - {address: %q}
`, gw.addr(), backup.addr()))
	health := func() GatewayHealth {
		for _, g := range sw.GatewayHealth() {
			if g.Address == gw.addr() {
				return g
			}
		}
		return GatewayHealth{}
	}
	caller := newPeer(t, "caller")
	callTo := func(want *peer, history int) {
		t.Helper()
		before := len(gw.invites())
		_, r := gwCall(t, sw, want, caller, "100")
		if len(r.Attempts) != 1 || r.Attempts[0].Gateway != want.addr() {
			t.Errorf("attempts %+v: want one, to %s", r.Attempts, want.name)
		}
		if want != gw && len(gw.invites()) != before {
			t.Errorf("the probed gateway got an INVITE while down")
		}
		if h := health(); len(h.History) != history {
			t.Errorf("the probed gateway's history %+v: want %d changes", h.History, history)
		}
	}

	testenv.Eventually(t, 5*time.Second, "the probed gateway answering its probes", func() bool {
		h := health()
		return h.Up && !h.LastProbe.IsZero()
	})
	callTo(gw, 0)

	options.Store(optionsIgnored)
	testenv.Eventually(t, 5*time.Second, "the silent gateway down", func() bool { return !health().Up })
	callTo(backup, 1)

	options.Store(optionsAnswered)
	testenv.Eventually(t, 5*time.Second, "the gateway up again at its first answer", func() bool { return health().Up })
	callTo(gw, 2)
	if h := health().History; h[0].Up || !h[1].Up {
		t.Errorf("history %+v: want down, then up", h)
	}
}
