package callctl

import (
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// callID is SEMS's Call-ID option: the gateway leg's Call-ID from a
// pattern ("$ci_leg2"), so that a call can be followed across the switch
// while debugging. The switch's dialog takes it from the INVITE (chain.go).
// An empty expansion keeps the switch's own Call-ID.
type callID struct{ Base }

func newCallID(p *config.Profile) Module {
	if p.CallIDPattern == nil {
		return nil
	}
	return callID{}
}

func (callID) GatewayInvite(c *Call, g GatewayInvite) {
	if v := c.Profile.CallIDPattern.Expand(c.Request); v != "" {
		cid := sip.CallIDHeader(v)
		g.Out.ReplaceHeader(&cid)
	}
}
