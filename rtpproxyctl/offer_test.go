package rtpproxyctl

import (
	"fmt"
	"net/netip"
	"testing"
)

// TestOfferCommand is the U command of one audio stream (the first m= of
// an SDP offering PCMA and telephone-event) and the endpoint it returns.
func TestOfferCommand(t *testing.T) {
	t.Parallel()
	streams := []Stream{{Index: 0, Addr: netip.MustParseAddr("192.0.2.9"), Port: 4000, PayloadTypes: []int{8, 101}, ClockRate: 8000}}
	r := startUDP(t, newEmulator())
	p := newPool(t, Config{Relays: []RelayConfig{{Address: r.address()}}})
	eps, err := p.Open(Dialog{CallID: "sdp@t", CallerTag: "a", CalleeTag: "b"}).Offer(ctx(t), Caller, streams)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 1 || eps[0].Addr != netip.MustParseAddr("127.0.0.1") || eps[0].Port != 30000 {
		t.Fatalf("endpoints %+v", eps)
	}
	if got := r.commands()[0]; got != "Uc8,101 sdp@t 192.0.2.9 4000 a;1 b;1" {
		t.Fatalf("U %q", got)
	}
}

// BenchmarkOfferAnswerDelete: one audio call's control traffic (U, L,
// Q && D) over loopback UDP against the in-test responder.
func BenchmarkOfferAnswerDelete(b *testing.B) {
	r := startUDPBench(b)
	p, err := New(b.Context(), Config{Relays: []RelayConfig{{Address: r}}, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		m := p.Open(Dialog{CallID: fmt.Sprint("bench-", i), CallerTag: "a", CalleeTag: "b"})
		if _, err := m.Offer(b.Context(), Caller, audio(4000)); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Answer(b.Context(), Callee, audio(5000)); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Delete(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
