package sdpedit

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

var relay4 = netip.MustParseAddr("10.0.0.1")

func mustParse(t *testing.T, body string) *SDP {
	t.Helper()
	s, err := ParseString(body)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	return s
}

func TestUnchangedRoundTrip(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"cisco": ciscoOffer, "asterisk": asteriskOffer, "t38": t38ReInvite, "sloppy": sloppy,
		"ipv6": ipv6Offer, "multi": multiStream, "hold": holdOld,
	} {
		if got := mustParse(t, body).String(); got != body {
			t.Errorf("%s: round trip changed the body:\n%q\n%q", name, body, got)
		}
	}
}

func TestRead(t *testing.T) {
	t.Parallel()
	s := mustParse(t, ciscoOffer)
	m := s.Media(0)
	if m.Type != "audio" || m.Port != 16544 || m.Proto != "RTP/AVP" || m.Addr != netip.MustParseAddr("192.0.2.10") {
		t.Fatalf("media = %+v", m)
	}
	if got := strings.Join(m.Formats, ","); got != "18,8,0,101,19" {
		t.Fatalf("formats %s", got)
	}
	if firstCodec(s, 0) != "G729" || m.Direction != SendRecv || m.Hold() || !m.Anchorable() {
		t.Fatalf("codec %q dir %v", firstCodec(s, 0), m.Direction)
	}
	cs := s.Codecs(0)
	if cs[0].Fmtp != "annexb=no" || cs[3].Name != "telephone-event" || cs[3].Fmtp != "0-16" || cs[2].Rate != 8000 {
		t.Fatalf("codecs %+v", cs)
	}

	s = mustParse(t, multiStream)
	a, v := s.Media(0), s.Media(1)
	if a.RTCPPort != 49171 || a.RTCPAddr.IsValid() || a.Addr != netip.MustParseAddr("192.0.2.30") {
		t.Fatalf("audio %+v", a)
	}
	if v.RTCPPort != 51373 || v.RTCPAddr != netip.MustParseAddr("192.0.2.31") || v.Addr != v.RTCPAddr || v.Proto != "RTP/AVPF" {
		t.Fatalf("video %+v", v)
	}
	if firstCodec(s, 1) != "H264" || s.Codecs(0)[1].Fmtp != "mode=30" {
		t.Fatalf("codecs %+v", s.Codecs(1))
	}

	s = mustParse(t, t38ReInvite)
	if s.Media(0).Active() || s.Media(1).Anchorable() || s.Media(1).IsRTP() || s.Codecs(1) != nil || firstCodec(s, 1) != "" {
		t.Fatalf("t38: %+v %+v", s.Media(0), s.Media(1))
	}

	s = mustParse(t, ipv6Offer)
	if m := s.Media(0); !m.Addr.Is6() || m.RTCPAddr != netip.MustParseAddr("2001:db8::10") || firstCodec(s, 0) != "PCMU" {
		t.Fatalf("ipv6 %+v", m)
	}

	s = mustParse(t, sloppy)
	if s.NumMedia() != 1 || s.Codecs(0)[1].Name != "PCMA" {
		t.Fatalf("sloppy %+v", s.Codecs(0))
	}
}

func TestHold(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		body string
		hold bool
	}{
		"0.0.0.0":              {holdOld, true},
		"session sendonly":     {holdSendonly, true},
		"one stream inactive":  {holdInactiveMedia, false},
		"active":               {asteriskOffer, false},
		"only disabled stream": {strings.Replace(holdSendonly, "m=audio 20000", "m=audio 0", 1), false},
	} {
		if got := mustParse(t, c.body).Hold(); got != c.hold {
			t.Errorf("%s: Hold() = %v", name, got)
		}
	}
	s := mustParse(t, holdInactiveMedia)
	if !s.Media(0).Hold() || s.Media(0).Direction != Inactive || s.Media(1).Hold() || s.Direction() != DirUnset {
		t.Fatalf("per-media hold wrong: %+v %+v", s.Media(0), s.Media(1))
	}
	if mustParse(t, holdSendonly).Media(0).Direction != SendOnly {
		t.Fatal("session direction not inherited")
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		body string
		want error
	}{
		"empty":          {"", ErrNoVersion},
		"no v":           {"o=- 1 1 IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\n", ErrNoVersion},
		"no m":           {"v=0\r\nc=IN IP4 1.2.3.4\r\n", ErrNoMedia},
		"port garbage":   {"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n", ErrBadMedia},
		"port too big":   {"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n", ErrBadMedia},
		"short m":        {"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000\r\n", ErrBadMedia},
		"rtp no codec":   {"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP\r\n", ErrBadMedia},
		"pt garbage":     {"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP PCMA\r\n", ErrBadMedia},
		"c garbage":      {"v=0\r\nc=IN IP4 1.2.3.x\r\nm=audio 4000 RTP/AVP 0\r\n", ErrBadConnection},
		"c family":       {"v=0\r\nc=IN IP4 ::1\r\nm=audio 4000 RTP/AVP 0\r\n", ErrBadConnection},
		"c short":        {"v=0\r\nc=IN IP4\r\nm=audio 4000 RTP/AVP 0\r\n", ErrBadConnection},
		"no c":           {"v=0\r\nm=audio 4000 RTP/AVP 0\r\n", ErrNoConnection},
		"media c broken": {"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 nothing\r\n", ErrBadConnection},
	} {
		_, err := ParseString(c.body)
		if !errors.Is(err, c.want) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: not a *ParseError", name)
		}
	}
	// Legal oddities are accepted: disabled stream without c=, multicast TTL.
	mustParse(t, "v=0\r\nm=audio 0 RTP/AVP 0\r\n")
	mustParse(t, "v=0\r\nc=IN IP4 224.2.1.1/127\r\nm=audio 4000 RTP/AVP 0\r\n")
}

func TestRewriteCisco(t *testing.T) {
	t.Parallel()
	s := mustParse(t, ciscoOffer)
	if err := s.Rewrite([]Endpoint{{Addr: relay4, Port: 30000}}); err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer(
		"c=IN IP4 192.0.2.10", "c=IN IP4 10.0.0.1",
		"m=audio 16544 ", "m=audio 30000 ",
	).Replace(ciscoOffer)
	if got := s.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if s.Media(0).Addr != relay4 || s.Media(0).Port != 30000 {
		t.Fatalf("state not updated: %+v", s.Media(0))
	}
	// pion/sdp, strict, accepts what we produce from a well-formed input.
	var ps sdp.SessionDescription
	if err := ps.Unmarshal(s.Bytes()); err != nil {
		t.Fatalf("pion rejects the rewrite: %v", err)
	}
}

func TestRewriteT38KeepsImage(t *testing.T) {
	t.Parallel()
	s := mustParse(t, t38ReInvite)
	// The relay anchors nothing: image is not anchorable, audio disabled.
	if err := s.Rewrite([]Endpoint{{Addr: relay4, Port: 30000}}); err != nil {
		t.Fatal(err)
	}
	if s.String() != t38ReInvite {
		t.Fatalf("T.38 changed:\n%s", s)
	}
	// Asked explicitly, the image stream moves.
	if err := s.Rewrite([]Endpoint{{}, {Addr: relay4, Port: 30002}}); err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer("c=IN IP4 203.0.113.5", "c=IN IP4 10.0.0.1", "m=image 40028", "m=image 30002").Replace(t38ReInvite)
	if s.String() != want {
		t.Fatalf("got\n%s", s)
	}
}

func TestRewriteKeepsUntouchedStreamAddress(t *testing.T) {
	t.Parallel()
	// Audio is anchored, T.38 is not: the session c= moves to the relay,
	// so the image stream must gain its own c= with the old address.
	body := crlf(`
v=0
o=- 1 2 IN IP4 192.0.2.50
s=-
c=IN IP4 192.0.2.50
t=0 0
m=audio 4000 RTP/AVP 8
m=image 4002 udptl t38
a=T38FaxVersion:0
`)
	s := mustParse(t, body)
	if err := s.Rewrite([]Endpoint{{Addr: relay4, Port: 30000}}); err != nil {
		t.Fatal(err)
	}
	want := crlf(`
v=0
o=- 1 2 IN IP4 192.0.2.50
s=-
c=IN IP4 10.0.0.1
t=0 0
m=audio 30000 RTP/AVP 8
m=image 4002 udptl t38
c=IN IP4 192.0.2.50
a=T38FaxVersion:0
`)
	if got := s.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if s.Media(1).Addr != netip.MustParseAddr("192.0.2.50") {
		t.Fatalf("image addr %v", s.Media(1).Addr)
	}
	// A second rewrite (re-INVITE through the same object) stays stable.
	if err := s.Rewrite([]Endpoint{{Addr: relay4, Port: 30000}}); err != nil || s.String() != want {
		t.Fatalf("second rewrite: %v\n%s", err, s)
	}
}

func TestRewriteMultiStreamRTCP(t *testing.T) {
	t.Parallel()
	s := mustParse(t, multiStream)
	err := s.Rewrite([]Endpoint{{Addr: relay4, Port: 30000}, {Addr: netip.MustParseAddr("10.0.0.2"), Port: 30010, RTCPPort: 30020}})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer(
		"c=IN IP4 192.0.2.30", "c=IN IP4 10.0.0.1",
		"m=audio 49170 ", "m=audio 30000 ",
		"a=rtcp:49171", "a=rtcp:30001",
		"m=video 51372 ", "m=video 30010 ",
		"c=IN IP4 192.0.2.31", "c=IN IP4 10.0.0.2",
		"a=rtcp:51373 IN IP4 192.0.2.31", "a=rtcp:30020 IN IP4 10.0.0.2",
	).Replace(multiStream)
	if got := s.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRewriteInsertsMediaConnAfterInfo(t *testing.T) {
	t.Parallel()
	body := "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 31\r\ni=cam\r\na=x\r\n"
	s := mustParse(t, body)
	if err := s.Rewrite([]Endpoint{{Addr: relay4, Port: 30000}, {Addr: netip.MustParseAddr("10.0.0.9"), Port: 30002}}); err != nil {
		t.Fatal(err)
	}
	want := "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 30000 RTP/AVP 0\r\nm=video 30002 RTP/AVP 31\r\ni=cam\r\nc=IN IP4 10.0.0.9\r\na=x\r\n"
	if got := s.String(); got != want {
		t.Fatalf("got %q", got)
	}
}

func TestRewriteSloppyLF(t *testing.T) {
	t.Parallel()
	s := mustParse(t, sloppy)
	if err := s.Rewrite([]Endpoint{{Addr: relay4, Port: 30000}}); err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer("c=IN IP4 192.0.2.20", "c=IN IP4 10.0.0.1", "m=audio 4000", "m=audio 30000").Replace(sloppy)
	if got := s.String(); got != want {
		t.Fatalf("got %q", got)
	}
	// A line inserted after the last one, which had no end of line, is
	// separated from it with the body's own LF.
	body := "v=0\nc=IN IP4 192.0.2.1\nm=audio 4000 RTP/AVP 0\nm=audio 4002 RTP/AVP 0"
	s = mustParse(t, body)
	if err := s.Rewrite([]Endpoint{{Addr: relay4, Port: 30000}}); err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "v=0\nc=IN IP4 10.0.0.1\nm=audio 30000 RTP/AVP 0\nm=audio 4002 RTP/AVP 0\nc=IN IP4 192.0.2.1\n" {
		t.Fatalf("got %q", got)
	}
}

func TestRewriteIPv6AndFamilyChange(t *testing.T) {
	t.Parallel()
	s := mustParse(t, ipv6Offer)
	r6 := netip.MustParseAddr("2001:db8::1")
	if err := s.Rewrite([]Endpoint{{Addr: r6, Port: 30000}}); err != nil {
		t.Fatal(err)
	}
	if got := s.String(); !strings.Contains(got, "c=IN IP6 2001:db8::1\r\n") || !strings.Contains(got, "a=rtcp:30001 IN IP6 2001:db8::1\r\n") {
		t.Fatalf("got\n%s", got)
	}
	// A v6 offer anchored on a v4 relay (rtpproxy bridging) switches family.
	s = mustParse(t, ipv6Offer)
	if err := s.Rewrite([]Endpoint{{Addr: relay4, Port: 30000}}); err != nil {
		t.Fatal(err)
	}
	if got := s.String(); !strings.Contains(got, "c=IN IP4 10.0.0.1\r\n") || !strings.Contains(got, "a=rtcp:30001 IN IP4 10.0.0.1\r\n") {
		t.Fatalf("got\n%s", got)
	}
	mustParse(t, s.String())
}

func TestRewriteHoldAndDisabled(t *testing.T) {
	t.Parallel()
	s := mustParse(t, holdOld)
	if err := s.Rewrite([]Endpoint{{Addr: netip.IPv4Unspecified(), Port: 30000}}); err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != strings.Replace(holdOld, "m=audio 20000", "m=audio 30000", 1) || !s.Hold() {
		t.Fatalf("hold not kept:\n%s", got)
	}
	s = mustParse(t, "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 0 RTP/AVP 0\r\nm=audio 4000 RTP/AVP 0\r\n")
	if err := s.Rewrite([]Endpoint{{Addr: relay4, Port: 30000}, {Addr: relay4, Port: 30002}}); err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 0 RTP/AVP 0\r\nm=audio 30002 RTP/AVP 0\r\n" {
		t.Fatalf("got %q", got)
	}
}

func TestRewriteErrors(t *testing.T) {
	t.Parallel()
	s := mustParse(t, asteriskOffer)
	if err := s.Rewrite(make([]Endpoint, 2)); !errors.Is(err, ErrNoStream) {
		t.Fatalf("err %v", err)
	}
	if err := s.Rewrite([]Endpoint{{Addr: relay4, Port: 0}}); !errors.Is(err, ErrBadEndpoint) {
		t.Fatalf("err %v", err)
	}
	if s.String() != asteriskOffer {
		t.Fatal("failed rewrite changed the SDP")
	}
}

func TestAnonymize(t *testing.T) {
	t.Parallel()
	s := mustParse(t, multiStream)
	s.Anonymize(Anonymization{Addr: relay4})
	got := s.String()
	for _, gone := range []string{"alice", "\nu=", "\ne=", "s=call"} {
		if strings.Contains(got, gone) {
			t.Fatalf("%q left in\n%s", gone, got)
		}
	}
	if !strings.Contains(got, "o=- 2890844526 2890844527 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 192.0.2.30\r\n") {
		t.Fatalf("got\n%s", got)
	}
	s = mustParse(t, "v=0\no=broken\ns=x\nc=IN IP4 192.0.2.1\nm=audio 4000 RTP/AVP 0\n")
	s.Anonymize(Anonymization{Username: "tollgate", SessionName: "call"})
	if got := s.String(); got != "v=0\no=tollgate 0 0 IN IP4 0.0.0.0\ns=call\nc=IN IP4 192.0.2.1\nm=audio 4000 RTP/AVP 0\n" {
		t.Fatalf("got %q", got)
	}
}

// firstCodec is the name of the first codec of stream i, "" when it has
// none that the SDP names.
func firstCodec(s *SDP, i int) string {
	if c := s.Codecs(i); len(c) > 0 {
		return c[0].Name
	}
	return ""
}

// TestRewriteFamilyChangeMovesOrigin: an SDP moved to the other family
// speaks that family in o=, c= and a=rtcp; one kept in its family keeps
// its o= line byte for byte, and so does a hold.
func TestRewriteFamilyChangeMovesOrigin(t *testing.T) {
	t.Parallel()
	v4 := "v=0\r\no=alice 7 2 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 0\r\na=rtcp:4001 IN IP4 192.0.2.5\r\n"
	r6 := netip.MustParseAddr("2001:db8::1")
	s := mustParse(t, v4)
	if err := s.Rewrite([]Endpoint{{Addr: r6, Port: 30000}}); err != nil {
		t.Fatal(err)
	}
	want := "v=0\r\no=alice 7 2 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\n" +
		"m=audio 30000 RTP/AVP 0\r\na=rtcp:30001 IN IP6 2001:db8::1\r\n"
	if got := s.String(); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	back := mustParse(t, want)
	if err := back.Rewrite([]Endpoint{{Addr: relay4, Port: 30002}}); err != nil {
		t.Fatal(err)
	}
	if got := back.String(); !strings.HasPrefix(got, "v=0\r\no=alice 7 2 IN IP4 10.0.0.1\r\n") || strings.Contains(got, "IP6") {
		t.Fatalf("back to IPv4:\n%s", got)
	}
	for _, ep := range []Endpoint{{Addr: relay4, Port: 30000}, {Addr: netip.IPv6Unspecified(), Port: 30000}} {
		s := mustParse(t, v4)
		if err := s.Rewrite([]Endpoint{ep}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(s.String(), "o=alice 7 2 IN IP4 192.0.2.5\r\n") {
			t.Errorf("%v: o= changed:\n%s", ep.Addr, s.String())
		}
	}
	// The hold moved by hand to the address the call's other SDPs got.
	hold := mustParse(t, v4)
	if err := hold.Rewrite([]Endpoint{{Addr: netip.IPv6Unspecified(), Port: 30000}}); err != nil {
		t.Fatal(err)
	}
	hold.MoveOrigin(r6)
	if got := hold.String(); !strings.Contains(got, "o=alice 7 2 IN IP6 2001:db8::1\r\n") || !strings.Contains(got, "c=IN IP6 ::\r\n") {
		t.Errorf("hold:\n%s", got)
	}
}
