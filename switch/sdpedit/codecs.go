package sdpedit

import (
	"slices"
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

// AddCodecs adds to every active RTP audio stream the listed codecs it
// lacks, by name: what a transcoding relay can receive on the stream's
// behalf. Only codecs with a static payload type (RFC 3551: PCMU, PCMA,
// G722...) can be added, since they need no a=rtpmap line; other names,
// and a codec whose payload type the stream already uses for another, are
// skipped. With first, the added codecs go before the stream's own (SEMS's
// prefer_existing_codecs: no); otherwise after them. It reports whether
// any stream changed.
func (s *SDP) AddCodecs(names []string, first bool) bool {
	changed := false
	for i := range s.media {
		m := &s.media[i]
		if m.port == 0 || !isRTP(m.proto) || !strings.EqualFold(m.typ, "audio") {
			continue
		}
		cs := s.Codecs(i)
		var added []string
		for _, name := range names {
			pt, ok := staticPTOf(name)
			if !ok || findCodec(cs, pt) != nil {
				continue
			}
			if slices.ContainsFunc(cs, func(c Codec) bool { return strings.EqualFold(c.Name, name) }) {
				continue
			}
			added = append(added, strconv.Itoa(pt))
			cs = append(cs, Codec{PT: pt, Name: name})
		}
		if len(added) == 0 {
			continue
		}
		fmts := append(slices.Clone(m.fmts), added...)
		if first {
			fmts = append(added, m.fmts...)
		}
		s.setFormats(m, fmts, false)
		changed = true
	}
	return changed
}

// staticPTOf is the static payload type of an audio codec name.
func staticPTOf(name string) (int, bool) {
	for pt, st := range staticPT {
		if st.rate == 8000 && strings.EqualFold(st.name, name) && st.name != "DVI4" {
			return pt, true
		}
	}
	return 0, false
}

// AddTelephoneEvent adds telephone-event/8000 (RFC 4733, events 0-15) as
// payload type pt to every active RTP audio stream that lacks it and does
// not use pt already: what the party of a gateway that only speaks SIP
// INFO is told, so that it sends (and expects) its digits as events that
// the switch carries across. A stream whose m= line has no line after it
// to hold the a=rtpmap is left alone. It reports whether any stream
// changed. Like every inserted line, the a=rtpmap is not read back by
// Codecs.
func (s *SDP) AddTelephoneEvent(pt int) bool {
	changed := false
	for i := range s.media {
		m := &s.media[i]
		if m.port == 0 || !isRTP(m.proto) || !strings.EqualFold(m.typ, "audio") {
			continue
		}
		cs := s.Codecs(i)
		if findCodec(cs, pt) != nil || slices.ContainsFunc(cs, func(c Codec) bool { return strings.EqualFold(c.Name, "telephone-event") }) {
			continue
		}
		last := m.end - 1
		if last == m.connAt || s.lines[last].add != "" {
			continue
		}
		p := strconv.Itoa(pt)
		s.setFormats(m, append(slices.Clone(m.fmts), p), false)
		s.lines[last].add = "a=rtpmap:" + p + " telephone-event/8000" + s.eol + "a=fmtp:" + p + " 0-15"
		changed = true
	}
	return changed
}
