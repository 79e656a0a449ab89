package rtpproxyctl_test

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
	"github.com/tollgate/tollgate/rtpproxyctl"
	"github.com/tollgate/tollgate/rtpproxyctl/relay"
)

// The client against Tollgate's own relay, over real sockets: what the
// B2BUA does in media mode builtin, and what it does against a standalone
// `tollgate relay` in mode rtpproxy.

var loopback = netip.MustParseAddr("127.0.0.1")

// builtinPool runs a relay with a UDP control socket and a unix notify
// target, and a Pool driving it. Timeouts are reported on the channel.
func builtinPool(t *testing.T, ports int, ttl time.Duration, control string) (*relay.Relay, *rtpproxyctl.Pool, <-chan rtpproxyctl.Dialog) {
	t.Helper()
	return builtinPoolPolled(t, ports, ttl, control, 0)
}

// builtinPoolPolled is builtinPool with the pool's CounterInterval.
func builtinPoolPolled(t *testing.T, ports int, ttl time.Duration, control string, poll time.Duration) (*relay.Relay, *rtpproxyctl.Pool, <-chan rtpproxyctl.Dialog) {
	t.Helper()
	lo, hi := freeRange(t, ports)
	notify := "unix:" + filepath.Join(t.TempDir(), "notify.sock")
	log := slog.New(slog.DiscardHandler)
	r, err := relay.New(relay.Config{Control: []string{control}, PortMin: lo, PortMax: hi, TTL: ttl, Notify: []string{notify}}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- r.Serve(ctx) }()
	timeouts := make(chan rtpproxyctl.Dialog, 10)
	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer pcancel()
	p, err := rtpproxyctl.New(pctx, rtpproxyctl.Config{
		Relays:          []rtpproxyctl.RelayConfig{{Address: r.ControlAddrs()[0]}},
		Options:         rtpproxyctl.Options{Timeout: 300 * time.Millisecond, Retries: 9},
		NotifyListen:    notify,
		OnTimeout:       func(d rtpproxyctl.Dialog) { timeouts <- d },
		CounterInterval: poll,
		Logger:          log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		cancel()
		<-served
	})
	return r, p, timeouts
}

// freeRange finds n consecutive free UDP ports for the relay, in this
// package's zone (the b2bua and relay tests use others).
func freeRange(t *testing.T, n int) (int, int) { return testenv.FreeUDPRange(t, n, 15000, 20000) }

func opCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func listen(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func stream(c *net.UDPConn) []rtpproxyctl.Stream {
	return []rtpproxyctl.Stream{{Index: 0, Addr: loopback, Port: c.LocalAddr().(*net.UDPAddr).Port, PayloadTypes: []int{0, 101}, ClockRate: 8000}}
}

// relayed sends n RTP packets from `from` to the relay endpoint ep and
// waits for all of them at `to`.
func relayed(t *testing.T, from, to *net.UDPConn, ep rtpproxyctl.Endpoint, n int) {
	t.Helper()
	pkt := make([]byte, 12+160)
	pkt[0] = 0x80
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(ep.Addr, uint16(ep.Port)))
	buf := make([]byte, 2048)
	for i := 0; i < n; i++ {
		pkt[3] = byte(i)
		if _, err := from.WriteToUDP(pkt, dst); err != nil {
			t.Fatal(err)
		}
		to.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := to.Read(buf); err != nil {
			t.Fatalf("packet %d not relayed: %v", i, err)
		}
	}
}

func TestClientAgainstBuiltinRelay(t *testing.T) {
	t.Parallel()
	for _, control := range []string{"udp:127.0.0.1:0", "tcp:127.0.0.1:0"} {
		t.Run(control, func(t *testing.T) {
			r, p, _ := builtinPool(t, 40, 0, control)
			if st := p.Status()[0]; !st.InUse || st.Features != (rtpproxyctl.Features{Codecs: true, Query: true, Notify: true, QueryDelete: true,
				NamedQuery: true, Loss: true, Jitter: true, Bytes: true, Transcode: true, RTPOpts: true, DTMF: true, RTT: true}) {
				t.Fatalf("relay status %+v", st)
			}
			a, b := listen(t), listen(t)
			m := p.Open(rtpproxyctl.Dialog{CallID: "c1@test", CallerTag: "ta", CalleeTag: "tb"})
			toB, err := m.Offer(opCtx(t), rtpproxyctl.Caller, stream(a))
			if err != nil {
				t.Fatal(err)
			}
			toA, err := m.Answer(opCtx(t), rtpproxyctl.Callee, stream(b))
			if err != nil {
				t.Fatal(err)
			}
			relayed(t, a, b, toA[0], 7)
			relayed(t, b, a, toB[0], 5)
			// Hold from the callee (0.0.0.0): the same ports, 0.0.0.0 kept
			// for the SDP, and media still relayed.
			hold, err := m.Offer(opCtx(t), rtpproxyctl.Callee, []rtpproxyctl.Stream{{Index: 0, Addr: netip.IPv4Unspecified(), Port: 9}})
			if err != nil || hold[0] != (rtpproxyctl.Endpoint{Addr: netip.IPv4Unspecified(), Port: toA[0].Port}) {
				t.Fatalf("hold: %v %v (caller-facing port %d)", hold, err, toA[0].Port)
			}
			back, err := m.Answer(opCtx(t), rtpproxyctl.Caller, stream(a))
			if err != nil || back[0] != toB[0] {
				t.Fatalf("answer to the hold: %v %v, want %v", back, err, toB[0])
			}
			relayed(t, a, b, toA[0], 1)
			st, err := m.Delete(opCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if st.CallerToCallee.Packets != cdr.Known(8) || st.CalleeToCaller.Packets != cdr.Known(5) || st.Relayed != 13 ||
				st.CallerToCallee.Bytes != cdr.Known(8*172) || st.CalleeToCaller.Bytes != cdr.Known(5*172) {
				t.Errorf("stats %+v", st)
			}
			if rs := r.Stats(); rs.ActiveSessions != 0 {
				t.Errorf("relay still holds %d sessions", rs.ActiveSessions)
			}
		})
	}
}

func TestBuiltinRelayRefusesWhenFull(t *testing.T) {
	t.Parallel()
	r, p, _ := builtinPool(t, 4, 0, "udp:127.0.0.1:0")
	a, b := listen(t), listen(t)
	first := p.Open(rtpproxyctl.Dialog{CallID: "full-1", CallerTag: "a", CalleeTag: "b"})
	if _, err := first.Offer(opCtx(t), rtpproxyctl.Caller, stream(a)); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Answer(opCtx(t), rtpproxyctl.Callee, stream(b)); err != nil {
		t.Fatal(err)
	}
	second := p.Open(rtpproxyctl.Dialog{CallID: "full-2", CallerTag: "a", CalleeTag: "b"})
	if _, err := second.Offer(opCtx(t), rtpproxyctl.Caller, stream(a)); !errors.Is(err, rtpproxyctl.ErrRefused) {
		t.Fatalf("offer with no port left: %v, want ErrRefused", err)
	}
	if _, err := second.Delete(opCtx(t)); err != nil {
		t.Errorf("delete of a refused call: %v", err)
	}
	if _, err := first.Delete(opCtx(t)); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.ActiveSessions != 0 || st.PortPairsFree != 2 || st.SessionsRefused == 0 {
		t.Errorf("relay after refusal: %+v", st)
	}
}

func TestBuiltinRelayTimeoutNotifies(t *testing.T) {
	t.Parallel()
	_, p, timeouts := builtinPool(t, 40, time.Second, "udp:127.0.0.1:0")
	a, b := listen(t), listen(t)
	d := rtpproxyctl.Dialog{CallID: "tmo@test", CallerTag: "ta", CalleeTag: "tb"}
	m := p.Open(d)
	if _, err := m.Offer(opCtx(t), rtpproxyctl.Caller, stream(a)); err != nil {
		t.Fatal(err)
	}
	toA, err := m.Answer(opCtx(t), rtpproxyctl.Callee, stream(b))
	if err != nil {
		t.Fatal(err)
	}
	relayed(t, a, b, toA[0], 3)
	select {
	case got := <-timeouts:
		if got != d {
			t.Fatalf("timeout for %+v, want %+v", got, d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no timeout notification")
	}
	// The relay already ended the session: Delete is quiet about it.
	if _, err := m.Delete(opCtx(t)); err != nil {
		t.Errorf("delete after timeout: %v", err)
	}
}

// TestBuiltinRelayTimeoutKeepsCounters: the relay deletes a timed-out
// session before it notifies, so Delete can no longer ask it; the counts
// the pool read while the call was up are what the call reports, exact
// because the last reading came after the media stopped.
func TestBuiltinRelayTimeoutKeepsCounters(t *testing.T) {
	t.Parallel()
	_, p, timeouts := builtinPoolPolled(t, 40, 2*time.Second, "udp:127.0.0.1:0", 200*time.Millisecond)
	a, b := listen(t), listen(t)
	m := p.Open(rtpproxyctl.Dialog{CallID: "tmo-count@test", CallerTag: "ta", CalleeTag: "tb"})
	toB, err := m.Offer(opCtx(t), rtpproxyctl.Caller, stream(a))
	if err != nil {
		t.Fatal(err)
	}
	toA, err := m.Answer(opCtx(t), rtpproxyctl.Callee, stream(b))
	if err != nil {
		t.Fatal(err)
	}
	relayed(t, a, b, toA[0], 12)
	relayed(t, b, a, toB[0], 7)
	select {
	case <-timeouts:
	case <-time.After(30 * time.Second):
		t.Fatal("no timeout notification")
	}
	st, err := m.Delete(opCtx(t))
	if err != nil {
		t.Errorf("delete after timeout: %v", err)
	}
	if st.CallerToCallee.Packets != cdr.Known(12) || st.CalleeToCaller.Packets != cdr.Known(7) || st.Relayed != 19 ||
		st.CallerToCallee.Bytes != cdr.Known(12*172) || st.CalleeToCaller.Bytes != cdr.Known(7*172) {
		t.Fatalf("counters of the timed-out call: %+v", st)
	}
}

// TestBuiltinRelayLostKeepsCounters: a relay that stops answering leaves
// the call the counts of the last reading, not zeros.
func TestBuiltinRelayLostKeepsCounters(t *testing.T) {
	t.Parallel()
	r, p, _ := builtinPoolPolled(t, 40, 0, "udp:127.0.0.1:0", 100*time.Millisecond)
	a, b := listen(t), listen(t)
	m := p.Open(rtpproxyctl.Dialog{CallID: "lost@test", CallerTag: "ta", CalleeTag: "tb"})
	if _, err := m.Offer(opCtx(t), rtpproxyctl.Caller, stream(a)); err != nil {
		t.Fatal(err)
	}
	toA, err := m.Answer(opCtx(t), rtpproxyctl.Callee, stream(b))
	if err != nil {
		t.Fatal(err)
	}
	relayed(t, a, b, toA[0], 5)
	// A reading is two named Qs: four more commands hold a whole reading
	// taken after the media.
	before := r.Stats().Commands
	testenv.Eventually(t, 10*time.Second, "a counter reading after the media", func() bool { return r.Stats().Commands >= before+4 })
	r.Close()
	st, err := m.Delete(opCtx(t))
	if err == nil {
		t.Error("delete on a closed relay succeeded")
	}
	if st.CallerToCallee.Packets != cdr.Known(5) {
		t.Fatalf("counters after the relay was lost: %+v", st)
	}
}

// sendRTP sends PCMU packets with the given sequence numbers (timestamps
// follow them, 160 per packet, so a gap is a loss) from `from` to the
// relay endpoint ep, pausing gap(i) after packet i, and waits for each at
// `to`.
func sendRTP(t *testing.T, from, to *net.UDPConn, ep rtpproxyctl.Endpoint, ssrc uint32, seqs []uint16, gap func(int) time.Duration) {
	t.Helper()
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(ep.Addr, uint16(ep.Port)))
	buf := make([]byte, 2048)
	for i, seq := range seqs {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: ssrc},
			Payload: make([]byte, 160)}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := from.WriteToUDP(b, dst); err != nil {
			t.Fatal(err)
		}
		to.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := to.Read(buf); err != nil {
			t.Fatalf("packet %d not relayed: %v", seq, err)
		}
		time.Sleep(gap(i))
	}
}

// seqsWithout numbers n packets from first, leaving out the skipped ones.
func seqsWithout(first uint16, n int, skipped ...uint16) []uint16 {
	var out []uint16
	for seq := first; len(out) < n; seq++ {
		if !slices.Contains(skipped, seq) {
			out = append(out, seq)
		}
	}
	return out
}

// TestCounterQueryAgainstBuiltinRelay: the named-counter Q (QueryFlow)
// against Tollgate's relay over UDP gives each party's packets, bytes,
// loss and jitter when asked with that party's tag first, and a call's
// Delete puts them in the right direction.
func TestCounterQueryAgainstBuiltinRelay(t *testing.T) {
	t.Parallel()
	r, p, _ := builtinPool(t, 40, 0, "udp:127.0.0.1:0")
	a, b := listen(t), listen(t)
	m := p.Open(rtpproxyctl.Dialog{CallID: "cnt@test", CallerTag: "ta", CalleeTag: "tb"})
	toB, err := m.Offer(opCtx(t), rtpproxyctl.Caller, stream(a))
	if err != nil {
		t.Fatal(err)
	}
	toA, err := m.Answer(opCtx(t), rtpproxyctl.Callee, stream(b))
	if err != nil {
		t.Fatal(err)
	}
	// The caller loses 3 packets on the way and sends unevenly (jitter);
	// the callee sends 20 packets back to back.
	uneven := func(i int) time.Duration { return time.Duration(2+28*(i%2)) * time.Millisecond }
	sendRTP(t, a, b, toA[0], 0xa, seqsWithout(100, 27, 105, 110, 111), uneven)
	sendRTP(t, b, a, toB[0], 0xb, seqsWithout(7000, 20), func(int) time.Duration { return 0 })

	c, err := rtpproxyctl.NewClient(r.ControlAddrs()[0], rtpproxyctl.Options{Timeout: 300 * time.Millisecond, Retries: 9})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Probe(opCtx(t)); err != nil {
		t.Fatal(err)
	}
	fromA, deleted, err := c.QueryFlow(opCtx(t), "cnt@test", "ta;1", "tb;1", false)
	if err != nil || deleted {
		t.Fatalf("caller's counters: %v (deleted %v)", err, deleted)
	}
	if fromA.FromA != 27 || fromA.FromB != 20 || fromA.BytesA != 27*172 || fromA.LostA != 3 || fromA.JitterA <= 0 ||
		fromA.Relayed != 47 || fromA.Dropped != 0 {
		t.Errorf("caller's counters %+v", fromA)
	}
	fromB, _, err := c.QueryFlow(opCtx(t), "cnt@test", "tb;1", "ta;1", false)
	if err != nil || fromB.FromA != 20 || fromB.FromB != 27 || fromB.BytesA != 20*172 || fromB.LostA != 0 {
		t.Errorf("callee's counters %+v %v", fromB, err)
	}

	st, err := m.Delete(opCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if ab := st.CallerToCallee; ab.Packets != cdr.Known(27) || ab.Bytes != cdr.Known(27*172) || ab.Lost != cdr.Known(3) || !ab.Jitter.Known || ab.Jitter.V <= 0 {
		t.Errorf("caller to callee %+v", ab)
	}
	if ba := st.CalleeToCaller; ba.Packets != cdr.Known(20) || ba.Bytes != cdr.Known(20*172) || ba.Lost != cdr.Known(0) {
		t.Errorf("callee to caller %+v", ba)
	}
	if st.Relayed != 47 {
		t.Errorf("relayed %d", st.Relayed)
	}
	if rs := r.Stats(); rs.ActiveSessions != 0 {
		t.Errorf("relay still holds %d sessions", rs.ActiveSessions)
	}
}

// TestClientDrivesTranscoding: streams that carry their payload formats
// make the built-in relay transcode: a PCMA caller's packet reaches a
// PCMU-only callee as PCMU, and back.
func TestClientDrivesTranscoding(t *testing.T) {
	t.Parallel()
	_, p, _ := builtinPool(t, 20, 0, "udp:127.0.0.1:0")
	a, b := listen(t), listen(t)
	m := p.Open(rtpproxyctl.Dialog{CallID: "xc@test", CallerTag: "ta", CalleeTag: "tb"})
	sa, sb := stream(a), stream(b)
	sa[0].Formats = []rtpproxyctl.Format{{Encoding: "PCMA", PT: 8}, {Encoding: "tele phone", PT: 101}}
	sb[0].Formats = []rtpproxyctl.Format{{Encoding: "PCMU", PT: 0}}
	toB, err := m.Offer(opCtx(t), rtpproxyctl.Caller, sa)
	if err != nil {
		t.Fatal(err)
	}
	toA, err := m.Answer(opCtx(t), rtpproxyctl.Callee, sb)
	if err != nil {
		t.Fatal(err)
	}
	exchange := func(from, to *net.UDPConn, ep rtpproxyctl.Endpoint, pt, payload byte) []byte {
		t.Helper()
		pkt := make([]byte, 12+160)
		pkt[0], pkt[1] = 0x80, pt
		for i := range pkt[12:] {
			pkt[12+i] = payload
		}
		if _, err := from.WriteToUDP(pkt, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ep.Addr, uint16(ep.Port)))); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		to.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := to.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n]
	}
	// A-law 0xD5 and µ-law 0xFE are both +8 (on the 16-bit scale); µ-law
	// 0xFF is 0, for which A-law's nearest is 0xD5.
	if got := exchange(a, b, toA[0], 8, 0xD5); got[1] != 0 || got[12] != 0xFE {
		t.Fatalf("caller's PCMA reached the callee as pt %d payload %#x", got[1], got[12])
	}
	if got := exchange(b, a, toB[0], 0, 0xFF); got[1] != 8 || got[12] != 0xD5 {
		t.Fatalf("callee's PCMU reached the caller as pt %d payload %#x", got[1], got[12])
	}
}

// TestClientDrivesRTPOptions: a caller stream with DTMF filtering and
// detection and a rewritten SSRC: its audio reaches the callee under the
// relay's SSRC, its telephone-event does not, and the relay kept the digit.
func TestClientDrivesRTPOptions(t *testing.T) {
	t.Parallel()
	r, p, _ := builtinPool(t, 20, 0, "udp:127.0.0.1:0")
	a, b := listen(t), listen(t)
	m := p.Open(rtpproxyctl.Dialog{CallID: "opts@test", CallerTag: "ta", CalleeTag: "tb"})
	sa := stream(a)
	sa[0].Options = rtpproxyctl.RTPOptions{DTMFFilter: true, DTMFDetect: true, RewriteSSRC: true, EventPT: 101}
	if _, err := m.Offer(opCtx(t), rtpproxyctl.Caller, sa); err != nil {
		t.Fatal(err)
	}
	toA, err := m.Answer(opCtx(t), rtpproxyctl.Callee, stream(b))
	if err != nil {
		t.Fatal(err)
	}
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(toA[0].Addr, uint16(toA[0].Port)))
	event := []byte{0x80, 101, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9, 7, 0x8a, 0, 160}
	audio := append([]byte{0x80, 0, 0, 2, 0, 0, 1, 64, 0, 0, 0, 9}, make([]byte, 160)...)
	for _, pkt := range [][]byte{event, audio} {
		if _, err := a.WriteToUDP(pkt, dst); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2048)
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := b.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(audio) || buf[1] != 0 || binary.BigEndian.Uint32(buf[8:]) == 9 {
		t.Fatalf("callee got %d bytes, pt %d, SSRC %x: want the audio under the relay's SSRC", n, buf[1], buf[8:12])
	}
	st := r.SessionStats("opts@test", "ta", "tb")
	if len(st) != 1 || st[0].FromOfferer.DTMF != "7" || st[0].FromOfferer.Filtered != 1 {
		t.Fatalf("relay session %+v", st)
	}
	if d, err := m.(*rtpproxyctl.Session).DTMF(opCtx(t)); err != nil || d != (rtpproxyctl.DTMF{FromCaller: "7"}) {
		t.Fatalf("the call's digits, read over the control protocol: %+v %v", d, err)
	}
}
