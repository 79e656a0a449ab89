package b2bua

import (
	"net"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// listener is one address Tollgate serves SIP on, and the identity it
// presents through it in Via and Contact.
type listener struct {
	transport string // udp, tcp or tls
	// verifyClient: a tls listener that demands a client certificate.
	verifyClient bool
	ip           net.IP
	port         int
	host         string // advertised host in Via/Contact
	adPort       int    // advertised port
	v6           bool
	// iface is the name of the interface the listener belongs to, and
	// ifaceID its number ($Rn, $Rf).
	iface   string
	ifaceID int
	// addr is ip and port, and key "transport ip:port": how a message's
	// local address finds its listener (arrivals).
	addr netip.AddrPort
	// pinSource: connections this listener's requests open leave from
	// its address (several interfaces: the routing table would pick one).
	pinSource bool
}

func newListener(l config.Listener) *listener {
	ln := &listener{
		transport:    l.Transport,
		verifyClient: l.VerifyClient,
		ip:           net.ParseIP(l.Host),
		port:         l.Port,
		host:         l.Host,
		adPort:       l.Port,
		v6:           strings.Contains(l.Host, ":"),
		iface:        l.Interface,
		ifaceID:      l.InterfaceID,
	}
	if a, err := netip.ParseAddr(l.Host); err == nil {
		ln.addr = netip.AddrPortFrom(a.Unmap(), uint16(l.Port))
	}
	if public := l.Public; public != "" {
		if h, p, err := sip.ParseAddr(public); err == nil {
			ln.host = h
			if p > 0 {
				ln.adPort = p
			}
		} else {
			ln.host = public
		}
	}
	// sipgo keeps an IPv6 host in brackets in a URI (as it parses one)
	// and joins host and port as they are when it dials one: a bare
	// ::1 in our Contact would be unreachable to sipgo peers.
	if strings.Contains(ln.host, ":") && !strings.HasPrefix(ln.host, "[") {
		ln.host = "[" + ln.host + "]"
	}
	return ln
}

// via is a fresh Via for a request sent through this listener.
func (l *listener) via() *sip.ViaHeader {
	v := &sip.ViaHeader{}
	l.fillVia(v, sip.NewParams())
	return v
}

// fillVia makes v a fresh Via for a request sent through this listener,
// its branch and rport appended to params: a request's Via can then live
// in a block allocated with its other headers (requestHeaders).
func (l *listener) fillVia(v *sip.ViaHeader, params sip.HeaderParams) {
	params.Add("branch", sip.GenerateBranchN(16))
	params.Add("rport", "")
	*v = sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       viaTransport(l.transport),
		Host:            l.host,
		Port:            l.adPort,
		Params:          params,
	}
}

// viaTransport is a transport's name as a Via writes it, without the
// allocation of strings.ToUpper for the names the switch listens on.
func viaTransport(t string) string {
	switch t {
	case "udp":
		return "UDP"
	case "tcp":
		return "TCP"
	case "tls":
		return "TLS"
	}
	return strings.ToUpper(t)
}

// contact is the Contact Tollgate puts in requests and responses it sends
// through this listener: its own address, never a peer's.
func (l *listener) contact() *sip.ContactHeader {
	u := sip.Uri{Scheme: "sip", Host: l.host, Port: l.adPort}
	if l.transport != "udp" {
		// transport=tls rather than a sips: Contact: a sips: URI promises
		// TLS on every hop to us (RFC 5630 §3), which a sip: caller's
		// dialog cannot keep.
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", l.transport)
	}
	return &sip.ContactHeader{Address: u}
}

// bind makes a request leave from this listener's socket, so that a UDP
// peer sees our well-known port (and replies reach it). TCP requests open or
// reuse a connection chosen by the transport layer.
func (l *listener) bind(req *sip.Request) {
	switch {
	case l.transport == "udp":
		req.Laddr = sip.Addr{IP: l.ip, Port: l.port}
	case l.pinSource && !l.ip.IsUnspecified():
		// Port 0: a new connection from our address, or one already
		// open to the peer.
		req.Laddr = sip.Addr{IP: l.ip}
	}
}

// pickListener chooses the listener for a transport and address family:
// the first configured, the default interface's when there is one.
func pickListener(ls []*listener, transport string, v6 bool) *listener {
	return pickListenerOn(ls, "", transport, v6)
}

// pickListenerOn is pickListener within the interface named iface; ""
// is any interface.
func pickListenerOn(ls []*listener, iface, transport string, v6 bool) *listener {
	for _, l := range ls {
		if l.transport == transport && l.v6 == v6 && (iface == "" || l.iface == iface) {
			return l
		}
	}
	return nil
}

// flowListener is the listener a registered client's flow came to (its
// Flow.Local, "transport:ip:port"), nil when none is.
func flowListener(ls []*listener, local string) *listener {
	tr, addr, _ := strings.Cut(local, ":")
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil
	}
	for _, l := range ls {
		if l.transport == tr && l.addr == ap {
			return l
		}
	}
	return nil
}

// outboundListener is the listener a request toward gw leaves through:
// local when set (a registered client's flow), else one of the profile's
// outbound_interface, else the first of the gateway's transport and
// address family.
func (c *Call) outboundListener(gw config.Gateway, local *listener) *listener {
	if local != nil {
		return local
	}
	c.mu.Lock()
	var iface string
	if c.chain != nil {
		iface = c.chain.profile.Interfaces.OutboundInterface
	}
	c.mu.Unlock()
	host, _ := splitHostPort(gw.Address)
	return pickListenerOn(c.sw.listeners, iface, gw.Transport, strings.Contains(host, ":"))
}
