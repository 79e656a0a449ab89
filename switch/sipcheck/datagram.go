package sipcheck

import "bytes"

// Datagram checks one UDP datagram before sipgo parses it, in a single pass that does not allocate
// when the datagram is well-formed.
//
// ok is true when the datagram should be handed to sipgo, and msg is then what to hand it: raw
// itself, or Normalize's rewrite of raw when its whitespace needs one. The pass that checks the
// datagram also notes the whitespace Normalize could change (a fold, or LWS next to a separator or
// doubled in a header whose grammar Normalize knows), so that the nearly every datagram that has
// none is read once, not twice. When ok is false the datagram must not
// reach sipgo, and reply, when not nil, is a complete stateless response to send back to the
// datagram's source: 400 with a reason phrase naming the first defect, 505 for a SIP version other
// than 2.0, or 416 for a Request-URI scheme other than sip, sips and tel. reply is nil when no
// response may or can be formed: the datagram is a response, an ACK, not SIP at all, or lacks a
// well-formed Via, From, To, Call-ID or CSeq to echo (RFC 3261 8.2.6).
//
// Everything Datagram passes, sipgo's parser parses (the fuzz target checks this), so a datagram
// that sipgo would have dropped in silence is answered here instead. Missing headers, duplicates of
// single-valued headers and other semantic faults are left to Request, after parsing.
//
// Datagram is meant to run in sipgo's transport read filter; that filter must never return an error
// (it stops the UDP read loop): return empty data to drop.
func Datagram(raw []byte) (msg, reply []byte, ok bool) {
	if isKeepalive(raw) {
		// sipgo itself ignores the RFC 5626 CRLF keep-alive of up to four bytes
		return raw, nil, len(raw) <= 4
	}
	var s scan
	s.run(raw)
	switch {
	case s.drop:
		return nil, nil, false
	case s.response:
		// RFC 3261 8.1.3.3: a response holding more than one Via was not meant for us; this also
		// keeps a proxy-style broadcast Via (RFC 4475 bcast) from being acted on.
		if s.bad.code != 0 || s.vias != 1 {
			return nil, nil, false
		}
		return s.message(), nil, true
	case s.bad.code == 0:
		return s.message(), nil, true
	case string(s.method) == "ACK":
		return nil, nil, false // an ACK is never answered
	}
	return nil, statelessReply(raw, s.bad), false
}

// message is the accepted datagram as sipgo should read it.
func (s *scan) message() []byte {
	if s.spacing == spacingPlain {
		return s.raw
	}
	return Normalize(s.raw)
}

func isKeepalive(raw []byte) bool {
	for _, c := range raw {
		if c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// defect is the first fault found in a message: the response code and its reason phrase.
type defect struct {
	code   int
	reason string
}

// scan holds what one pass over a datagram learnt.
type scan struct {
	raw        []byte
	response   bool
	drop       bool // not SIP, or framed so badly that nothing can be echoed
	bad        defect
	method     []byte
	cseqMethod []byte
	vias       int
	cseqs      int
	cls        int
	clValue    uint64
	spacing    spacing
}

// spacing tells whether a datagram's whitespace may need Normalize.
type spacing int

const (
	// spacingPlain: no fold, and no LWS that Normalize would remove or collapse.
	spacingPlain spacing = iota
	// spacingToNormalize: a fold, or LWS next to a separator (or doubled, or a tab) in a header
	// whose grammar Normalize knows; Normalize may still find nothing to change (the LWS may sit in
	// a quoted string or inside <...>).
	spacingToNormalize
)

func (s *scan) fail(code int, reason string) {
	if s.bad.code == 0 {
		s.bad = defect{code, reason}
	}
}

// line ending states
const (
	lineOK = iota
	lineBareCR
	lineBareLF
	lineEOF
)

// lineEnd finds the CRLF ending the line that starts at i: it returns the end of the line's content,
// the start of the next line, and whether the line was properly terminated. It leaves the search
// to bytes.IndexByte, several times faster than a byte loop: the first LF, then a CR before it.
func lineEnd(raw []byte, i int) (end, next, state int) {
	line := raw[i:]
	lf := bytes.IndexByte(line, '\n')
	if lf >= 0 {
		line = line[:lf]
	}
	if cr := bytes.IndexByte(line, '\r'); cr >= 0 {
		if cr == lf-1 {
			return i + cr, i + lf + 1, lineOK
		}
		return i + cr, i + cr + 1, lineBareCR
	}
	if lf >= 0 {
		return i + lf, i + lf + 1, lineBareLF
	}
	return len(raw), len(raw), lineEOF
}

func (s *scan) run(raw []byte) {
	s.raw = raw
	end, next, state := lineEnd(raw, 0)
	if state != lineOK {
		s.drop = true
		return
	}
	if line := raw[:end]; len(line) >= 4 && (string(line[:4]) == "SIP/" || string(line[:4]) == "sip/") {
		s.response = true
		s.drop = !statusLine(line)
	} else {
		s.requestLine(line)
	}
	if s.drop {
		return
	}
	i := next
	body := -1
	for body < 0 {
		if i+1 < len(raw) && raw[i] == '\r' && raw[i+1] == '\n' {
			body = i + 2
			break
		}
		if i >= len(raw) {
			s.fail(400, "Missing Blank Line After Headers")
			return
		}
		var ok bool
		if i, ok = s.header(i); !ok {
			return
		}
	}
	if s.cls == 1 && s.clValue > uint64(len(raw)-body) {
		// RFC 3261 18.3: a datagram shorter than its Content-Length is rejected (RFC 4475 clerr)
		s.fail(400, "Content-Length Exceeds Datagram")
	}
	if !s.response && s.cseqs == 1 && !bytes.Equal(s.method, s.cseqMethod) {
		// compared here, byte for byte, because sipgo upper-cases the request method it parses
		s.fail(400, "CSeq Method Does Not Match Request-Line")
	}
}

// statusLine checks "SIP/2.0 SP 3DIGIT SP Reason-Phrase" with a code from 100 to 699.
func statusLine(line []byte) bool {
	if len(line) < 12 || string(line[:8]) != "SIP/2.0 " && string(line[:8]) != "sip/2.0 " || line[11] != ' ' {
		return false
	}
	for _, c := range line[8:11] {
		if !isDigit(c) {
			return false
		}
	}
	if line[8] < '1' || line[8] > '6' {
		return false
	}
	reason := line[12:]
	for _, c := range reason {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	// sipgo takes a status line whose reason phrase is one word starting with "sip" for a request line
	if len(reason) >= 3 && bytes.IndexByte(reason, ' ') < 0 && (string(reason[:3]) == "SIP" || string(reason[:3]) == "sip") {
		return false
	}
	return true
}

// requestLine checks "Method SP Request-URI SP SIP-Version". A line that is not recognisably a
// request line is not SIP and is dropped; one that is, but is malformed, earns a 400.
func requestLine(line []byte) (method, uriPart, version []byte, trailing, ok bool) {
	m := skipToken(line, 0)
	if m == 0 || m == len(line) || line[m] != ' ' {
		return
	}
	e := len(line)
	for e > m && (line[e-1] == ' ' || line[e-1] == '\t') {
		e--
	}
	sp := bytes.LastIndexByte(line[:e], ' ')
	if sp <= m {
		return
	}
	version = line[sp+1 : e]
	if len(version) < 4 || string(version[:4]) != "SIP/" && string(version[:4]) != "sip/" {
		return
	}
	return line[:m], line[m+1 : sp], version, e < len(line), true
}

func (s *scan) requestLine(line []byte) {
	method, u, version, trailing, ok := requestLine(line)
	if !ok {
		s.drop = true
		return
	}
	s.method = method
	switch {
	case trailing:
		s.fail(400, "Trailing Whitespace in Request-Line")
	case len(u) == 0 || u[0] == ' ' || u[len(u)-1] == ' ':
		s.fail(400, "Extra Whitespace in Request-Line")
	case bytes.IndexByte(u, ' ') >= 0 || bytes.IndexByte(u, '\t') >= 0:
		s.fail(400, "Whitespace in Request-URI")
	}
	if !sipVersion(version) {
		s.fail(400, "Malformed SIP-Version")
	} else if string(version[4:]) != "2.0" {
		s.fail(505, "Version Not Supported")
	}
	switch uri(u) {
	case uriBad:
		s.fail(400, "Malformed Request-URI")
	case uriHeaders:
		s.fail(400, "Headers Not Allowed in Request-URI")
	case uriOddScheme, uriOtherScheme:
		s.fail(416, "Unsupported URI Scheme")
	}
}

// sipVersion checks "SIP/" 1*DIGIT "." 1*DIGIT.
func sipVersion(v []byte) bool {
	dot := bytes.IndexByte(v, '.')
	if dot <= 4 || dot == len(v)-1 {
		return false
	}
	for i := 4; i < len(v); i++ {
		if i != dot && !isDigit(v[i]) {
			return false
		}
	}
	return true
}

// header checks the header field starting at raw[i], folded continuation lines included, and
// returns where the next one starts. It returns false when the line structure itself is broken,
// after which the rest of the datagram cannot be delimited.
func (s *scan) header(i int) (int, bool) {
	start := i
	end, next, state := lineEnd(s.raw, i)
	for state == lineOK && next < len(s.raw) && (s.raw[next] == ' ' || s.raw[next] == '\t') {
		s.spacing = spacingToNormalize // a fold, which Normalize replaces in any header
		end, next, state = lineEnd(s.raw, next)
	}
	switch state {
	case lineBareCR:
		s.fail(400, "Bare CR in Header")
		return next, false
	case lineBareLF:
		s.fail(400, "Bare LF in Header")
		return next, false
	case lineEOF:
		s.fail(400, "Missing Blank Line After Headers")
		return next, false
	}
	h := s.raw[start:end]
	n := skipToken(h, 0)
	k := n
	for k < len(h) && (h[k] == ' ' || h[k] == '\t') {
		k++
	}
	if n == 0 || k == len(h) || h[k] != ':' {
		s.fail(400, "Malformed Header Line")
		return next, true
	}
	v := h[k+1:]
	spaced := false // LWS Normalize may change, if the header's grammar is one it knows
	for j, c := range v {
		if !valueOctet[c] {
			continue // nearly every octet: the loop is the check's hot path
		}
		// a control character may appear only as a quoted-pair
		if (c < 0x20 && !isLWS(c) || c == 0x7f) && (j == 0 || v[j-1] != '\\') {
			s.fail(400, "Control Character in Header")
			return next, true
		}
		if c == '\t' || c == ' ' && (j > 0 && (isSeparator(v[j-1]) || v[j-1] == ' ') || j+1 < len(v) && isSeparator(v[j+1])) {
			spaced = true
		}
	}
	if spaced && s.spacing == spacingPlain && grammarOf(h[:n]) != nil {
		s.spacing = spacingToNormalize
	}
	s.field(h[:n], v)
	return next, true
}

// valueOctet marks the octets of a header value that header must look at: controls, which may be
// faults, and SP and HT, which may need Normalize.
var valueOctet = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t[0x7f], t[' '] = true, true
	return t
}()

// isSeparator reports the separators around which Normalize removes LWS, in every grammar it knows.
func isSeparator(c byte) bool {
	return c == ';' || c == '=' || c == ',' || c == '/' || c == ':'
}

// field checks the value of the header fields that sipgo parses or that a reply echoes.
func (s *scan) field(name, v []byte) {
	switch {
	case eqFold(name, "via") || eqFold(name, "v"):
		n, ok := via(v)
		if !ok {
			s.fail(400, "Malformed Via Header")
		}
		s.vias += max(n, 1)
	case eqFold(name, "from") || eqFold(name, "f"):
		if !address(v, addrSingle) {
			s.fail(400, "Malformed From Header")
		}
	case eqFold(name, "to") || eqFold(name, "t"):
		if !address(v, addrSingle) {
			s.fail(400, "Malformed To Header")
		}
	case eqFold(name, "call-id") || eqFold(name, "i"):
		if !callID(v) {
			s.fail(400, "Malformed Call-ID Header")
		}
	case eqFold(name, "cseq"):
		s.cseqs++
		num, method, ok := cseq(v)
		switch {
		case !ok:
			s.fail(400, "Malformed CSeq Header")
		case num >= 1<<31:
			// RFC 3261 8.1.1.5 (RFC 4475 scalar02)
			s.fail(400, "CSeq Number Out of Range")
		case s.cseqs == 1:
			s.cseqMethod = method
		}
	case eqFold(name, "content-length") || eqFold(name, "l"):
		s.cls++
		n, ok := digits(v)
		switch {
		case !ok || n > maxUint32:
			s.fail(400, "Malformed Content-Length")
		case s.cls > 1:
			// two lengths leave the body's extent unknown (RFC 4475 mcl01)
			s.fail(400, "Multiple Content-Length Headers")
		}
		s.clValue = n
	case eqFold(name, "max-forwards"):
		if n, ok := digits(v); !ok || n > maxUint32 {
			s.fail(400, "Malformed Max-Forwards")
		}
	case eqFold(name, "contact") || eqFold(name, "m"):
		if !address(v, addrContact) {
			s.fail(400, "Malformed Contact Header")
		}
	case eqFold(name, "content-type") || eqFold(name, "c"):
		if !contentType(v) {
			s.fail(400, "Malformed Content-Type")
		}
	case eqFold(name, "route"):
		if !address(v, addrList) {
			s.fail(400, "Malformed Route Header")
		}
	case eqFold(name, "record-route"):
		if !address(v, addrList) {
			s.fail(400, "Malformed Record-Route Header")
		}
	case eqFold(name, "refer-to"):
		if !address(v, addrList) {
			s.fail(400, "Malformed Refer-To Header")
		}
	case eqFold(name, "referred-by"):
		if !address(v, addrSingle) {
			s.fail(400, "Malformed Referred-By Header")
		}
	}
}
