package profile

import (
	"crypto/md5"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Pattern is a compiled replacement pattern. It is immutable and safe for
// concurrent use; compile it once per profile load, expand it per call.
type Pattern struct {
	src   string
	nodes []node
}

type kind uint8

const (
	kLit       kind = iota
	kWhole          // $r $f $t: the whole value as received
	kTag            // $ft $tt
	kPart           // $fU, $rd, $aU, $HU(name)...: one part of a URI
	kHeader         // $H(name), $a, $p: the whole header value
	kCallID         // $ci
	kSrcIP          // $si
	kSrcPort        // $sp
	kLocIP          // $Ri
	kLocPort        // $Rp
	kIfID           // $Rf
	kIfName         // $Rn
	kIfPublic       // $RI
	kDstIP          // $di
	kDstPort        // $dp
	kMethod         // $m
	kAppParam       // $P(name)
	kMap            // $M(value=>map)
	kModifier       // $_u(...) $_l $_s $_5 $_t $_r
	kURLEncode      // $#(...)
)

// Where a kPart or kTag reads its address from.
type source uint8

const (
	srcRURI source = iota
	srcFrom
	srcTo
	srcHeader // a header by name: $a, $p and $HX(name)
)

type node struct {
	kind   kind
	src    source
	part   byte   // for kPart: u U d h p H P n (i is stored as u)
	hasArg bool   // kPart 'P' with a parameter name
	arg    string // literal text, header name or P-App-Param key
	param  string // URI parameter name of $fP(name), $HP... with hasArg
	op     byte   // for kModifier
	inner  *Pattern
	m      *RegexMap
}

// String returns the pattern's source text.
func (p *Pattern) String() string { return p.src }

// Literal reports whether the pattern has no replacement in it, and its
// text after escapes if so. Profile selection uses it to check fixed
// profile names at load time.
func (p *Pattern) Literal() (string, bool) {
	switch len(p.nodes) {
	case 0:
		return "", true
	case 1:
		if p.nodes[0].kind == kLit {
			return p.nodes[0].arg, true
		}
	}
	return "", false
}

// Expand returns the pattern's text for request r. A pattern that is one
// literal or one plain field ($rU, $H(X), $P(u)...) returns a substring of
// the request without allocating; anything else allocates its result once.
func (p *Pattern) Expand(r *Request) string {
	switch len(p.nodes) {
	case 0:
		return ""
	case 1:
		if s, ok := p.nodes[0].value(r); ok {
			return s
		}
	}
	var buf [256]byte
	return string(p.AppendExpand(buf[:0], r))
}

// AppendExpand appends the pattern's text for r to dst, for callers that
// assemble a message themselves.
func (p *Pattern) AppendExpand(dst []byte, r *Request) []byte {
	for i := range p.nodes {
		dst = p.nodes[i].appendTo(dst, r)
	}
	return dst
}

// addrOf returns the parsed address a kPart node reads.
func (n *node) addrOf(r *Request) addr {
	switch n.src {
	case srcRURI:
		return r.ruri
	case srcFrom:
		return r.from
	case srcTo:
		return r.to
	default:
		return parseAddr(r.header(n.arg, false))
	}
}

// value returns the node's text when it is a substring of the request (or
// of the pattern), so no bytes need building.
func (n *node) value(r *Request) (string, bool) {
	switch n.kind {
	case kLit:
		return n.arg, true
	case kWhole:
		switch n.src {
		case srcRURI:
			return r.m.URI, true
		case srcFrom:
			return r.m.From, true
		default:
			return r.m.To, true
		}
	case kTag:
		a := r.from
		if n.src == srcTo {
			a = r.to
		}
		v, _ := param(a.hdrParams, "tag")
		return v, true
	case kPart:
		a := n.addrOf(r)
		if !a.ok {
			return "", true // SEMS logs the parse error and adds nothing
		}
		switch n.part {
		case 'U':
			return a.user, true
		case 'h':
			return a.host, true
		case 'p':
			return a.port, true
		case 'H':
			return a.headers, true
		case 'n':
			return a.display, true
		case 'P':
			if !n.hasArg {
				return a.params, true
			}
			v, _ := param(a.params, n.param)
			return v, true
		case 'd':
			if a.port == "" {
				return a.host, true
			}
		}
		return "", false
	case kHeader:
		return r.header(n.arg, false), true
	case kCallID:
		return r.m.CallID, true
	case kIfName:
		return r.m.Local.InterfaceName, true
	case kIfPublic:
		return r.m.Local.PublicIP, true
	case kMethod:
		return r.m.Method, true
	case kAppParam:
		return appParam(r.appParam, n.arg), true
	case kDstIP:
		host, _ := r.dest()
		return host, true
	case kDstPort:
		_, port := r.dest()
		return port, true
	}
	return "", false
}

func (n *node) appendTo(dst []byte, r *Request) []byte {
	if s, ok := n.value(r); ok {
		return append(dst, s...)
	}
	switch n.kind {
	case kPart:
		a := n.addrOf(r)
		switch n.part {
		case 'u': // SEMS writes user "@" host even for an empty user
			dst = append(dst, a.user...)
			dst = append(dst, '@')
			fallthrough
		case 'd':
			dst = append(dst, a.host...)
			if a.port != "" {
				dst = append(dst, ':')
				dst = append(dst, a.port...)
			}
		}
		return dst
	case kSrcIP:
		if r.m.Source.IsValid() {
			dst = r.m.Source.Addr().AppendTo(dst)
		}
		return dst
	case kSrcPort:
		return strconv.AppendUint(dst, uint64(r.m.Source.Port()), 10)
	case kLocIP:
		if r.m.Local.Addr.IsValid() {
			dst = r.m.Local.Addr.Addr().AppendTo(dst)
		}
		return dst
	case kLocPort:
		return strconv.AppendUint(dst, uint64(r.m.Local.Addr.Port()), 10)
	case kIfID:
		return strconv.AppendInt(dst, int64(r.m.Local.InterfaceID), 10)
	case kMap:
		start := len(dst)
		dst = n.inner.AppendExpand(dst, r)
		// The key is copied because the regexp package keeps its input
		// reachable: handing it dst would move every Expand buffer, even
		// those of patterns without $M, from the stack to the heap.
		key := string(dst[start:])
		dst, _ = n.m.appendMapped(dst[:start], key)
		return dst
	case kModifier:
		start := len(dst)
		dst = n.inner.AppendExpand(dst, r)
		return modify(n.op, dst, start)
	case kURLEncode:
		start := len(dst)
		dst = n.inner.AppendExpand(dst, r)
		end := len(dst)
		dst = appendURLEncoded(dst, dst[start:end])
		return append(dst[:start], dst[end:]...)
	}
	return dst
}

// dest returns $di/$dp: the next hop when the profile set one, else the
// Request-URI's host and port (ParamReplacer.cpp, case 'd').
func (r *Request) dest() (host, port string) {
	if r.m.NextHop == "" {
		return r.ruri.host, r.ruri.port
	}
	hp := r.m.NextHop
	if i := strings.IndexByte(hp, ','); i >= 0 { // first of a list of next hops
		hp = hp[:i]
	}
	if strings.HasPrefix(hp, "[") { // [v6]:port
		if end := strings.IndexByte(hp, ']'); end > 0 {
			host, rest := hp[1:end], hp[end+1:]
			return host, strings.TrimPrefix(rest, ":")
		}
	}
	if i := strings.LastIndexByte(hp, ':'); i >= 0 && strings.Count(hp, ":") == 1 {
		return hp[:i], hp[i+1:]
	}
	return hp, ""
}

// modify applies a $_X(...) string modifier to dst[start:] in place.
func modify(op byte, dst []byte, start int) []byte {
	v := dst[start:]
	switch op {
	case 'u': // ::toupper in the C locale: ASCII only
		for i, c := range v {
			v[i] = upper(c)
		}
	case 'l':
		for i, c := range v {
			v[i] = lower(c)
		}
	case 's': // length in bytes
		return strconv.AppendInt(dst[:start], int64(len(v)), 10)
	case '5':
		sum := md5.Sum(v)
		return hex.AppendEncode(dst[:start], sum[:])
	case 't': // the last three characters ("transport"), when there are 4+
		if len(v) >= 4 {
			copy(v, v[len(v)-3:])
			return dst[:start+3]
		}
	case 'r': // random number below the value; "0" when it is not a number
		max, err := strconv.Atoi(strings.TrimSpace(string(v)))
		dst = dst[:start]
		if err != nil || max <= 0 {
			return append(dst, '0')
		}
		return strconv.AppendInt(dst, int64(rand.IntN(max)), 10)
	}
	return dst
}

// appendURLEncoded encodes s as SEMS's url_encode does: alphanumerics and
// -_.~ kept, space as '+', every other byte as %xx in lower-case hex.
func appendURLEncoded(dst, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			dst = append(dst, c)
		case c == ' ':
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return dst
}
