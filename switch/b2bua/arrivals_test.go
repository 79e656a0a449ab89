package b2bua

import (
	"net"
	"testing"

	"github.com/tollgate/tollgate/config"
)

// BenchmarkArrivalNote is what the read filter adds to every message when
// a transport has several listeners (two interfaces): a peer seen again
// within the second, the common case, and a new peer each time.
func BenchmarkArrivalNote(b *testing.B) {
	ls := []*listener{
		newListener(config.Listener{Transport: "udp", Host: "127.0.0.2", Port: 5060, Interface: "intern"}),
		newListener(config.Listener{Transport: "udp", Host: "127.0.0.3", Port: 5060, Interface: "extern"}),
	}
	a := newArrivals(ls)
	local := &net.UDPAddr{IP: net.ParseIP("127.0.0.2"), Port: 5060}
	b.Run("same peer", func(b *testing.B) {
		remote := &net.UDPAddr{IP: net.ParseIP("192.0.2.1"), Port: 5060}
		b.ReportAllocs()
		for b.Loop() {
			a.note("UDP", local, remote)
		}
	})
	b.Run("new peer", func(b *testing.B) {
		remote := &net.UDPAddr{IP: net.ParseIP("198.51.100.1")}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			remote.Port = 1024 + i%60000
			a.note("UDP", local, remote)
		}
	})
}
