package sdpedit

import (
	"errors"
	"strings"
	"testing"
)

func TestFilterCodecsAllow(t *testing.T) {
	t.Parallel()
	s := mustParse(t, ciscoOffer)
	if err := s.FilterCodecs(CodecFilter{Allow: []string{"pcma", "0"}}); err != nil {
		t.Fatal(err)
	}
	want := crlf(`
v=0
o=CiscoSystemsSIP-GW-UserAgent 4127 2683 IN IP4 192.0.2.10
s=SIP Call
c=IN IP4 192.0.2.10
t=0 0
m=audio 16544 RTP/AVP 8 0 101
c=IN IP4 192.0.2.10
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
`)
	if got := s.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if firstCodec(s, 0) != "PCMA" {
		t.Fatalf("first codec %q", firstCodec(s, 0))
	}
}

func TestFilterCodecsDeny(t *testing.T) {
	t.Parallel()
	s := mustParse(t, multiStream)
	if err := s.FilterCodecs(CodecFilter{Deny: []string{"telephone-event", "97", "VP8"}}); err != nil {
		t.Fatal(err)
	}
	got := s.String()
	for _, gone := range []string{"a=rtpmap:97", "a=fmtp:97", "telephone-event", "VP8", "a=rtcp-fb:100"} {
		if strings.Contains(got, gone) {
			t.Fatalf("%q left in\n%s", gone, got)
		}
	}
	if !strings.Contains(got, "m=audio 49170 RTP/AVP 0\r\n") || !strings.Contains(got, "m=video 51372 RTP/AVPF 99\r\n") || !strings.Contains(got, "a=rtcp-fb:99 nack\r\n") {
		t.Fatalf("got\n%s", got)
	}
	mustParse(t, got)
}

func TestFilterCodecsRefusesEmptyStream(t *testing.T) {
	t.Parallel()
	s := mustParse(t, asteriskOffer)
	err := s.FilterCodecs(CodecFilter{Allow: []string{"G729"}})
	if !errors.Is(err, ErrNoCodec) {
		t.Fatalf("err = %v", err)
	}
	if s.String() != asteriskOffer {
		t.Fatal("refused filter changed the SDP")
	}
	// T.38 and disabled streams are not filtered, so nothing is refused.
	s = mustParse(t, t38ReInvite)
	if err := s.FilterCodecs(CodecFilter{Allow: []string{"G729"}}); err != nil || s.String() != t38ReInvite {
		t.Fatalf("t38 filtered: %v", err)
	}
}

func TestPreferCodecs(t *testing.T) {
	t.Parallel()
	s := mustParse(t, ciscoOffer)
	s.PreferCodecs([]string{"PCMU", "pcma"})
	if got := s.String(); got != strings.Replace(ciscoOffer, "RTP/AVP 18 8 0 101 19", "RTP/AVP 0 8 18 101 19", 1) {
		t.Fatalf("got\n%s", got)
	}
	before := s.String()
	s.PreferCodecs([]string{"PCMU"})
	if s.String() != before {
		t.Fatal("no-op preference rewrote the SDP")
	}
}

func TestAddCodecs(t *testing.T) {
	t.Parallel()
	src := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n" +
		"m=video 4002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
	for _, tc := range []struct {
		first bool
		want  string
	}{
		{false, "m=audio 4000 RTP/AVP 8 101 0 9\r\n"},
		{true, "m=audio 4000 RTP/AVP 0 9 8 101\r\n"},
	} {
		s, err := ParseString(src)
		if err != nil {
			t.Fatal(err)
		}
		if !s.AddCodecs([]string{"pcmu", "PCMA", "G722", "opus"}, tc.first) {
			t.Fatal("nothing added")
		}
		out := s.String()
		if !strings.Contains(out, tc.want) || !strings.Contains(out, "m=video 4002 RTP/AVP 96\r\n") {
			t.Errorf("first=%v:\n%s", tc.first, out)
		}
		if s.AddCodecs([]string{"PCMU"}, tc.first) {
			t.Errorf("a codec added twice")
		}
	}
}

func TestAddTelephoneEvent(t *testing.T) {
	t.Parallel()
	src := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 8\r\na=sendrecv\r\n" +
		"m=audio 4002 RTP/AVP 0 100\r\na=rtpmap:100 telephone-event/8000\r\n" +
		"m=video 4004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
	s, err := ParseString(src)
	if err != nil {
		t.Fatal(err)
	}
	if !s.AddTelephoneEvent(101) {
		t.Fatal("nothing added")
	}
	want := "m=audio 4000 RTP/AVP 8 101\r\na=sendrecv\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n" +
		"m=audio 4002 RTP/AVP 0 100\r\na=rtpmap:100 telephone-event/8000\r\nm=video 4004 RTP/AVP 96\r\n"
	if out := s.String(); !strings.Contains(out, want) {
		t.Errorf("got:\n%s\nwant it to hold:\n%s", out, want)
	}
	if s.AddTelephoneEvent(101) {
		t.Error("telephone-event added twice")
	}
}
