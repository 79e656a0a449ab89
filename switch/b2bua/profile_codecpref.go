package b2bua

import (
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// codecPrefModule is SEMS's codec_preference and codec_preference_aleg:
// the listed codecs move to the front of the SDP sent to the gateway (its
// offer) and of the SDP sent to the caller (the answer, or a late offer),
// in the listed order; the others keep their order after them. Codecs are
// reordered, never removed: that is the codec filter's job, which runs
// first.
type codecPrefModule struct {
	baseModule
	gateway, caller []string
}

func init() {
	registerModule("codec_preference", 41, func(p *config.Profile) callModule {
		if len(p.CodecPreference) == 0 && len(p.CodecPreferenceALeg) == 0 {
			return nil
		}
		return codecPrefModule{gateway: p.CodecPreference, caller: p.CodecPreferenceALeg}
	})
}

func (m codecPrefModule) onGatewayInvite(cc *callChain, _ *attemptLeg, inv *sip.Request) {
	if len(m.gateway) > 0 {
		if err := editSDP(inv, prefer(m.gateway)); err != nil {
			cc.log().Warn("codec preference not applied to the gateway offer", "error", err)
		}
	}
}

func (m codecPrefModule) onReply(cc *callChain, _, out *sip.Response) {
	if len(m.caller) > 0 {
		if err := editSDP(out, prefer(m.caller)); err != nil {
			cc.log().Warn("codec preference not applied to the caller's SDP", "code", out.StatusCode, "error", err)
		}
	}
}

// onInDialog orders re-INVITE and UPDATE SDP by the preference of the leg
// it goes to.
func (m codecPrefModule) onInDialog(cc *callChain, _, out sip.Message, toCaller bool) {
	order := m.gateway
	if toCaller {
		order = m.caller
	}
	if len(order) > 0 {
		if err := editSDP(out, prefer(order)); err != nil {
			cc.log().Warn("codec preference not applied to a relayed SDP", "error", err)
		}
	}
}

func prefer(order []string) func(*sdpedit.SDP) error {
	return func(s *sdpedit.SDP) error {
		s.PreferCodecs(order)
		return nil
	}
}
