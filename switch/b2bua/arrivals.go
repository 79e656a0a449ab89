package b2bua

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// arrivals remembers which listener each peer's messages last came to.
// sipgo hands a request over without the local address it arrived on, yet
// with several interfaces a call must answer and go on from the one its
// INVITE reached (its Via, Contact, $Ri, $Rn), and a REGISTER's flow must
// name it. The transport's read filter sees both addresses of every
// message, and notes them here; the request's source then finds its
// listener. It is only kept when a transport and address family has more
// than one listener: otherwise pickListener already knows.
type arrivals struct {
	// byLocal finds a listener by transport and local address.
	byLocal map[localKey]*listener
	mu      sync.RWMutex
	peers   map[netip.AddrPort]arrival
}

// localKey is a listener's transport (lower case) and address.
type localKey struct {
	transport string
	addr      netip.AddrPort
}

// arrival is the listener a peer's last message came to, and the second
// it was seen (the map is swept of peers silent for arrivalTTL).
type arrival struct {
	l    *listener
	seen int64
}

// arrivalTTL is how long a peer's listener is remembered after its last
// message: a request is read within milliseconds of its arrival; this
// covers retransmissions and the transactions they belong to.
const arrivalTTL = 64 * time.Second

// newArrivals returns the arrivals of ls, nil when no transport and
// address family has two listeners.
func newArrivals(ls []*listener) *arrivals {
	a := &arrivals{byLocal: map[localKey]*listener{}, peers: map[netip.AddrPort]arrival{}}
	several := false
	for _, l := range ls {
		if pickListener(ls, l.transport, l.v6) != l {
			several = true
		}
		a.byLocal[localKey{l.transport, l.addr}] = l
	}
	if !several {
		return nil
	}
	return a
}

// note records that a message from remote came to local over transport
// (as sipgo names it: UDP, TCP, TLS).
func (a *arrivals) note(transport string, local, remote net.Addr) {
	rp, lp := addrPort(remote), addrPort(local)
	if !rp.IsValid() || !lp.IsValid() {
		return
	}
	tr := lowerTransport(transport)
	l := a.byLocal[localKey{tr, lp}]
	if l == nil {
		// A wildcard listener: its sockets show the address they are bound to.
		l = a.byLocal[localKey{tr, netip.AddrPortFrom(unspecified(lp.Addr()), lp.Port())}]
	}
	if l == nil {
		return
	}
	now := time.Now().Unix()
	a.mu.RLock()
	got := a.peers[rp]
	a.mu.RUnlock()
	if got.l == l && got.seen == now {
		return
	}
	a.mu.Lock()
	a.peers[rp] = arrival{l: l, seen: now}
	a.mu.Unlock()
}

// of is the listener the last message from source (a message's
// Source()) came to, nil when unknown.
func (a *arrivals) of(source string) *listener {
	src, err := netip.ParseAddrPort(source)
	if err != nil {
		return nil
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.peers[netip.AddrPortFrom(src.Addr().Unmap(), src.Port())].l
}

// sweep forgets the peers silent for arrivalTTL.
func (a *arrivals) sweep(now time.Time) {
	old := now.Add(-arrivalTTL).Unix()
	a.mu.Lock()
	defer a.mu.Unlock()
	for p, ar := range a.peers {
		if ar.seen < old {
			delete(a.peers, p)
		}
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.UDPAddr:
		ap = a.AddrPort()
	case *net.TCPAddr:
		ap = a.AddrPort()
	default:
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func unspecified(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// arrivalListener is the listener msg came to: the one its peer's
// messages came to when there are several of its transport and family,
// else the only one (the first configured when none matches).
func (s *Switch) arrivalListener(msg sip.Message) *listener {
	if s.arrivals != nil {
		if l := s.arrivals.of(msg.Source()); l != nil {
			return l
		}
	}
	host, _ := splitHostPort(msg.Source())
	if l := pickListener(s.listeners, strings.ToLower(msg.Transport()), strings.Contains(host, ":")); l != nil {
		return l
	}
	return s.listeners[0]
}

// lowerTransport is sipgo's transport name in lower case, without the
// allocation strings.ToLower makes of "UDP": it runs on every message.
func lowerTransport(t string) string {
	switch t {
	case "UDP":
		return "udp"
	case "TCP":
		return "tcp"
	case "TLS":
		return "tls"
	}
	return strings.ToLower(t)
}
