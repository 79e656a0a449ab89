package callctl

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// headers is SEMS's header filter and append_headers. The switch builds
// every message of a leg anew, so the filter decides which headers are
// copied across, both ways: the caller's INVITE headers onto the gateway
// INVITE, and the headers of the gateway's provisional and 2xx responses
// onto those relayed to the caller — all of them (transparent), only the
// listed ones (whitelist) or all but the listed ones (blacklist). Headers
// that belong to one leg's dialog, transport or extensions, or to
// authentication, never cross whatever the list says. The ACK is never
// filtered: the switch builds its own ACKs. append_headers applies to the
// gateway INVITE only, as in SEMS.
type headers struct{ Base }

func newHeaders(p *config.Profile) Module {
	if p.HeaderFilter == config.FilterNone && len(p.AppendHeaders) == 0 {
		return nil
	}
	return headers{}
}

// legHeaders are per-leg headers (lower case, with compact forms): the
// dialog and its routing, the body (the switch copies and rewrites it
// itself), what each hop supports and requires (reliable provisionals,
// session timers: Tollgate negotiates those per leg, so a caller's
// "Supported: 100rel" must not let a gateway require PRACKs the switch
// would have to send), every credential or challenge, and P-CallControl,
// which speaks to this switch alone (pcallcontrol.go).
var legHeaders = map[string]bool{
	"via": true, "v": true, "from": true, "f": true, "to": true, "t": true,
	"call-id": true, "i": true, "cseq": true, "contact": true, "m": true,
	"route": true, "record-route": true, "max-forwards": true,
	"content-length": true, "l": true, "content-type": true, "c": true,
	"content-disposition": true, "content-language": true,
	"content-encoding": true, "e": true,
	"allow": true, "user-agent": true, "server": true,
	"supported": true, "k": true, "require": true, "proxy-require": true,
	"unsupported": true, "rseq": true, "rack": true,
	"session-expires": true, "x": true, "min-se": true,
	"authorization": true, "proxy-authorization": true,
	"www-authenticate": true, "proxy-authenticate": true,
	"authentication-info": true, "proxy-authentication-info": true,
	"p-callcontrol": true,
}

func (headers) GatewayInvite(c *Call, g GatewayInvite) {
	p := c.Profile
	if p.HeaderFilter != config.FilterNone && g.Caller != nil {
		for _, h := range g.Caller.Headers() {
			if passes(p, h.Name()) {
				g.Out.AppendHeader(sip.NewHeader(h.Name(), h.Value()))
			}
		}
	}
	for _, pat := range p.AppendHeaders {
		name, value, _ := strings.Cut(pat.Expand(c.Request), ":")
		if name = strings.TrimSpace(name); name != "" {
			g.Out.AppendHeader(sip.NewHeader(name, strings.TrimSpace(value)))
		}
	}
}

// Reply copies the gateway's response headers the filter lets through
// onto the response relayed to the caller.
func (headers) Reply(c *Call, res, out *sip.Response) {
	p := c.Profile
	if p.HeaderFilter == config.FilterNone {
		return
	}
	for _, h := range res.Headers() {
		if passes(p, h.Name()) {
			out.AppendHeader(sip.NewHeader(h.Name(), h.Value()))
		}
	}
}

// InDialog copies the headers the filter lets through of a request or
// response relayed within the dialog, both ways; those the switch relays
// itself (Event, Info-Package...) are on Out already and not added twice.
func (headers) InDialog(c *Call, m Relayed) {
	p := c.Profile
	if p.HeaderFilter == config.FilterNone {
		return
	}
	var hs []sip.Header
	switch in := m.In.(type) {
	case *sip.Request:
		hs = in.Headers()
	case *sip.Response:
		hs = in.Headers()
	}
	// Decide on Out as the switch built it, so that a header In carries
	// twice crosses twice.
	cross := make([]sip.Header, 0, len(hs))
	for _, h := range hs {
		if passes(p, h.Name()) && len(m.Out.GetHeaders(h.Name())) == 0 {
			cross = append(cross, h)
		}
	}
	for _, h := range cross {
		m.Out.AppendHeader(sip.NewHeader(h.Name(), h.Value()))
	}
}

// passes reports whether the filter lets a header cross between legs.
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
