package sdpedit

import (
	"net/netip"
	"strings"
	"testing"
)

var allSamples = []string{ciscoOffer, asteriskOffer, t38ReInvite, sloppy, ipv6Offer, multiStream, holdOld, holdSendonly, holdInactiveMedia}

// FuzzRewrite: parsing never panics; a rewrite of every stream re-parses,
// carries the relay ports, and keeps every line it had no reason to touch
// byte for byte and in order.
func FuzzRewrite(f *testing.F) {
	for _, s := range allSamples {
		f.Add([]byte(s))
	}
	relay4, relay6 := netip.MustParseAddr("10.9.8.7"), netip.MustParseAddr("2001:db8::9")
	f.Fuzz(func(t *testing.T, in []byte) {
		// Both families of relay, so that every input is also moved
		// across families.
		relay, other := relay4, " IP6 "
		if len(in)%2 == 1 {
			relay, other = relay6, " IP4 "
		}
		s, err := Parse(in)
		if err != nil {
			return
		}
		eps := make([]Endpoint, s.NumMedia())
		for i := range eps {
			eps[i] = Endpoint{Addr: relay, Port: 30000 + 2*i}
		}
		if err := s.Rewrite(eps); err != nil {
			t.Fatalf("rewrite: %v", err)
		}
		out := s.Bytes()
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("output does not re-parse: %v\nin  %q\nout %q", err, in, out)
		}
		for i := range eps {
			m := again.Media(i)
			if m.Port != 0 && (m.Port != eps[i].Port || m.Addr != relay) {
				t.Fatalf("stream %d not rewritten: %+v\nout %q", i, m, out)
			}
		}
		if !keptInOrder(string(in), string(out), rewritable(other)) {
			t.Fatalf("untouched lines changed\nin  %q\nout %q", in, out)
		}
		// Codec edits on the rewritten SDP must not break it either.
		s.PreferCodecs([]string{"PCMA", "0"})
		if err := s.FilterCodecs(CodecFilter{Deny: []string{"PCMU"}}); err == nil {
			if _, err := Parse(s.Bytes()); err != nil {
				t.Fatalf("filtered output does not re-parse: %v\n%q", err, s.Bytes())
			}
		}
	})
}

// keptInOrder reports whether every line of in that an edit may not touch
// (touched reports those it may) appears, with its end of line, in out in
// the same order.
func keptInOrder(in, out string, touched func(string) bool) bool {
	outLines := strings.SplitAfter(out, "\n")
	j := 0
	for _, l := range strings.SplitAfter(in, "\n") {
		if l == "" || touched(l) {
			continue
		}
		for ; j < len(outLines); j++ {
			if outLines[j] == l || (!strings.HasSuffix(l, "\n") && strings.TrimRight(outLines[j], "\r\n") == l) {
				break
			}
		}
		if j == len(outLines) {
			return false
		}
		j++
	}
	return true
}

// rewritable reports the lines a rewrite may change: c=, m=, a=rtcp, and
// an o= line that names the family other (" IP4 " or " IP6 ") the relay
// is not of.
func rewritable(other string) func(string) bool {
	return func(l string) bool {
		return strings.HasPrefix(l, "c=") || strings.HasPrefix(l, "m=") || strings.HasPrefix(l, "a=rtcp:") ||
			(strings.HasPrefix(l, "o=") && strings.Contains(l, other))
	}
}

func BenchmarkParseRewrite(b *testing.B) {
	body := []byte(ciscoOffer)
	eps := []Endpoint{{Addr: netip.MustParseAddr("10.0.0.1"), Port: 30000}}
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Rewrite(eps); err != nil {
			b.Fatal(err)
		}
		buf = s.AppendTo(buf[:0])
	}
}

func BenchmarkParseRewriteTwoStreams(b *testing.B) {
	body := []byte(multiStream)
	r := netip.MustParseAddr("10.0.0.1")
	eps := []Endpoint{{Addr: r, Port: 30000}, {Addr: r, Port: 30002}}
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Rewrite(eps); err != nil {
			b.Fatal(err)
		}
		buf = s.AppendTo(buf[:0])
	}
}
