package b2bua

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"
)

// dialog is the part of one leg that lets Tollgate send requests within it:
// the identifiers and routing of RFC 3261 section 12, kept as small values
// rather than the messages that created them, so a connected call holds
// little memory. Its URIs are kept as text: a parsed sip.Uri is 144 bytes
// of fields, mostly empty, and every held call has six of them; a request
// in the dialog parses them again, which only the few requests after the
// INVITE (ACK, BYE, refreshes) pay.
type dialog struct {
	callID    string
	local     uriText // our URI in From (requests we send)
	localName string
	localTag  string
	remote    uriText // the peer's URI in To (requests we send)
	remoteNam string
	remoteTag string
	target    uriText  // remote target: the peer's Contact
	routeSet  []string // Route values in the order they must be sent
	localSeq  atomic.Uint32
	remoteSeq uint32 // last CSeq the peer used; guarded by the call lock
	// remoteBranch is the top Via branch of the peer's request with
	// remoteSeq, to absorb its late retransmissions; guarded by the call lock.
	remoteBranch string

	listener  *listener // our side of the transport
	transport string
	dest      string // where requests go: host:port

	auth *credentials // answers the peer's challenges; nil: none
	// contact is our Contact in the dialog as the call's profile makes
	// it (hops.go); nil: the listener's.
	contact *sip.ContactHeader
}

// newRequest builds an in-dialog request toward the peer (RFC 3261 12.2.1.1).
// ACK and CANCEL reuse the CSeq they refer to; the caller sets it.
func (d *dialog) newRequest(method sip.RequestMethod, seq uint32) *sip.Request {
	req, h := d.request(method, seq)
	d.target.parseInto(&req.Recipient)
	d.local.parseInto(&h.from.Address)
	d.remote.parseInto(&h.to.Address)
	return req
}

// request builds a request in the dialog with its URIs left for the
// caller to set, in the request's Recipient and the headers' Address:
// newRequest parses the dialog's text there, and the INVITE that starts a
// dialog copies the URIs it has at hand, sparing the call's hot path
// parsing back what it has just written.
func (d *dialog) request(method sip.RequestMethod, seq uint32) (*sip.Request, *requestHeaders) {
	req := sip.NewRequest(method, sip.Uri{})
	h := &requestHeaders{}
	d.listener.fillVia(&h.via, h.params[0:0:2])
	req.AppendHeader(&h.via)
	for _, r := range d.routeSet {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	h.from = sip.FromHeader{DisplayName: d.localName, Params: h.params[2:2:3]}
	h.from.Params.Add("tag", d.localTag)
	req.AppendHeader(&h.from)
	h.to = sip.ToHeader{DisplayName: d.remoteNam, Params: h.params[3:3:4]}
	if d.remoteTag != "" {
		h.to.Params.Add("tag", d.remoteTag)
	}
	req.AppendHeader(&h.to)
	h.callID = sip.CallIDHeader(d.callID)
	req.AppendHeader(&h.callID)
	h.cseq = sip.CSeqHeader{SeqNo: seq, MethodName: method}
	req.AppendHeader(&h.cseq)
	h.maxFwd = 70
	req.AppendHeader(&h.maxFwd)
	if method != sip.ACK && method != sip.CANCEL && method != sip.BYE {
		req.AppendHeader(d.contactHeader())
	}
	// Content-Length: 0 until a body is set; required on TCP.
	req.AppendHeader(&h.length)
	req.SetTransport(d.transport)
	req.SetDestination(d.dest)
	d.listener.bind(req)
	return req, h
}

// setRouting fills the routing fields from the peer's Contact and the
// Record-Route values in the order they must be sent. Without a route set,
// requests go to the Contact when preferContact, else to fallback.
func (d *dialog) setRouting(contact *sip.ContactHeader, routes []string, fallback string, preferContact bool) {
	if contact != nil {
		d.target = textOf(contact.Address)
	}
	d.routeSet = routes
	d.dest = fallback
	if len(routes) > 0 {
		var u sip.Uri
		// A loose route (lr) sends the request to the first route's address;
		// the Request-URI stays the remote target.
		if _, err := sip.ParseAddressValue(routes[0], &u, nil); err == nil && routable(u) {
			d.dest = hostPort(u, d.transport)
		}
		return
	}
	if contact != nil && preferContact && routable(contact.Address) {
		d.dest = hostPort(contact.Address, d.transport)
	}
}

// uriText is a URI as sipgo writes it: what a dialog keeps of its URIs.
type uriText string

// textOf writes u in one allocation, the text itself: sipgo's String
// grows its builder a few times per URI, and a builder of our own escapes
// to the heap through StringWrite's interface, so the URI is written into
// a pooled buffer and copied out.
func textOf(u sip.Uri) uriText {
	b := uriBuffers.Get().(*bytes.Buffer)
	b.Reset()
	u.StringWrite(b)
	t := uriText(b.String())
	uriBuffers.Put(b)
	return t
}

// uriBuffers are textOf's buffers.
var uriBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// parseInto parses the text back into u, where the request that needs it
// holds it: parsed anywhere else, a URI escapes to the heap on its own.
// Text that does not parse gives the zero URI, as uri does.
func (t uriText) parseInto(u *sip.Uri) {
	if sip.ParseUri(string(t), u) != nil {
		*u = sip.Uri{}
	}
}

// uri parses the text back. It was written from a URI sipgo parsed or the
// switch built, which sipgo parses again (FuzzDialogRouting checks it for
// whatever a peer's Contact holds); text that did not would give the zero
// URI, and the peer would refuse the request.
func (t uriText) uri() sip.Uri {
	var u sip.Uri
	if sip.ParseUri(string(t), &u) != nil {
		return sip.Uri{}
	}
	return u
}

// routable reports whether a URI names a place to send to: a host name or
// an IP address, and a port a socket has. A peer's Contact or Record-Route
// may hold anything that parses, and an empty host would send the dialog's
// requests to this machine; then they keep going where the peer's messages
// came from.
func routable(u sip.Uri) bool {
	if u.Port < 0 || u.Port > 65535 {
		return false
	}
	h := strings.Trim(u.Host, "[]")
	if strings.Contains(h, ":") {
		_, err := netip.ParseAddr(h)
		return err == nil
	}
	// A host name (RFC 3261 25.1): labels of letters, digits and hyphens,
	// an IPv4 address among them, with an optional final dot. Read byte by
	// byte: splitting it and trimming each label by a 64-byte cutset cost
	// 1% of the switch's CPU at 3,000 calls/s (it runs for every dialog's
	// Contact and Record-Route).
	h = strings.TrimSuffix(h, ".")
	label := 0 // the current label's length
	for i := range len(h) {
		switch c := h[i]; {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
			label++
		default:
			return false
		}
	}
	return label > 0
}

// hostPort is where a URI points, with the transport's default port. A
// parsed URI keeps an IPv6 host in its brackets, which JoinHostPort adds
// itself.
func hostPort(u sip.Uri, transport string) string {
	port := u.Port
	if port == 0 {
		port = sip.DefaultPort(transport)
	}
	return net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(port))
}

// recordRoutes returns the Record-Route values of a message, one per URI,
// in the order they appear.
func recordRoutes(m headed) []string {
	var out []string
	for h := range headersNamed(m, "Record-Route") {
		out = append(out, splitList(h.Value())...)
	}
	return out
}

// splitList splits a comma-separated header value, ignoring commas inside
// <> and quotes.
func splitList(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			depth++
		case c == '>':
			depth--
		case c == ',' && depth == 0:
			out = append(out, trimSpace(v[start:i]))
			start = i + 1
		}
	}
	return append(out, trimSpace(v[start:]))
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}
