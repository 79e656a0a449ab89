package callctl

import "github.com/tollgate/tollgate/config"

// replyTranslate is SEMS's reply_translate: a gateway's final failure is
// answered to the caller with another code and reason.
type replyTranslate struct{ Base }

func newReplyTranslate(p *config.Profile) Module {
	if len(p.Replies) == 0 {
		return nil
	}
	return replyTranslate{}
}

func (replyTranslate) FinalReply(c *Call, code int, reason string) (int, string) {
	if r, ok := c.Profile.Replies[code]; ok {
		return r.Code, r.Reason
	}
	return code, reason
}
