package b2bua

import (
	"strings"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/rtpproxyctl"
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// relayStreams adds to the streams of an SDP what the call's profile asks
// of the relay: the sender's payload formats when the profile transcodes
// (enable_transcoder always or on_missing_compatible; the relay converts
// only between parties that chose codecs the other did not list, so a
// call that turns out not to need it is relayed as it is), and the RTP
// options (rtprelay_*). A relay without these extensions is sent neither
// (rtpproxyctl asks its VF first). A nil chain (no profile) adds nothing.
func (cc *callChain) relayStreams(sd *sdpedit.SDP, streams []rtpproxyctl.Stream) {
	if cc == nil {
		return
	}
	p := cc.profile
	for i := range streams {
		st := &streams[i]
		codecs := sd.Codecs(st.Index)
		if p.Transcoder != config.TranscodeNever {
			st.Formats = transcodable(codecs)
		}
		if p.RTP != (config.RTPOptions{}) {
			st.Options = rtpproxyctl.RTPOptions{
				DTMFFilter: p.RTP.DTMFFiltering, DTMFDetect: p.RTP.DTMFDetection, Symmetric: p.RTP.ForceSymmetric,
				RewriteSSRC: p.RTP.RewriteSSRC, RewriteSeqno: p.RTP.RewriteSeqno,
				MaxPacketRate: p.RTP.MaxPacketRate, MaxByteRate: p.RTP.MaxByteRate,
			}
			for _, c := range codecs {
				if strings.EqualFold(c.Name, "telephone-event") {
					st.Options.EventPT = c.PT
					break
				}
			}
		}
	}
}

// transcodable is a stream's formats for the relay's transcoder, or nil
// when none of them is an audio codec the relay converts (video, opus
// alone): the relay refuses such a list, and the stream is relayed as
// rtpproxy would.
func transcodable(codecs []sdpedit.Codec) []rtpproxyctl.Format {
	known := false
	out := make([]rtpproxyctl.Format, 0, len(codecs))
	for _, c := range codecs {
		out = append(out, rtpproxyctl.Format{Encoding: c.Name, PT: c.PT})
		switch strings.ToUpper(c.Name) {
		case "PCMU", "PCMA", "G722":
			known = true
		}
	}
	if !known {
		return nil
	}
	return out
}
