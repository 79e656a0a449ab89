package rtpproxyctl

import (
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// Streams lists the streams of an SDP a relay anchors: active audio and
// video RTP lines (sdpedit.Media.Anchorable). T.38 and other non-RTP
// streams, and disabled ones, pass through untouched.
func Streams(sd *sdpedit.SDP) []Stream {
	var out []Stream
	for i := range sd.NumMedia() {
		m := sd.Media(i)
		if !m.Anchorable() {
			continue
		}
		st := Stream{Index: i, Addr: m.Addr, Port: m.Port}
		for j, c := range sd.Codecs(i) {
			st.PayloadTypes = append(st.PayloadTypes, c.PT)
			if j == 0 {
				st.ClockRate = c.Rate
			}
		}
		out = append(out, st)
	}
	return out
}

// Rewrite writes the endpoints a relay returned for streams (as listed by
// Streams) into the SDP; other streams keep their address and port.
func Rewrite(sd *sdpedit.SDP, streams []Stream, eps []Endpoint) error {
	targets := make([]sdpedit.Endpoint, sd.NumMedia())
	for i, st := range streams {
		if i < len(eps) && eps[i].Port != 0 && st.Index < len(targets) {
			targets[st.Index] = sdpedit.Endpoint{Addr: eps[i].Addr, Port: eps[i].Port}
		}
	}
	return sd.Rewrite(targets)
}
