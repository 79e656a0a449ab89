package b2bua

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// udpSockets is how many sockets a UDP listener gets: configured, else one
// per core the switch may use (cores). A listener on port 0 gets one (each
// socket would get its own port).
func udpSockets(configured, port, cores int) int {
	switch {
	case port == 0:
		return 1
	case configured > 0:
		return configured
	}
	return cores
}

// listenUDP binds n sockets to one UDP address. sipgo reads and parses each
// socket's datagrams in one goroutine, which saturates a core near 1,500
// calls/s; with SO_REUSEPORT the kernel spreads datagrams over n sockets by
// their source, and replies leave by the socket the peer reached. Every
// socket gets large buffers: the default (~200 kB) overflows in bursts of a
// few thousand calls per second, and a datagram dropped there costs a
// retransmission 500 ms later (the kernel caps the size at
// net.core.rmem_max).
//
// SO_REUSEPORT would also let a second Tollgate of the same user join the
// group and take half the traffic. So the address is first bound without
// it: a port another process holds, with or without SO_REUSEPORT, fails at
// once as it would with a single socket.
//
// Every socket also reports the ICMP unreachables for what it sent to
// report (icmperr.go).
func listenUDP(ctx context.Context, network, addr string, n int, report func(unreachable), log *slog.Logger) ([]net.PacketConn, error) {
	probe, err := net.ListenPacket(network, addr)
	if err != nil {
		return nil, err
	}
	if n == 1 {
		conn, err := recvErrors(probe.(*net.UDPConn), network, report, log)
		if err != nil {
			probe.Close()
			return nil, err
		}
		setBuffers(probe)
		return []net.PacketConn{conn}, nil
	}
	probe.Close()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	conns := make([]net.PacketConn, 0, n)
	for range n {
		conn, err := lc.ListenPacket(ctx, network, addr)
		var wrapped *icmpConn
		if err == nil {
			if wrapped, err = recvErrors(conn.(*net.UDPConn), network, report, log); err != nil {
				conn.Close()
			}
		}
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("socket %d of %d: %w", len(conns)+1, n, err)
		}
		setBuffers(conn)
		conns = append(conns, wrapped)
	}
	return conns, nil
}

func setBuffers(conn net.PacketConn) {
	if uc, ok := conn.(*net.UDPConn); ok {
		uc.SetReadBuffer(udpBuffer)
		uc.SetWriteBuffer(udpBuffer)
	}
}
