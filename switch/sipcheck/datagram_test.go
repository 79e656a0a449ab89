package sipcheck

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// withLine replaces the header line starting with prefix (or the Request-Line when prefix is "")
// in the normal INVITE; an empty replacement removes the line.
func withLine(prefix, line string) []byte {
	head, body, _ := strings.Cut(normalInvite, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	out := lines[:0]
	for i, l := range lines {
		if (prefix == "" && i == 0) || (prefix != "" && i > 0 && strings.HasPrefix(l, prefix)) {
			if line == "" {
				continue
			}
			l = line
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\r\n") + "\r\n\r\n" + body)
}

func TestStatelessReplyEchoesRequest(t *testing.T) {
	t.Parallel()
	raw := []byte("OPTIONS sip:a@example.com SIP/2.0 \r\n" +
		"Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK1\r\n" +
		"v: SIP/2.0/UDP p2.example.com;branch=z9hG4bK2,\r\n SIP/2.0/TCP p3.example.com;branch=z9hG4bK3\r\n" +
		"From: <sip:b@example.com>;tag=f1\r\n" +
		"To: \"x;tag=no\" <sip:a@example.com>\r\n" +
		"Call-ID: c1@example.com\r\n" +
		"CSeq: 7 OPTIONS\r\n" +
		"Content-Length: 0\r\n\r\n")
	_, reply, ok := Datagram(raw)
	if ok || reply == nil {
		t.Fatalf("ok=%v reply=%q", ok, reply)
	}
	_, again, _ := Datagram(raw)
	if !bytes.Equal(reply, again) {
		t.Error("the reply to a retransmission differs: the To tag must be derived from the request")
	}
	msg, err := sip.ParseMessage(reply)
	if err != nil {
		t.Fatal(err)
	}
	res := msg.(*sip.Response)
	if res.StatusCode != 400 || res.Reason != "Trailing Whitespace in Request-Line" {
		t.Errorf("status %d %q", res.StatusCode, res.Reason)
	}
	var hosts []string
	for _, h := range res.GetHeaders("Via") {
		hosts = append(hosts, h.(*sip.ViaHeader).Host)
	}
	if got := strings.Join(hosts, ","); got != "p1.example.com,p2.example.com,p3.example.com" {
		t.Errorf("Vias %s", got)
	}
	if tag, _ := res.To().Params.Get("tag"); tag == "" {
		t.Error("no To tag added")
	}
	if tag, _ := res.From().Params.Get("tag"); tag != "f1" {
		t.Errorf("From tag %q", tag)
	}
	if res.CallID().Value() != "c1@example.com" || res.CSeq().SeqNo != 7 || res.CSeq().MethodName != sip.OPTIONS {
		t.Errorf("Call-ID/CSeq not echoed: %q", reply)
	}

	// an existing To tag is kept, not doubled
	raw = bytes.Replace(raw, []byte("<sip:a@example.com>\r\n"), []byte("<sip:a@example.com>;tag=t9\r\n"), 1)
	_, reply, _ = Datagram(raw)
	if bytes.Count(reply, []byte("tag=")) != 3 || !bytes.Contains(reply, []byte(";tag=t9\r\n")) {
		t.Errorf("To tag mangled: %q", reply)
	}
}

func TestDatagramVerdicts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		raw  []byte
		want int
	}{
		{"keepalive", []byte("\r\n\r\n"), accepted},
		{"long CRLF run", []byte("\r\n\r\n\r\n"), dropped},
		{"garbage", []byte("\x00\x01\x02 hello\r\n\r\n"), dropped},
		{"STUN-like binary", []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42}, dropped},
		{"HTTP", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), dropped},
		{"no blank line", []byte(strings.Split(string(withLine("Content-Length", "Content-Length: 0")), "\r\n\r\n")[0] + "\r\n"), 400},
		{"bare LF", withLine("User-Agent", "User-Agent: a\nb"), 400},
		{"control character", withLine("User-Agent", "User-Agent: a\x01b"), 400},
		{"header without colon", withLine("User-Agent", "User-Agent a"), 400},
		{"bad port in Via", withLine("Via", "Via: SIP/2.0/UDP 198.51.100.7:99999;branch=z9hG4bK1"), 400},
		{"bad IPv6 in Contact", withLine("Contact", "Contact: <sip:a@[2001:db8::1>"), 400},
		{"unusual scheme in To", withLine("To", "To: <h323:a@example.com>"), dropped},
		{"sips Request-URI", withLine("", "INVITE sips:a@example.com SIP/2.0"), accepted},
		{"tel Request-URI", withLine("", "INVITE tel:+15551234567 SIP/2.0"), accepted},
		{"star Request-URI", withLine("", "INVITE * SIP/2.0"), 400},
		{"CSeq method case", withLine("CSeq", "CSeq: 1 invite"), 400},
		{"bad ACK is not answered", bytes.ReplaceAll(withLine("", "ACK sip:a@example.com SIP/2.0 "), []byte("1 INVITE"), []byte("1 ACK")), dropped},
		{"response with one Via", []byte("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"), accepted},
		{"response with bad header", []byte("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\nFrom: <sip:a@example.com\r\nContent-Length: 0\r\n\r\n"), dropped},
		{"response without reason SP", []byte("SIP/2.0 180\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\r\n"), dropped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, reason := outcome(t, tc.raw); got != tc.want {
				t.Errorf("got %d %q, want %d", got, reason, tc.want)
			}
		})
	}
}

func TestMaxForwardsZero(t *testing.T) {
	t.Parallel()
	if got, _ := outcome(t, withLine("Max-Forwards", "Max-Forwards: 0")); got != 483 {
		t.Errorf("INVITE with Max-Forwards 0: %d, want 483", got)
	}
	options := strings.NewReplacer("INVITE sip:", "OPTIONS sip:", "1 INVITE", "1 OPTIONS", "Max-Forwards: 70", "Max-Forwards: 0")
	raw := options.Replace(normalInvite)
	if got, _ := outcome(t, []byte(raw)); got != accepted {
		t.Errorf("out-of-dialog OPTIONS with Max-Forwards 0: %d, want it answered by the switch", got)
	}
	raw = strings.Replace(raw, "user=phone>\r\n", "user=phone>;tag=b2\r\n", 1)
	if got, _ := outcome(t, []byte(raw)); got != 483 {
		t.Errorf("in-dialog OPTIONS with Max-Forwards 0: %d, want 483", got)
	}
}
