package profile

import (
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Header is one header line of a request, in the order received.
type Header struct {
	Name  string
	Value string
}

// Local says where a request was received: $Ri, $Rp, $Rf, $Rn and $RI.
type Local struct {
	Addr          netip.AddrPort // local address the request arrived on
	InterfaceID   int            // $Rf; 0 is the default interface, as in SEMS
	InterfaceName string         // $Rn, e.g. "default", "intern"
	PublicIP      string         // $RI, the interface's advertised address
}

// Message is the raw material of a request that patterns read. The B2BUA
// fills it from whatever SIP stack it uses; FromSIP does it for sipgo.
type Message struct {
	Method  string
	URI     string // Request-URI as text
	From    string // whole From value, parameters (tag) included
	To      string // whole To value
	CallID  string
	Headers []Header // every header, From/To/Call-ID included
	Source  netip.AddrPort
	Local   Local
	// NextHop is the profile's next hop ("host[:port]"), read by $di/$dp;
	// when empty they read the Request-URI's host and port, as SEMS does.
	NextHop string
}

// Request is a Message with its Request-URI, From and To split once, so
// that every pattern of every profile option reads the same parse. It is
// immutable after NewRequest and safe to share between goroutines.
type Request struct {
	m              Message
	sipHeaders     []sip.Header // set by FromSIP instead of m.Headers
	ruri, from, to addr
	appParam       string
}

// NewRequest splits m's addresses; it allocates only the Request itself.
func NewRequest(m Message) *Request {
	r := &Request{m: m}
	r.parse()
	return r
}

func (r *Request) parse() {
	r.ruri = parseAddr(r.m.URI)
	r.from = parseAddr(r.m.From)
	r.to = parseAddr(r.m.To)
	// SEMS reads only the first P-App-Param (getHeader(..., single=true)).
	r.appParam = r.header("P-App-Param", true)
}

// WithSource is r with another source address: the caller's as a trusted
// front proxy named it, where the transport's source is the proxy's.
func (r *Request) WithSource(src netip.AddrPort) *Request {
	c := *r
	c.m.Source = src
	return &c
}

// FromSIP builds a Request from a request parsed by sipgo. The source
// address is the transport's (sipgo sets it on every received message);
// the local side comes from the caller, which owns the listening sockets.
// Header values other than From, To and Call-ID are read from req only when
// a pattern asks for them, so req must not change while r is in use.
func FromSIP(req *sip.Request, local Local) *Request {
	r := &Request{
		m:          Message{Method: string(req.Method), Local: local},
		sipHeaders: req.Headers(),
	}
	if ap, err := netip.ParseAddrPort(req.Source()); err == nil {
		r.m.Source = ap
	}
	// sipgo keeps parsed fields, not the text: write the Request-URI, From
	// and To once into one buffer and slice it, rather than paying a
	// builder per field.
	var b strings.Builder
	b.Grow(512)
	req.Recipient.StringWrite(&b)
	uriEnd := b.Len()
	fromStart, fromEnd := uriEnd, uriEnd
	if h := req.From(); h != nil {
		h.StringWrite(&b) // "From: value"
		fromStart, fromEnd = uriEnd+len("From: "), b.Len()
	}
	toStart := b.Len()
	if h := req.To(); h != nil {
		h.StringWrite(&b)
		toStart += len("To: ")
	}
	all := b.String()
	r.m.URI, r.m.From, r.m.To = all[:uriEnd], all[fromStart:fromEnd], all[toStart:]
	if h := req.CallID(); h != nil {
		r.m.CallID = h.Value()
	}
	r.parse()
	return r
}

// WithNextHop returns a copy of r whose $di/$dp read hop, for patterns
// expanded after the profile chose a next hop.
func (r *Request) WithNextHop(hop string) *Request {
	c := *r
	c.m.NextHop = hop
	return &c
}

// header returns the headers named name (case-insensitive): the first one
// when single, else all of them joined with ", " as SEMS's getHeader does.
// A header present once is returned without copying.
func (r *Request) header(name string, single bool) string {
	n := r.headerCount()
	first, count := -1, 0
	for i := range n {
		if strings.EqualFold(r.headerName(i), name) {
			if first < 0 {
				first = i
				if single {
					break
				}
			}
			count++
		}
	}
	switch {
	case first < 0:
		return ""
	case single || count == 1:
		return r.headerValue(first)
	}
	var b strings.Builder
	k := 0
	for i := first; i < n; i++ {
		if strings.EqualFold(r.headerName(i), name) {
			if k > 0 {
				b.WriteString(", ")
			}
			b.WriteString(r.headerValue(i))
			k++
		}
	}
	return b.String()
}

func (r *Request) headerCount() int {
	if r.sipHeaders != nil {
		return len(r.sipHeaders)
	}
	return len(r.m.Headers)
}

func (r *Request) headerName(i int) string {
	if r.sipHeaders != nil {
		return r.sipHeaders[i].Name()
	}
	return r.m.Headers[i].Name
}

func (r *Request) headerValue(i int) string {
	if r.sipHeaders != nil {
		return r.sipHeaders[i].Value()
	}
	return r.m.Headers[i].Value
}
