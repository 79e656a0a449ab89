package rtpproxyctl_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tollgate/tollgate/rtpproxyctl"
	"github.com/tollgate/tollgate/rtpproxyctl/relay"
)

// TestRelayLostDetectedByHealthProbe kills the relay a call is anchored
// on, with no command of the call in flight: the health probe finds it
// within two intervals, the pool names the call, and the call's Delete
// returns at once with the counters read while it was up instead of
// waiting timeout × retries (here 3 s) for a relay known dead (what it
// reports then is TestBuiltinRelayLostKeepsCounters' business).
func TestRelayLostDetectedByHealthProbe(t *testing.T) {
	t.Parallel()
	lo, hi := freeRange(t, 8)
	log := slog.New(slog.DiscardHandler)
	r, err := relay.New(relay.Config{Control: []string{"udp:127.0.0.1:0"}, PortMin: lo, PortMax: hi}, log)
	if err != nil {
		t.Fatal(err)
	}
	rctx, kill := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- r.Serve(rctx) }()
	t.Cleanup(kill)

	const health = 200 * time.Millisecond
	lost := make(chan rtpproxyctl.Dialog, 4)
	p, err := rtpproxyctl.New(opCtx(t), rtpproxyctl.Config{
		Relays:         []rtpproxyctl.RelayConfig{{Address: r.ControlAddrs()[0]}},
		Options:        rtpproxyctl.Options{Timeout: 300 * time.Millisecond, Retries: 9},
		HealthInterval: health,
		ProbeInterval:  time.Hour,
		OnRelayLost:    func(d rtpproxyctl.Dialog) { lost <- d },
		Logger:         log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	d := rtpproxyctl.Dialog{CallID: "lost-1", CallerTag: "a", CalleeTag: "b"}
	a, b := listen(t), listen(t)
	m := p.Open(d)
	if _, err := m.Offer(opCtx(t), rtpproxyctl.Caller, stream(a)); err != nil {
		t.Fatal(err)
	}
	toA, err := m.Answer(opCtx(t), rtpproxyctl.Callee, stream(b))
	if err != nil {
		t.Fatal(err)
	}
	relayed(t, a, b, toA[0], 10)
	// Opened, never offered: nothing on the relay, nothing to report.
	p.Open(rtpproxyctl.Dialog{CallID: "not-anchored", CallerTag: "a", CalleeTag: "b"})

	kill()
	<-served
	killed := time.Now()
	select {
	case got := <-lost:
		if got != d {
			t.Fatalf("lost call %+v, want %+v", got, d)
		}
		if took := time.Since(killed); took > 2*health+time.Second {
			t.Fatalf("relay loss noticed after %v", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the dead relay's call was never reported")
	}
	select {
	case got := <-lost:
		t.Fatalf("a second report: %+v", got)
	default:
	}
	if p.Status()[0].InUse {
		t.Fatal("a dead relay is still in service")
	}

	start := time.Now()
	_, err = m.Delete(opCtx(t))
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Fatalf("Delete on a dead relay took %v", took)
	}
	if err == nil {
		t.Fatal("Delete on a dead relay reported no error")
	}
}
