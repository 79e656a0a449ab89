package b2bua

import (
	"net"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// newResponse builds the response to a request the switch received, as
// sipgo's NewResponseFromRequest (v1.7.4) does — the same headers in the
// same order, the same destination — in three allocations instead of a
// dozen or more: sipgo clones Via, From, To and CSeq as a heap object
// each, with their parameter lists (and the URIs' own) as slices of their
// own, and finds Record-Route, Via and Timestamp with GetHeaders, which
// lower-cases the name of every header it passes. Every response of a
// call (100, 18x, 2xx, the BYE's 200) is built here.
//
// The copies are the response's own, as sipgo's are: nothing that changes
// one of them (a parameter added) reaches the request, or another response
// built from it on another goroutine. Over a reliable transport sipgo
// itself builds the response: there the destination is the connection
// the request came on, which only sipgo's transport layer knows.
func newResponse(req *sip.Request, code int, reason string) *sip.Response {
	if !strings.EqualFold(req.Transport(), "udp") {
		return sip.NewResponseFromRequest(req, code, reason, nil)
	}
	res := sip.NewResponse(code, reason)
	res.SipVersion = req.SipVersion
	h := &responseHeaders{}
	// RFC 3261 20 (Table 3), and 12.1.1 for an INVITE's early dialog.
	copyRR := req.Method != sip.REGISTER && !req.IsAck() &&
		(code >= 180 && code < 190 || code >= 200 && code < 300 || req.IsInvite() && code > 100 && code < 200)
	if copyRR {
		for rr := range headersNamed(req, "Record-Route") {
			res.AppendHeader(sip.HeaderClone(rr))
		}
	}
	first := true
	for hd := range headersNamed(req, "Via") {
		v, ok := hd.(*sip.ViaHeader)
		if !first || !ok {
			res.AppendHeader(sip.HeaderClone(hd))
			continue
		}
		first = false
		h.via = *v
		// RFC 3581 4: an empty rport gets the source's port, and received
		// its address, which needs room.
		rport, fill := v.Params.Get("rport")
		fill = fill && rport == ""
		room := 0
		if fill && !v.Params.Has("received") {
			room = 1
		}
		h.via.Params = h.take(v.Params, room)
		if fill {
			host, port, _ := net.SplitHostPort(req.Source())
			h.via.Params.Add("rport", port)
			h.via.Params.Add("received", host)
		}
		res.AppendHeader(&h.via)
	}
	if f := req.From(); f != nil {
		h.from = sip.FromHeader{DisplayName: f.DisplayName, Address: h.uri(f.Address), Params: h.take(f.Params, 0)}
		res.AppendHeader(&h.from)
	}
	if t := req.To(); t != nil {
		// RFC 3261 8.2.6.2: every response but a 100 carries a To tag.
		tag := code != 100 && !t.Params.Has("tag")
		room := 0
		if tag {
			room = 1
		}
		h.to = sip.ToHeader{DisplayName: t.DisplayName, Address: h.uri(t.Address), Params: h.take(t.Params, room)}
		if tag {
			h.to.Params.Add("tag", newTag())
		}
		res.AppendHeader(&h.to)
	}
	if id := req.CallID(); id != nil {
		h.callID = *id
		res.AppendHeader(&h.callID)
	}
	if cs := req.CSeq(); cs != nil {
		h.cseq = *cs
		res.AppendHeader(&h.cseq)
	}
	if code == 100 {
		for ts := range headersNamed(req, "Timestamp") {
			res.AppendHeader(sip.HeaderClone(ts))
		}
	}
	res.AppendHeader(&h.length) // Content-Length: 0 until a body is set
	res.SetTransport(req.Transport())
	res.SetDestination(responseDestination(req))
	return res
}

// responseDestination is where sipgo sends the response to a request that
// came over UDP: the request's source address, with the port of its top
// Via unless that Via asks for rport (RFC 3261 18.2.2, RFC 3581 4). sipgo
// keeps it on the request (serverRequestConnection, unexported) when the
// server transaction is made; TestNewResponseLikeSipgo checks that both
// agree.
func responseDestination(req *sip.Request) string {
	src := req.Source()
	v := req.Via()
	if v == nil {
		return src
	}
	if rport, ok := v.Params.Get("rport"); ok && rport == "" {
		return src
	}
	host, srcPort, err := net.SplitHostPort(src)
	if err != nil {
		return src
	}
	port := v.Port
	if port <= 0 {
		port = sip.DefaultPort(req.Transport())
	}
	if rport, ok := v.Params.Get("rport"); ok {
		if p, err := strconv.Atoi(rport); err == nil {
			port = p
		}
	}
	if port == 0 {
		port = sip.DefaultPort("udp")
	}
	if p, err := strconv.Atoi(srcPort); err == nil && p == port {
		return src // the usual case, without writing the address again
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// responseHeaders are the headers a response copies from its request,
// allocated together with room for their parameters (newResponse).
type responseHeaders struct {
	via    sip.ViaHeader
	from   sip.FromHeader
	to     sip.ToHeader
	callID sip.CallIDHeader
	cseq   sip.CSeqHeader
	length sip.ContentLengthHeader
	params [6]sip.HeaderKV
	used   int
}

// take copies kv into the block's unused parameters, with room for extra
// more, or into a slice of its own once they are used up. The capacity is
// capped, so a parameter added later never writes over a neighbour's.
func (h *responseHeaders) take(kv sip.HeaderParams, extra int) sip.HeaderParams {
	if kv == nil && extra == 0 {
		return nil
	}
	n := len(kv) + extra
	if h.used+n > len(h.params) {
		out := make(sip.HeaderParams, len(kv), n)
		copy(out, kv)
		return out
	}
	out := h.params[h.used : h.used+len(kv) : h.used+n]
	copy(out, kv)
	h.used += n
	return out
}

// uri is a copy of u whose parameter lists are the block's own.
func (h *responseHeaders) uri(u sip.Uri) sip.Uri {
	u.UriParams = h.take(u.UriParams, 0)
	u.Headers = h.take(u.Headers, 0)
	return u
}
