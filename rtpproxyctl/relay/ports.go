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
// new one.
type portPool struct {
	ip   netip.Addr
	mu   sync.Mutex
	free []int
}

func newPortPool(ip netip.Addr, lo, hi int, skip map[int]bool) *portPool {
	p := &portPool{ip: ip}
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

// bindPair binds an RTP/RTCP socket pair, trying ports until one pair binds
// (ports held by other programs are skipped, section 3.1). It gives up after
// trying as many ports as were free when it started. The sockets are
// non-blocking, for a packet loop.
func (p *portPool) bindPair() (int, [2]int, bool) {
	for tries := p.available(); tries > 0; tries-- {
		port, ok := p.take()
		if !ok {
			break
		}
		rtpfd, err := listenMedia(p.ip, port)
		if err != nil {
			p.put(port)
			continue
		}
		rtcpfd, err := listenMedia(p.ip, port+1)
		if err != nil {
			unix.Close(rtpfd)
			p.put(port)
			continue
		}
		return port, [2]int{rtpfd, rtcpfd}, true
	}
	return 0, [2]int{}, false
}

func listenMedia(ip netip.Addr, port int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("relay: socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: ip.As4(), Port: port}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("relay: bind %v:%d: %w", ip, port, err)
	}
	// Best effort: a smaller buffer or unmarked packets still relay.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBufSize)
	_ = setTOS(fd, ipTOS)
	return fd, nil
}

func setTOS(fd, tos int) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, tos)
}
