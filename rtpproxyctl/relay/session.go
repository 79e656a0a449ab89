package relay

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// readBufSize bounds one datagram; media paths never carry more than an
// Ethernet MTU.
const readBufSize = 2048

// session is one media stream of a call (one m= line when the controller
// uses ;N media numbers): two legs and their lifetime state. mu guards
// everything mutable; it is taken by this session's four socket readers and
// by the control path, never by other sessions' packets.
type session struct {
	r       *Relay
	callID  string
	fromTag string // of the U that created it; the to-tag is never stored
	created time.Time

	mu        sync.Mutex
	legs      [2]leg
	complete  bool
	closed    bool
	strong    bool
	weak      [2]bool
	ttl       int // seconds left before the media timeout
	streamTTL int
	active    bool // a packet was relayed since the last TTL tick
	ndiscard  uint64
	notify    *notifier
	notifyTag string
}

// serve is the reader of one socket: it receives what the party facing leg x
// sends and relays it out of the other leg. It owns buf and h, so the packet
// path allocates nothing.
func (s *session) serve(c *net.UDPConn, x, kind int) {
	defer s.r.readers.Done()
	buf := make([]byte, readBufSize)
	var h rtp.Header
	for {
		n, src, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		valid := false
		if kind == kindRTP && n >= 12 && buf[0]>>6 == 2 {
			_, perr := h.Unmarshal(buf[:n])
			valid = perr == nil
		}
		now := s.r.now()
		s.mu.Lock()
		dst, out := s.route(x, kind, n, src, &h, valid, now)
		s.mu.Unlock()
		if out == nil {
			continue
		}
		if _, err := out.WriteToUDPAddrPort(buf[:n], dst); err != nil {
			s.mu.Lock()
			s.legs[x].pipes[kind].ndropped++
			s.legs[x].pipes[kind].nrelayed--
			s.mu.Unlock()
		}
	}
}

// route accounts a packet and decides where it goes. It returns a nil
// socket when the packet is not relayed.
func (s *session) route(x, kind, n int, src netip.AddrPort, h *rtp.Header, valid bool, now int64) (netip.AddrPort, *net.UDPConn) {
	if !s.complete || s.closed {
		s.ndiscard++
		return netip.AddrPort{}, nil
	}
	l := &s.legs[x]
	p := &l.pipes[kind]
	p.npkts++
	p.nbytes += uint64(n)
	if kind == kindRTP {
		if valid {
			l.rtpa.update(h, now)
		} else {
			l.rtpa.perrs++
		}
	}
	if !l.accept(kind, src, h, valid, now) {
		p.nignored++
		return netip.AddrPort{}, nil
	}
	s.active = true
	o := &s.legs[1-x]
	dst := o.pipes[kind].remote
	if !dst.IsValid() || o.conns[kind] == nil {
		p.ndropped++
		return netip.AddrPort{}, nil
	}
	p.nrelayed++
	return dst, o.conns[kind]
}

// openLeg binds the port pair of leg i and starts its readers.
func (s *session) openLeg(i int) bool {
	port, conns, ok := s.r.ports.bindPair()
	if !ok {
		return false
	}
	l := &s.legs[i]
	l.port, l.conns = port, conns
	s.r.readers.Add(2)
	go s.serve(conns[kindRTP], i, kindRTP)
	go s.serve(conns[kindRTCP], i, kindRTCP)
	return true
}

// matches reports whether a command with these tags refers to this session
// and in which direction (section 2.6): 0 when from matches the stored
// from-tag, 1 when to does (with the ;N media-number rule).
func (s *session) matches(from, to string) (int, bool) {
	if s.fromTag == from {
		return 0, true
	}
	if to == "" {
		return 0, false
	}
	if s.fromTag == to {
		return 1, true
	}
	if i := strings.LastIndexByte(from, ';'); i >= 0 && s.fromTag == to+from[i:] {
		return 1, true
	}
	return 0, false
}

// matchesPrefix is the D rule: a bare tag also matches "tag;N".
func (s *session) matchesPrefix(from, to string) (int, bool) {
	if idx, ok := s.matches(from, to); ok {
		return idx, true
	}
	if strings.HasPrefix(s.fromTag, from+";") {
		return 0, true
	}
	if to != "" && strings.HasPrefix(s.fromTag, to+";") {
		return 1, true
	}
	return 0, false
}

// closeLocked releases the ports; the readers exit when their sockets close.
func (s *session) closeLocked() {
	s.closed = true
	for i := range s.legs {
		s.legs[i].close(s.r.ports)
	}
}
