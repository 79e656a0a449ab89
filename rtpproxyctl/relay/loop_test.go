package relay

import (
	"encoding/binary"
	"strings"
	"testing"
)

// TestMediaBurst: datagrams that wait together on a socket are taken in
// batches (recvmmsg) and sent in batches (sendmmsg), every one of them, in
// order.
func TestMediaBurst(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	a, b := newPeer(t), newPeer(t)
	pa, _ := call(t, r, "burst-1", a.port(), b.port(), "")
	r.mu.Lock()
	s, _ := r.findLocked("burst-1", "fa", "fb")
	r.mu.Unlock()
	const n = 3*rxBatch + 5
	// With the loop's lock held the loop cannot read, so the burst queues
	// on the socket and is read in batches of rxBatch.
	s.lp.mu.Lock()
	for seq := range uint16(n) {
		sendTo(t, a.rtp, pa, rtpPacket(9, seq+1, uint32(seq)*160, 160))
	}
	s.lp.mu.Unlock()
	for want := range uint16(n) {
		got, _ := recvFrom(t, b.rtp)
		if seq := binary.BigEndian.Uint16(got[2:]); seq != want+1 || len(got) != 172 {
			t.Fatalf("packet %d: seq %d, %d bytes", want+1, seq, len(got))
		}
	}
	if got := string(r.Handle([]byte("Qv burst-1 fa fb npkts_ina nrelayed ndropped"))); got != "npkts_ina=53 nrelayed=53 ndropped=0\n" {
		t.Fatalf("Q: %q", got)
	}
}

// TestOverloadBusy: the relay refuses new sessions (E98) when the busiest
// packet loop, projected to the sessions set up since it was measured,
// would pass MaxBusy; sessions that exist still answer.
func TestOverloadBusy(t *testing.T) {
	t.Parallel()
	lo, hi := freeRange(t, 40)
	// No Serve: its sweep would overwrite the measurement set below.
	r, err := New(Config{MaxBusy: 0.5, PortMin: lo, PortMax: hi}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	call(t, r, "busy-1", 30000, 30002, "")
	call(t, r, "busy-2", 30004, 30006, "")
	// A loop slowed by other programs while it relays a few packets: the
	// busy share alone does not refuse.
	r.busy.Store(floatBits(0.9))
	r.busySess.Store(2)
	r.ppsIn.Store(floatBits(busyMinRate - 1))
	r.mu.Lock()
	err = r.admitLocked()
	r.mu.Unlock()
	if err != nil {
		t.Fatalf("refused below %d packets/s: %v", busyMinRate, err)
	}
	// As the 1-Hz sweep would store it: 0.3 with two sessions, 0.15 each,
	// at a rate where the busy share counts.
	r.busy.Store(floatBits(0.3))
	r.busySess.Store(2)
	r.ppsIn.Store(floatBits(busyMinRate))
	call(t, r, "busy-3", 30008, 30010, "") // projected 0.3 before it
	call(t, r, "busy-4", 30012, 30014, "") // 0.45
	if got := string(r.Handle([]byte("U busy-5 127.0.0.1 30016 f5"))); got != "E98\n" {
		t.Fatalf("at 0.6 projected: %q", got)
	}
	if got := string(r.Handle([]byte("U busy-1 127.0.0.1 30000 fa"))); !strings.HasSuffix(got, " 127.0.0.1\n") {
		t.Fatalf("existing session refused: %q", got)
	}
	if st := r.Stats(); st.SessionsRefused != 1 || st.ActiveSessions != 4 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestMaxBusyRange(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{MaxBusy: 1}, nil); err == nil {
		t.Fatal("MaxBusy 1 accepted")
	}
	r, err := New(Config{MaxBusy: -1}, nil)
	if err != nil {
		t.Fatalf("MaxBusy -1 (no limit): %v", err)
	}
	r.Close()
}
