package b2bua

import (
	"net/netip"
	"sync"
)

// unreachables are the exchanges waiting on a UDP gateway's answer — INVITE
// attempts and OPTIONS probes — by the gateway's address, so that an ICMP
// destination unreachable for it (icmperr.go) ends them at once instead of
// at their timer. One datagram's ICMP error ends every exchange toward that
// address: a closed port or a lost route fails them all alike.
type unreachables struct {
	mu sync.Mutex
	m  map[netip.AddrPort][]*unreachWatch
}

// unreachWatch is one exchange's watch on a destination; fn runs once, on
// the first report, outside the registry's lock.
type unreachWatch struct {
	dest netip.AddrPort
	fn   func(why string)
	once sync.Once
}

// watch calls fn when dest ("ip:port", the port 5060 when absent) is
// reported unreachable, until stop. A destination named by a host name is
// not watched (nil): the address sipgo resolved it to is not known here.
func (u *unreachables) watch(dest string, fn func(why string)) *unreachWatch {
	ap, ok := destAddrPort(dest)
	if !ok {
		return nil
	}
	w := &unreachWatch{dest: ap, fn: fn}
	u.mu.Lock()
	if u.m == nil {
		u.m = map[netip.AddrPort][]*unreachWatch{}
	}
	u.m[ap] = append(u.m[ap], w)
	u.mu.Unlock()
	return w
}

// stop ends a watch; a nil watch is a destination never watched.
func (u *unreachables) stop(w *unreachWatch) {
	if w == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	ws := u.m[w.dest]
	for i, x := range ws {
		if x == w {
			ws[i] = ws[len(ws)-1]
			ws[len(ws)-1] = nil
			ws = ws[:len(ws)-1]
			break
		}
	}
	if len(ws) == 0 {
		delete(u.m, w.dest)
	} else {
		u.m[w.dest] = ws
	}
}

// report hands an ICMP unreachable to the exchanges watching its
// destination and says how many there were.
func (u *unreachables) report(x unreachable) int {
	dest := netip.AddrPortFrom(x.dest.Addr().Unmap().WithZone(""), x.dest.Port())
	u.mu.Lock()
	ws := append([]*unreachWatch(nil), u.m[dest]...)
	u.mu.Unlock()
	for _, w := range ws {
		w.once.Do(func() { w.fn(x.why) })
	}
	return len(ws)
}

// destAddrPort reads a destination "ip:port" or "ip" (port 5060) as an
// address; false for a host name.
func destAddrPort(dest string) (netip.AddrPort, bool) {
	host, port := splitHostPort(dest)
	if port == 0 {
		port = 5060
	}
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1] // "[::1]" without a port
	}
	a, err := netip.ParseAddr(host)
	if err != nil || port > 65535 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a.Unmap().WithZone(""), uint16(port)), true
}

// onUnreachable takes the UDP sockets' reports.
func (s *Switch) onUnreachable(x unreachable) {
	if s.unreach.report(x) == 0 {
		s.log.Debug("ICMP unreachable: no exchange waits on it", "destination", x.dest, "why", x.why)
	}
}
