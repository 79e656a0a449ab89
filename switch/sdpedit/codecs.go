package sdpedit

import (
	"strconv"
	"strings"
)

// CodecFilter selects the payload formats an RTP stream may keep. Entries
// are codec names (case-insensitive, e.g. "PCMA", "G729") or payload type
// numbers ("8"). telephone-event is kept unless Deny names it, because
// removing DTMF by accident breaks IVRs.
type CodecFilter struct {
	Allow []string // when not empty, only these (and telephone-event) are kept
	Deny  []string // always removed
}

// FilterCodecs applies f to every active RTP stream: removed payload types
// leave the m= line and their a=rtpmap, a=fmtp and a=rtcp-fb lines go too.
// If a stream would be left with no codec (telephone-event alone does not
// count), nothing is changed and ErrNoCodec is returned.
func (s *SDP) FilterCodecs(f CodecFilter) error {
	keep := make([][]string, len(s.media))
	for i := range s.media {
		m := &s.media[i]
		if m.port == 0 || !isRTP(m.proto) {
			continue
		}
		cs := s.Codecs(i)
		kept := make([]string, 0, len(m.fmts))
		audible := false
		for _, c := range cs {
			dtmf := strings.EqualFold(c.Name, "telephone-event")
			if codecListed(f.Deny, c) {
				continue
			}
			if len(f.Allow) > 0 && !dtmf && !codecListed(f.Allow, c) {
				continue
			}
			kept = append(kept, strconv.Itoa(c.PT))
			audible = audible || !dtmf
		}
		if !audible {
			return ErrNoCodec
		}
		keep[i] = kept
	}
	for i, kept := range keep {
		if kept != nil && len(kept) != len(s.media[i].fmts) {
			s.setFormats(&s.media[i], kept, true)
		}
	}
	return nil
}

// PreferCodecs reorders the payload types of every active RTP stream so that
// the listed codecs (names or payload type numbers) come first, in the given
// order; the others keep their relative order after them.
func (s *SDP) PreferCodecs(order []string) {
	for i := range s.media {
		m := &s.media[i]
		if m.port == 0 || !isRTP(m.proto) {
			continue
		}
		cs := s.Codecs(i)
		out := make([]string, 0, len(cs))
		used := make([]bool, len(cs))
		for _, want := range order {
			for k, c := range cs {
				if !used[k] && codecListed([]string{want}, c) {
					used[k] = true
					out = append(out, strconv.Itoa(c.PT))
				}
			}
		}
		for k, c := range cs {
			if !used[k] {
				out = append(out, strconv.Itoa(c.PT))
			}
		}
		if strings.Join(out, " ") != strings.Join(m.fmts, " ") {
			s.setFormats(m, out, false)
		}
	}
}

func codecListed(list []string, c Codec) bool {
	for _, e := range list {
		if n, ok := atoi(e, 127); ok {
			if n == c.PT {
				return true
			}
		} else if c.Name != "" && strings.EqualFold(e, c.Name) {
			return true
		}
	}
	return false
}

// setFormats rewrites the format list of m's m= line and, when prune is set,
// removes the attribute lines of payload types no longer listed.
func (s *SDP) setFormats(m *media, fmts []string, prune bool) {
	l := &s.lines[m.start]
	_, protoEnd := fieldBounds(l.text, 2, 2)
	l.text = l.text[:protoEnd] + " " + strings.Join(fmts, " ")
	m.fmts = fmts
	if !prune {
		return
	}
	listed := make(map[int]bool, len(fmts))
	for _, f := range fmts {
		n, _ := atoi(f, 127)
		listed[n] = true
	}
	for k := m.start + 1; k < m.end; k++ {
		t := s.lines[k].text
		for _, prefix := range []string{"a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"} {
			if pt, _, ok := ptAttr(t, prefix); ok && !listed[pt] {
				s.lines[k].gone = true
			}
		}
	}
}
