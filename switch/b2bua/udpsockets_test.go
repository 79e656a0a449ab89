package b2bua

import (
	"context"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestListenUDPSharesThePort: n sockets on one address, each receiving; a
// port another socket holds — even one in a SO_REUSEPORT group of its own —
// is refused as with a single socket.
func TestListenUDPSharesThePort(t *testing.T) {
	addr := net.JoinHostPort("127.0.0.1", itoa(testenv.FreeUDPPort(t)))
	conns, err := listenUDP(context.Background(), "udp4", addr, 4, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 4 {
		t.Fatalf("%d sockets, want 4", len(conns))
	}
	for _, c := range conns {
		if c.LocalAddr().String() != addr {
			t.Errorf("socket on %s, want %s", c.LocalAddr(), addr)
		}
		defer c.Close()
	}
	if _, err := listenUDP(context.Background(), "udp4", addr, 4, nil, nil); err == nil {
		t.Error("a second group bound the address in use")
	}

	// Another process's own SO_REUSEPORT group on a port: refused too.
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
	}}
	other := net.JoinHostPort("127.0.0.1", itoa(testenv.FreeUDPPort(t)))
	held, err := lc.ListenPacket(context.Background(), "udp4", other)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, err := listenUDP(context.Background(), "udp4", other, 2, nil, nil); err == nil {
		t.Error("joined another SO_REUSEPORT group")
	}
	if n := udpSockets(0, 0, 2); n != 1 {
		t.Errorf("port 0 gets %d sockets, want 1", n)
	}
	if n := udpSockets(3, 5060, 2); n != 3 {
		t.Errorf("configured 3: %d sockets", n)
	}
	if n := udpSockets(0, 5060, 2); n != 2 {
		t.Errorf("2 cores: %d sockets, want 2", n)
	}
}
