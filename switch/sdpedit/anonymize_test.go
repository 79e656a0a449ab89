package sdpedit

import (
	"net/netip"
	"strings"
	"testing"
)

func TestAnonymizeDropsStreamInformation(t *testing.T) {
	t.Parallel()
	s := mustParse(t, multiStream)
	s.Anonymize(Anonymization{})
	got := s.String()
	if strings.Contains(got, "i=main camera") {
		t.Fatalf("stream i= left in\n%s", got)
	}
	if !strings.Contains(got, "m=video 51372 RTP/AVPF 99 100\r\nc=IN IP4 192.0.2.31\r\n") {
		t.Fatalf("stream lines around i= changed\n%s", got)
	}
	if !strings.HasPrefix(got, "v=0\r\no=- 2890844526 2890844527 IN IP4 192.0.2.30\r\ns=-\r\nc=IN IP4 192.0.2.30\r\n") {
		t.Fatalf("session level\n%s", got)
	}
}

// FuzzAnonymize: an anonymized SDP re-parses, says nothing of its author
// (no u=, e=, p= or i= line; o= user "-" and the given address; s=-), keeps
// every other line in order, and anonymizing it again changes nothing.
func FuzzAnonymize(f *testing.F) {
	for _, s := range allSamples {
		f.Add([]byte(s))
	}
	f.Add([]byte("v=0\no=x\ni=info\ns=secret\nc=IN IP4 192.0.2.1\nm=audio 4000 RTP/AVP 0\ni=stream\n"))
	addr := netip.MustParseAddr("10.9.8.7")
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := Parse(in)
		if err != nil {
			return
		}
		s.Anonymize(Anonymization{Addr: addr})
		out := s.Bytes()
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("output does not re-parse: %v\nin  %q\nout %q", err, in, out)
		}
		session := true // o= and s= are session lines; in a stream they are junk, kept
		for _, l := range strings.Split(string(out), "\n") {
			l = strings.TrimSuffix(l, "\r")
			session = session && !strings.HasPrefix(l, "m=")
			switch {
			case len(l) >= 2 && l[1] == '=' && strings.IndexByte("uepi", l[0]) >= 0:
				t.Fatalf("%q left in %q", l, out)
			case !session:
			case strings.HasPrefix(l, "o=") && (!strings.HasPrefix(l, "o=- ") || !strings.HasSuffix(l, " IN IP4 10.9.8.7")):
				t.Fatalf("origin %q", l)
			case strings.HasPrefix(l, "s=") && l != "s=-":
				t.Fatalf("session name %q", l)
			}
		}
		if !keptInOrder(string(in), string(out), anonymized) {
			t.Fatalf("untouched lines changed\nin  %q\nout %q", in, out)
		}
		again.Anonymize(Anonymization{Addr: addr})
		if string(again.Bytes()) != string(out) {
			t.Fatalf("not idempotent\nonce  %q\ntwice %q", out, again.Bytes())
		}
	})
}

// anonymized reports whether Anonymize may change or drop a line: o= and
// s= (at session level, but keptInOrder does not know levels), u=, e=, p=
// and i=.
func anonymized(l string) bool {
	return len(l) >= 2 && l[1] == '=' && strings.IndexByte("osuepi", l[0]) >= 0
}

func BenchmarkAnonymize(b *testing.B) {
	body := []byte(multiStream)
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		s.Anonymize(Anonymization{})
		buf = s.AppendTo(buf[:0])
	}
}
