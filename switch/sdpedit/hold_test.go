package sdpedit

import "testing"

func TestAlterHold(t *testing.T) {
	t.Parallel()
	in := "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=sendonly\r\n" +
		"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" +
		"m=video 0 RTP/AVP 96\r\n" +
		"m=audio 4002 RTP/AVP 8\r\nc=IN IP6 2001:db8::1\r\na=sendonly"
	for _, tc := range []struct {
		dir  Direction
		zero bool
		want string
	}{
		{Inactive, false, "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
			"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=inactive\r\n" +
			"m=video 0 RTP/AVP 96\r\n" +
			"m=audio 4002 RTP/AVP 8\r\nc=IN IP6 2001:db8::1\r\na=inactive\r\n"},
		{SendOnly, true, "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n" +
			"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n" +
			"m=video 0 RTP/AVP 96\r\n" +
			"m=audio 4002 RTP/AVP 8\r\nc=IN IP6 ::\r\na=sendonly\r\n"},
	} {
		s, err := ParseString(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AlterHold(tc.dir, tc.zero); err != nil {
			t.Fatal(err)
		}
		if got := s.String(); got != tc.want {
			t.Errorf("AlterHold(%v, %v) =\n%q\nwant\n%q", tc.dir, tc.zero, got, tc.want)
		}
		if !s.Hold() {
			t.Errorf("AlterHold(%v, %v): no longer a hold", tc.dir, tc.zero)
		}
	}
}
