package sdpedit

import (
	"bytes"
	"testing"
)

const isupBody = "--unique-boundary-1\r\n" +
	"Content-Type: application/sdp\r\n\r\n" +
	"v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n" +
	"\r\n--unique-boundary-1\r\n" +
	"Content-Type: application/ISUP;version=itu-t92+\r\nContent-Disposition: signal;handling=required\r\n\r\n" +
	"\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00\x00\x03\x06\x0d\x03\x80\x90\xa2\x07\x03\x10\x03\x63\x53\x00\x10\x0a\x07\x03\x10\x27\x80\x88\x03\x00\x00\x89\x8b\x0e\x95\x1e\x1e\x1e\x06\x26\x05\x0d\xf5\x01\x06\x10\x04\x00" +
	"\r\n--unique-boundary-1--\r\n"

func TestMultipartBody(t *testing.T) {
	ct := "multipart/mixed;boundary=unique-boundary-1"
	b, err := FindSDP(ct, []byte(isupBody))
	if err != nil || b == nil {
		t.Fatalf("FindSDP: %v %v", b, err)
	}
	if got := string(b.SDP()); got[:4] != "v=0\r" || !bytes.HasSuffix(b.SDP(), []byte("RTP/AVP 0\r\n")) {
		t.Errorf("SDP = %q", got)
	}
	if got := b.With(b.SDP()); !bytes.Equal(got, []byte(isupBody)) {
		t.Errorf("unchanged body rebuilt as\n%q", got)
	}
	out := b.With([]byte("v=0\r\nX\r\n"))
	if !bytes.Contains(out, []byte("\r\n\r\nv=0\r\nX\r\n\r\n--unique-boundary-1\r\nContent-Type: application/ISUP")) ||
		!bytes.Contains(out, []byte("\x89\x8b\x0e\x95")) {
		t.Errorf("edited body\n%q", out)
	}
	b.Keep(func(mt string) bool { return mt != "application/ISUP" })
	if !b.Single() || bytes.Contains(b.With(b.SDP()), []byte("ISUP")) {
		t.Errorf("ISUP part kept: %q", b.With(b.SDP()))
	}
	for _, bad := range []string{"no delimiter", "--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\nv=0"} {
		if _, err := FindSDP(ct, []byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if b, err := FindSDP("multipart/mixed;boundary=x", []byte("--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--")); b != nil || err != nil {
		t.Errorf("a multipart without SDP: %v %v", b, err)
	}
}
