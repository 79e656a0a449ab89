package b2bua

import "github.com/tollgate/tollgate/config"

// refuseModule is SEMS's refuse_with: every call of the profile is answered
// with the given code and reason, which may be patterns.
type refuseModule struct{ baseModule }

func init() {
	registerModule("refuse_with", 10, func(p *config.Profile) callModule {
		if p.RefuseWith == nil {
			return nil
		}
		return refuseModule{}
	})
}

func (refuseModule) onInvite(cc *callChain) *config.Reply {
	text := cc.profile.RefuseWith.Expand(cc.req)
	r, err := config.ParseStatus(text)
	if err != nil {
		// The pattern compiled but its value is no status line: refuse
		// anyway, as the operator asked, and say why in the log.
		cc.log().Warn("refuse_with gave no valid status", "value", text, "error", err)
		return &config.Reply{Code: 500, Reason: "Server Internal Error"}
	}
	return &r
}
