package sipcheck

import (
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// requestOf parses raw as sipgo does on a stream transport, where Request is the only check.
func requestOf(t *testing.T, raw string) *sip.Request {
	t.Helper()
	msg, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatalf("sipgo: %v", err)
	}
	return msg.(*sip.Request)
}

// withBody gives the normal INVITE another body and Content-Type.
func withBody(contentType, body string, extra ...string) string {
	head, _, _ := strings.Cut(normalInvite, "\r\n\r\n")
	head = strings.Replace(head, "Content-Type: application/sdp", "Content-Type: "+contentType, 1)
	head = strings.Replace(head, "Content-Length: 235", "Content-Length: "+strconv.Itoa(len(body)), 1)
	for _, h := range extra {
		head += "\r\n" + h
	}
	return head + "\r\n\r\n" + body
}

const sdpBody = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"

func TestRequest(t *testing.T) {
	t.Parallel()
	multipart := func(partType string) string {
		return "--b1\r\nContent-Type: " + partType + "\r\n\r\n" + sdpBody + "\r\n--b1\r\nContent-Type: application/isup\r\n\r\nxyz\r\n--b1--\r\n"
	}
	for _, tc := range []struct {
		name, raw string
		code      int
		header    string // the header line the rejection must carry
	}{
		{"normal INVITE", normalInvite, 0, ""},
		{"lower-case SIP version", strings.Replace(normalInvite, "SIP/2.0\r\n", "sip/2.0\r\n", 1), 0, ""},
		{"SIP-I multipart with SDP", withBody("multipart/mixed;boundary=b1", multipart("application/sdp")), 0, ""},
		{"multipart without SDP", withBody("multipart/mixed;boundary=b1", multipart("text/plain")), 415, "Accept: application/sdp, multipart/mixed"},
		{"multipart without boundary", withBody("multipart/mixed", multipart("application/sdp")), 400, ""},
		{"gzip SDP", withBody("application/sdp", sdpBody, "Content-Encoding: gzip"), 415, "Accept-Encoding: identity"},
		{"identity encoding", withBody("application/sdp", sdpBody, "e: identity"), 0, ""},
		{"XML body", withBody("application/xml", "<a/>"), 415, "Accept: application/sdp, multipart/mixed"},
		{"body without Content-Type", strings.Replace(normalInvite, "Content-Type: application/sdp\r\n", "", 1), 400, ""},
		{"supported Require", withBody("application/sdp", sdpBody, "Require: timer"), 0, ""},
		{"unsupported Require", withBody("application/sdp", sdpBody, "Require: timer, precondition", "Require: sec-agree"), 420, "Unsupported: precondition, sec-agree"},
		{"Proxy-Require alone", withBody("application/sdp", sdpBody, "Proxy-Require: sec-agree"), 0, ""},
		{"Accept with SDP", withBody("application/sdp", sdpBody, "Accept: application/sdp;level=1, text/html"), 0, ""},
		{"Accept wildcard", withBody("application/sdp", sdpBody, "Accept: */*"), 0, ""},
		{"Accept without SDP", withBody("application/sdp", sdpBody, "Accept: text/html"), 406, ""},
		{"Max-Forwards 300", strings.Replace(normalInvite, "Max-Forwards: 70", "Max-Forwards: 300", 1), 400, ""},
		{"Contact star on INVITE", strings.Replace(normalInvite, "Contact: <sip:+15559876543@198.51.100.7:5060;transport=udp>", "Contact: *", 1), 400, ""},
		{"Request-URI without host", strings.Replace(normalInvite, "INVITE sip:+15551234567@203.0.113.10:5060;user=phone", "INVITE sip:+15551234567@", 1), 400, ""},
		{"unknown scheme over TCP", strings.Replace(normalInvite, "INVITE sip:+15551234567@203.0.113.10:5060;user=phone", "INVITE urn:service:sos", 1), 416, ""},
		{"CSeq with two spaces", strings.Replace(normalInvite, "CSeq: 1 INVITE", "CSeq: 1  INVITE", 1), 0, ""},
		{"ACK with Max-Forwards 0", strings.NewReplacer("INVITE sip:", "ACK sip:", "1 INVITE", "1 ACK", "Max-Forwards: 70", "Max-Forwards: 0").Replace(normalInvite), 0, ""},
		{"CANCEL with unsupported Require", strings.NewReplacer("INVITE sip:", "CANCEL sip:", "1 INVITE", "1 CANCEL", "Supported:", "Require: x\r\nSupported:").Replace(normalInvite), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Request(requestOf(t, tc.raw), ourExtensions)
			switch {
			case r == nil && tc.code != 0:
				t.Fatalf("accepted, want %d", tc.code)
			case r != nil && r.Code != tc.code:
				t.Fatalf("got %d %s, want %d", r.Code, r.Reason, tc.code)
			case r != nil && tc.header != "":
				var lines []string
				for _, h := range r.Headers {
					lines = append(lines, h.String())
				}
				if strings.Join(lines, "\r\n") != tc.header {
					t.Errorf("headers %q, want %q", lines, tc.header)
				}
			}
		})
	}
}

// sipgo's parser always makes Content-Length and body agree (it truncates or fails), so the check
// matters for requests that reach Request by another road; one is simulated here.
func TestRequestContentLengthMismatch(t *testing.T) {
	t.Parallel()
	req := requestOf(t, normalInvite)
	*req.ContentLength() = 10
	if r := Request(req, ourExtensions); r == nil || r.Code != 400 {
		t.Fatalf("got %+v, want 400", r)
	}
}
