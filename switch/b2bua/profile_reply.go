package b2bua

import "github.com/tollgate/tollgate/config"

// replyModule is SEMS's reply_translate: a gateway's final failure is
// answered to the caller with another code and reason.
type replyModule struct{ baseModule }

func init() {
	registerModule("reply_translate", 50, func(p *config.Profile) callModule {
		if len(p.Replies) == 0 {
			return nil
		}
		return replyModule{}
	})
}

func (replyModule) onFinalReply(cc *callChain, code int, reason string) (int, string) {
	if r, ok := cc.profile.Replies[code]; ok {
		return r.Code, r.Reason
	}
	return code, reason
}
