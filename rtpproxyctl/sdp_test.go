package rtpproxyctl

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/switch/sdpedit"
)

// TestSDPRoundTrip is the B2BUA's media path for one offer: parse, list the
// anchorable streams, U, rewrite. T.38 and the disabled stream pass through.
func TestSDPRoundTrip(t *testing.T) {
	body := "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=rtcp:4001\r\n" +
		"m=video 0 RTP/AVP 31\r\n" +
		"m=image 4004 udptl t38\r\n"
	sd, err := sdpedit.ParseString(body)
	if err != nil {
		t.Fatal(err)
	}
	streams := Streams(sd)
	if len(streams) != 1 || streams[0].Index != 0 || streams[0].Port != 4000 || fmt.Sprint(streams[0].PayloadTypes) != "[8 101]" ||
		streams[0].ClockRate != 8000 {
		t.Fatalf("streams %+v", streams)
	}
	r := startUDP(t, newEmulator())
	p := newPool(t, Config{Relays: []RelayConfig{{Address: r.address()}}})
	eps, err := p.Open(Dialog{CallID: "sdp@t", CallerTag: "a", CalleeTag: "b"}).Offer(ctx(t), Caller, streams)
	if err != nil {
		t.Fatal(err)
	}
	if err := Rewrite(sd, streams, eps); err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer("c=IN IP4 192.0.2.9", "c=IN IP4 127.0.0.1", "m=audio 4000", "m=audio 30000", "a=rtcp:4001", "a=rtcp:30001",
		"m=image 4004 udptl t38\r\n", "m=image 4004 udptl t38\r\nc=IN IP4 192.0.2.9\r\n").Replace(body)
	if got := sd.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
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
