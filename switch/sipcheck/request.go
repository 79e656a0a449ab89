package sipcheck

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Rejection is the response a request must get before the B2BUA core looks at it.
type Rejection struct {
	Code    int
	Reason  string
	Headers []sip.Header // e.g. Unsupported for a 420, Accept for a 415
}

// acceptedBodies is what the switch can take as a session description.
const acceptedBodies = "application/sdp, multipart/mixed"

// Request makes the checks a UAS core owes a parsed request before anything else (RFC 3261 8.2 and
// 16.3), in this order: 505 for a SIP version other than 2.0; 400 for a malformed Request-URI; 416
// for a Request-URI scheme other than sip, sips and tel; 400 for missing or repeated mandatory
// headers, a CSeq method unlike the request's, a Content-Length unlike the body, a Max-Forwards over
// 255, an unusable From/To/Contact URI or a body without Content-Type; 483 for Max-Forwards 0 on a
// request the switch would forward; 420 listing the Require option-tags not in supported; 415 for a
// session body that is neither SDP nor multipart/mixed holding SDP, or that has a Content-Encoding;
// 406 for an INVITE or UPDATE whose Accept rules out SDP. It returns nil when the request may proceed.
//
// Request never answers an ACK itself: for an ACK, a non-nil Rejection means "discard it", since
// RFC 3261 17 forbids responding to ACK.
func Request(req *sip.Request, supported []string) *Rejection {
	if !strings.EqualFold(req.SipVersion, "SIP/2.0") {
		return reject(505, "Version Not Supported")
	}
	if r := requestURI(&req.Recipient); r != nil {
		return r
	}
	var n counts
	for _, h := range req.Headers() {
		n.add(h)
	}
	if r := n.mandatory(); r != nil {
		return r
	}
	if r := coherent(req); r != nil {
		return r
	}
	if mf := req.MaxForwards(); mf != nil && *mf == 0 && forwarded(req) {
		return reject(483, "Too Many Hops")
	}
	if req.Method == sip.ACK || req.Method == sip.CANCEL {
		// RFC 3261 8.2.2.3: neither may be rejected for extensions or bodies
		return nil
	}
	if r := require(req, supported); r != nil {
		return r
	}
	return content(req)
}

func reject(code int, reason string, headers ...sip.Header) *Rejection {
	return &Rejection{Code: code, Reason: reason, Headers: headers}
}

func requestURI(u *sip.Uri) *Rejection {
	switch u.Scheme {
	case "sip", "sips":
		if u.Host == "" || u.Port < 0 || u.Port > 65535 {
			return reject(400, "Malformed Request-URI")
		}
		if len(u.Headers) > 0 {
			// RFC 3261 19.1.5; RFC 4475 escruri
			return reject(400, "Headers Not Allowed in Request-URI")
		}
	case "tel":
	default:
		return reject(416, "Unsupported URI Scheme")
	}
	return nil
}

// counts tallies the headers that RFC 3261 requires once (or at most once) in a request.
type counts struct {
	via, from, to, callID, cseq, maxForwards, contentLength, contentType int
}

func (n *counts) add(h sip.Header) {
	switch h.(type) {
	case *sip.ViaHeader:
		n.via++
	case *sip.FromHeader:
		n.from++
	case *sip.ToHeader:
		n.to++
	case *sip.CallIDHeader:
		n.callID++
	case *sip.CSeqHeader:
		n.cseq++
	case *sip.MaxForwardsHeader:
		n.maxForwards++
	case *sip.ContentLengthHeader:
		n.contentLength++
	case *sip.ContentTypeHeader:
		n.contentType++
	}
}

// mandatory checks presence and uniqueness. Max-Forwards may be absent: RFC 2543 peers omit it and
// RFC 4475 (inv2543) asks that they be served.
func (n *counts) mandatory() *Rejection {
	for _, c := range [...]struct {
		name  string
		count int
		need  bool
	}{
		{"Via", n.via, true},
		{"From", n.from, true},
		{"To", n.to, true},
		{"Call-ID", n.callID, true},
		{"CSeq", n.cseq, true},
		{"Max-Forwards", n.maxForwards, false},
		{"Content-Length", n.contentLength, false},
		{"Content-Type", n.contentType, false},
	} {
		switch {
		case c.count == 0 && c.need:
			return reject(400, "Missing "+c.name+" Header")
		case c.count > 1 && c.name != "Via":
			return reject(400, "Multiple "+c.name+" Headers")
		}
	}
	return nil
}

// coherent checks that the headers agree with each other and with the request.
func coherent(req *sip.Request) *Rejection {
	// sipgo upper-cases the request method and keeps LWS after the CSeq number, so the comparison
	// here is a folded one; Datagram compares the raw bytes exactly.
	if cs := req.CSeq(); !strings.EqualFold(strings.TrimSpace(string(cs.MethodName)), string(req.Method)) {
		return reject(400, "CSeq Method Does Not Match Request-Line")
	}
	if cl := req.ContentLength(); cl != nil && int(*cl) != len(req.Body()) {
		return reject(400, "Content-Length Does Not Match Body")
	}
	if mf := req.MaxForwards(); mf != nil && *mf > 255 {
		return reject(400, "Max-Forwards Out of Range")
	}
	if !usableURI(&req.From().Address) {
		return reject(400, "Malformed From URI")
	}
	if !usableURI(&req.To().Address) {
		return reject(400, "Malformed To URI")
	}
	for _, h := range req.Headers() {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			continue
		}
		if c.Address.Wildcard {
			if req.Method != sip.REGISTER {
				return reject(400, "Wildcard Contact Not Allowed")
			}
			continue
		}
		if !usableURI(&c.Address) {
			return reject(400, "Malformed Contact URI")
		}
	}
	if len(req.Body()) > 0 && req.ContentType() == nil {
		// RFC 3261 20.15
		return reject(400, "Missing Content-Type Header")
	}
	return nil
}

// usableURI rejects the SIP URIs sipgo parses without complaint although they name no host.
func usableURI(u *sip.Uri) bool {
	if u.Wildcard {
		return false
	}
	if u.Scheme == "sip" || u.Scheme == "sips" {
		return u.Host != "" && u.Port >= 0 && u.Port <= 65535
	}
	return u.Scheme != ""
}

// forwarded tells whether the switch relays the request to another hop, where Max-Forwards 0 means
// 483. An out-of-dialog OPTIONS is answered by the switch itself (RFC 3261 11 and 16.3 let the
// element that sees Max-Forwards 0 on an OPTIONS reply as its final recipient: that is how peers
// probe their next hop); ACK is never answered and CANCEL is hop-by-hop.
func forwarded(req *sip.Request) bool {
	switch req.Method {
	case sip.ACK, sip.CANCEL:
		return false
	case sip.OPTIONS:
		_, inDialog := req.To().Params.Get("tag")
		return inDialog
	}
	return true
}

// require implements RFC 3261 8.2.2.3. Proxy-Require is addressed to proxies and a B2BUA is the UAS
// of the incoming leg, so only Require is honoured (RFC 4475 bext01).
func require(req *sip.Request, supported []string) *Rejection {
	var unsupported []string
	for _, h := range req.Headers() {
		if !strings.EqualFold(h.Name(), "Require") {
			continue
		}
		for tag := range strings.SplitSeq(h.Value(), ",") {
			tag = strings.TrimSpace(tag)
			if tag != "" && !contains(supported, tag) && !contains(unsupported, tag) {
				unsupported = append(unsupported, tag)
			}
		}
	}
	if len(unsupported) == 0 {
		return nil
	}
	return reject(420, "Bad Extension", sip.NewHeader("Unsupported", strings.Join(unsupported, ", ")))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// carriesSession tells whether the switch reads the request's body as a session description; other
// requests (MESSAGE, INFO, NOTIFY...) have their bodies relayed untouched.
func carriesSession(m sip.RequestMethod) bool {
	return m == sip.INVITE || m == sip.UPDATE || m == sip.PRACK
}

// content implements RFC 3261 8.2.3 for session bodies and the Accept rule of 21.4.7.
func content(req *sip.Request) *Rejection {
	if !carriesSession(req.Method) {
		return nil
	}
	if len(req.Body()) > 0 {
		for _, h := range req.Headers() {
			if (strings.EqualFold(h.Name(), "Content-Encoding") || strings.EqualFold(h.Name(), "e")) &&
				!strings.EqualFold(strings.TrimSpace(h.Value()), "identity") {
				return reject(415, "Unsupported Content-Encoding", sip.NewHeader("Accept-Encoding", "identity"))
			}
		}
		ct := string(*req.ContentType())
		mediaType, _, _ := strings.Cut(ct, ";")
		switch mediaType = strings.TrimSpace(mediaType); {
		case strings.EqualFold(mediaType, "application/sdp"):
		case strings.EqualFold(mediaType, "multipart/mixed"):
			if r := multipartSDP(ct, req.Body()); r != nil {
				return r
			}
		default:
			// RFC 4475 invut
			return reject(415, "Unsupported Media Type", sip.NewHeader("Accept", acceptedBodies))
		}
	}
	if (req.Method == sip.INVITE || req.Method == sip.UPDATE) && !acceptsSDP(req) {
		// our answer (or offer) is SDP, which the Accept header rules out (RFC 4475 sdp01)
		return reject(406, "Not Acceptable")
	}
	return nil
}

// multipartSDP accepts a multipart/mixed body that holds an application/sdp part.
func multipartSDP(ct string, body []byte) *Rejection {
	_, params, err := mime.ParseMediaType(ct)
	if err != nil || params["boundary"] == "" {
		return reject(400, "Malformed Multipart Body")
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return reject(415, "Unsupported Media Type", sip.NewHeader("Accept", acceptedBodies))
		}
		if err != nil {
			return reject(400, "Malformed Multipart Body")
		}
		mediaType, _, _ := strings.Cut(part.Header.Get("Content-Type"), ";")
		if strings.EqualFold(strings.TrimSpace(mediaType), "application/sdp") {
			return nil
		}
	}
}

// acceptsSDP applies RFC 3261 20.1: no Accept header means application/sdp.
func acceptsSDP(req *sip.Request) bool {
	seen := false
	for _, h := range req.Headers() {
		if !strings.EqualFold(h.Name(), "Accept") {
			continue
		}
		for r := range strings.SplitSeq(h.Value(), ",") {
			mediaRange, _, _ := strings.Cut(r, ";")
			mediaRange = strings.TrimSpace(mediaRange)
			if mediaRange == "" {
				continue
			}
			seen = true
			if strings.EqualFold(mediaRange, "application/sdp") || strings.EqualFold(mediaRange, "application/*") || mediaRange == "*/*" {
				return true
			}
		}
	}
	return !seen
}
