package sipcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// Outcomes besides a response code.
const (
	accepted = 0  // handed on: to the B2BUA core for a request, to sipgo's transaction layer for a response
	dropped  = -1 // discarded without an answer
)

// ourExtensions is what the switch supports in the tests.
var ourExtensions = []string{"100rel", "timer", "replaces"}

// rfc4475 is what Tollgate does with each RFC 4475 message arriving over UDP, with why. Where the
// RFC leaves a choice, the choice and its reason are given.
var rfc4475 = []struct {
	name, section string
	want          int
	why           string
}{
	// 3.1.1 valid messages: parsed and handled like any other
	{"wsinv", "3.1.1.1", accepted, "valid: odd whitespace, folding, compact forms"},
	{"intmeth", "3.1.1.2", accepted, "valid: unknown method; the core answers it 405/501"},
	{"esc01", "3.1.1.3", accepted, "valid % escapes"},
	{"escnull", "3.1.1.4", accepted, "escaped NULs in URIs are valid"},
	{"esc02", "3.1.1.5", accepted, "RE%47IST%45R is an unknown method, not REGISTER; the core answers 501"},
	{"lwsdisp", "3.1.1.6", accepted, "no LWS between display name and < is valid"},
	{"longreq", "3.1.1.7", accepted, "long values and 34 Vias are valid"},
	{"dblreq", "3.1.1.8", accepted, "octets after Content-Length in a datagram are discarded (RFC 3261 18.3)"},
	{"semiuri", "3.1.1.9", accepted, "';' in the user part is valid"},
	{"transports", "3.1.1.10", accepted, "unknown transports in lower Vias are valid"},
	{"mpart01", "3.1.1.11", accepted, "MESSAGE body is relayed, not read as a session description"},
	{"unreason", "3.1.1.12", accepted, "response with UTF-8 reason phrase; absorbed as a stray response"},
	{"noreason", "3.1.1.13", accepted, "response with empty reason phrase; absorbed as a stray response"},

	// 3.1.2 invalid messages: 400 where a response can be formed
	{"badinv01", "3.1.2.1", dropped, "400 is due, but the malformed Via must be echoed verbatim and would make the reply unparseable"},
	{"clerr", "3.1.2.2", 400, "Content-Length larger than the datagram"},
	{"ncl", "3.1.2.3", 400, "negative Content-Length"},
	{"scalar02", "3.1.2.4", dropped, "400 is due for the CSeq above 2**31-1, but that CSeq must be echoed and would make the reply unparseable"},
	{"scalarlg", "3.1.2.5", dropped, "a response: never answered, and its CSeq is out of range"},
	{"quotbal", "3.1.2.6", dropped, "400 is due, but the unbalanced To must be echoed and would make the reply unparseable"},
	{"ltgtruri", "3.1.2.7", 400, "Request-URI in <>"},
	{"lwsruri", "3.1.2.8", 400, "whitespace inside the Request-URI"},
	{"lwsstart", "3.1.2.9", 400, "double spaces in the Request-Line"},
	{"trws", "3.1.2.10", 400, "trailing whitespace after SIP-Version"},
	{"escruri", "3.1.2.11", 400, "choice: reject rather than strip the headers component, which RFC 3261 19.1.5 forbids in a Request-URI"},
	{"baddate", "3.1.2.12", accepted, "choice: the switch never reads Date, and the RFC advises not to reject for a field that is not used"},
	{"regbadct", "3.1.2.13", 400, "Contact URI with '?' outside <>"},
	{"badaspec", "3.1.2.14", dropped, "400 is due, but the To with LWS inside <> must be echoed and would make the reply unparseable"},
	{"baddn", "3.1.2.15", 400, "unquoted ',' in a display name"},
	{"badvers", "3.1.2.16", 505, "SIP/7.0"},
	{"mismatch01", "3.1.2.17", 400, "CSeq method INVITE on an OPTIONS"},
	{"mismatch02", "3.1.2.18", 400, "CSeq method INVITE on NEWMETHOD"},
	{"bigcode", "3.1.2.19", dropped, "a response with a status code outside 100-699"},

	// 3.2 transaction layer
	{"badbranch", "3.2.1", accepted, "choice: branch of only the magic cookie; sipgo falls back to RFC 2543 matching, as the RFC allows"},

	// 3.3 application layer
	{"insuf", "3.3.1", 400, "no Call-ID, From or To"},
	{"unkscm", "3.3.2", 416, "unknown Request-URI scheme"},
	{"novelsc", "3.3.3", 416, "soap.beep is never meaningful to the switch, so 416 rather than 404"},
	{"unksm2", "3.3.4", accepted, "unknown schemes in To/From/Contact parse; what a REGISTER may bind is the core's decision"},
	{"bext01", "3.3.5", 420, "Require tags unsupported; as the incoming leg's UAS the switch ignores Proxy-Require"},
	{"invut", "3.3.6", 415, "INVITE body of unknown type"},
	{"regaut01", "3.3.7", accepted, "unknown Authorization scheme: authentication (and its 401/407) is the AAA chain's decision"},
	{"multi01", "3.3.8", 400, "two CSeq, Call-ID, From, To and Max-Forwards"},
	{"mcl01", "3.3.9", 400, "two Content-Length values"},
	{"bcast", "3.3.10", dropped, "a response with two Vias is discarded (RFC 3261 8.1.3.3)"},
	{"zeromf", "3.3.11", accepted, "choice: Max-Forwards 0 on an out-of-dialog OPTIONS is answered by the switch itself (RFC 3261 11, 16.3); a forwarded request gets 483 (see TestMaxForwardsZero)"},
	{"cparam01", "3.3.12", accepted, "unknownparam is a contact-param"},
	{"cparam02", "3.3.13", accepted, "unknownparam is a url-param"},
	{"regescrt", "3.3.14", accepted, "escaped header in a Contact URI inside <> is valid"},
	{"sdp01", "3.3.15", 406, "Accept rules out SDP, the only body the switch answers with"},

	// 3.4 backward compatibility
	{"inv2543", "3.4.1", accepted, "RFC 2543 syntax: no branch, no From tag, no Content-Length, no Max-Forwards"},
}

// outcome runs raw through what a UDP datagram meets: Datagram, then sipgo's parser and Request.
func outcome(t testing.TB, raw []byte) (int, string) {
	t.Helper()
	_, reply, ok := Datagram(raw)
	if !ok {
		if reply == nil {
			return dropped, ""
		}
		msg, err := sip.ParseMessage(reply)
		if err != nil {
			t.Fatalf("reply does not parse: %v\n%s", err, reply)
		}
		res, isRes := msg.(*sip.Response)
		if !isRes {
			t.Fatalf("reply is not a response:\n%s", reply)
		}
		return res.StatusCode, res.Reason
	}
	if isKeepalive(raw) {
		return accepted, "" // sipgo's transport swallows it before parsing
	}
	msg, err := sip.ParseMessage(raw)
	if err != nil {
		t.Fatalf("Datagram passed what sipgo cannot parse: %v", err)
	}
	req, isReq := msg.(*sip.Request)
	if !isReq {
		return accepted, ""
	}
	if r := Request(req, ourExtensions); r != nil {
		return r.Code, r.Reason
	}
	return accepted, ""
}

func TestRFC4475(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/rfc4475/*.dat")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(rfc4475) {
		t.Fatalf("%d torture files, %d expectations", len(files), len(rfc4475))
	}
	for _, tc := range rfc4475 {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "rfc4475", tc.name+".dat"))
			if err != nil {
				t.Fatal(err)
			}
			got, reason := outcome(t, raw)
			t.Logf("%s: %d %s", tc.name, got, reason)
			if got != tc.want {
				t.Errorf("RFC 4475 %s: got %d %q, want %d (%s)", tc.section, got, reason, tc.want, tc.why)
			}
			if strings.HasPrefix(tc.why, "400 is due") {
				// dropped for want of an echoable header, not mistaken for garbage
				var s scan
				if s.run(raw); s.drop || s.bad.code != 400 {
					t.Errorf("defect not found: drop=%v %+v", s.drop, s.bad)
				}
			}
		})
	}
}
