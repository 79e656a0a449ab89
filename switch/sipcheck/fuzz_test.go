package sipcheck

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func addTortureSeeds(f *testing.F) {
	files, err := filepath.Glob("testdata/rfc4475/*.dat")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(normalInvite))
}

// FuzzDatagram checks that Datagram never panics, that every reply it builds parses with sipgo's
// parser as a response, and that whatever it passes sipgo can parse (so nothing it lets through is
// dropped unanswered).
func FuzzDatagram(f *testing.F) {
	addTortureSeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, reply, ok := Datagram(raw)
		if reply != nil {
			if ok {
				t.Fatal("a reply for a datagram that is passed on")
			}
			msg, err := sip.ParseMessage(reply)
			if err != nil {
				t.Fatalf("reply does not parse: %v\n%q", err, reply)
			}
			if _, isRes := msg.(*sip.Response); !isRes {
				t.Fatalf("reply is not a response: %q", reply)
			}
		}
		if ok && !isKeepalive(raw) {
			if _, err := sip.ParseMessage(raw); err != nil {
				t.Fatalf("passed a datagram sipgo cannot parse: %v\n%q", err, raw)
			}
		}
	})
}

// FuzzRequest checks that Request never panics on anything sipgo parses.
func FuzzRequest(f *testing.F) {
	addTortureSeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, err := sip.ParseMessage(raw)
		if err != nil {
			return
		}
		if req, isReq := msg.(*sip.Request); isReq {
			if r := Request(req, ourExtensions); r != nil && (r.Code < 400 || r.Code > 699 || r.Reason == "") {
				t.Fatalf("bad rejection %+v", r)
			}
		}
	})
}
