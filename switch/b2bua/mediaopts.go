package b2bua

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

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
// (rtpproxyctl asks its VF first), and DTMF interworking (dtmf.go) for
// the SDP from side from. A nil chain (no profile) adds nothing.
func (cc *callChain) relayStreams(from rtpproxyctl.Side, sd *sdpedit.SDP, streams []rtpproxyctl.Stream) {
	if cc == nil {
		return
	}
	defer cc.dtmfStreams(from, sd, streams)
	p := cc.profile
	for i := range streams {
		st := &streams[i]
		codecs := sd.Codecs(st.Index)
		if p.Transcoder != config.TranscodeNever {
			st.Formats = transcodable(codecs)
		}
		if p.RTP != (config.RTPOptions{}) {
			st.Options = rtpproxyctl.RTPOptions{
				DTMFFilter: p.RTP.DTMFFiltering, DTMFDetect: p.RTP.DTMFDetection,
				Symmetric:   p.RTP.ForceSymmetric || (from == rtpproxyctl.Caller && cc.msgFlags == msgFlagsSymmetric),
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

// dtmfReader is a media session that can tell the DTMF digits its relay
// detected (rtpproxyctl.Session, on a relay with the RTP options).
type dtmfReader interface {
	DTMF(ctx context.Context) (rtpproxyctl.DTMF, error)
}

// CallDTMF returns the DTMF digits the relay detected so far in the call
// id's telephone-events, per party (a profile's rtprelay_dtmf_detection).
// It asks the relay, so it is for one call at a time (the API's call
// detail), never for the whole call list. A call without anchored media,
// or on a relay that does not detect, has none.
func (s *Switch) CallDTMF(ctx context.Context, id string) (rtpproxyctl.DTMF, error) {
	c := s.calls.get(keyID(id))
	if c == nil {
		return rtpproxyctl.DTMF{}, ErrNoSuchCall
	}
	c.mu.Lock()
	m := c.media
	c.mu.Unlock()
	r, ok := m.reader()
	if !ok {
		return rtpproxyctl.DTMF{}, nil
	}
	return r.DTMF(ctx)
}

// reader is the call's media session as a dtmfReader, if it is one.
func (m *callMedia) reader() (dtmfReader, bool) {
	if m == nil {
		return nil, false
	}
	r, ok := m.relay.(dtmfReader)
	return r, ok
}

// msgFlagsState is what the caller's P-MsgFlags header asked of its media,
// under a profile with rtprelay_msgflags_symmetric_rtp.
type msgFlagsState uint8

const (
	msgFlagsNone      msgFlagsState = iota
	msgFlagsSymmetric               // flag 2: the caller's RTP is symmetric
)

// msgFlagForceSymmetric is the P-MsgFlags flag of ser's FL_FORCE_ACTIVE,
// which SEMS reads as "force symmetric RTP".
const msgFlagForceSymmetric = 2

// readMsgFlags reads the caller's P-MsgFlags when the profile honours it
// (SEMS's rtprelay_msgflags_symmetric_rtp). The value is as ser writes its
// message flags: hexadecimal digits, the least significant first; a value
// that does not parse counts as no flag, as in SEMS.
func readMsgFlags(p *config.Profile, inA *sip.Request) msgFlagsState {
	if !p.RTP.MsgFlags {
		return msgFlagsNone
	}
	h := headerNamed(inA, "P-MsgFlags")
	if h == nil {
		return msgFlagsNone
	}
	v := []byte(strings.TrimSpace(h.Value()))
	slices.Reverse(v)
	flags, err := strconv.ParseUint(string(v), 16, 32)
	if err != nil {
		return msgFlagsNone
	}
	if flags&msgFlagForceSymmetric != 0 {
		return msgFlagsSymmetric
	}
	return msgFlagsNone
}
