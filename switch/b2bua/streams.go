package b2bua

import (
	"net/netip"

	"github.com/tollgate/tollgate/rtpproxyctl"
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// The SDP side of anchoring sits here, with the switch that owns SDP
// editing: rtpproxyctl speaks to relays in streams and endpoints and knows
// nothing of SDP.

// anchorableStreams lists the streams of an SDP a relay anchors: active audio and
// video RTP lines (sdpedit.Media.Anchorable). T.38 and other non-RTP
// streams, and disabled ones, pass through untouched. toward is the
// address of the party the SDP goes to (rtpproxyctl.Stream.Toward).
func anchorableStreams(sd *sdpedit.SDP, toward netip.Addr) []rtpproxyctl.Stream {
	var out []rtpproxyctl.Stream
	for i := range sd.NumMedia() {
		m := sd.Media(i)
		if !m.Anchorable() {
			continue
		}
		st := rtpproxyctl.Stream{Index: i, Addr: m.Addr, Port: m.Port, Toward: toward}
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

// rewriteStreams writes the endpoints a relay returned for streams (as
// listed by anchorableStreams) into the SDP; other streams keep their address and
// port.
func rewriteStreams(sd *sdpedit.SDP, streams []rtpproxyctl.Stream, eps []rtpproxyctl.Endpoint) error {
	targets := make([]sdpedit.Endpoint, sd.NumMedia())
	for i, st := range streams {
		if i < len(eps) && eps[i].Port != 0 && st.Index < len(targets) {
			targets[st.Index] = sdpedit.Endpoint{Addr: eps[i].Addr, Port: eps[i].Port}
		}
	}
	return sd.Rewrite(targets)
}
