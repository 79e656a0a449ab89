package sdpedit

import (
	"net/netip"
)

// Anonymization says what replaces the identifying session-level lines.
type Anonymization struct {
	Username    string     // o= username; "" = "-"
	Addr        netip.Addr // o= address; invalid = keep the original
	SessionName string     // s= value; "" = "-"
}

// Anonymize hides the sender's identity at session level: the o= username
// (and address when a.Addr is valid) and the s= name are replaced, and the
// u=, e= and p= lines are removed. The o= session id and version are kept so
// that the far end still sees versions increase on re-INVITEs.
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
		case 'u', 'e', 'p':
			l.gone = true
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
