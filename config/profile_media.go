package config

import (
	"fmt"
	"slices"
	"strings"
)

// ProfileMedia are a profile's transcoding and RTP relay options, under
// the SEMS SBC's names. They need a relay that transcodes and shapes RTP:
// Tollgate's own (media builtin, or `tollgate relay` as the rtpproxy); a
// relay without them (Sippy rtpproxy) relays the media as it is.
type ProfileMedia struct {
	// EnableTranscoder is never (the default), always, or
	// on_missing_compatible: only when none of the caller's audio codecs
	// is in CalleeCodecCaps.
	EnableTranscoder string `yaml:"enable_transcoder,omitempty"`
	// TranscoderCodecs are the codecs the relay can convert to and from,
	// appended to the offer to the gateway and, when the gateway's answer
	// has none of the caller's codecs, to the answer to the caller: PCMU,
	// PCMA, G722.
	TranscoderCodecs []string `yaml:"transcoder_codecs,omitempty"`
	// CalleeCodecCaps are the codecs the gateway side is known to accept,
	// for on_missing_compatible.
	CalleeCodecCaps []string `yaml:"callee_codeccaps,omitempty"`
	// PreferExistingCodecs false puts the transcoder codecs before the
	// offer's own in the offer to the gateway; PreferExistingCodecsALeg
	// false does the same in the answer to the caller. Both default to
	// true, as in SEMS: a codec both parties have needs no conversion.
	PreferExistingCodecs     *bool `yaml:"prefer_existing_codecs,omitempty"`
	PreferExistingCodecsALeg *bool `yaml:"prefer_existing_codecs_aleg,omitempty"`

	// RTP relay options, applied to the media each party sends.
	DTMFFiltering     bool `yaml:"rtprelay_dtmf_filtering,omitempty"`
	DTMFDetection     bool `yaml:"rtprelay_dtmf_detection,omitempty"`
	ForceSymmetricRTP bool `yaml:"rtprelay_force_symmetric_rtp,omitempty"`
	// MsgFlagsSymmetricRTP honours flag 2 of the caller's P-MsgFlags
	// header (set by a ser/Kamailio front proxy): the caller's media is
	// then relayed as with rtprelay_force_symmetric_rtp. Only for a
	// trusted proxy in front: the header comes with the caller's INVITE.
	MsgFlagsSymmetricRTP bool  `yaml:"rtprelay_msgflags_symmetric_rtp,omitempty"`
	TransparentSSRC      *bool `yaml:"rtprelay_transparent_ssrc,omitempty"`  // default true
	TransparentSeqno     *bool `yaml:"rtprelay_transparent_seqno,omitempty"` // default true
	// MaxPacketRate and MaxByteRate limit each party's stream (RTP packets,
	// bytes of UDP payload, per second); the excess is dropped and
	// counted. 0: no limit. Not SEMS options: Tollgate's.
	MaxPacketRate int `yaml:"rtprelay_max_packet_rate,omitempty"`
	MaxByteRate   int `yaml:"rtprelay_max_byte_rate,omitempty"`
	// DTMFModeALeg and DTMFMode are how the caller's and the gateway's
	// party carry DTMF: rfc4733 (telephone-events in the RTP) or info (SIP
	// INFO, application/dtmf-relay or application/dtmf). One leg rfc4733
	// and the other info has the switch carry the digits across, for a
	// gateway that speaks only one of them; unset, digits cross as they
	// come. Not SEMS options: named after its aleg_ convention.
	DTMFModeALeg string `yaml:"aleg_dtmf_mode,omitempty"`
	DTMFMode     string `yaml:"dtmf_mode,omitempty"`
}

// DTMF modes of a leg (aleg_dtmf_mode, dtmf_mode).
const (
	DTMFAsSent  = ""
	DTMFRFC4733 = "rfc4733"
	DTMFInfo    = "info"
)

// DTMFInterworking is how each leg's party carries DTMF; both DTMFAsSent,
// or one DTMFRFC4733 and the other DTMFInfo.
type DTMFInterworking struct {
	ALeg, BLeg string
}

// Active reports whether the switch carries digits between the legs.
func (d DTMFInterworking) Active() bool { return d.ALeg != DTMFAsSent }

// enable_transcoder values.
const (
	TranscodeNever               = "never"
	TranscodeAlways              = "always"
	TranscodeOnMissingCompatible = "on_missing_compatible"
)

// transcoderCodecs are the codecs Tollgate's relay converts between.
var transcoderCodecs = []string{"PCMU", "PCMA", "G722"}

// compileMedia checks a profile's transcoding and RTP options into p.
func (v *validator) compileMedia(path string, cp *CallProfile, p *Profile) bool {
	ok := true
	m := cp.ProfileMedia
	p.Transcoder = TranscodeNever
	switch m.EnableTranscoder {
	case "", TranscodeNever:
	case TranscodeAlways, TranscodeOnMissingCompatible:
		p.Transcoder = m.EnableTranscoder
	default:
		v.addf(path+".enable_transcoder", "%q: want never, always or on_missing_compatible", m.EnableTranscoder)
		ok = false
	}
	for i, c := range m.TranscoderCodecs {
		name := strings.ToUpper(strings.TrimSpace(c))
		if !slices.Contains(transcoderCodecs, name) {
			v.addf(fmt.Sprintf("%s.transcoder_codecs[%d]", path, i), "%q: the relay transcodes %s", c, strings.Join(transcoderCodecs, ", "))
			ok = false
			continue
		}
		p.TranscoderCodecs = append(p.TranscoderCodecs, name)
	}
	if p.Transcoder != TranscodeNever && len(m.TranscoderCodecs) == 0 {
		v.addf(path+".transcoder_codecs", "enable_transcoder %s needs transcoder_codecs", p.Transcoder)
		ok = false
	}
	if p.Transcoder == TranscodeOnMissingCompatible && len(m.CalleeCodecCaps) == 0 {
		v.addf(path+".callee_codeccaps", "enable_transcoder on_missing_compatible needs callee_codeccaps")
		ok = false
	}
	p.CalleeCodecCaps = m.CalleeCodecCaps
	p.PreferExistingCodecs = m.PreferExistingCodecs == nil || *m.PreferExistingCodecs
	p.PreferExistingCodecsALeg = m.PreferExistingCodecsALeg == nil || *m.PreferExistingCodecsALeg
	p.RTP = RTPOptions{
		DTMFFiltering: m.DTMFFiltering, DTMFDetection: m.DTMFDetection, ForceSymmetric: m.ForceSymmetricRTP, MsgFlags: m.MsgFlagsSymmetricRTP,
		RewriteSSRC:   m.TransparentSSRC != nil && !*m.TransparentSSRC,
		RewriteSeqno:  m.TransparentSeqno != nil && !*m.TransparentSeqno,
		MaxPacketRate: m.MaxPacketRate, MaxByteRate: m.MaxByteRate,
	}
	for _, r := range []struct {
		option string
		n      int
	}{{"rtprelay_max_packet_rate", m.MaxPacketRate}, {"rtprelay_max_byte_rate", m.MaxByteRate}} {
		if r.n < 0 || r.n >= 1<<30 {
			v.addf(path+"."+r.option, "%d: want 0 (no limit) to %d", r.n, 1<<30-1)
			ok = false
		}
	}
	p.DTMF = DTMFInterworking{ALeg: m.DTMFModeALeg, BLeg: m.DTMFMode}
	for _, d := range []struct{ option, mode string }{{"aleg_dtmf_mode", m.DTMFModeALeg}, {"dtmf_mode", m.DTMFMode}} {
		if d.mode != DTMFAsSent && d.mode != DTMFRFC4733 && d.mode != DTMFInfo {
			v.addf(path+"."+d.option, "%q: want rfc4733 or info", d.mode)
			ok = false
		}
	}
	if ok && (m.DTMFModeALeg != DTMFAsSent || m.DTMFMode != DTMFAsSent) && (m.DTMFModeALeg == m.DTMFMode || m.DTMFModeALeg == DTMFAsSent || m.DTMFMode == DTMFAsSent) {
		v.addf(path+".dtmf_mode", "aleg_dtmf_mode %q, dtmf_mode %q: interworking needs one leg rfc4733 and the other info", m.DTMFModeALeg, m.DTMFMode)
		ok = false
	}
	if cp.Media == MediaNone && p.DTMF.Active() {
		v.addf(path+".dtmf_mode", "DTMF interworking needs a media relay, not media none: Tollgate's relay sends and detects the events")
		ok = false
	}
	if cp.Media == MediaNone && (p.Transcoder != TranscodeNever || p.RTP != (RTPOptions{})) {
		v.addf(path+".media", "transcoding and rtprelay_* options need a media relay, not media none")
		ok = false
	}
	return ok
}

// RTPOptions are what a profile asks the relay to do with each party's RTP.
type RTPOptions struct {
	DTMFFiltering  bool // drop RFC 4733 events
	DTMFDetection  bool // report their digits
	ForceSymmetric bool // send only where the party's media comes from
	MsgFlags       bool // ForceSymmetric for the caller when its P-MsgFlags has flag 2
	RewriteSSRC    bool // not transparent: the relay's own SSRC
	RewriteSeqno   bool // not transparent: one continuous count
	MaxPacketRate  int  // per second; 0: none
	MaxByteRate    int
}
