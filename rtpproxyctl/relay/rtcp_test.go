package relay

import (
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"time"
)

// senderReport is an RTCP SR from ssrc with the NTP timestamp ntp and no
// report block.
func senderReport(ssrc uint32, ntp uint64) []byte {
	b := make([]byte, 28)
	b[0], b[1] = 0x80, 200
	binary.BigEndian.PutUint16(b[2:], 6)
	binary.BigEndian.PutUint32(b[4:], ssrc)
	binary.BigEndian.PutUint64(b[8:], ntp)
	return b
}

// receiverReport is an RTCP RR from ssrc with one report block naming the
// sender report lsr, received dlsr (1/65536 s) before.
func receiverReport(ssrc, lsr, dlsr uint32) []byte {
	b := make([]byte, 32)
	b[0], b[1] = 0x81, 201
	binary.BigEndian.PutUint16(b[2:], 7)
	binary.BigEndian.PutUint32(b[4:], ssrc)
	binary.BigEndian.PutUint32(b[24:], lsr)
	binary.BigEndian.PutUint32(b[28:], dlsr)
	return b
}

// TestRTCPRoundTrip: the caller's sender report crosses to the callee,
// whose receiver report names it: a report whose DLSR is longer than the
// time since the relay forwarded the SR (it lies, or names an older one)
// measures nothing; the next one gives the round trip between the relay
// and the callee (tg_rtt_ina with the callee's tag first), a mean of one,
// under a second on loopback. The caller's stays unknown.
func TestRTCPRoundTrip(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	if got := string(r.Handle([]byte("VF tollgate_rtt"))); got != "1\n" {
		t.Fatalf("VF tollgate_rtt: %q", got)
	}
	a, b := newPeer(t), newPeer(t)
	pa, pb := optsCall(t, r, "rtt-1", a, b, "", "")
	sendTo(t, a.rtp, pa, rtpPacket(1, 1, 160, 160)) // latch both ways
	recvFrom(t, b.rtp)
	sendTo(t, b.rtp, pb, rtpPacket(2, 1, 160, 160))
	recvFrom(t, a.rtp)

	ntp := uint64(0x83AA7E80_40000000) // middle 32 bits: 0x7E804000
	sendTo(t, a.rtcp, pa+1, senderReport(1, ntp))
	if got, _ := recvFrom(t, b.rtcp); len(got) != 28 {
		t.Fatalf("callee got %d bytes of RTCP", len(got))
	}
	rtt := func() string {
		return strings.TrimSpace(string(r.Handle([]byte("Qv rtt-1 fb fa tg_rtt_ina"))))
	}
	sendTo(t, b.rtcp, pb+1, receiverReport(2, 0x7E804000, 65536*11))
	recvFrom(t, a.rtcp)
	if got := rtt(); got != "tg_rtt_ina=-" {
		t.Fatalf("after a report that cannot be right: %q", got)
	}
	sendTo(t, b.rtcp, pb+1, receiverReport(2, 0x7E804000, 0))
	recvFrom(t, a.rtcp)
	v, ok := strings.CutPrefix(rtt(), "tg_rtt_ina=")
	us, err := strconv.Atoi(v)
	if !ok || err != nil || us < 0 || time.Duration(us)*time.Microsecond > time.Second {
		t.Fatalf("round trip to the callee: %q", v)
	}
	if got := strings.TrimSpace(string(r.Handle([]byte("Qv rtt-1 fa fb tg_rtt_ina")))); got != "tg_rtt_ina=-" {
		t.Fatalf("round trip to the caller, who got no SR: %q", got)
	}
}
