package callctl

import (
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// refuse is SEMS's refuse_with: every call of the profile is answered
// with the given code and reason, which may be patterns.
type refuse struct{ Base }

func newRefuse(p *config.Profile) Module {
	if p.RefuseWith == nil {
		return nil
	}
	return refuse{}
}

func (refuse) Invite(c *Call, _ *sip.Request) *config.Reply {
	text := c.Profile.RefuseWith.Expand(c.Request)
	r, err := config.ParseStatus(text)
	if err != nil {
		// The pattern compiled but its value is no status line: refuse
		// anyway, as the operator asked, and say why in the log.
		c.Log.Warn("refuse_with gave no valid status", "value", text, "error", err)
		return &config.Reply{Code: 500, Reason: "Server Internal Error"}
	}
	return &r
}
