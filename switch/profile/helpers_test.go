package profile

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// testInvite is a carrier-style INVITE with the identity headers SEMS
// profiles read.
const testInvite = "INVITE sip:+4930123456@gw.example.net:5070;user=phone;transport=udp SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n" +
	"Max-Forwards: 70\r\n" +
	"From: \"Alice \\\"A\\\" Smith\" <sip:alice@example.com:5061;user=phone;cpc=ordinary>;tag=1928301774\r\n" +
	"To: <sip:+4930123456@gw.example.net>\r\n" +
	"Call-ID: a84b4c76e66710@pc33.example.com\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Contact: <sip:alice@192.0.2.10:5060>\r\n" +
	"P-Asserted-Identity: \"Alice\" <sip:+4940111@pai.example.com;user=phone>\r\n" +
	"P-Preferred-Identity: <sip:ppi-user@ppi.example.com:5080>\r\n" +
	"P-App-Param: u=myuser;p=\"my;pwd\";d=mydomain;profile=gold\r\n" +
	"P-NextHop-URI: sip:nh@10.0.2.15:5092\r\n" +
	"X-Multi: one\r\n" +
	"X-Multi: two\r\n" +
	"P-Caller-Uuid: 0004152379B8\r\n" +
	"Content-Length: 0\r\n" +
	"\r\n"

var testLocal = Local{
	Addr:          netip.MustParseAddrPort("198.51.100.1:5060"),
	InterfaceID:   2,
	InterfaceName: "intern",
	PublicIP:      "203.0.113.7",
}

// parseInvite parses raw with sipgo, as the B2BUA receives requests.
func parseInvite(t testing.TB, raw string) *sip.Request {
	t.Helper()
	msg, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatalf("parse INVITE: %v", err)
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		t.Fatalf("parsed %T, want a request", msg)
	}
	req.SetSource("192.0.2.10:5062")
	return req
}

func testRequest(t testing.TB) *Request {
	t.Helper()
	return FromSIP(parseInvite(t, testInvite), testLocal)
}

// withHeader returns the test INVITE with one more header line.
func withHeader(line string) string {
	return strings.Replace(testInvite, "Content-Length: 0\r\n", line+"\r\nContent-Length: 0\r\n", 1)
}

func mustMaps(t testing.TB, maps ...*RegexMap) *MapSet {
	t.Helper()
	s, err := NewMapSet(maps...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustMap(t testing.TB, name, text string) *RegexMap {
	t.Helper()
	m, err := ParseMap(name, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
