// Package sdpedit is Tollgate's tolerant, line-based SDP rewriter. A carrier
// B2BUA must pass T.38 re-INVITEs, LF-only bodies and unknown lines through
// untouched, so an SDP is parsed once into lines that keep their exact bytes,
// and only the lines an operation changes (c=, m=, a=rtcp, codec lines, o=/s=)
// are rewritten. Malformed bodies give errors matching ErrMalformed (488).
package sdpedit

import (
	"net/netip"
	"strings"
)

// line is one SDP line exactly as received: text without its end of line,
// and the end of line itself ("" for a last line that had none).
type line struct {
	text string
	eol  string
	gone bool   // removed by an edit
	add  string // a line inserted after this one ("" when none)
}

// SDP is a parsed session description. Every byte that no edit touched is
// written back unchanged by Bytes.
type SDP struct {
	lines    []line
	media    []media
	conn     int        // session-level c= line, -1 when absent
	connAddr netip.Addr // its address
	dir      Direction  // session-level direction attribute
	eol      string     // the end of line inserted lines use
}

// media is one m= section: lines[start] is the m= line, end is exclusive.
type media struct {
	start, end int
	typ        string
	port       int
	nports     int // the "/n" of "port/n", 0 when absent
	proto      string
	fmts       []string
	conn       int        // media-level c= line, -1 when absent
	connAddr   netip.Addr // its address
	connAt     int        // line after which an inserted c= sits, -1 when none
	rtcp       int        // a=rtcp: line, -1 when absent
	dir        Direction
}

// Direction is a stream direction attribute (RFC 4566 section 6).
type Direction uint8

// Directions. DirUnset means no attribute was given at that level.
const (
	DirUnset Direction = iota
	SendRecv
	SendOnly
	RecvOnly
	Inactive
)

func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return ""
}

func parseDirection(attr string) Direction {
	switch attr {
	case "sendrecv":
		return SendRecv
	case "sendonly":
		return SendOnly
	case "recvonly":
		return RecvOnly
	case "inactive":
		return Inactive
	}
	return DirUnset
}

// Parse parses an SDP body. The body is copied once; the SDP keeps no
// reference to b.
func Parse(b []byte) (*SDP, error) {
	return ParseString(string(b))
}

// ParseString parses an SDP body held in a string, without copying it.
func ParseString(src string) (*SDP, error) {
	s := &SDP{conn: -1, eol: "\r\n"}
	s.lines = make([]line, 0, strings.Count(src, "\n")+1)
	for len(src) > 0 {
		var l line
		if i := strings.IndexByte(src, '\n'); i >= 0 {
			l.text, src = src[:i], src[i+1:]
			l.eol = "\n"
			if strings.HasSuffix(l.text, "\r") {
				l.text = l.text[:len(l.text)-1]
				l.eol = "\r\n"
			}
		} else {
			l.text, src = src, ""
		}
		s.lines = append(s.lines, l)
	}
	if err := s.index(); err != nil {
		return nil, err
	}
	return s, nil
}

// index builds the session and media structure from the lines and checks
// what a relay and a B2BUA rely on; anything else is kept as opaque bytes.
func (s *SDP) index() error {
	seenVersion := false
	var cur *media
	for i := range s.lines {
		t := s.lines[i].text
		if !seenVersion {
			if strings.TrimSpace(t) == "" {
				continue
			}
			if !strings.HasPrefix(t, "v=") {
				return parseErr(i, t, ErrNoVersion)
			}
			seenVersion = true
			if s.lines[i].eol == "\n" {
				s.eol = "\n"
			}
			continue
		}
		if len(t) < 2 || t[1] != '=' {
			continue // unknown or blank line: kept as it is
		}
		switch t[0] {
		case 'm':
			if cur != nil {
				cur.end = i
			}
			m, err := parseMediaLine(t)
			if err != nil {
				return parseErr(i, t, err)
			}
			m.start = i
			s.media = append(s.media, m)
			cur = &s.media[len(s.media)-1]
		case 'c':
			addr, err := parseConnection(t[2:])
			if err != nil {
				return parseErr(i, t, err)
			}
			if cur == nil {
				if s.conn < 0 {
					s.conn, s.connAddr = i, addr
				}
			} else if cur.conn < 0 {
				cur.conn, cur.connAddr = i, addr
			}
		case 'a':
			a := t[2:]
			if d := parseDirection(a); d != DirUnset {
				if cur == nil {
					s.dir = d
				} else {
					cur.dir = d
				}
			} else if cur != nil && cur.rtcp < 0 && strings.HasPrefix(a, "rtcp:") {
				cur.rtcp = i
			}
		}
	}
	if !seenVersion {
		return parseErr(0, "", ErrNoVersion)
	}
	if cur == nil {
		return parseErr(len(s.lines), "", ErrNoMedia)
	}
	cur.end = len(s.lines)
	for k := range s.media {
		m := &s.media[k]
		if m.port != 0 && m.conn < 0 && s.conn < 0 {
			return parseErr(m.start, s.lines[m.start].text, ErrNoConnection)
		}
	}
	return nil
}

// parseMediaLine parses "m=<media> <port>[/<n>] <proto> <fmt> ...".
func parseMediaLine(t string) (media, error) {
	m := media{conn: -1, connAt: -1, rtcp: -1}
	f := fields(t[2:])
	if len(f) < 3 {
		return m, ErrBadMedia
	}
	m.typ, m.proto = f[0], f[2]
	port, n, hasN := strings.Cut(f[1], "/")
	var ok bool
	if m.port, ok = atoi(port, 65535); !ok {
		return m, ErrBadMedia
	}
	if hasN {
		if m.nports, ok = atoi(n, 65535); !ok {
			return m, ErrBadMedia
		}
	}
	m.fmts = f[3:]
	if m.port != 0 && isRTP(m.proto) {
		if len(m.fmts) == 0 {
			return m, ErrBadMedia
		}
		for _, pt := range m.fmts {
			if _, ok := atoi(pt, 127); !ok {
				return m, ErrBadMedia
			}
		}
	}
	return m, nil
}

// parseConnection parses the value of a c= line: "IN IP4 <addr>[/ttl[/n]]".
// Only IP literals are accepted: a relay cannot anchor a host name, and
// every SIP device in the field writes literals.
func parseConnection(v string) (netip.Addr, error) {
	f := fields(v)
	if len(f) != 3 || f[0] != "IN" {
		return netip.Addr{}, ErrBadConnection
	}
	host, _, _ := strings.Cut(f[2], "/")
	addr, err := netip.ParseAddr(host)
	if err != nil || addr.Zone() != "" {
		return netip.Addr{}, ErrBadConnection
	}
	switch {
	case f[1] == "IP4" && addr.Is4():
	case f[1] == "IP6" && addr.Is6():
	default:
		return netip.Addr{}, ErrBadConnection
	}
	return addr, nil
}

// atoi parses a decimal number in [0, max] without allocating.
func atoi(s string, max int) (int, bool) {
	if s == "" || len(s) > 6 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= max
}

func isRTP(proto string) bool {
	return strings.Contains(proto, "RTP/")
}

// Bytes returns the SDP, with unchanged lines byte for byte as parsed.
func (s *SDP) Bytes() []byte {
	return s.AppendTo(make([]byte, 0, s.size()))
}

// String returns the SDP as text.
func (s *SDP) String() string {
	return string(s.Bytes())
}

// AppendTo appends the SDP to dst and returns the extended slice.
func (s *SDP) AppendTo(dst []byte) []byte {
	pending := "" // end of line owed by a last line that had none
	for i := range s.lines {
		l := &s.lines[i]
		if !l.gone {
			dst = append(dst, pending...)
			dst = append(dst, l.text...)
			dst, pending = s.endLine(dst, l.eol)
		}
		if l.add != "" {
			dst = append(dst, pending...)
			dst = append(dst, l.add...)
			dst, pending = append(dst, s.eol...), ""
		}
	}
	return dst
}

// endLine writes eol, or remembers that a line without one was written so a
// following inserted line can be separated from it.
func (s *SDP) endLine(dst []byte, eol string) ([]byte, string) {
	if eol == "" {
		return dst, s.eol
	}
	return append(dst, eol...), ""
}

func (s *SDP) size() int {
	n := 0
	for i := range s.lines {
		n += len(s.lines[i].text) + 2 + len(s.lines[i].add) + 2
	}
	return n
}

// fields splits t at runs of spaces and tabs, the only separators SDP
// allows; strings.Fields would also split at \r or \v and disagree with the
// byte offsets the rewriters use.
func fields(t string) []string {
	var out []string
	for i := 0; i < len(t); {
		for i < len(t) && (t[i] == ' ' || t[i] == '\t') {
			i++
		}
		start := i
		for i < len(t) && t[i] != ' ' && t[i] != '\t' {
			i++
		}
		if i > start {
			out = append(out, t[start:i])
		}
	}
	return out
}
