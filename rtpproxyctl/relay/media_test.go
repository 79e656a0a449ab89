package relay

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// call sets up a complete session between a (offerer, signalled at sigA)
// and b (answerer, signalled at sigB) through Handle and returns PA, PB.
func call(t *testing.T, r *Relay, id string, sigA, sigB int, mods string) (int, int) {
	t.Helper()
	var pa, pb int
	if _, err := fmt.Sscanf(string(r.Handle([]byte(fmt.Sprintf("U%s %s 127.0.0.1 %d fa", mods, id, sigA)))), "%d", &pb); err != nil {
		t.Fatalf("U: %v", err)
	}
	if _, err := fmt.Sscanf(string(r.Handle([]byte(fmt.Sprintf("L%s %s 127.0.0.1 %d fa fb", mods, id, sigB)))), "%d", &pa); err != nil {
		t.Fatalf("L: %v", err)
	}
	return pa, pb
}

// TestMediaNATLatch: the callee sends from a port other than its SDP says;
// the relay latches onto the real source and sends the caller's media there.
func TestMediaNATLatch(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	a, b, nat := newPeer(t), newPeer(t), newPeer(t)
	pa, pb := call(t, r, "nat-1", a.port(), b.port(), "")
	sendTo(t, nat.rtp, pb, rtpPacket(5, 1, 160, 160)) // callee behind NAT speaks first
	if _, src := recvFrom(t, a.rtp); src != pa {
		t.Fatalf("to caller from %d, want %d", src, pa)
	}
	sendTo(t, a.rtp, pa, rtpPacket(6, 1, 160, 160))
	recvFrom(t, nat.rtp)
	expectNothing(t, b.rtp)
	// A re-INVITE with the signalled address does not override what media taught.
	r.Handle([]byte(fmt.Sprintf("L nat-1 127.0.0.1 %d fa fb", b.port())))
	sendTo(t, a.rtp, pa, rtpPacket(6, 2, 320, 160))
	recvFrom(t, nat.rtp)
	if got := string(r.Handle([]byte("Q nat-1 fa fb"))); got != "60 2 1 3 0\n" {
		t.Fatalf("Q: %q", got)
	}
}

// TestMediaRelatch covers section 3.3: a latched leg refuses a stranger,
// except within 10 s of a U/L, or when the stranger continues the stream
// (same SSRC, near sequence number).
func TestMediaRelatch(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	a, b, b2, b3 := newPeer(t), newPeer(t), newPeer(t), newPeer(t)
	pa, pb := call(t, r, "rl-1", a.port(), b.port(), "")
	sendTo(t, b.rtp, pb, rtpPacket(77, 100, 0, 160))
	recvFrom(t, a.rtp)
	// Open the window artificially long ago: age the update stamp.
	r.mu.Lock()
	s, _ := r.findLocked("rl-1", "fa", "fb")
	r.mu.Unlock()
	s.mu.Lock()
	s.legs[1].updated -= 2 * updateWindow
	s.mu.Unlock()
	sendTo(t, b2.rtp, pb, rtpPacket(99, 5000, 0, 160)) // stranger, new SSRC: ignored
	expectNothing(t, a.rtp)
	sendTo(t, b2.rtp, pb, rtpPacket(77, 101, 160, 160)) // same SSRC, next seq: re-latched
	recvFrom(t, a.rtp)
	sendTo(t, a.rtp, pa, rtpPacket(1, 1, 0, 160))
	recvFrom(t, b2.rtp)
	// Re-INVITE: within the window a new source with a new SSRC is accepted.
	r.Handle([]byte(fmt.Sprintf("L rl-1 127.0.0.1 %d fa fb", b3.port())))
	sendTo(t, b3.rtp, pb, rtpPacket(1234, 1, 0, 160))
	recvFrom(t, a.rtp)
	sendTo(t, a.rtp, pa, rtpPacket(1, 2, 160, 160))
	recvFrom(t, b3.rtp)
	if got := string(r.Handle([]byte("Qv rl-1 fb fa npkts_ina ndropped"))); got != "npkts_ina=4 ndropped=1\n" {
		t.Fatalf("Q: %q", got)
	}
}

// TestMediaHold: a re-INVITE to 0.0.0.0 keeps the port and the media.
func TestMediaHold(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	a, b := newPeer(t), newPeer(t)
	pa, pb := call(t, r, "hold-1", a.port(), b.port(), "")
	if got := string(r.Handle([]byte("U hold-1 0.0.0.0 0 fa"))); got != fmt.Sprintf("%d 127.0.0.1\n", pb) {
		t.Fatalf("hold U: %q", got)
	}
	if got := string(r.Handle([]byte("L hold-1 0.0.0.0 0 fa fb"))); got != fmt.Sprintf("%d 127.0.0.1\n", pa) {
		t.Fatalf("hold L: %q", got)
	}
	sendTo(t, a.rtp, pa, rtpPacket(1, 1, 0, 160))
	recvFrom(t, b.rtp)
	sendTo(t, b.rtp, pb, rtpPacket(2, 1, 0, 160))
	recvFrom(t, a.rtp)
}

// TestMediaAsymmetric: with A the signalled address is authoritative; a
// packet from another port of the same host is relayed, replies still go to
// the signalled port, and another host would be refused.
func TestMediaAsymmetric(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	a, b, other := newPeer(t), newPeer(t), newPeer(t)
	pa, pb := call(t, r, "asym-1", a.port(), b.port(), "A")
	sendTo(t, other.rtp, pb, rtpPacket(1, 1, 0, 160))
	recvFrom(t, a.rtp)
	sendTo(t, a.rtp, pa, rtpPacket(2, 1, 0, 160))
	recvFrom(t, b.rtp)
	expectNothing(t, other.rtp)
}

// TestMediaCounters checks loss and jitter from sequence numbers and
// timestamps, and the per-direction stats for the CDR.
func TestMediaCounters(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	a, b := newPeer(t), newPeer(t)
	pa, _ := call(t, r, "cnt-1", a.port(), b.port(), "")
	for _, seq := range []uint16{1, 2, 3, 5, 6, 6, 9, 10} { // 4, 7, 8 lost; one duplicate
		sendTo(t, a.rtp, pa, rtpPacket(3, seq, uint32(seq)*160, 160))
		recvFrom(t, b.rtp)
	}
	got := string(r.Handle([]byte("Qv cnt-1 fa fb rtpa_nsent rtpa_nrcvd rtpa_ndups rtpa_nlost npkts_ina")))
	if got != "rtpa_nsent=10 rtpa_nrcvd=7 rtpa_ndups=1 rtpa_nlost=3 npkts_ina=8\n" {
		t.Fatalf("Q: %q", got)
	}
	st := r.SessionStats("cnt-1", "fa", "")
	if len(st) != 1 || st[0].FromOfferer.Packets != 8 || st[0].FromOfferer.Bytes != 8*172 ||
		st[0].FromOfferer.Lost != 3 || st[0].FromAnswerer.Packets != 0 {
		t.Fatalf("SessionStats: %+v", st)
	}
	if st[0].FromOfferer.JitterMs <= 0 {
		t.Fatalf("no jitter measured for packets sent back to back: %+v", st[0].FromOfferer)
	}
}

// TestMediaTimeoutNotify: media stops, the session times out and the
// notify target receives the tag.
func TestMediaTimeoutNotify(t *testing.T) {
	t.Parallel()
	target, notes := notifyListener(t)
	r := startRelay(t, Config{TTL: 2 * time.Second, SetupTTL: 2 * time.Second, Notify: []string{target}})
	a, b := newPeer(t), newPeer(t)
	pb := strings.Fields(string(r.Handle([]byte(fmt.Sprintf("U tmo-9 127.0.0.1 %d fa fb %s call%%2042", a.port(), target)))))[0]
	pa := strings.Fields(string(r.Handle([]byte(fmt.Sprintf("L tmo-9 127.0.0.1 %d fa fb", b.port())))))[0]
	sendTo(t, a.rtp, atoi(pa), rtpPacket(1, 1, 0, 160))
	recvFrom(t, b.rtp)
	_ = pb
	select {
	case got := <-notes:
		if got != "call 42\n" {
			t.Fatalf("notification %q", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no media-timeout notification")
	}
	if st := r.Stats(); st.SessionsTimedOut != 1 || st.ActiveSessions != 0 {
		t.Fatalf("stats after timeout: %+v", st)
	}
}

// TestPortExhaustion: with room for two legs, the second call gets E72, a
// call missing its answer leg E71, and after D every port binds again. It
// is not parallel: it counts the process's goroutines.
func TestPortExhaustion(t *testing.T) {
	lo, _ := freeRange(t, 8)
	goroutines := runtime.NumGoroutine()
	r := startRelay(t, Config{PortMin: lo, PortMax: lo + 5}) // 3 pairs
	call(t, r, "px-1", 30000, 30002, "")
	if got := string(r.Handle([]byte("U px-2 127.0.0.1 30004 f2"))); !strings.HasSuffix(got, " 127.0.0.1\n") {
		t.Fatalf("third pair: %q", got)
	}
	if got := string(r.Handle([]byte("L px-2 127.0.0.1 30006 f2 t2"))); got != "E71\n" {
		t.Fatalf("answer leg without ports: %q", got)
	}
	if got := string(r.Handle([]byte("U px-3 127.0.0.1 30008 f3"))); got != "E72\n" {
		t.Fatalf("new session without ports: %q", got)
	}
	if got := string(r.Handle([]byte("G nsess_created"))); got != "2\n" {
		t.Fatalf("sessions created: %q", got)
	}
	r.Handle([]byte("D px-1 fa"))
	r.Handle([]byte("D px-2 f2"))
	if st := r.Stats(); st.PortPairsFree != 3 || st.ActiveStreams != 0 {
		t.Fatalf("after D: %+v", st)
	}
	for p := lo; p <= lo+5; p++ {
		testenv.Eventually(t, 10*time.Second, fmt.Sprintf("port %d free", p), func() bool {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	testenv.Eventually(t, 10*time.Second, "socket readers gone", func() bool { return runtime.NumGoroutine() <= goroutines+8 })
}

// TestOverload: beyond MaxSessions new sessions get E98, existing ones
// still answer.
func TestOverload(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{MaxSessions: 1})
	call(t, r, "ov-1", 30000, 30002, "")
	if got := string(r.Handle([]byte("U ov-2 127.0.0.1 30004 f2"))); got != "E98\n" {
		t.Fatalf("over the limit: %q", got)
	}
	if got := string(r.Handle([]byte("U ov-1 127.0.0.1 30000 fa"))); !strings.HasSuffix(got, " 127.0.0.1\n") {
		t.Fatalf("existing session refused: %q", got)
	}
	if st := r.Stats(); st.SessionsRefused != 1 {
		t.Fatalf("refused: %+v", st)
	}
}
