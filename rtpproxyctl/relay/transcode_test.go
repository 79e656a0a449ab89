package relay

import (
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"strings"
	"testing"

	"github.com/pion/rtp"

	"github.com/tollgate/tollgate/rtpproxyctl/relay/codec"
)

// transcodedCall sets up a session whose offerer (at a) uses the formats
// fa and answerer (at b) the formats fb, and returns the ports they send
// to: PA and PB.
func transcodedCall(t *testing.T, r *Relay, id string, a, b *udpPeer, fa, fb string) (int, int) {
	t.Helper()
	var pa, pb int
	reply := string(r.Handle([]byte(fmt.Sprintf("U %s 127.0.0.1 %d fa && T %s", id, a.port(), fa))))
	if _, err := fmt.Sscanf(reply, "%d", &pb); err != nil || strings.Contains(reply, "&&") {
		t.Fatalf("U: %q", reply)
	}
	reply = string(r.Handle([]byte(fmt.Sprintf("L %s 127.0.0.1 %d fa fb && T %s", id, b.port(), fb))))
	if _, err := fmt.Sscanf(reply, "%d", &pa); err != nil || strings.Contains(reply, "&&") {
		t.Fatalf("L: %q", reply)
	}
	return pa, pb
}

func mediaPacket(pt byte, seq uint16, ts uint32, payload []byte) []byte {
	b := make([]byte, 12+len(payload))
	b[0], b[1] = 0x80, pt
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], 0x1234)
	copy(b[12:], payload)
	return b
}

// chirp is a linear sweep from f0 to f1 Hz, n samples at rate.
func chirp(f0, f1 float64, rate, n int) []int16 {
	out := make([]int16, n)
	dur := float64(n) / float64(rate)
	for i := range out {
		tt := float64(i) / float64(rate)
		out[i] = int16(10000 * math.Sin(2*math.Pi*(f0*tt+(f1-f0)*tt*tt/(2*dur))))
	}
	return out
}

// bestSNR compares got with want at the lag (up to maxLag samples, the
// codecs' and filters' delay) where they agree best, skipping the first
// skip samples; in dB.
func bestSNR(want, got []int16, maxLag, skip int) float64 {
	best := math.Inf(-1)
	for lag := 0; lag <= maxLag; lag++ {
		var sig, noise float64
		for i := skip; i+lag < len(got) && i < len(want); i++ {
			w, g := float64(want[i]), float64(got[i+lag])
			sig += w * w
			noise += (w - g) * (w - g)
		}
		best = max(best, 10*math.Log10(sig/noise))
	}
	return best
}

// stream sends frames (encoded payloads of 20 ms each) from one peer to
// the relay port and returns the packets the other peer receives.
func stream(t *testing.T, from *net.UDPConn, port int, to *net.UDPConn, pt byte, frames [][]byte) [][]byte {
	t.Helper()
	var got [][]byte
	for i, f := range frames {
		sendTo(t, from, port, mediaPacket(pt, uint16(1000+i), uint32(160*i), f))
		b, _ := recvFrom(t, to)
		got = append(got, b)
	}
	return got
}

// checkHeaders: a converted packet keeps SSRC, sequence number and
// timestamp (all codecs here have an 8000 Hz clock) and carries pt.
func checkHeaders(t *testing.T, got [][]byte, pt byte) {
	t.Helper()
	for i, b := range got {
		if b[1]&0x7F != pt || binary.BigEndian.Uint16(b[2:]) != uint16(1000+i) ||
			binary.BigEndian.Uint32(b[4:]) != uint32(160*i) || binary.BigEndian.Uint32(b[8:]) != 0x1234 || len(b) != 172 {
			t.Fatalf("packet %d: pt %d seq %d ts %d ssrc %#x len %d", i, b[1]&0x7F,
				binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:]), len(b))
		}
	}
}

func encodeG711(pcm []int16, alaw bool) [][]byte {
	var frames [][]byte
	for i := 0; i+160 <= len(pcm); i += 160 {
		f := make([]byte, 160)
		for j, v := range pcm[i : i+160] {
			if alaw {
				f[j] = codec.EncodeALaw(v)
			} else {
				f[j] = codec.EncodeULaw(v)
			}
		}
		frames = append(frames, f)
	}
	return frames
}

func decodeG711(pkts [][]byte, alaw bool) []int16 {
	var pcm []int16
	for _, p := range pkts {
		for _, c := range p[12:] {
			if alaw {
				pcm = append(pcm, codec.DecodeALaw(c))
			} else {
				pcm = append(pcm, codec.DecodeULaw(c))
			}
		}
	}
	return pcm
}

// TestTranscodePCMAPCMU: a PCMA caller and a PCMU-only callee hear each
// other: each side's received payload, decoded, matches what the other
// sent within G.711's loss.
func TestTranscodePCMAPCMU(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	a, b := newPeer(t), newPeer(t)
	pa, pb := transcodedCall(t, r, "xc-1", a, b, "PCMA/8 telephone-event/101", "PCMU/0 telephone-event/101")
	sig := chirp(100, 3400, 8000, 8000)

	got := stream(t, a.rtp, pa, b.rtp, 8, encodeG711(sig, true))
	checkHeaders(t, got, 0)
	if snr := bestSNR(sig, decodeG711(got, false), 0, 0); snr < 30 {
		t.Errorf("PCMA -> PCMU: %.1f dB, want >= 30", snr)
	} else {
		t.Logf("PCMA -> PCMU: %.1f dB", snr)
	}
	got = stream(t, b.rtp, pb, a.rtp, 0, encodeG711(sig, false))
	checkHeaders(t, got, 8)
	if snr := bestSNR(sig, decodeG711(got, true), 0, 0); snr < 30 {
		t.Errorf("PCMU -> PCMA: %.1f dB, want >= 30", snr)
	} else {
		t.Logf("PCMU -> PCMA: %.1f dB", snr)
	}
	st := codecStats(r)
	if st["PCMA"].In != 50 || st["PCMU"].Out != 50 || st["PCMU"].In != 50 || st["PCMA"].Out != 50 {
		t.Fatalf("transcoder stats %+v", st)
	}
	// One stream reads PCMA and writes PCMU, the other the reverse, until
	// the session ends.
	if st["PCMA"].Reading != 1 || st["PCMA"].Writing != 1 || st["PCMU"].Reading != 1 || st["PCMU"].Writing != 1 || st["G722"].Reading != 0 {
		t.Fatalf("conversions in progress %+v", st)
	}
	r.Handle([]byte("D xc-1 fa"))
	for name, c := range codecStats(r) {
		if c.Reading != 0 || c.Writing != 0 {
			t.Errorf("%s after D: reading %d, writing %d", name, c.Reading, c.Writing)
		}
	}
}

func codecStats(r *Relay) map[string]CodecStats {
	m := map[string]CodecStats{}
	for _, c := range r.Stats().Transcoder {
		m[c.Codec] = c
	}
	return m
}

// TestTranscodeG722PCMA: wideband to narrowband and back, with resampling:
// a G.722 caller and a PCMA callee hear each other within the loss of
// G.722, the filters and A-law.
func TestTranscodeG722PCMA(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	a, b := newPeer(t), newPeer(t)
	pa, pb := transcodedCall(t, r, "xc-2", a, b, "G722/9", "PCMA/8")

	// The caller speaks wideband; only what lies below 4 kHz can reach a
	// narrowband callee, so the test signal stays there.
	wide := chirp(100, 3400, 16000, 16000)
	enc := codec.NewG722Encoder()
	var frames [][]byte
	for i := 0; i+320 <= len(wide); i += 320 {
		f := make([]byte, 160)
		enc.Encode(f, wide[i:i+320])
		frames = append(frames, f)
	}
	got := stream(t, a.rtp, pa, b.rtp, 9, frames)
	checkHeaders(t, got, 8)
	if snr := bestSNR(chirp(100, 3400, 8000, 8000), decodeG711(got, true), 60, 400); snr < 25 {
		t.Errorf("G.722 -> PCMA: %.1f dB, want >= 25", snr)
	} else {
		t.Logf("G.722 -> PCMA: %.1f dB", snr)
	}

	got = stream(t, b.rtp, pb, a.rtp, 8, encodeG711(chirp(100, 3400, 8000, 8000), true))
	checkHeaders(t, got, 9)
	dec := codec.NewG722Decoder()
	var pcm []int16
	for _, p := range got {
		out := make([]int16, 320)
		dec.Decode(out, p[12:])
		pcm = append(pcm, out...)
	}
	if snr := bestSNR(wide, pcm, 120, 800); snr < 25 {
		t.Errorf("PCMA -> G.722: %.1f dB, want >= 25", snr)
	} else {
		t.Logf("PCMA -> G.722: %.1f dB", snr)
	}
}

// TestTranscodeEvents: telephone-event crosses with its payload type
// renumbered and its payload untouched; comfort noise the callee did not
// list is discarded, and the sequence numbers after it close the gap; a
// codec the callee lists too crosses unconverted.
func TestTranscodeEvents(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	a, b := newPeer(t), newPeer(t)
	pa, _ := transcodedCall(t, r, "xc-3", a, b, "PCMA/8 telephone-event/101 CN/13", "PCMU/0 PCMA/8 telephone-event/96")

	event := []byte{5, 0x8a, 0x03, 0x20} // digit 5, volume 10, duration 800
	sendTo(t, a.rtp, pa, mediaPacket(101, 10, 1600, event))
	got, _ := recvFrom(t, b.rtp)
	if got[1]&0x7F != 96 || binary.BigEndian.Uint16(got[2:]) != 10 || string(got[12:]) != string(event) {
		t.Fatalf("telephone-event arrived as pt %d seq %d payload %x", got[1]&0x7F, binary.BigEndian.Uint16(got[2:]), got[12:])
	}
	sendTo(t, a.rtp, pa, mediaPacket(13, 11, 1760, []byte{40}))
	// The callee lists PCMA too: it crosses as it is.
	frame := encodeG711(chirp(300, 900, 8000, 160), true)[0]
	sendTo(t, a.rtp, pa, mediaPacket(8, 12, 1920, frame))
	got, _ = recvFrom(t, b.rtp)
	if got[1]&0x7F != 8 || binary.BigEndian.Uint16(got[2:]) != 11 || string(got[12:]) != string(frame) {
		t.Fatalf("after CN: pt %d seq %d (want 8, 11: the discarded CN's gap closed)", got[1]&0x7F, binary.BigEndian.Uint16(got[2:]))
	}
	st := codecStats(r)
	if st["CN"].Discarded != 1 || st["telephone-event"].In != 1 || st["telephone-event"].Out != 1 || st["PCMA"].In != 1 {
		t.Fatalf("transcoder stats %+v", st)
	}
	if q := string(r.Handle([]byte("Qv xc-3 fa fb npkts_ina nrelayed ndropped"))); q != "npkts_ina=3 nrelayed=2 ndropped=1\n" {
		t.Fatalf("Q: %q", q)
	}
}

// TestTranscodeCommand: the T sub-command's syntax, and the capability.
func TestTranscodeCommand(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	for _, c := range []struct{ cmd, want string }{
		{"VF tollgate_transcode", "1"},
		{"U tc-1 127.0.0.1 40000 fa && T PCMA/8 telephone-event/101", "<n> 127.0.0.1"},
		{"U tc-2 127.0.0.1 40000 fa && T", "E3"},
		{"U tc-2 127.0.0.1 40000 fa && T PCMA", "E3"},
		{"U tc-2 127.0.0.1 40000 fa && T PCMA/128", "E3"},
		{"U tc-2 127.0.0.1 40000 fa && T PCMA/8 PCMU/8", "E3"},
		{"U tc-2 127.0.0.1 40000 fa && T telephone-event/101", "E3"}, // no audio to send
		{"U tc-2 127.0.0.1 40000 fa && Tx PCMA/8", "E3"},
		{"Q tc-1 fa && T PCMA/8", "E3"},
		{"U tc-3 127.0.0.1 40000 fa fb && T opus/111 G722/9 && L 127.0.0.1 40002 && Tr pcmu/0", "<n> 127.0.0.1 && 0 && <n> 127.0.0.1"},
	} {
		m := &matcher{t: t, vars: map[string]string{}}
		m.match(c.want, strings.TrimSuffix(string(r.Handle([]byte(c.cmd))), "\n"))
	}
	r.mu.Lock()
	s, _ := r.findLocked("tc-3", "fa", "fb")
	r.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.xc == nil || s.legs[0].formats.send != encG722 || s.legs[1].formats.send != encPCMU || s.legs[0].formats.byPT[111] != encOther {
		t.Fatalf("formats: %v %v, transcoder %v", s.legs[0].formats.send, s.legs[1].formats.send, s.xc != nil)
	}
}

// FuzzConvert: whatever a party sends that parses as RTP, the transcoder
// neither panics nor grows the packet beyond the buffer it arrived in, for
// every pair of codecs.
func FuzzConvert(f *testing.F) {
	f.Add(mediaPacket(8, 1, 160, make([]byte, 160)), uint8(0))
	f.Add(mediaPacket(9, 1, 160, make([]byte, 160)), uint8(1))
	f.Add([]byte{0xB1, 0x09, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xBE, 0xDE, 0, 1, 1, 2, 3, 4, 5, 6, 3}, uint8(2))
	pairs := [][2]string{{"PCMA/8 CN/13", "PCMU/0"}, {"G722/9 telephone-event/101", "PCMA/8 telephone-event/96"}, {"PCMU/0 PCMA/8", "G722/9 CN/13"}}
	var sc scratch
	var st xstats
	f.Fuzz(func(t *testing.T, pkt []byte, pair uint8) {
		p := pairs[int(pair)%len(pairs)]
		fa, _ := parseFormats(strings.Fields(p[0]))
		fb, _ := parseFormats(strings.Fields(p[1]))
		s := &session{r: &Relay{}} // counts its conversions
		s.setFormats(0, fa)
		s.setFormats(1, fb)
		var h rtp.Header
		if len(pkt) < 12 || len(pkt) > readBufSize || pkt[0]>>6 != 2 {
			return
		}
		if _, err := h.Unmarshal(pkt); err != nil {
			return
		}
		buf := append([]byte(nil), pkt...)
		for x := range 2 {
			n, ok := s.convert(x, buf, &sc, &st)
			if ok && (n < 12 || n > len(buf)) {
				t.Fatalf("converted to %d bytes from %d", n, len(buf))
			}
		}
	})
}
