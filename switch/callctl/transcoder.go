package callctl

import (
	"slices"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// transcoder is SEMS's transcoder configuration (enable_transcoder,
// transcoder_codecs, callee_codeccaps, prefer_existing_codecs,
// prefer_existing_codecs_aleg): when the call transcodes, the codecs the
// relay converts are appended to the offer sent to the gateway, so that a
// gateway lacking the caller's codecs can still answer; and when the
// gateway's answer holds none of the caller's codecs, those transcoder
// codecs the caller offered are added to the answer it receives, so that
// the caller has one it can send. The relay does the rest: it knows each
// party's formats (the switch sends them with the streams, media.go) and
// converts what one sends that the other did not list.
type transcoder struct {
	Base
	p *config.Profile

	mu     sync.Mutex
	state  transcoding
	caller []string // the audio codecs of the caller's offer
}

// transcoding is whether a call transcodes, decided at its first gateway
// INVITE from the caller's offer.
type transcoding uint8

const (
	transcodeUndecided transcoding = iota
	transcodeOn
	transcodeOff
)

func newTranscoder(p *config.Profile) Module {
	if p.Transcoder == config.TranscodeNever {
		return nil
	}
	return &transcoder{p: p}
}

// GatewayInvite decides, once per call, whether it transcodes: always, or
// (on_missing_compatible) when none of the caller's audio codecs is in
// callee_codeccaps; then offers the transcoder codecs to the gateway.
func (m *transcoder) GatewayInvite(c *Call, g GatewayInvite) {
	if m.decide(g.Caller) != transcodeOn {
		return
	}
	if err := editSDP(g.Out, add(m.p.TranscoderCodecs, !m.p.PreferExistingCodecs)); err != nil {
		c.Log.Warn("transcoder codecs not added to the gateway offer", "error", err)
	}
}

func (m *transcoder) decide(inv *sip.Request) transcoding {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != transcodeUndecided {
		return m.state
	}
	s, err := sdpOf(inv)
	if s == nil || err != nil {
		m.state = transcodeOff // a late offer: the gateway offers, and its codecs come back as they are
		return m.state
	}
	m.caller = audioCodecs(s)
	m.state = transcodeOn
	if m.p.Transcoder == config.TranscodeOnMissingCompatible && slices.ContainsFunc(m.caller, func(name string) bool {
		return slices.ContainsFunc(m.p.CalleeCodecCaps, func(cap string) bool { return strings.EqualFold(cap, name) })
	}) {
		m.state = transcodeOff
	}
	return m.state
}

// Reply gives the caller, in an answer without any codec it offered, the
// transcoder codecs it did offer.
func (m *transcoder) Reply(c *Call, _, out *sip.Response) {
	m.completeAnswer(c, out)
}

// InDialog adds the transcoder codecs to a re-offer sent to the gateway,
// and completes an answer sent to the caller, as at setup.
func (m *transcoder) InDialog(c *Call, r Relayed) {
	m.mu.Lock()
	on := m.state == transcodeOn
	m.mu.Unlock()
	if !on {
		return
	}
	_, isRequest := r.Out.(*sip.Request)
	switch {
	case r.To == Gateway && isRequest:
		if err := editSDP(r.Out, add(m.p.TranscoderCodecs, !m.p.PreferExistingCodecs)); err != nil {
			c.Log.Warn("transcoder codecs not added to a re-offer", "error", err)
		}
	case r.To == Caller && !isRequest:
		m.completeAnswer(c, r.Out)
	}
}

func (m *transcoder) completeAnswer(c *Call, out sip.Message) {
	m.mu.Lock()
	on, caller := m.state == transcodeOn, m.caller
	m.mu.Unlock()
	if !on {
		return
	}
	var missing []string
	for _, name := range m.p.TranscoderCodecs {
		if slices.ContainsFunc(caller, func(x string) bool { return strings.EqualFold(x, name) }) {
			missing = append(missing, name)
		}
	}
	err := editSDP(out, func(s *sdpedit.SDP) error {
		if slices.ContainsFunc(audioCodecs(s), func(name string) bool {
			return slices.ContainsFunc(caller, func(x string) bool { return strings.EqualFold(x, name) })
		}) {
			return nil // the caller can send one of the answer's codecs
		}
		s.AddCodecs(missing, !m.p.PreferExistingCodecsALeg)
		return nil
	})
	if err != nil {
		c.Log.Warn("transcoder codecs not added to the caller's answer", "error", err)
	}
}

func add(names []string, first bool) func(*sdpedit.SDP) error {
	return func(s *sdpedit.SDP) error {
		s.AddCodecs(names, first)
		return nil
	}
}

// audioCodecs are the codec names of an SDP's audio streams, without
// telephone-event and comfort noise, which are not what a party speaks.
func audioCodecs(s *sdpedit.SDP) []string {
	var out []string
	for i := range s.NumMedia() {
		if !s.Media(i).Anchorable() || !strings.EqualFold(s.Media(i).Type, "audio") {
			continue
		}
		for _, c := range s.Codecs(i) {
			if c.Name != "" && !strings.EqualFold(c.Name, "telephone-event") && !strings.EqualFold(c.Name, "CN") {
				out = append(out, c.Name)
			}
		}
	}
	return out
}
