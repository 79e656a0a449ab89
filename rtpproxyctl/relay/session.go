package relay

import (
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"golang.org/x/sys/unix"
)

// session is one media stream of a call (one m= line when the controller
// uses ;N media numbers): two legs and their lifetime state. mu guards
// everything mutable; it is taken by the packet loop for this session's
// packets and by the control path, never for other sessions' packets.
type session struct {
	r       *Relay
	lp      *loop // owns all sockets of the session
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
	xc        *transcoder // nil until both parties' formats are known
}

// route accounts a packet and decides where it goes. It returns a nil
// socket when the packet is not relayed.
func (s *session) route(x, kind, n int, src netip.AddrPort, h *rtp.Header, valid bool, now int64) (netip.AddrPort, *msock) {
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
	if !dst.IsValid() || o.socks[kind] == nil {
		p.ndropped++
		return netip.AddrPort{}, nil
	}
	p.nrelayed++
	return dst, o.socks[kind]
}

// openLeg binds the port pair of leg i on the relay's media address of
// family f, or on bind when valid (an interface's address), and hands it
// to the session's packet loop.
func (s *session) openLeg(i int, f family, bind netip.Addr) bool {
	ip := s.r.media.local[f]
	if bind.IsValid() {
		ip = bind
	}
	port, fds, ok := s.r.ports.bindPair(ip)
	if !ok {
		return false
	}
	var socks [2]*msock
	for k, fd := range fds {
		m, err := s.lp.add(fd, s, i, k)
		if err != nil {
			s.r.log.Warn("relay: media socket not registered", "port", port+k, "err", err)
			if k == kindRTCP {
				socks[kindRTP].lp.remove(socks[kindRTP])
			} else {
				unix.Close(fds[kindRTCP])
			}
			s.r.ports.put(port)
			return false
		}
		socks[k] = m
	}
	l := &s.legs[i]
	l.port, l.socks, l.fam, l.bound = port, socks, f, bind
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

// closeLocked releases the ports; the loop closes the sockets.
func (s *session) closeLocked() {
	s.closed = true
	s.endConversions()
	for i := range s.legs {
		s.legs[i].close(s.r.ports)
	}
}
