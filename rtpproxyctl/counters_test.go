package rtpproxyctl

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cdr"
)

// rtpproxyCaps makes the emulator a relay with rtpproxy 3.2's counters:
// loss and jitter, no bytes.
func rtpproxyCaps(e *emulator) {
	e.caps[capLoss] = true
	e.caps[capJitter] = true
}

// TestNamedQueryPerDirection: against a relay with rtpproxy's named
// counters, Delete asks the answering party's stream first (tags swapped)
// then the creator's with && D, and maps each to its direction, whoever
// created the session; the jitter is turned into time with the clock of
// the answer's codec.
func TestNamedQueryPerDirection(t *testing.T) {
	t.Parallel()
	pcmu := func(port int) []Stream {
		return []Stream{{Index: 0, Addr: lo, Port: port, PayloadTypes: []int{0}, ClockRate: 8000}}
	}
	for _, tc := range []struct {
		name          string
		offerer       Side
		fused         bool
		want          []string
		fromCreator   cdr.RTPStats
		fromAnswering cdr.RTPStats
	}{
		{"caller offers", Caller, true, []string{
			"Qv q@t b;1 a;1 ttl npkts_ina npkts_ino nrelayed ndropped rtpa_nlost rtpa_javg",
			"Qv q@t a;1 b;1 ttl npkts_ina npkts_ino nrelayed ndropped rtpa_nlost rtpa_javg && D",
		}, cdr.RTPStats{Packets: cdr.Known(7), Lost: cdr.Known(2), Jitter: cdr.KnownDuration(10 * time.Millisecond)}, cdr.RTPStats{Packets: cdr.Known(5), Lost: cdr.Known(0), Jitter: cdr.KnownDuration(2 * time.Millisecond)}},
		{"late offer from the callee", Callee, true, []string{
			"Qv q@t a;1 b;1 ttl npkts_ina npkts_ino nrelayed ndropped rtpa_nlost rtpa_javg",
			"Qv q@t b;1 a;1 ttl npkts_ina npkts_ino nrelayed ndropped rtpa_nlost rtpa_javg && D",
		}, cdr.RTPStats{Packets: cdr.Known(7), Lost: cdr.Known(2), Jitter: cdr.KnownDuration(10 * time.Millisecond)}, cdr.RTPStats{Packets: cdr.Known(5), Lost: cdr.Known(0), Jitter: cdr.KnownDuration(2 * time.Millisecond)}},
		{"no fused delete", Caller, false, []string{
			"Qv q@t b;1 a;1 ttl npkts_ina npkts_ino nrelayed ndropped rtpa_nlost rtpa_javg",
			"Qv q@t a;1 b;1 ttl npkts_ina npkts_ino nrelayed ndropped rtpa_nlost rtpa_javg",
			"D q@t a b",
		}, cdr.RTPStats{Packets: cdr.Known(7), Lost: cdr.Known(2), Jitter: cdr.KnownDuration(10 * time.Millisecond)}, cdr.RTPStats{Packets: cdr.Known(5), Lost: cdr.Known(0), Jitter: cdr.KnownDuration(2 * time.Millisecond)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu := newEmulator()
			rtpproxyCaps(emu)
			if !tc.fused {
				delete(emu.caps, capQueryDelete)
			}
			r := startUDP(t, emu)
			p := newPool(t, Config{Relays: []RelayConfig{{Address: r.address()}}})
			if f := p.Status()[0].Features; !f.NamedQuery || !f.Loss || !f.Jitter || f.Bytes {
				t.Fatalf("features %+v", f)
			}
			m := p.Open(Dialog{CallID: "q@t", CallerTag: "a", CalleeTag: "b"})
			if _, err := m.Offer(ctx(t), tc.offerer, pcmu(40000)); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Answer(ctx(t), tc.offerer.Other(), pcmu(40002)); err != nil {
				t.Fatal(err)
			}
			st, err := m.Delete(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			fromCreator, fromAnswering := st.CallerToCallee, st.CalleeToCaller
			if tc.offerer == Callee {
				fromCreator, fromAnswering = fromAnswering, fromCreator
			}
			if fromCreator != tc.fromCreator || fromAnswering != tc.fromAnswering || st.Relayed != 12 {
				t.Errorf("stats %+v", st)
			}
			cmds := r.commands()
			if got := strings.Join(cmds[2:], "\n"); got != strings.Join(tc.want, "\n") {
				t.Errorf("commands:\n%s\nwant\n%s", got, strings.Join(tc.want, "\n"))
			}
			if emu.count() != 0 {
				t.Error("session left on the relay")
			}
		})
	}
}

// TestStatsFlowJitter: the jitter, in RTP timestamp units, becomes time
// with the stream's clock; unknown clock, no jitter; with several streams
// the first one's (the audio) is kept and the counts add up. A counter the
// relay did not answer stays unknown.
func TestStatsFlowJitter(t *testing.T) {
	t.Parallel()
	var st Stats
	st.addFlow(Caller, Counters{FromA: 10, BytesA: 1720, LostA: 1, JitterA: 160, HasBytes: true, HasLost: true, HasJitter: true}, 8000)
	st.addFlow(Caller, Counters{FromA: 5, BytesA: 5000, JitterA: 9000, HasBytes: true, HasJitter: true}, 90000)
	st.addFlow(Callee, Counters{FromA: 3, JitterA: 160, HasJitter: true}, 0)
	want := Stats{
		CallerToCallee: cdr.RTPStats{Packets: cdr.Known(15), Bytes: cdr.Known(6720), Lost: cdr.Known(1), Jitter: cdr.KnownDuration(20 * time.Millisecond)},
		CalleeToCaller: cdr.RTPStats{Packets: cdr.Known(3)},
	}
	if st != want {
		t.Fatalf("%+v, want %+v", st, want)
	}
}

// TestNamedQueryOtherSideFails: when the answering party's Q fails, the
// creator's Q ... && D still runs: the session is deleted, the answering
// side keeps its packet count, and the error is reported.
func TestNamedQueryOtherSideFails(t *testing.T) {
	t.Parallel()
	emu := newEmulator()
	rtpproxyCaps(emu)
	emu.script(func(cmd string) (string, bool) {
		return "E62", strings.HasPrefix(cmd, "Qv q@t b;1 a;1 ")
	})
	r := startUDP(t, emu)
	p := newPool(t, Config{Relays: []RelayConfig{{Address: r.address()}}})
	m := p.Open(Dialog{CallID: "q@t", CallerTag: "a", CalleeTag: "b"})
	pcmu := []Stream{{Index: 0, Addr: lo, Port: 40000, PayloadTypes: []int{0}, ClockRate: 8000}}
	if _, err := m.Offer(ctx(t), Caller, pcmu); err != nil {
		t.Fatal(err)
	}
	st, err := m.Delete(ctx(t))
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Code != 62 {
		t.Errorf("delete: %v, want E62 reported", err)
	}
	want := Stats{
		CallerToCallee: cdr.RTPStats{Packets: cdr.Known(7), Lost: cdr.Known(2), Jitter: cdr.KnownDuration(10 * time.Millisecond)},
		CalleeToCaller: cdr.RTPStats{Packets: cdr.Known(5)},
		Relayed:        12,
	}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if emu.count() != 0 {
		t.Error("session left on the relay")
	}
}
