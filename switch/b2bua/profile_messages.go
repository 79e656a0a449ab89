package b2bua

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// messageModule is SEMS's message_filter: a request within the dialog, from
// either side, whose method the filter blocks (not on a whitelist, or on a
// blacklist) is answered 405 Method Not Allowed, as SEMS answers it, and
// never reaches the other leg. ACK and BYE are never filtered — the switch
// handles them before this hook — so a call can always be acknowledged and
// ended.
type messageModule struct {
	baseModule
	whitelist bool
	methods   map[string]bool // upper case
}

var methodNotAllowed = config.Reply{Code: 405, Reason: "Method Not Allowed"}

func init() {
	registerModule("message_filter", 20, func(p *config.Profile) callModule {
		switch p.MessageFilter {
		case config.FilterWhitelist:
			return messageModule{whitelist: true, methods: p.MessageList}
		case config.FilterBlacklist:
			return messageModule{methods: p.MessageList}
		}
		return nil
	})
}

func (m messageModule) onRequest(cc *callChain, req *sip.Request, fromCaller bool) *config.Reply {
	method := string(req.Method)
	listed := m.methods[method] || m.methods[strings.ToUpper(method)]
	if listed == m.whitelist {
		return nil
	}
	cc.log().Info("request filtered by the profile's message_filter", "method", method, "from_caller", fromCaller)
	r := methodNotAllowed
	r.Allow = m.allow()
	return &r
}

// allow is the Allow header value of the 405 (RFC 3261 21.4.6 requires
// it): the switch's methods the filter lets through.
func (m messageModule) allow() string {
	var out []string
	for method := range strings.SplitSeq(allowed, ", ") {
		if m.methods[method] == m.whitelist || method == "ACK" || method == "BYE" || method == "CANCEL" {
			out = append(out, method)
		}
	}
	return strings.Join(out, ", ")
}
