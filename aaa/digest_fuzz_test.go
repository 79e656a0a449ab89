package aaa

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzCheckAuthorization feeds CheckAuthorization any Proxy-Authorization
// value a caller may send. {nonce} in the input stands for a nonce just
// issued, so that inputs get past the nonce check to what follows it.
// Credentials it accepts must be whole and must make an Access-Request:
// whatever it lets through reaches RADIUS, and a caller's bad header has to
// be refused here, with a new challenge, not fail the call later with 503.
func FuzzCheckAuthorization(f *testing.F) {
	for _, seed := range []string{
		`Digest username="alice", realm="tollgate", nonce="{nonce}", uri="sip:100@127.0.0.1", response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"`,
		`Digest username="alice",realm="r",nonce="{nonce}",uri="sip:1@h",response="0123456789abcdef0123456789abcdef"`,
		`digest username="a\"b", nonce="{nonce}", uri="sip:1@h", response="0123456789abcdef0123456789abcdef", algorithm=md5`,
		`Digest username="alice", nonce="{nonce}", uri="sip:1@h", response="0123456789abcdef0123456789abcdef", algorithm=SHA-256`,
		`Digest username="alice", nonce="{nonce}", uri="sip:1@h", response="0123456789abcdef0123456789abcdef", qop=auth, nc=ffffffffffffffff`,
		`Digest username="", nonce="{nonce}", uri="sip:1@h", response="x"`,
		`Digest username="` + strings.Repeat("u", 300) + `", nonce="{nonce}", uri="sip:1@h", response="0123456789abcdef0123456789abcdef"`,
		`Digest nonce="stale-or-forged", username="a", uri="u", response="0123456789abcdef0123456789abcdef"`,
		`Digest username=alice, nonce={nonce}, uri=sip:1@h, response=0123456789abcdef0123456789abcdef`,
		`Basic YWxpY2U6cHc=`,
		`Digest`,
		``,
		`Digest ,,,=,"`,
	} {
		f.Add(seed)
	}
	n := NewNonces(NonceConfig{})
	a := NewAuthorizer(nil, AuthConfig{})
	f.Fuzz(func(t *testing.T, header string) {
		header = strings.ReplaceAll(header, "{nonce}", n.Issue())
		d, err := n.CheckAuthorization(header, "INVITE")
		if err != nil {
			if d != nil {
				t.Fatalf("credentials %+v with error %v", d, err)
			}
			return
		}
		if d.Username == "" || d.Nonce == "" || d.URI == "" || len(d.Response) != 32 || d.Method != "INVITE" {
			t.Fatalf("accepted incomplete credentials %+v from %q", d, header)
		}
		if _, err := a.AccessRequest(AuthRequest{SourceIP: netip.MustParseAddr("192.0.2.1"), Digest: d}); err != nil {
			t.Fatalf("accepted %q, but RADIUS cannot carry it: %v", header, err)
		}
	})
}
