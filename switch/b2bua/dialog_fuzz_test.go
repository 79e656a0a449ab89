package b2bua

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzDialogRouting feeds the dialog's routing what a peer controls: the
// Contact and Record-Route of a 2xx to our INVITE (the gateway's leg) and of
// an INVITE we answer (the caller's leg). Whatever they hold, the route set
// is the Record-Route list as split, and requests in the dialog go to an
// address a socket can dial: host and port, the host bare (an IPv6 literal
// bracketed once, by net.JoinHostPort), a port a socket has; the remote
// target, kept as text, reads back as the Contact's URI.
func FuzzDialogRouting(f *testing.F) {
	for _, s := range [][3]string{
		{"<sip:gw@192.0.2.10:5070>", "", "udp"},
		{"<sip:gw@192.0.2.10>", "<sip:p1.example.net;lr>, <sip:p2.example.net:5070;lr>", "udp"},
		{"sip:gw@gw.example.net;transport=tcp", "<sip:192.0.2.7;lr;ftag=x>", "tcp"},
		{"<sip:gw@[::1]:6091>", "", "udp"},
		{"<sip:gw@[2001:db8::1]>", "<sip:[2001:db8::2]:5062;lr>", "udp"},
		{`"Gw, Inc" <sip:gw@192.0.2.10>`, `"a,b" <sip:192.0.2.7;lr>,<sip:192.0.2.8;lr>`, "udp"},
		{"<sip:gw@192.0.2.10>", "<sip:192.0.2.7;lr>,, ,<sip:192.0.2.8>", "tls"},
		{"*", "<sip:;lr>", "udp"},
		{"<sip:gw@192.0.2.10:0>", "<sip:192.0.2.7:65536;lr>", "udp"},
		{"<sips:gw@h>", "<tel:+441234>", "udp"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, contact, rr, transport string) {
		if strings.ContainsAny(contact+rr+transport, "\r\n") {
			return // another header, not this one's value
		}
		head := "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n" +
			"From: <sip:a@192.0.2.1>;tag=1\r\nTo: <sip:b@192.0.2.2>;tag=2\r\n" +
			"Call-ID: fuzz\r\nCSeq: 1 INVITE\r\nContact: " + contact + "\r\n"
		if rr != "" {
			head += "Record-Route: " + rr + "\r\n"
		}
		head += "Content-Length: 0\r\n\r\n"
		const fallback = "192.0.2.9:5060"
		for _, raw := range []string{"SIP/2.0 200 OK\r\n" + head, "INVITE sip:b@192.0.2.2 SIP/2.0\r\n" + head} {
			m, err := sip.ParseMessage([]byte(raw))
			if err != nil {
				continue
			}
			d := &dialog{transport: transport}
			routes := recordRoutes(m.(headed))
			var c *sip.ContactHeader
			if res, ok := m.(*sip.Response); ok {
				c = res.Contact()
				routes = reversed(routes)
				d.setRouting(c, routes, fallback, true)
			} else {
				c = m.(*sip.Request).Contact()
				d.setRouting(c, routes, fallback, false)
			}
			if c != nil {
				// The dialog keeps the remote target as text, parsed again
				// for each request: it must read back as it was.
				if back := textOf(d.target.uri()); back != d.target {
					t.Fatalf("Contact %q: remote target %q reads back as %q", contact, d.target, back)
				}
				if want := textOf(c.Address); d.target != want {
					t.Fatalf("Contact %q: remote target %q, want %q", contact, d.target, want)
				}
			}
			if len(d.routeSet) != len(routes) {
				t.Fatalf("route set %q from Record-Route %q", d.routeSet, rr)
			}
			for _, r := range routes {
				if r == "" || strings.Trim(r, " \t") != r {
					t.Fatalf("Record-Route %q gave the route %q", rr, r)
				}
			}
			if d.dest == fallback {
				continue
			}
			host, port, err := net.SplitHostPort(d.dest)
			if err != nil {
				t.Fatalf("Contact %q, Record-Route %q: destination %q: %v", contact, rr, d.dest, err)
			}
			if _, err := netip.ParseAddr(host); err != nil && !hostName(host) {
				t.Fatalf("Contact %q, Record-Route %q: destination %q: no IP address nor host name", contact, rr, d.dest)
			}
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				t.Fatalf("Contact %q, Record-Route %q: destination %q: port %q", contact, rr, d.dest, port)
			}
		}
	})
}

// hostName reports whether s is a host name as RFC 3261 25.1 writes one:
// labels of letters, digits and hyphens, separated by dots.
func hostName(s string) bool {
	if s == "" {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" {
			return false
		}
		for _, c := range label {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
