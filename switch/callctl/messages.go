package callctl

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// messageFilter is SEMS's message_filter: a request within the dialog,
// from either side, whose method the filter blocks (not on a whitelist, or
// on a blacklist) is answered 405 Method Not Allowed, as SEMS answers it,
// and never reaches the other leg. ACK and BYE are never filtered — the
// switch handles them before this hook — so a call can always be
// acknowledged and ended.
type messageFilter struct {
	Base
	whitelist bool
	methods   map[string]bool // upper case
}

var methodNotAllowed = config.Reply{Code: 405, Reason: "Method Not Allowed"}

func newMessageFilter(p *config.Profile) Module {
	switch p.MessageFilter {
	case config.FilterWhitelist:
		return messageFilter{whitelist: true, methods: p.MessageList}
	case config.FilterBlacklist:
		return messageFilter{methods: p.MessageList}
	}
	return nil
}

func (m messageFilter) Request(c *Call, req *sip.Request, from Side) *config.Reply {
	method := string(req.Method)
	listed := m.methods[method] || m.methods[strings.ToUpper(method)]
	if listed == m.whitelist {
		return nil
	}
	c.Log.Info("request filtered by the profile's message_filter", "method", method, "from_caller", from == Caller)
	r := methodNotAllowed
	r.Allow = m.allow(c.Switch.Allowed)
	return &r
}

// allow is the Allow header value of the 405 (RFC 3261 21.4.6 requires
// it): the switch's methods the filter lets through.
func (m messageFilter) allow(switchAllows string) string {
	var out []string
	for method := range strings.SplitSeq(switchAllows, ", ") {
		if m.methods[method] == m.whitelist || method == "ACK" || method == "BYE" || method == "CANCEL" {
			out = append(out, method)
		}
	}
	return strings.Join(out, ", ")
}
