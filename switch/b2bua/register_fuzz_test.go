package b2bua

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzReadRegister feeds readRegister any REGISTER the SIP parser accepts:
// it must never panic, and a REGISTER it accepts has an AoR and only
// contacts with a lifetime that is not negative.
func FuzzReadRegister(f *testing.F) {
	for _, seed := range []string{
		"Contact: <sip:a@10.0.0.1:5060>\r\nExpires: 60\r\n",
		"Contact: <sip:a@10.0.0.1>;expires=0, <sip:a@10.0.0.2>;expires=30\r\n",
		"Contact: *\r\nExpires: 0\r\n",
		"Contact: *\r\n",
		"Contact: <sip:a@h>;expires=-1\r\n",
		"Expires: abc\r\n",
	} {
		f.Add(seed)
	}
	s := &Switch{listeners: []*listener{{transport: "udp", ip: []byte{127, 0, 0, 1}, port: 5060}}}
	f.Fuzz(func(t *testing.T, hdrs string) {
		msg := "REGISTER sip:example.net SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n" +
			"From: <sip:a@example.net>;tag=1\r\nTo: <sip:a@example.net>\r\n" +
			"Call-ID: c1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n" +
			strings.ReplaceAll(hdrs, "\x00", "") + "Content-Length: 0\r\n\r\n"
		m, err := sip.ParseMessage([]byte(msg))
		if err != nil {
			return
		}
		req, ok := m.(*sip.Request)
		if !ok {
			return
		}
		req.SetSource("192.0.2.1:5060")
		r, why := s.readRegister(req)
		if why != "" {
			return
		}
		if user, host, _ := strings.Cut(r.aor, "@"); user == "" || host == "" {
			t.Fatalf("aor %q", r.aor)
		}
		for _, a := range r.contacts {
			if a.expires < 0 {
				t.Fatalf("contact %s with lifetime %d", a.uri, a.expires)
			}
		}
	})
}
