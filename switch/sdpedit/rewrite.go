package sdpedit

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// Endpoint is where a stream's media should be sent: usually the relay
// address and port a media relay returned for it.
type Endpoint struct {
	Addr     netip.Addr // invalid = leave the stream untouched
	Port     int
	RTCPPort int // for a=rtcp; 0 = Port+1, as rtpproxy allocates
}

// ErrBadEndpoint is returned by Rewrite for a port outside 1..65535.
var ErrBadEndpoint = errors.New("sdp: endpoint port out of range")

// Rewrite points every stream i that has eps[i].Addr valid at eps[i]: its
// effective c= address, its m= port and its a=rtcp line. Disabled streams
// (port 0) stay disabled; streams without an endpoint (eps shorter than the
// media list, or an invalid Addr) keep their own address even when the
// session-level c= line changes, by gaining a media-level c= line that
// carries the old one. An unspecified Addr (0.0.0.0) is written as given,
// which is how a relay keeps an RFC 2543 hold a hold. When the endpoints
// move the SDP to the other address family (a relay bridging an IPv4 party
// and an IPv6 one), the o= line moves too, to the first endpoint's
// address, so that the SDP speaks one family to the party that gets it.
func (s *SDP) Rewrite(eps []Endpoint) error {
	if len(eps) > len(s.media) {
		return ErrNoStream
	}
	var sess, was netip.Addr
	for i, ep := range eps {
		if !ep.Addr.IsValid() || s.media[i].port == 0 {
			continue
		}
		if ep.Port < 1 || ep.Port > 65535 || ep.RTCPPort < 0 || ep.RTCPPort > 65535 {
			return ErrBadEndpoint
		}
		if !sess.IsValid() {
			sess, was = ep.Addr, s.media[i].connAddr
			if s.media[i].conn < 0 && s.media[i].connAt < 0 {
				was = s.connAddr
			}
		}
	}
	if !sess.IsValid() {
		return nil
	}
	if was.IsValid() && was.Is4() != sess.Is4() && !sess.IsUnspecified() {
		s.MoveOrigin(sess)
	}
	if s.conn >= 0 && sess != s.connAddr {
		s.detachSessionConn(eps)
		s.lines[s.conn].text = connLine(sess)
		s.connAddr = sess
	}
	for i, ep := range eps {
		m := &s.media[i]
		if !ep.Addr.IsValid() || m.port == 0 {
			continue
		}
		s.setMediaAddr(m, ep.Addr)
		if ep.Port != m.port {
			s.setMediaPort(m, ep.Port)
		}
		if m.rtcp >= 0 {
			rtcp := ep.RTCPPort
			if rtcp == 0 {
				rtcp = ep.Port + 1
			}
			s.setRTCP(m, rtcp, ep.Addr)
		}
	}
	return nil
}

// detachSessionConn gives every stream that relies on the session c= line
// and is not being rewritten a media-level copy of that line, so that
// changing the session line does not move it.
func (s *SDP) detachSessionConn(eps []Endpoint) {
	old := s.lines[s.conn].text
	for i := range s.media {
		m := &s.media[i]
		if m.conn >= 0 || m.connAt >= 0 || m.port == 0 {
			continue
		}
		if i < len(eps) && eps[i].Addr.IsValid() {
			continue
		}
		m.connAt = s.connAnchor(m)
		s.lines[m.connAt].add = old
		m.connAddr = s.connAddr
	}
}

func (s *SDP) setMediaAddr(m *media, addr netip.Addr) {
	switch {
	case m.conn >= 0:
		if addr != m.connAddr {
			s.lines[m.conn].text = connLine(addr)
			m.connAddr = addr
		}
	case m.connAt >= 0:
		if addr != m.connAddr {
			s.lines[m.connAt].add = connLine(addr)
			m.connAddr = addr
		}
	case addr != s.connAddr:
		m.connAt = s.connAnchor(m)
		s.lines[m.connAt].add = connLine(addr)
		m.connAddr = addr
	}
}

// connAnchor is the line a media-level c= line is inserted after: the m=
// line, or its i= line (RFC 4566 orders m=, i=, c=).
func (s *SDP) connAnchor(m *media) int {
	if n := m.start + 1; n < m.end && strings.HasPrefix(s.lines[n].text, "i=") {
		return n
	}
	return m.start
}

// MoveOrigin points the o= line at addr when its address is of the other
// family (Rewrite does it for the endpoints' address; a switch does it for
// a hold, whose endpoint is 0.0.0.0 or ::, with the address the earlier
// SDPs of the call got, so that o= stays the same across offers as RFC
// 3264 wants). An invalid or unspecified addr, a malformed o= line, or one
// of an unknown address type, is left as it is.
func (s *SDP) MoveOrigin(addr netip.Addr) {
	if !addr.IsValid() || addr.IsUnspecified() {
		return
	}
	end := len(s.lines)
	if len(s.media) > 0 {
		end = s.media[0].start
	}
	for i := 0; i < end; i++ {
		l := &s.lines[i]
		if !strings.HasPrefix(l.text, "o=") {
			continue
		}
		f := fields(l.text[2:])
		if len(f) == 6 && f[3] == "IN" && (f[4] == "IP4" && addr.Is6() || f[4] == "IP6" && addr.Is4()) {
			l.text = "o=" + f[0] + " " + f[1] + " " + f[2] + " " + connLine(addr)[2:]
		}
		return
	}
}

func connLine(a netip.Addr) string {
	if a.Is4() {
		return "c=IN IP4 " + a.String()
	}
	return "c=IN IP6 " + a.String()
}

func (s *SDP) setMediaPort(m *media, port int) {
	l := &s.lines[m.start]
	from, to := fieldBounds(l.text, 2, 1)
	p := strconv.Itoa(port)
	if m.nports != 0 {
		p += "/" + strconv.Itoa(m.nports)
	}
	l.text = l.text[:from] + p + l.text[to:]
	m.port = port
}

func (s *SDP) setRTCP(m *media, port int, addr netip.Addr) {
	l := &s.lines[m.rtcp]
	v := "a=rtcp:" + strconv.Itoa(port)
	if _, a := parseRTCP(l.text[len("a=rtcp:"):]); a.IsValid() {
		v += " " + connLine(addr)[2:]
	}
	l.text = v
}

// fieldBounds returns the byte range of the n-th (0-based) space- or
// tab-separated field of t, starting at offset off.
func fieldBounds(t string, off, n int) (int, int) {
	i := off
	for k := 0; ; k++ {
		for i < len(t) && (t[i] == ' ' || t[i] == '\t') {
			i++
		}
		start := i
		for i < len(t) && t[i] != ' ' && t[i] != '\t' {
			i++
		}
		if k == n || i >= len(t) {
			return start, i
		}
	}
}
