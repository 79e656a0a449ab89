package sdpedit

import "strings"

// AlterHold rewrites a hold offer as a profile wants its peer to see it
// (SEMS's hold_activity and hold_zero_connection): every direction
// attribute, session or media level, gives way to dir on each active
// stream (none when dir is DirUnset), and with zeroConn every c= line
// names the unspecified address of its family (RFC 2543's 0.0.0.0 hold,
// "::" for IP6), for peers that know only that form.
func (s *SDP) AlterHold(dir Direction, zeroConn bool) error {
	var b strings.Builder
	mi := 0
	for i, l := range s.lines {
		t := l.text
		if len(t) > 2 && t[0] == 'a' && t[1] == '=' && parseDirection(t[2:]) != DirUnset {
			t = ""
		} else if zeroConn && strings.HasPrefix(t, "c=") {
			if strings.Contains(t, "IP6") {
				t = "c=IN IP6 ::"
			} else {
				t = "c=IN IP4 0.0.0.0"
			}
		}
		if t != "" || (l.text == "" && l.eol != "") {
			b.WriteString(t)
			eol := l.eol
			if eol == "" {
				eol = s.eol
			}
			b.WriteString(eol)
		}
		if mi < len(s.media) && i == s.media[mi].end-1 {
			if s.media[mi].port != 0 && dir != DirUnset {
				b.WriteString("a=" + dir.String() + s.eol)
			}
			mi++
		}
	}
	out, err := ParseString(b.String())
	if err != nil {
		return err
	}
	*s = *out
	return nil
}

// ParseDirection reads a direction attribute's name (sendrecv, sendonly,
// recvonly, inactive); DirUnset for anything else.
func ParseDirection(name string) Direction { return parseDirection(name) }
