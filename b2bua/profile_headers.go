package b2bua

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// headersModule is SEMS's header filter and append_headers on the gateway
// leg. The switch builds the gateway INVITE anew, so the filter decides
// which of the caller's headers are copied across: all of them
// (transparent), only the listed ones (whitelist) or all but the listed
// ones (blacklist). Headers that belong to one leg's dialog or transport,
// or to our own authentication, never cross whatever the list says. The
// ACK is never filtered: the switch builds its own ACKs.
type headersModule struct{ baseModule }

func init() {
	registerModule("headers", 30, func(p *config.Profile) callModule {
		if p.HeaderFilter == config.FilterNone && len(p.AppendHeaders) == 0 {
			return nil
		}
		return headersModule{}
	})
}

// legHeaders are per-leg headers (lower case, with compact forms).
var legHeaders = map[string]bool{
	"via": true, "v": true, "from": true, "f": true, "to": true, "t": true,
	"call-id": true, "i": true, "cseq": true, "contact": true, "m": true,
	"route": true, "record-route": true, "max-forwards": true,
	"content-length": true, "l": true, "content-type": true, "c": true,
	"content-disposition": true, "content-language": true,
	"allow": true, "user-agent": true, "server": true,
	"authorization": true, "proxy-authorization": true,
}

func (headersModule) onGatewayInvite(cc *callChain, _ *attemptLeg, inv *sip.Request) {
	p := cc.profile
	if p.HeaderFilter != config.FilterNone {
		cc.call.copyHeaders(p, inv)
	}
	for _, pat := range p.AppendHeaders {
		name, value, _ := strings.Cut(pat.Expand(cc.req), ":")
		if name = strings.TrimSpace(name); name != "" {
			inv.AppendHeader(sip.NewHeader(name, strings.TrimSpace(value)))
		}
	}
}

// copyHeaders copies the caller's headers the filter lets through. Called
// with the call's lock held (inviteA is read).
func (c *Call) copyHeaders(p *config.Profile, inv *sip.Request) {
	if c.inviteA == nil {
		return
	}
	for _, h := range c.inviteA.Headers() {
		if passes(p, h.Name()) {
			inv.AppendHeader(sip.NewHeader(h.Name(), h.Value()))
		}
	}
}

// passes reports whether the filter lets a header of the caller through.
func passes(p *config.Profile, name string) bool {
	n := strings.ToLower(name)
	if legHeaders[n] {
		return false
	}
	switch p.HeaderFilter {
	case config.FilterTransparent:
		return true
	case config.FilterWhitelist:
		return p.HeaderList[n]
	case config.FilterBlacklist:
		return !p.HeaderList[n]
	}
	return false
}
