package sdpedit

import (
	"net/netip"
	"strings"
)

// Media describes one m= line as the B2BUA and the relay need it.
type Media struct {
	Type     string   // audio, video, image, application...
	Port     int      // 0 = disabled stream
	NumPorts int      // the "/n" of "port/n", 0 when absent
	Proto    string   // RTP/AVP, udptl...
	Formats  []string // payload types (or formats) in m= order

	Addr      netip.Addr // effective connection address (media c=, else session c=)
	RTCPPort  int        // from a=rtcp, 0 when absent or unreadable
	RTCPAddr  netip.Addr // from a=rtcp, invalid when not given
	Direction Direction  // effective: media attribute, else session, else sendrecv
}

// IsRTP reports whether the stream carries RTP (and so can be relayed by an
// RTP relay and filtered by codec).
func (m Media) IsRTP() bool { return isRTP(m.Proto) }

// Active reports whether the stream is enabled (port not 0).
func (m Media) Active() bool { return m.Port != 0 }

// Hold reports whether the stream is put on hold: an unspecified address
// (RFC 2543 style 0.0.0.0) or a sendonly/inactive direction (RFC 3264).
func (m Media) Hold() bool {
	return m.Addr.IsUnspecified() || m.Direction == SendOnly || m.Direction == Inactive
}

// Anchorable reports whether a media relay should anchor the stream by
// default: active audio or video over RTP. T.38 (m=image) and application
// streams are left alone unless the caller asks for them.
func (m Media) Anchorable() bool {
	return m.Active() && m.IsRTP() && (m.Type == "audio" || m.Type == "video")
}

// NumMedia returns the number of m= lines.
func (s *SDP) NumMedia() int { return len(s.media) }

// Media returns stream i (0-based, in m= order).
func (s *SDP) Media(i int) Media {
	m := &s.media[i]
	out := Media{
		Type:      m.typ,
		Port:      m.port,
		NumPorts:  m.nports,
		Proto:     m.proto,
		Formats:   append([]string(nil), m.fmts...),
		Addr:      s.mediaAddr(m),
		Direction: s.mediaDirection(m),
	}
	if m.rtcp >= 0 {
		out.RTCPPort, out.RTCPAddr = parseRTCP(s.lines[m.rtcp].text[len("a=rtcp:"):])
	}
	return out
}

func (s *SDP) mediaAddr(m *media) netip.Addr {
	if m.conn >= 0 || m.connAt >= 0 {
		return m.connAddr
	}
	return s.connAddr
}

func (s *SDP) mediaDirection(m *media) Direction {
	switch {
	case m.dir != DirUnset:
		return m.dir
	case s.dir != DirUnset:
		return s.dir
	}
	return SendRecv
}

// Connection returns the session-level c= address (invalid when absent).
func (s *SDP) Connection() netip.Addr { return s.connAddr }

// Direction returns the session-level direction attribute (DirUnset when
// absent).
func (s *SDP) Direction() Direction { return s.dir }

// Hold reports whether the SDP puts the call on hold: it has active streams
// and every one of them is held.
func (s *SDP) Hold() bool {
	active := false
	for i := range s.media {
		m := &s.media[i]
		if m.port == 0 {
			continue
		}
		active = true
		a := s.mediaAddr(m)
		d := s.mediaDirection(m)
		if !a.IsUnspecified() && d != SendOnly && d != Inactive {
			return false
		}
	}
	return active
}

// parseRTCP reads "port [IN IP4 addr]"; garbage gives port 0.
func parseRTCP(v string) (int, netip.Addr) {
	f := fields(v)
	if len(f) == 0 {
		return 0, netip.Addr{}
	}
	port, ok := atoi(f[0], 65535)
	if !ok {
		return 0, netip.Addr{}
	}
	if len(f) == 4 {
		if a, err := parseConnection(strings.Join(f[1:], " ")); err == nil {
			return port, a
		}
	}
	return port, netip.Addr{}
}

// Codec is one payload format of an RTP stream.
type Codec struct {
	PT       int    // payload type
	Name     string // encoding name as written (PCMA, telephone-event...)
	Rate     int    // clock rate, 0 when unknown
	Channels int    // 0 when not given
	Fmtp     string // the a=fmtp parameters, "" when none
}

// Codecs returns the payload formats of RTP stream i in m= order, named from
// a=rtpmap or, for static payload types, from RFC 3551. Non-RTP streams
// return nil.
func (s *SDP) Codecs(i int) []Codec {
	m := &s.media[i]
	if !isRTP(m.proto) {
		return nil
	}
	out := make([]Codec, 0, len(m.fmts))
	for _, f := range m.fmts {
		pt, ok := atoi(f, 127)
		if !ok {
			continue
		}
		c := Codec{PT: pt}
		if st, ok := staticPT[pt]; ok {
			c.Name, c.Rate, c.Channels = st.name, st.rate, st.channels
		}
		out = append(out, c)
	}
	for k := m.start + 1; k < m.end; k++ {
		l := &s.lines[k]
		if l.gone {
			continue
		}
		if pt, v, ok := ptAttr(l.text, "a=rtpmap:"); ok {
			if c := findCodec(out, pt); c != nil {
				c.Name, c.Rate, c.Channels = parseRtpmap(v)
			}
		} else if pt, v, ok := ptAttr(l.text, "a=fmtp:"); ok {
			if c := findCodec(out, pt); c != nil {
				c.Fmtp = v
			}
		}
	}
	return out
}

func findCodec(cs []Codec, pt int) *Codec {
	for i := range cs {
		if cs[i].PT == pt {
			return &cs[i]
		}
	}
	return nil
}

// ptAttr splits "a=rtpmap:<pt> <value>" into pt and value.
func ptAttr(t, prefix string) (int, string, bool) {
	if !strings.HasPrefix(t, prefix) {
		return 0, "", false
	}
	ptText, v, _ := strings.Cut(t[len(prefix):], " ")
	pt, ok := atoi(ptText, 127)
	return pt, strings.TrimSpace(v), ok
}

// parseRtpmap reads "<name>/<rate>[/<channels>]".
func parseRtpmap(v string) (string, int, int) {
	name, rest, _ := strings.Cut(v, "/")
	rateText, chText, _ := strings.Cut(rest, "/")
	rate, _ := atoi(rateText, 999999)
	ch, _ := atoi(chText, 255)
	return name, rate, ch
}

type static struct {
	name     string
	rate     int
	channels int
}

// staticPT is RFC 3551's static payload type table (audio and video).
var staticPT = map[int]static{
	0: {"PCMU", 8000, 1}, 3: {"GSM", 8000, 1}, 4: {"G723", 8000, 1},
	5: {"DVI4", 8000, 1}, 6: {"DVI4", 16000, 1}, 7: {"LPC", 8000, 1},
	8: {"PCMA", 8000, 1}, 9: {"G722", 8000, 1}, 10: {"L16", 44100, 2},
	11: {"L16", 44100, 1}, 12: {"QCELP", 8000, 1}, 13: {"CN", 8000, 1},
	14: {"MPA", 90000, 0}, 15: {"G728", 8000, 1}, 16: {"DVI4", 11025, 1},
	17: {"DVI4", 22050, 1}, 18: {"G729", 8000, 1}, 25: {"CelB", 90000, 0},
	26: {"JPEG", 90000, 0}, 28: {"nv", 90000, 0}, 31: {"H261", 90000, 0},
	32: {"MPV", 90000, 0}, 33: {"MP2T", 90000, 0}, 34: {"H263", 90000, 0},
}
