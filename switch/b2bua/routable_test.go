package b2bua

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestRoutable: a Contact or Record-Route host is a place to send to when
// it is an IP address or a host name of letters, digits and hyphens in
// non-empty labels (RFC 3261 25.1), with a port a socket can have.
func TestRoutable(t *testing.T) {
	for _, c := range []struct {
		host string
		port int
		want bool
	}{
		{"127.0.0.1", 5060, true},
		{"gw-1.carrier.example", 0, true},
		{"gw-1.carrier.example.", 5060, true}, // a final dot
		{"GW1", 5060, true},
		{"[2001:db8::1]", 5060, true},
		{"2001:db8::1", 5060, true},
		{"", 5060, false},
		{".", 5060, false},
		{"a..b", 5060, false},
		{".a", 5060, false},
		{"a..", 5060, false},
		{"gw_1.example", 5060, false},
		{"gw 1", 5060, false},
		{"gw.example;x", 5060, false},
		{"[2001:db8::zz]", 5060, false},
		{"127.0.0.1", 65536, false},
		{"127.0.0.1", -1, false},
	} {
		if got := routable(sip.Uri{Host: c.host, Port: c.port}); got != c.want {
			t.Errorf("routable(%q, port %d) = %v, want %v", c.host, c.port, got, c.want)
		}
	}
}

func BenchmarkRoutable(b *testing.B) {
	u := sip.Uri{Host: "sbc-03.carrier.example", Port: 5060}
	b.ReportAllocs()
	for b.Loop() {
		if !routable(u) {
			b.Fatal("not routable")
		}
	}
}
