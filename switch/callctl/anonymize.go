package callctl

import (
	"net/netip"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// anonymize is SEMS's sdp_anonymize, both ways: the SDP the gateway
// receives and the SDP the caller receives say nothing of who wrote them.
// The o= line gets username "-" and the address of the listener the
// message leaves by, s= becomes "-", and the u=, e=, p= and i= lines go.
// It runs after the codec modules, on the body as it will be sent.
type anonymize struct{ Base }

func newAnonymize(p *config.Profile) Module {
	if !p.SDPAnonymize {
		return nil
	}
	return anonymize{}
}

func (anonymize) GatewayInvite(c *Call, g GatewayInvite) {
	if err := anonymizeSDP(g.Out, g.Origin); err != nil {
		c.Log.Warn("gateway offer not anonymised", "error", err)
	}
}

func (anonymize) Reply(c *Call, _, out *sip.Response) {
	if err := anonymizeSDP(out, c.CallerOrigin); err != nil {
		c.Log.Warn("SDP to the caller not anonymised", "code", out.StatusCode, "error", err)
	}
}

// InDialog anonymises re-INVITE and UPDATE SDP both ways: a later offer
// must not give away what the first one hid.
func (anonymize) InDialog(c *Call, r Relayed) {
	if err := anonymizeSDP(r.Out, r.Origin); err != nil {
		c.Log.Warn("relayed SDP not anonymised", "error", err)
	}
}

func anonymizeSDP(msg sip.Message, origin netip.Addr) error {
	return editSDP(msg, func(s *sdpedit.SDP) error {
		s.Anonymize(sdpedit.Anonymization{Addr: origin})
		return nil
	})
}
