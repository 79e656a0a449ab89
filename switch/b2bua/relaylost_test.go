package b2bua

import (
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
)

// healthInterval is the relay health probe of these tests: a dead relay is
// found within two of them.
const healthInterval = 300 * time.Millisecond

// externalRelayMedia is a media section anchoring calls on one external
// relay (the test's own, on a free control port) with a short health
// probe, and the relay's command timeout × retries long enough (5 s) that
// a teardown waiting on the dead relay would show.
func externalRelayMedia(t *testing.T, onLost string) string {
	lo, hi := freeMediaRange(t, 8)
	return fmt.Sprintf("media:\n  mode: rtpproxy\n  on_relay_lost: %s\n  rtpproxy:\n"+
		"    relays: [{address: \"udp:127.0.0.1:%d\"}]\n    health_interval: %v\n    timeout: 1s\n    retries: 4\n"+
		"  builtin:\n    port_min: %d\n    port_max: %d\n", onLost, testenv.FreeUDPPort(t), healthInterval, lo, hi)
}

// TestMediaRelayLostEndsCall: the relay a connected call's media crosses
// dies; its health probe finds it, and the call ends within a probe
// interval plus the probe's wait (the 1 s command timeout), both legs hung up, with the reason "media relay lost" and one
// record, without waiting on the dead relay for the session's delete.
func TestMediaRelayLostEndsCall(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	sw, media := startMediaSwitch(t, externalRelayMedia(t, "end")+routeTo(gw.peer))
	_, _, callerTo, gwTo := mediaCall(t, sw, caller, gw)
	exchange(t, caller.rtp, gw.rtp, callerTo, gwTo, 10)

	media.kill()
	killed := time.Now()
	caller.waitRequest(sip.BYE, 10*time.Second)
	gw.waitRequest(sip.BYE, 10*time.Second)
	r := sw.record(t)
	took := time.Since(killed)
	if took > 2*healthInterval+time.Second {
		t.Errorf("call ended %v after its relay died, want within %v", took, 2*healthInterval+time.Second)
	}
	t.Logf("call ended and recorded %v after its relay died (health probe every %v)", took, healthInterval)
	if r.DisconnectReason != cdr.ReasonMediaRelayLost || r.ReleasedBy != cdr.ReleasedBySwitch || r.SIPCode != 200 {
		t.Errorf("record: reason %q released by %q code %d", r.DisconnectReason, r.ReleasedBy, r.SIPCode)
	}
	sw.noRecord(t)
}

// TestMediaRelayLostKeepsCall: with on_relay_lost keep the call outlives
// its relay, and the caller's BYE is answered at once: the switch does not
// wait timeout × retries (5 s) for a relay it knows is dead.
func TestMediaRelayLostKeepsCall(t *testing.T) {
	gw, caller := newMediaPeer(t, "gw"), newMediaPeer(t, "caller")
	sw, media := startMediaSwitch(t, externalRelayMedia(t, "keep")+routeTo(gw.peer))
	ds, _, callerTo, gwTo := mediaCall(t, sw, caller, gw)
	exchange(t, caller.rtp, gw.rtp, callerTo, gwTo, 10)

	media.kill()
	testenv.Eventually(t, 2*healthInterval+time.Second, "the dead relay out of service", func() bool {
		return !media.pool.Status()[0].InUse
	})
	if n := sw.ActiveCalls(); n != 1 {
		t.Fatalf("%d calls up after the relay died, want the call kept", n)
	}
	start := time.Now()
	if err := ds.Bye(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	r := sw.record(t)
	if took := time.Since(start); took > time.Second {
		t.Errorf("the BYE's teardown took %v on a relay known dead", took)
	}
	if r.DisconnectReason != cdr.ReasonNormal || r.ReleasedBy != cdr.ReleasedByCaller {
		t.Errorf("record: reason %q released by %q", r.DisconnectReason, r.ReleasedBy)
	}
}
