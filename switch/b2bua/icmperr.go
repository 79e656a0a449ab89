package b2bua

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// An ICMP unreachable for a datagram sent from an unconnected UDP socket is
// dropped by Linux unless the socket asks for it with IP_RECVERR (or
// IPV6_RECVERR). Asked for, the error is queued on the socket's error
// queue, with the datagram's destination, AND set as the socket's pending
// error: the socket's next recvfrom or sendto — whoever makes it — fails
// once with ECONNREFUSED, EHOSTUNREACH..., and that sendto's datagram is
// not sent. icmpConn turns both back into normal operation: it drains the
// queue, reports each unreachable destination, and reads again or sends
// again. Nothing of this runs while no error is pending: the normal path is
// the plain socket's, with no extra system call.

// unreachable is one ICMP destination unreachable for a datagram the
// switch sent.
type unreachable struct {
	dest netip.AddrPort // where the datagram was going
	why  string         // "port unreachable", "host unreachable"...
}

// icmpConn is a UDP listen socket with IP_RECVERR set, as handed to sipgo
// and the front door.
type icmpConn struct {
	net.PacketConn
	raw    syscall.RawConn
	report func(unreachable)
	log    *slog.Logger
	// fd is the socket's descriptor, for send; closedFD once closed.
	// Sends hold open shared and Close holds it alone while it closes,
	// so that no send reaches a number the kernel has given to another
	// file meanwhile.
	open sync.RWMutex
	fd   int
	// family is the socket's address family, unix.AF_INET or AF_INET6:
	// an IPv6 socket sends to an IPv4 address as ::ffff:a.b.c.d.
	family int
}

// closedFD is icmpConn.fd once the socket is closed.
const closedFD = -1

// drainBatch bounds one drain of the error queue: what is left keeps the
// socket's error pending, so the next read or write drains the rest.
const drainBatch = 64

// recvErrors sets IP_RECVERR (IPV6_RECVERR on a udp6 socket) on conn and
// returns it wrapped, every ICMP unreachable for a datagram it sent given
// to report.
func recvErrors(conn *net.UDPConn, network string, report func(unreachable), log *slog.Logger) (*icmpConn, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	level, opt := unix.SOL_IP, unix.IP_RECVERR
	if network == "udp6" {
		level, opt = unix.SOL_IPV6, unix.IPV6_RECVERR
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), level, opt, 1) }); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("set IP_RECVERR: %w", serr)
	}
	fd := closedFD
	if err := raw.Control(func(d uintptr) { fd = int(d) }); err != nil {
		return nil, err
	}
	family := unix.AF_INET
	if network == "udp6" {
		family = unix.AF_INET6
	}
	return &icmpConn{PacketConn: conn, raw: raw, report: report, log: log, fd: fd, family: family}, nil
}

// Close closes the socket once no send is using its descriptor.
func (c *icmpConn) Close() error {
	c.open.Lock()
	defer c.open.Unlock()
	c.fd = closedFD
	return c.PacketConn.Close()
}

// ReadFrom reads the next datagram; an ICMP error pending on the socket is
// drained and reported on the way.
func (c *icmpConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err == nil || !fromICMP(err) {
			return n, addr, err
		}
		c.drain()
	}
}

// WriteTo sends one datagram. When it failed on an ICMP error pending from
// an earlier datagram, that error is drained and reported and the datagram,
// which the kernel did not send, is sent again once.
func (c *icmpConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	n, err := c.send(b, addr)
	if err != nil && fromICMP(err) {
		c.drain()
		n, err = c.send(b, addr)
	}
	return n, err
}

// send is sendto(2) on the descriptor itself. The net package's WriteTo
// holds the descriptor's write lock across the system call, which a
// datagram socket does not need (the kernel keeps each datagram whole and
// sendto calls on one socket run side by side), and every response and
// request the switch sends goes through one socket per peer: at 1,000
// calls/s an execution trace showed on average ~880 goroutines parked on
// that lock, each woken in turn through the scheduler's run queue, where
// the socket's reader then waited behind them while its datagrams —
// ACKs, BYEs, 100 Trying — aged past T1 in the receive buffer. The
// socket is non-blocking: on a full send buffer (EAGAIN), or for an
// address that is not an IP one, the datagram takes the net package's
// way, which waits for room.
func (c *icmpConn) send(b []byte, addr net.Addr) (int, error) {
	to, ok := sockaddr(addr, c.family)
	if !ok {
		return c.PacketConn.WriteTo(b, addr)
	}
	c.open.RLock()
	if c.fd == closedFD {
		c.open.RUnlock()
		return c.PacketConn.WriteTo(b, addr) // the net package's error for a closed socket
	}
	err := unix.Sendto(c.fd, b, 0, to)
	c.open.RUnlock()
	switch {
	case err == unix.EAGAIN:
		return c.PacketConn.WriteTo(b, addr)
	case err != nil:
		return 0, &net.OpError{Op: "write", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: addr,
			Err: os.NewSyscallError("sendto", err)}
	}
	return len(b), nil
}

// sockaddr is a UDP address as sendto(2) on a socket of family takes it;
// false where the net package must decide: not a *net.UDPAddr, an IPv6
// zone (a name it resolves), an IPv6 address for an IPv4 socket (its error).
func sockaddr(addr net.Addr, family int) (unix.Sockaddr, bool) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok || ua.Zone != "" {
		return nil, false
	}
	if family == unix.AF_INET {
		if ip4 := ua.IP.To4(); ip4 != nil {
			return &unix.SockaddrInet4{Port: ua.Port, Addr: [4]byte(ip4)}, true
		}
		return nil, false
	}
	if ip16 := ua.IP.To16(); ip16 != nil {
		return &unix.SockaddrInet6{Port: ua.Port, Addr: [16]byte(ip16)}, true
	}
	return nil, false
}

// fromICMP reports whether err is one an ICMP error sets on the socket
// (Linux's icmp_err_convert and icmpv6_err_convert). The same codes from
// the sendto itself (no route) fail the retry the same way.
func fromICMP(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EHOSTDOWN, unix.ENONET,
		unix.ENOPROTOOPT, unix.EPROTO, unix.EMSGSIZE, unix.EOPNOTSUPP, unix.EACCES:
		return true
	}
	return false
}

// drain empties the socket's error queue without waiting, reporting each
// destination unreachable; an empty queue also clears the pending error.
func (c *icmpConn) drain() {
	var (
		buf [1]byte // the quoted datagram is not needed: MSG_TRUNC
		oob [128]byte
	)
	err := c.raw.Control(func(fd uintptr) {
		for range drainBatch {
			_, oobn, flags, from, err := unix.Recvmsg(int(fd), buf[:], oob[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
			if err != nil {
				return // EAGAIN: the queue is empty
			}
			if flags&unix.MSG_CTRUNC != 0 {
				c.log.Debug("ICMP error ignored: control message truncated", "local", c.LocalAddr())
				continue
			}
			u, err := parseUnreachable(oob[:oobn], from)
			switch {
			case errors.Is(err, errNotUnreachable):
			case err != nil:
				c.log.Debug("ICMP error ignored", "local", c.LocalAddr(), "error", err)
			default:
				c.report(u)
			}
		}
	})
	if err != nil {
		c.log.Debug("ICMP error queue not read", "local", c.LocalAddr(), "error", err)
	}
}

// errNotUnreachable: a well-formed error that is not a destination
// unreachable (fragmentation needed, time exceeded, a local error).
var errNotUnreachable = errors.New("not a destination unreachable")

// sockExtendedErrLen is the size of struct sock_extended_err.
const sockExtendedErrLen = 16

// parseUnreachable reads one error-queue message: its control data (a
// sock_extended_err under IP_RECVERR or IPV6_RECVERR) and its address (the
// destination of the datagram in error).
func parseUnreachable(oob []byte, to unix.Sockaddr) (unreachable, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return unreachable{}, fmt.Errorf("control message: %w", err)
	}
	for _, m := range msgs {
		v4 := m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR
		v6 := m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR
		if !v4 && !v6 {
			continue
		}
		if len(m.Data) < sockExtendedErrLen {
			return unreachable{}, fmt.Errorf("extended error of %d bytes, want %d", len(m.Data), sockExtendedErrLen)
		}
		errno := binary.NativeEndian.Uint32(m.Data[0:4])
		origin, typ, code := m.Data[4], m.Data[5], m.Data[6]
		if errno == 0 {
			return unreachable{}, errors.New("extended error without an error number")
		}
		why, ok := icmpUnreachable(origin, typ, code)
		if !ok {
			return unreachable{}, errNotUnreachable
		}
		dest, ok := sockaddrAddrPort(to)
		if !ok {
			return unreachable{}, fmt.Errorf("%s without its destination", why)
		}
		return unreachable{dest: dest, why: why}, nil
	}
	return unreachable{}, errors.New("no extended error in the control message")
}

// icmpUnreachable names an ICMP (origin SO_EE_ORIGIN_ICMP) or ICMPv6
// (SO_EE_ORIGIN_ICMP6) destination unreachable; anything else, a packet
// too big included, is not one.
func icmpUnreachable(origin, typ, code uint8) (string, bool) {
	switch {
	case origin == unix.SO_EE_ORIGIN_ICMP && typ == 3: // RFC 792 destination unreachable
		switch code {
		case 0, 6:
			return "network unreachable", true
		case 1, 7:
			return "host unreachable", true
		case 2:
			return "protocol unreachable", true
		case 3:
			return "port unreachable", true
		case 4:
			return "", false // fragmentation needed: path MTU, not reachability
		case 9, 10, 13:
			return "administratively prohibited", true
		}
		return fmt.Sprintf("destination unreachable, code %d", code), true
	case origin == unix.SO_EE_ORIGIN_ICMP6 && typ == 1: // RFC 4443 destination unreachable
		switch code {
		case 0:
			return "no route to destination", true
		case 1, 5, 6:
			return "administratively prohibited", true
		case 3:
			return "address unreachable", true
		case 4:
			return "port unreachable", true
		}
		return fmt.Sprintf("destination unreachable, code %d", code), true
	}
	return "", false
}

func sockaddrAddrPort(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port)), true
	}
	return netip.AddrPort{}, false
}
