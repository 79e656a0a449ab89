package b2bua

import (
	"net"
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
}

func newListener(l config.Listener, public string) *listener {
	ln := &listener{
		transport:    l.Transport,
		verifyClient: l.VerifyClient,
		ip:           net.ParseIP(l.Host),
		port:         l.Port,
		host:         l.Host,
		adPort:       l.Port,
		v6:           strings.Contains(l.Host, ":"),
	}
	if public != "" {
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
	v := &sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       strings.ToUpper(l.transport),
		Host:            l.host,
		Port:            l.adPort,
		Params:          sip.NewParams(),
	}
	v.Params.Add("branch", sip.GenerateBranchN(16))
	v.Params.Add("rport", "")
	return v
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
	if l.transport == "udp" {
		req.Laddr = sip.Addr{IP: l.ip, Port: l.port}
	}
}

// pickListener chooses the listener for a transport and address family.
func pickListener(ls []*listener, transport string, v6 bool) *listener {
	for _, l := range ls {
		if l.transport == transport && l.v6 == v6 {
			return l
		}
	}
	return nil
}
