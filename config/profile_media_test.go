package config

import (
	"strings"
	"testing"
)

func TestProfileMediaOptions(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(route + `
profiles:
  - name: transcode
    enable_transcoder: on_missing_compatible
    transcoder_codecs: [pcmu, PCMA, G722]
    callee_codeccaps: [PCMU]
    prefer_existing_codecs_aleg: false
    rtprelay_dtmf_filtering: true
    rtprelay_dtmf_detection: true
    rtprelay_force_symmetric_rtp: true
    rtprelay_msgflags_symmetric_rtp: true
    rtprelay_transparent_ssrc: false
    rtprelay_transparent_seqno: true
    rtprelay_max_packet_rate: 60
    rtprelay_max_byte_rate: 16000
  - {name: plain}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Profile("transcode")
	if p.Transcoder != TranscodeOnMissingCompatible || strings.Join(p.TranscoderCodecs, ",") != "PCMU,PCMA,G722" ||
		!p.PreferExistingCodecs || p.PreferExistingCodecsALeg || strings.Join(p.CalleeCodecCaps, ",") != "PCMU" {
		t.Errorf("transcoding: %+v", p)
	}
	want := RTPOptions{DTMFFiltering: true, DTMFDetection: true, ForceSymmetric: true, MsgFlags: true, RewriteSSRC: true, MaxPacketRate: 60, MaxByteRate: 16000}
	if p.RTP != want {
		t.Errorf("RTP options %+v, want %+v", p.RTP, want)
	}
	if q, _ := c.Profile("plain"); q.Transcoder != TranscodeNever || q.RTP != (RTPOptions{}) || !q.PreferExistingCodecs {
		t.Errorf("plain: %+v", q)
	}

	_, err = Parse([]byte(route + `
profiles:
  - name: bad
    enable_transcoder: sometimes
    transcoder_codecs: [opus]
  - name: missing
    enable_transcoder: on_missing_compatible
    rtprelay_max_packet_rate: -1
  - name: none
    media: none
    rtprelay_dtmf_filtering: true
`))
	for _, w := range []string{
		`profiles[0].enable_transcoder: "sometimes"`,
		`profiles[0].transcoder_codecs[0]: "opus": the relay transcodes PCMU, PCMA, G722`,
		`profiles[1].transcoder_codecs: enable_transcoder on_missing_compatible needs transcoder_codecs`,
		`profiles[1].callee_codeccaps: enable_transcoder on_missing_compatible needs callee_codeccaps`,
		`profiles[1].rtprelay_max_packet_rate: -1`,
		`profiles[2].media: transcoding and rtprelay_* options need a media relay`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}

func TestProfileDTMFModes(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(route + `
profiles:
  - {name: iw, aleg_dtmf_mode: info, dtmf_mode: rfc4733}
  - {name: plain}
`))
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := c.Profile("iw"); p.DTMF != (DTMFInterworking{ALeg: DTMFInfo, BLeg: DTMFRFC4733}) || !p.DTMF.Active() {
		t.Errorf("iw: %+v", p.DTMF)
	}
	if p, _ := c.Profile("plain"); p.DTMF.Active() {
		t.Errorf("plain interworks: %+v", p.DTMF)
	}
	_, err = Parse([]byte(route + `
profiles:
  - {name: bad, aleg_dtmf_mode: inband, dtmf_mode: info}
  - {name: same, aleg_dtmf_mode: info, dtmf_mode: info}
  - {name: half, dtmf_mode: rfc4733}
  - {name: none, media: none, aleg_dtmf_mode: rfc4733, dtmf_mode: info}
`))
	for _, w := range []string{
		`profiles[0].aleg_dtmf_mode: "inband": want rfc4733 or info`,
		`profiles[1].dtmf_mode: aleg_dtmf_mode "info", dtmf_mode "info": interworking needs one leg rfc4733 and the other info`,
		`profiles[2].dtmf_mode: aleg_dtmf_mode "", dtmf_mode "rfc4733"`,
		`profiles[3].dtmf_mode: DTMF interworking needs a media relay, not media none`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}
