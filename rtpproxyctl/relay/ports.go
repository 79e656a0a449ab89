package relay

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// ipTOS is the DSCP EF class (0xB8) rtpproxy marks media with.
const (
	ipTOS      = 0xB8
	rcvBufSize = 256 << 10
)

// portPool hands out even RTP ports (RTCP is the port above) from the
// configured range. Ports are shuffled at start and a released port goes to
// the back of the queue, so a stale packet from an old call rarely lands in a
// new one. One range serves both address families: a port number is used
// on one local address at a time, which keeps the count of free pairs the
// relay's capacity whatever the mix of families.
type portPool struct {
	mu   sync.Mutex
	free []int
}

func newPortPool(lo, hi int, skip map[int]bool) *portPool {
	p := &portPool{}
	if lo%2 != 0 {
		lo++
	}
	for port := lo; port+1 <= hi; port += 2 {
		if !skip[port] && !skip[port+1] {
			p.free = append(p.free, port)
		}
	}
	rand.Shuffle(len(p.free), func(i, j int) { p.free[i], p.free[j] = p.free[j], p.free[i] })
	return p
}

func (p *portPool) take() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		return 0, false
	}
	port := p.free[0]
	p.free = p.free[1:]
	return port, true
}

func (p *portPool) put(port int) {
	p.mu.Lock()
	p.free = append(p.free, port)
	p.mu.Unlock()
}

func (p *portPool) available() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}

// bindPair binds an RTP/RTCP socket pair on ip, trying ports until one pair
// binds (ports held by other programs are skipped, section 3.1). It gives up
// after trying as many ports as were free when it started. The sockets are
// non-blocking, for a packet loop.
func (p *portPool) bindPair(ip netip.Addr) (int, [2]int, bool) {
	for tries := p.available(); tries > 0; tries-- {
		port, ok := p.take()
		if !ok {
			break
		}
		rtpfd, err := listenMedia(ip, port)
		if err != nil {
			p.put(port)
			continue
		}
		rtcpfd, err := listenMedia(ip, port+1)
		if err != nil {
			unix.Close(rtpfd)
			p.put(port)
			continue
		}
		return port, [2]int{rtpfd, rtcpfd}, true
	}
	return 0, [2]int{}, false
}

// listenMedia binds a UDP socket of ip's family. An IPv6 socket is
// IPv6-only, so that it and an IPv4 socket can hold the same port number
// on a wildcard address.
func listenMedia(ip netip.Addr, port int) (int, error) {
	domain := familyOf(ip).domain()
	fd, err := unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("relay: socket: %w", err)
	}
	var sa unix.Sockaddr
	if domain == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("relay: IPV6_V6ONLY: %w", err)
		}
		sa = &unix.SockaddrInet6{Addr: ip.As16(), Port: port}
	} else {
		sa = &unix.SockaddrInet4{Addr: ip.As4(), Port: port}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("relay: bind %v: %w", netip.AddrPortFrom(ip, uint16(port)), err)
	}
	// Best effort: a smaller buffer or unmarked packets still relay.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBufSize)
	_ = setTOS(fd, domain, ipTOS)
	return fd, nil
}

// setTOS marks the socket's packets: IP_TOS for IPv4, the traffic class
// (the same byte) for IPv6.
func setTOS(fd, domain, tos int) error {
	if domain == unix.AF_INET6 {
		return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, tos)
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, tos)
}
