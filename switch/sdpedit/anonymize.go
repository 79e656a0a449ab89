package sdpedit

import (
	"net/netip"
	"strings"
)

// Anonymization says what replaces the identifying session-level lines.
type Anonymization struct {
	Username    string     // o= username; "" = "-"
	Addr        netip.Addr // o= address; invalid = keep the original
	SessionName string     // s= value; "" = "-"
}

// Anonymize hides who made the SDP, as SEMS's sdp_anonymize does: the o=
// username (and address when a.Addr is valid) and the s= name are
// replaced, and the u=, e= and p= lines are removed, as are the free-text
// i= lines of the session and of every stream (products and people name
// themselves there). The o= session id and version are kept so that the
// far end still sees versions increase on re-INVITEs.
func (s *SDP) Anonymize(a Anonymization) {
	user, name := a.Username, a.SessionName
	if user == "" {
		user = "-"
	}
	if name == "" {
		name = "-"
	}
	end := len(s.lines)
	if len(s.media) > 0 {
		end = s.media[0].start
	}
	for i := 0; i < end; i++ {
		l := &s.lines[i]
		if len(l.text) < 2 || l.text[1] != '=' {
			continue
		}
		switch l.text[0] {
		case 'o':
			l.text = anonymousOrigin(l.text, user, a.Addr)
		case 's':
			l.text = "s=" + name
		}
	}
	// i= is also a stream line; u=, e= and p= belong to the session only,
	// but a sloppy sender may put them anywhere: they go wherever they are.
	for i := range s.lines {
		if t := s.lines[i].text; len(t) >= 2 && t[1] == '=' && strings.IndexByte("uepi", t[0]) >= 0 {
			s.lines[i].gone = true
		}
	}
}

// anonymousOrigin rewrites "o=<user> <id> <version> IN <type> <addr>"; a
// malformed o= line is replaced by a well-formed one.
func anonymousOrigin(t, user string, addr netip.Addr) string {
	f := fields(t[2:])
	if len(f) != 6 {
		if !addr.IsValid() {
			addr = netip.IPv4Unspecified()
		}
		return "o=" + user + " 0 0 " + connLine(addr)[2:]
	}
	origin := f[3] + " " + f[4] + " " + f[5]
	if addr.IsValid() {
		origin = connLine(addr)[2:]
	}
	return "o=" + user + " " + f[1] + " " + f[2] + " " + origin
}
