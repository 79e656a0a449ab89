package b2bua

import (
	"log/slog"
	"net/netip"
	"sort"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/profile"
)

// callModule is one call-control feature of a call profile, after SEMS's
// call-control modules and CoreDNS's plugins: each feature is one file that
// registers a constructor, and the call runs the hooks of the modules its
// profile enables. Hooks other than onInvite run with the call's lock held
// and must not block.
type callModule interface {
	// onInvite runs once, when the profile is chosen and before
	// authorisation; a non-nil reply refuses the call with it.
	onInvite(cc *callChain) *config.Reply
	// onGatewayInvite shapes the INVITE to one gateway (and the B leg's
	// dialog, so that later requests in it agree).
	onGatewayInvite(cc *callChain, b *attemptLeg, inv *sip.Request)
	// onFinalReply may change the final failure the caller receives.
	onFinalReply(cc *callChain, code int, reason string) (int, string)
	// onReply shapes a gateway's provisional or 2xx answer to the INVITE
	// (res) as relayed to the caller (out, built by the switch). It runs
	// without the call's lock.
	onReply(cc *callChain, res, out *sip.Response)
	// onInDialog shapes a request or response the switch relays within
	// the dialog (in, as received; out, as built for the other leg, its
	// SDP already anchored): the same filters as at setup, toward the
	// caller when toCaller. It runs without the call's lock.
	onInDialog(cc *callChain, in, out sip.Message, toCaller bool)
	// onRequest may refuse a request within the dialog before it is
	// relayed to the other leg (fromCaller tells its direction); ACK and
	// BYE never reach it. It runs with the call's lock held.
	onRequest(cc *callChain, req *sip.Request, fromCaller bool) *config.Reply
	// onConnect runs as the call is answered.
	onConnect(cc *callChain)
	// onEnd runs once as the call ends, whatever the cause.
	onEnd(cc *callChain)
}

// baseModule gives a module the hooks it does not use.
type baseModule struct{}

func (baseModule) onInvite(*callChain) *config.Reply                        { return nil }
func (baseModule) onGatewayInvite(*callChain, *attemptLeg, *sip.Request)    {}
func (baseModule) onFinalReply(_ *callChain, c int, r string) (int, string) { return c, r }
func (baseModule) onReply(*callChain, *sip.Response, *sip.Response)         {}
func (baseModule) onRequest(*callChain, *sip.Request, bool) *config.Reply   { return nil }
func (baseModule) onInDialog(*callChain, sip.Message, sip.Message, bool)    {}
func (baseModule) onConnect(*callChain)                                     {}
func (baseModule) onEnd(*callChain)                                         {}

// moduleFactory builds a profile's module, or returns nil when the profile
// does not use the feature.
type moduleFactory struct {
	name  string
	order int // lower runs first: refusals before rewriting
	build func(p *config.Profile) callModule
}

var moduleFactories []moduleFactory

// registerModule adds a feature; each module file calls it from init.
func registerModule(name string, order int, build func(p *config.Profile) callModule) {
	moduleFactories = append(moduleFactories, moduleFactory{name: name, order: order, build: build})
	sort.SliceStable(moduleFactories, func(i, j int) bool { return moduleFactories[i].order < moduleFactories[j].order })
}

// callChain is the profile of one call and its modules, with the parsed
// caller's INVITE the profile's patterns read.
type callChain struct {
	call    *Call
	profile *config.Profile
	req     *profile.Request
	modules []callModule
}

func newChain(c *Call, p *config.Profile, req *profile.Request) *callChain {
	cc := &callChain{call: c, profile: p, req: req}
	for _, f := range moduleFactories {
		if m := f.build(p); m != nil {
			cc.modules = append(cc.modules, m)
		}
	}
	return cc
}

func (cc *callChain) log() *slog.Logger {
	return cc.call.sw.log.With("call", cc.call.ID, "profile", cc.profile.Name)
}

// The hooks below are called by the switch; a nil chain (no profile) does
// nothing.

func (cc *callChain) invite() *config.Reply {
	if cc == nil {
		return nil
	}
	for _, m := range cc.modules {
		if r := m.onInvite(cc); r != nil {
			return r
		}
	}
	return nil
}

func (cc *callChain) gatewayInvite(b *attemptLeg, inv *sip.Request) {
	if cc == nil {
		return
	}
	for _, m := range cc.modules {
		m.onGatewayInvite(cc, b, inv)
	}
}

func (cc *callChain) finalReply(code int, reason string) (int, string) {
	if cc == nil {
		return code, reason
	}
	for _, m := range cc.modules {
		code, reason = m.onFinalReply(cc, code, reason)
	}
	return code, reason
}

func (cc *callChain) reply(res, out *sip.Response) {
	if cc == nil {
		return
	}
	for _, m := range cc.modules {
		m.onReply(cc, res, out)
	}
}

func (cc *callChain) inDialog(in, out sip.Message, toCaller bool) {
	if cc == nil {
		return
	}
	for _, m := range cc.modules {
		m.onInDialog(cc, in, out, toCaller)
	}
}

func (cc *callChain) request(req *sip.Request, fromCaller bool) *config.Reply {
	if cc == nil {
		return nil
	}
	for _, m := range cc.modules {
		if r := m.onRequest(cc, req, fromCaller); r != nil {
			return r
		}
	}
	return nil
}

func (cc *callChain) connected() {
	if cc == nil {
		return
	}
	for _, m := range cc.modules {
		m.onConnect(cc)
	}
}

func (cc *callChain) ended() {
	if cc == nil {
		return
	}
	for _, m := range cc.modules {
		m.onEnd(cc)
	}
}

// profileRequest is what the profile's patterns read of the caller's INVITE.
func profileRequest(req *sip.Request, l *listener) *profile.Request {
	var local profile.Local
	if l != nil {
		if ip, ok := netip.AddrFromSlice(l.ip); ok {
			local.Addr = netip.AddrPortFrom(ip.Unmap(), uint16(l.port))
		}
		local.InterfaceName, local.PublicIP = "default", l.host
	}
	return profile.FromSIP(req, local)
}
