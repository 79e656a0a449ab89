package relay

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// TestLocalModifierBindsInterface: U and L with l<addr> bind the leg they
// open on that address, one of the relay's interfaces, and reply with it;
// an address that is not the relay's is refused.
func TestLocalModifierBindsInterface(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{MediaIP: "127.0.0.1", InterfaceIPs: []string{"127.0.0.2", "127.0.0.3"}})
	for _, tc := range []struct{ cmd, addr string }{
		{"Ul127.0.0.2 call 127.0.0.1 4000 ft", "127.0.0.2"},
		{"Ll127.0.0.3 call 127.0.0.1 4002 ft tt", "127.0.0.3"},
		{"U call2 127.0.0.1 4004 ft", "127.0.0.1"},
	} {
		reply := strings.Fields(string(r.Handle([]byte(tc.cmd))))
		if len(reply) != 2 || reply[1] != tc.addr {
			t.Fatalf("%s: reply %q, want a port and %s", tc.cmd, reply, tc.addr)
		}
		port, err := strconv.Atoi(reply[0])
		if err != nil {
			t.Fatalf("%s: reply %q", tc.cmd, reply)
		}
		// The port is taken on that address: the relay bound it there.
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(tc.addr), Port: port})
		if err == nil {
			c.Close()
			t.Errorf("%s: %s:%d is free, want the relay's socket there", tc.cmd, tc.addr, port)
		}
	}
	if got := string(r.Handle([]byte("Ul127.0.0.9 call3 127.0.0.1 4006 ft"))); got != "E31\n" {
		t.Errorf("an address not the relay's: %q, want E31", got)
	}
}
