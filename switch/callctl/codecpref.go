package callctl

import (
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// codecPreference is SEMS's codec_preference and codec_preference_aleg:
// the listed codecs move to the front of the SDP sent to the gateway (its
// offer) and of the SDP sent to the caller (the answer, or a late offer),
// in the listed order; the others keep their order after them. Codecs are
// reordered, never removed: that is the codec filter's job, which runs
// first.
type codecPreference struct {
	Base
	gateway, caller []string
}

func newCodecPreference(p *config.Profile) Module {
	if len(p.CodecPreference) == 0 && len(p.CodecPreferenceALeg) == 0 {
		return nil
	}
	return codecPreference{gateway: p.CodecPreference, caller: p.CodecPreferenceALeg}
}

func (m codecPreference) GatewayInvite(c *Call, g GatewayInvite) {
	if len(m.gateway) > 0 {
		if err := editSDP(g.Out, prefer(m.gateway)); err != nil {
			c.Log.Warn("codec preference not applied to the gateway offer", "error", err)
		}
	}
}

func (m codecPreference) Reply(c *Call, _, out *sip.Response) {
	if len(m.caller) > 0 {
		if err := editSDP(out, prefer(m.caller)); err != nil {
			c.Log.Warn("codec preference not applied to the caller's SDP", "code", out.StatusCode, "error", err)
		}
	}
}

// InDialog orders re-INVITE and UPDATE SDP by the preference of the leg
// it goes to.
func (m codecPreference) InDialog(c *Call, r Relayed) {
	order := m.gateway
	if r.To == Caller {
		order = m.caller
	}
	if len(order) > 0 {
		if err := editSDP(r.Out, prefer(order)); err != nil {
			c.Log.Warn("codec preference not applied to a relayed SDP", "error", err)
		}
	}
}

func prefer(order []string) func(*sdpedit.SDP) error {
	return func(s *sdpedit.SDP) error {
		s.PreferCodecs(order)
		return nil
	}
}
