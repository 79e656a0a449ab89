package relay

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDTMFNotify: a caller with dtmf_notify and dtmf_filter sends audio and
// two digits as telephone-events (the end packet three times): the
// controller is told each digit once, with its duration, and the callee
// gets the audio alone.
func TestDTMFNotify(t *testing.T) {
	t.Parallel()
	target, notes := notifyListener(t)
	r := startRelay(t, Config{Notify: []string{target}})
	if got := string(r.Handle([]byte("VF tollgate_dtmf"))); got != "1\n" {
		t.Fatalf("VF tollgate_dtmf: %q", got)
	}
	a, b := newPeer(t), newPeer(t)
	pb := strings.Fields(string(r.Handle([]byte(fmt.Sprintf("U dn-1 127.0.0.1 %d fa;1 %s call%%207 && O dtmf_notify dtmf_filter te=101", a.port(), target)))))[0]
	pa := strings.Fields(string(r.Handle([]byte(fmt.Sprintf("L dn-1 127.0.0.1 %d fa;1 fb;1", b.port())))))[0]
	_ = pb
	seq, ts := uint16(10), uint32(1000)
	sendTo(t, a.rtp, atoi(pa), mediaPacket(0, seq, ts, make([]byte, 160)))
	recvFrom(t, b.rtp)
	for _, d := range []byte{5, 11} {
		seq, ts = seq+1, ts+800
		for _, p := range dtmfBurst(101, d, seq, ts) {
			sendTo(t, a.rtp, atoi(pa), p)
		}
		seq += 4
	}
	for _, want := range []string{"call 7 dtmf fa;1 0 5 60\n", "call 7 dtmf fa;1 0 # 60\n"} {
		select {
		case got := <-notes:
			if got != want {
				t.Fatalf("notification %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no notification %q", want)
		}
	}
	expectNothing(t, b.rtp) // the events were filtered out
	select {
	case got := <-notes:
		t.Fatalf("a retransmitted end packet was told again: %q", got)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestDTMFInject: the controller sends the digit 7 for 120 ms to the
// callee (Q ... && Er) while the caller's audio flows: the callee gets
// RFC 4733 packets in the caller's stream (its SSRC, the next sequence
// numbers, a timestamp on its clock), the first with the marker, the
// durations growing by 50 ms to 960 units, the end packet three times;
// the caller's audio that follows skips the sequence numbers they took.
func TestDTMFInject(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{})
	a, b := newPeer(t), newPeer(t)
	pa, _ := optsCall(t, r, "di-1", a, b, "", "")
	seq, ts := uint16(500), uint32(16000)
	sendTo(t, a.rtp, pa, mediaPacket(0, seq, ts, make([]byte, 160)))
	recvFrom(t, b.rtp)
	for _, bad := range []string{"Q di-1 fa fb && E 7 120", "Q di-1 fa fb && E x 120 101", "Q di-1 fa fb && E 7 0 101",
		"Q di-1 fa fb && E 7 120 128", "L di-1 127.0.0.1 4000 fa fb && E 7 120 101"} {
		if got := string(r.Handle([]byte(bad))); got != "E3\n" {
			t.Errorf("%s: %q, want E3", bad, got)
		}
	}
	if got := string(r.Handle([]byte("Q di-1 fa fb && Er 7 120 101"))); strings.HasPrefix(got, "E") {
		t.Fatalf("E: %q", got)
	}
	var events [][]byte
	for len(events) < 5 {
		p, _ := recvFrom(t, b.rtp)
		events = append(events, p)
	}
	wantDur := []uint16{400, 800, 960, 960, 960}
	var evTS uint32
	for i, p := range events[:5] {
		seqGot, tsGot, ssrc := binary.BigEndian.Uint16(p[2:]), binary.BigEndian.Uint32(p[4:]), binary.BigEndian.Uint32(p[8:])
		marker, pt := p[1]&0x80 != 0, p[1]&0x7F
		end, dur := p[13]&0x80 != 0, binary.BigEndian.Uint16(p[14:])
		if i == 0 {
			evTS = tsGot
			if evTS-ts > 8000 || evTS == ts {
				t.Errorf("event timestamp %d, want after the audio's %d on its clock", evTS, ts)
			}
		}
		if len(p) != 16 || pt != 101 || ssrc != 0x1234 || seqGot != seq+1+uint16(i) || tsGot != evTS || marker != (i == 0) ||
			p[12] != 7 || end != (i >= 2) || dur != wantDur[i] {
			t.Errorf("event packet %d: % x (seq %d, want %d)", i, p, seqGot, seq+1+uint16(i))
		}
	}
	sendTo(t, a.rtp, pa, mediaPacket(0, seq+1, ts+160, make([]byte, 160)))
	if p, _ := recvFrom(t, b.rtp); len(p) == 16 {
		t.Errorf("a sixth event packet: % x", p)
	} else if got := binary.BigEndian.Uint16(p[2:]); got != seq+6 {
		t.Errorf("audio after the digit: seq %d, want %d (after the 5 events)", got, seq+6)
	}
}
