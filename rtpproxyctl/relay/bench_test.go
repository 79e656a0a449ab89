package relay

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// BenchmarkRoute is the in-memory part of the packet path: header parse,
// latching, RTP analysis, counters and the routing decision.
func BenchmarkRoute(b *testing.B) {
	r := &Relay{epoch: time.Now()}
	s := &session{r: r, complete: true}
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	s.legs[1].pipes[kindRTP].remote = netip.MustParseAddrPort("127.0.0.1:40002")
	s.legs[1].socks[kindRTP] = &msock{fd: -1} // never written to: route only picks it
	pkt := rtpPacket(1, 0, 0, 160)
	var h rtp.Header
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		pkt[2], pkt[3] = byte(i>>8), byte(i)
		if _, err := h.Unmarshal(pkt); err != nil {
			b.Fatal(err)
		}
		s.mu.Lock()
		s.route(0, kindRTP, len(pkt), src, &h, true, r.now())
		s.mu.Unlock()
	}
}

// BenchmarkRelayLoopback relays packets between two real UDP peers through
// the relay's sockets, a window of packets in flight; ns/op is the wall time
// per relayed packet with sender, relay and receiver sharing the machine.
func BenchmarkRelayLoopback(b *testing.B) {
	lo := 42000
	r, err := New(Config{PortMin: lo, PortMax: lo + 99}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		_ = c.SetReadBuffer(1 << 20)
		return c
	}
	a, c := listen(), listen()
	defer a.Close()
	defer c.Close()
	port := func(x *net.UDPConn) int { return x.LocalAddr().(*net.UDPAddr).Port }
	var pa int
	r.Handle([]byte(fmt.Sprintf("U bench 127.0.0.1 %d fa", port(a))))
	if _, err := fmt.Sscanf(string(r.Handle([]byte(fmt.Sprintf("L bench 127.0.0.1 %d fa fb", port(c))))), "%d", &pa); err != nil {
		b.Fatal(err)
	}
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(pa))
	pkt := rtpPacket(1, 0, 0, 160)
	// A window of packets in flight keeps every stage busy without
	// overrunning socket buffers: the receiver frees a slot per packet.
	slots := make(chan struct{}, 16)
	done := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		buf := make([]byte, 2048)
		for n := 0; n < b.N; n++ {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
				done <- fmt.Errorf("packet %d of %d: %w", n, b.N, err)
				return
			}
			<-slots
		}
		done <- nil
	}()
	for i := 0; i < b.N; i++ {
		slots <- struct{}{}
		pkt[2], pkt[3] = byte(i>>8), byte(i)
		if _, err := a.WriteToUDPAddrPort(pkt, dst); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkConvert is the transcoder's share of the packet path: one
// 20 ms packet converted in place, per direction of conversion.
func BenchmarkConvert(b *testing.B) {
	for _, c := range []struct{ name, from, to string }{
		{"PCMA-PCMU", "PCMA/8", "PCMU/0"},
		{"G722-PCMA", "G722/9", "PCMA/8"},
		{"PCMA-G722", "PCMA/8", "G722/9"},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := &session{r: &Relay{}} // counts its conversions
			fa, _ := parseFormats([]string{c.from})
			fb, _ := parseFormats([]string{c.to})
			s.setFormats(0, fa)
			s.setFormats(1, fb)
			var sc scratch
			var st xstats
			pkt := rtpPacket(1, 0, 0, 160)
			pt := byte(fa.ptOf[fa.send])
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				pkt[1] = pt
				if _, ok := s.convert(0, pkt, &sc, &st); !ok {
					b.Fatal("discarded")
				}
			}
			// On a machine shared with other work, wall time per op counts
			// the waits for a core; the process's CPU time does not.
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkRTPOpts is the RTP options' share of the packet path, every
// option on (the limit high enough to pass every packet): the bandwidth
// buckets, the DTMF check, the SSRC and sequence rewrite. It must not
// allocate.
func BenchmarkRTPOpts(b *testing.B) {
	r := &Relay{epoch: time.Now()}
	s := &session{r: r, complete: true}
	o, ok := parseRTPOpts([]string{"dtmf_filter", "dtmf_detect", "te=101", "rewrite_ssrc", "rewrite_seqno", "max_pkt_rate=1000000000", "max_byte_rate=1000000000"})
	if !ok {
		b.Fatal("options refused")
	}
	s.setOpts(0, o, r.now())
	pkt := rtpPacket(1, 0, 0, 160)
	var h rtp.Header
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		pkt[2], pkt[3] = byte(i>>8), byte(i)
		if _, err := h.Unmarshal(pkt); err != nil {
			b.Fatal(err)
		}
		s.mu.Lock()
		if s.legs[0].shapes() && s.admit(0, pkt, &h, true, r.now()) {
			s.rewrite(0, pkt)
		}
		s.mu.Unlock()
	}
}
