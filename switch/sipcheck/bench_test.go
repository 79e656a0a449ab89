package sipcheck

import (
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// normalInvite is a typical carrier INVITE with SDP.
const normalInvite = "INVITE sip:+15551234567@203.0.113.10:5060;user=phone SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-524287-1---3ce1f7a5b4e3d2c1;rport\r\n" +
	"Max-Forwards: 70\r\n" +
	"Contact: <sip:+15559876543@198.51.100.7:5060;transport=udp>\r\n" +
	"To: <sip:+15551234567@203.0.113.10;user=phone>\r\n" +
	"From: \"Alice Example\" <sip:+15559876543@198.51.100.7;user=phone>;tag=8c4a1e2f\r\n" +
	"Call-ID: 5f2a9c7e1b3d4f60a8e2c1b7d9f3a5e4@198.51.100.7\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE, UPDATE\r\n" +
	"Supported: replaces, timer\r\n" +
	"User-Agent: ExampleGW 4.2\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 235\r\n" +
	"\r\n" +
	"v=0\r\n" +
	"o=- 3724394400 3724394400 IN IP4 198.51.100.7\r\n" +
	"s=-\r\n" +
	"c=IN IP4 198.51.100.7\r\n" +
	"t=0 0\r\n" +
	"m=audio 40000 RTP/AVP 0 8 18 101\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:18 G729/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=sendrecv\r\n"

func TestNormalInviteIsClean(t *testing.T) {
	t.Parallel()
	if _, body, _ := strings.Cut(normalInvite, "\r\n\r\n"); !strings.Contains(normalInvite, "Content-Length: "+strconv.Itoa(len(body))+"\r\n") {
		t.Fatalf("Content-Length is not %d", len(body))
	}
	if got, reason := outcome(t, []byte(normalInvite)); got != accepted {
		t.Fatalf("normal INVITE: %d %s", got, reason)
	}
}

func BenchmarkDatagram(b *testing.B) {
	raw := []byte(normalInvite)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := Datagram(raw); !ok {
			b.Fatal("normal INVITE rejected")
		}
	}
}

func BenchmarkRequest(b *testing.B) {
	msg, err := sip.ParseMessage([]byte(normalInvite))
	if err != nil {
		b.Fatal(err)
	}
	req := msg.(*sip.Request)
	b.ReportAllocs()
	for b.Loop() {
		if r := Request(req, ourExtensions); r != nil {
			b.Fatal(r.Reason)
		}
	}
}

// BenchmarkSipgoParse is the cost Datagram adds to: sipgo's own parse of the same datagram.
func BenchmarkSipgoParse(b *testing.B) {
	raw := []byte(normalInvite)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sip.ParseMessage(raw); err != nil {
			b.Fatal(err)
		}
	}
}
