package relay

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// optsCall sets up a session between a (the offerer, options oa) and b
// (the answerer, options ob) and returns the ports they send to.
func optsCall(t *testing.T, r *Relay, id string, a, b *udpPeer, oa, ob string) (int, int) {
	t.Helper()
	var pa, pb int
	u := fmt.Sprintf("U %s 127.0.0.1 %d fa", id, a.port())
	if oa != "" {
		u += " && O " + oa
	}
	reply := string(r.Handle([]byte(u)))
	if _, err := fmt.Sscanf(reply, "%d", &pb); err != nil || strings.Contains(reply, "&&") {
		t.Fatalf("%s: %q", u, reply)
	}
	l := fmt.Sprintf("L %s 127.0.0.1 %d fa fb", id, b.port())
	if ob != "" {
		l += " && O " + ob
	}
	reply = string(r.Handle([]byte(l)))
	if _, err := fmt.Sscanf(reply, "%d", &pa); err != nil || strings.Contains(reply, "&&") {
		t.Fatalf("%s: %q", l, reply)
	}
	return pa, pb
}

// drain collects what arrives on c until nothing has for 300 ms.
func drain(c *net.UDPConn) [][]byte {
	var got [][]byte
	for {
		buf := make([]byte, 2048)
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			return got
		}
		got = append(got, buf[:n])
	}
}

// dtmfBurst is the packets of one RFC 4733 digit as a phone sends it: the
// same timestamp, growing durations, the last with the end bit, sent
// three times.
func dtmfBurst(pt byte, code byte, seq uint16, ts uint32) [][]byte {
	var out [][]byte
	for i, d := range []uint16{160, 320, 480, 480, 480} {
		flags := byte(10)
		if i >= 2 {
			flags |= 0x80
		}
		out = append(out, mediaPacket(pt, seq+uint16(i), ts, []byte{code, flags, byte(d >> 8), byte(d)}))
	}
	return out
}

// TestRTPOptsDTMFFilterAndDetect: a caller with dtmf_filter and
// dtmf_detect sends audio, the digits 1, #, 9 as telephone-events, and
// audio again: the callee gets the audio only, with sequence numbers
// that show no loss, and the relay reports the digits; a callee with
// dtmf_detect alone has its events relayed and detected.
func TestRTPOptsDTMFFilterAndDetect(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	a, b := newPeer(t), newPeer(t)
	pa, pb := optsCall(t, r, "dtmf-1", a, b, "dtmf_filter dtmf_detect te=101", "dtmf_detect te=100")

	var sent [][]byte
	seq, ts := uint16(100), uint32(8000)
	audio := func() {
		sent = append(sent, mediaPacket(0, seq, ts, make([]byte, 160)))
		seq, ts = seq+1, ts+160
	}
	audio()
	audio()
	for _, code := range []byte{1, 11, 9} {
		burst := dtmfBurst(101, code, seq, ts)
		sent = append(sent, burst...)
		seq, ts = seq+uint16(len(burst)), ts+480
	}
	audio()
	for _, p := range sent {
		sendTo(t, a.rtp, pa, p)
	}
	got := drain(b.rtp)
	if len(got) != 3 {
		t.Fatalf("callee got %d packets, want the 3 of audio", len(got))
	}
	for i, p := range got {
		if p[1]&0x7F != 0 || binary.BigEndian.Uint16(p[2:]) != 100+uint16(i) {
			t.Errorf("packet %d: pt %d seq %d, want audio with seq %d", i, p[1]&0x7F, binary.BigEndian.Uint16(p[2:]), 100+i)
		}
	}

	for _, p := range dtmfBurst(100, 4, 500, 99) {
		sendTo(t, b.rtp, pb, p)
	}
	if back := drain(a.rtp); len(back) != 5 {
		t.Fatalf("caller got %d of the callee's 5 event packets (detection alone must not filter)", len(back))
	}
	q := string(r.Handle([]byte("Qv dtmf-1 fa fb tg_dtmf_ina tg_dtmf_ino tg_nfiltered_ina tg_nfiltered_ino ndropped")))
	if q != "tg_dtmf_ina=1#9 tg_dtmf_ino=4 tg_nfiltered_ina=15 tg_nfiltered_ino=0 ndropped=15\n" {
		t.Fatalf("Q: %q", q)
	}
	st := r.SessionStats("dtmf-1", "fa", "fb")
	if len(st) != 1 || st[0].FromOfferer.DTMF != "1#9" || st[0].FromAnswerer.DTMF != "4" || st[0].FromOfferer.Filtered != 15 {
		t.Fatalf("session stats %+v", st)
	}
}

// TestRTPOptsBandwidthLimit: a caller limited to 20 packets/s sends 100
// at once: about one second's worth crosses, the rest is dropped and
// counted; a byte limit does the same by size.
func TestRTPOptsBandwidthLimit(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	for _, tc := range []struct{ name, opts string }{
		{"packets", "max_pkt_rate=20"},
		{"bytes", "max_byte_rate=3440"}, // 20 packets of 172 bytes
	} {
		a, b := newPeer(t), newPeer(t)
		id := "bw-" + tc.name
		pa, _ := optsCall(t, r, id, a, b, tc.opts, "")
		for i := range 100 {
			sendTo(t, a.rtp, pa, mediaPacket(0, uint16(i), uint32(160*i), make([]byte, 160)))
		}
		got := len(drain(b.rtp))
		if got < 20 || got > 30 {
			t.Errorf("%s: %d of 100 packets crossed a limit of 20/s", tc.name, got)
		}
		var limited, dropped int
		q := string(r.Handle([]byte("Qv " + id + " fa fb tg_nlimited_ina ndropped")))
		if _, err := fmt.Sscanf(q, "tg_nlimited_ina=%d ndropped=%d", &limited, &dropped); err != nil || limited != 100-got || dropped != limited {
			t.Errorf("%s: Q %q, want %d limited and dropped", tc.name, q, 100-got)
		}
	}
}

// TestRTPOptsRewriteSSRCAndSeqno: with rewrite_ssrc and rewrite_seqno the
// callee sees one stream, one SSRC and consecutive sequence numbers,
// though the caller restarts its stream (new SSRC, sequence numbers
// elsewhere) half-way; without them both cross as sent.
func TestRTPOptsRewriteSSRCAndSeqno(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	a, b := newPeer(t), newPeer(t)
	pa, pb := optsCall(t, r, "ssrc-1", a, b, "rewrite_ssrc rewrite_seqno", "")
	for i := range 4 {
		p := mediaPacket(0, uint16(10+i), uint32(160*i), make([]byte, 160))
		if i >= 2 {
			binary.BigEndian.PutUint16(p[2:], uint16(50000+i))
			binary.BigEndian.PutUint32(p[8:], 0xBEEF)
		}
		sendTo(t, a.rtp, pa, p)
	}
	got := drain(b.rtp)
	if len(got) != 4 {
		t.Fatalf("callee got %d of 4 packets", len(got))
	}
	ssrc, seq := binary.BigEndian.Uint32(got[0][8:]), binary.BigEndian.Uint16(got[0][2:])
	for i, p := range got {
		if s := binary.BigEndian.Uint32(p[8:]); s != ssrc || s == 0x1234 || s == 0xBEEF {
			t.Errorf("packet %d: SSRC %x, want the relay's own, %x", i, s, ssrc)
		}
		if n := binary.BigEndian.Uint16(p[2:]); n != seq+uint16(i) {
			t.Errorf("packet %d: seq %d, want %d", i, n, seq+uint16(i))
		}
	}
	sendTo(t, b.rtp, pb, mediaPacket(0, 7, 0, make([]byte, 160)))
	back, _ := recvFrom(t, a.rtp)
	if binary.BigEndian.Uint32(back[8:]) != 0x1234 || binary.BigEndian.Uint16(back[2:]) != 7 {
		t.Fatalf("the callee's packet was rewritten without options: %x", back[:12])
	}
}

// TestRTPOptsSymmetric: a caller behind NAT signals one address and sends
// from another. With symmetric the relay sends it nothing before hearing
// from it, and then only where its media comes from.
func TestRTPOptsSymmetric(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	signalled, nat, b := newPeer(t), newPeer(t), newPeer(t)
	pa, pb := optsCall(t, r, "sym-1", signalled, b, "symmetric", "")
	sendTo(t, b.rtp, pb, mediaPacket(0, 1, 0, make([]byte, 160)))
	expectNothing(t, signalled.rtp)
	sendTo(t, nat.rtp, pa, mediaPacket(0, 1, 0, make([]byte, 160)))
	recvFrom(t, b.rtp)
	sendTo(t, b.rtp, pb, mediaPacket(0, 2, 160, make([]byte, 160)))
	recvFrom(t, nat.rtp)
	expectNothing(t, signalled.rtp)
}

// TestRTPOptsCommand: the O sub-command's syntax, and the capability.
func TestRTPOptsCommand(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	if got := string(r.Handle([]byte("VF tollgate_rtpopts"))); got != "1\n" {
		t.Fatalf("VF tollgate_rtpopts: %q", got)
	}
	for _, bad := range []string{
		"O dtmf", "O te=128", "O te=x", "O max_pkt_rate=0", "O max_byte_rate=-5", "O symmetric=1", "Ox dtmf_filter",
	} {
		if got := string(r.Handle([]byte("U bad 127.0.0.1 4000 fa && " + bad))); got != "E3\n" {
			t.Errorf("%q: %q, want E3", bad, got)
		}
	}
	if got := string(r.Handle([]byte("Q bad fa && O dtmf_filter"))); got != "E3\n" {
		t.Errorf("O after Q: %q", got)
	}
	if got := string(r.Handle([]byte("U ok 127.0.0.1 4000 fa && O && Or dtmf_filter"))); strings.Contains(got, "&&") || strings.HasPrefix(got, "E") {
		t.Errorf("an empty O and an Or: %q", got)
	}
}

// FuzzRTPOpts: any O arguments are refused or taken, never a panic, and
// what is taken has rates the token buckets can hold.
func FuzzRTPOpts(f *testing.F) {
	for _, s := range []string{"dtmf_filter te=101", "max_pkt_rate=50 max_byte_rate=8000", "symmetric rewrite_ssrc rewrite_seqno", "te=", "max_pkt_rate=99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, ok := parseRTPOpts(strings.Fields(s))
		if ok && (o.maxPktRate < 0 || o.maxPktRate > maxRate || o.maxByteRate < 0 || o.maxByteRate > maxRate || o.eventPT > 127) {
			t.Fatalf("%q taken as %+v", s, o)
		}
	})
}
