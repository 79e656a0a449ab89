// Package callctl holds the call-control modules of a call profile, after
// SEMS's call-control modules: each feature (refuse_with, limits, header
// and message filters, rewriting, codecs, anonymisation, reply
// translation, the call timer) is one file, and a profile's modules run at
// fixed hooks of a call in the order of one table (modules.go), as
// CoreDNS's plugin.cfg orders its plugins.
//
// A module sees a narrow view of a call (Call and the hook's arguments),
// never the switch's call or its lock: what it may read is handed to it,
// and what it changes is the message it is given.
package callctl

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/profile"
)

// Side is one leg of a call.
type Side int

const (
	Caller  Side = iota // the A leg, toward who placed the call
	Gateway             // the B leg, toward the gateway
)

// Switch is what every call of one switch shares with its modules.
type Switch struct {
	// Allowed lists the methods the switch accepts within a dialog, as in
	// its Allow header: a filter's 405 advertises those it lets through.
	Allowed string
	// Calls counts the calls up per limit key. As with SEMS's cc_pcalls
	// the count belongs to the switch, not to a profile: every profile
	// whose key gives the same value shares it (each with its own
	// max_calls), and a reload leaves the calls already counted in place.
	Calls KeyLimiter
}

// KeyLimiter counts the calls up per profile limit key: billing.Limits on
// one node, billing.SharedLimits across a cluster (the counts in Redis).
type KeyLimiter interface {
	// AcquireKey counts one more call under key, or refuses it with a
	// *billing.Refusal: over limit, or the count unchecked (cluster
	// limits failing closed while Redis is away).
	AcquireKey(key string, limit int) error
	// ReleaseKey ends one call that AcquireKey counted.
	ReleaseKey(key string)
}

// Call is what a module sees of one call, fixed when the call takes its
// profile. It holds no reference to the switch's call, so hooks can run
// with or without the call's lock and never need it.
type Call struct {
	ID      string
	Profile *config.Profile
	// Request is the caller's INVITE as the profile's patterns read it.
	Request *profile.Request
	Log     *slog.Logger
	Switch  *Switch
	// CallerOrigin is the address the caller's leg shows the world (its
	// listener's), for an anonymised o= line; invalid when unknown.
	CallerOrigin netip.Addr
	// Expire ends the connected call because a module's time ran out (the
	// call timer). It does not wait, and may be called from any goroutine.
	Expire func()
}

// GatewayInvite is the INVITE to one gateway as the switch built it, for
// the modules to shape. The B leg's dialog takes the Request-URI, From and
// To the modules leave, so that later requests in it agree.
type GatewayInvite struct {
	Caller *sip.Request // the caller's INVITE as received: read only
	Out    *sip.Request // the INVITE to the gateway
	// Origin is the address the gateway leg's listener shows the world.
	Origin netip.Addr
}

// Relayed is a request or response the switch relays within the dialog:
// In as received, Out as built for the other leg (its SDP already
// anchored), sent To that leg through a listener showing Origin.
type Relayed struct {
	In, Out sip.Message
	To      Side
	Origin  netip.Addr
}

// Module is one call-control feature of a profile, built per call
// (modules.go). Hooks run in the table's order and must not block.
type Module interface {
	// Invite runs once, when the profile is chosen and before
	// authorisation, with the caller's INVITE; a non-nil reply refuses
	// the call with it.
	Invite(c *Call, inv *sip.Request) *config.Reply
	// GatewayInvite shapes the INVITE to one gateway.
	GatewayInvite(c *Call, g GatewayInvite)
	// FinalReply may change the final failure the caller receives.
	FinalReply(c *Call, code int, reason string) (int, string)
	// Reply shapes a gateway's provisional or 2xx answer to the INVITE
	// (res) as relayed to the caller (out, built by the switch).
	Reply(c *Call, res, out *sip.Response)
	// InDialog shapes a request or response relayed within the dialog:
	// the same filters as at setup.
	InDialog(c *Call, m Relayed)
	// Request may refuse a request within the dialog, coming from one
	// side, before it is relayed to the other; ACK and BYE never reach it.
	Request(c *Call, req *sip.Request, from Side) *config.Reply
	// Connect runs as the call is answered.
	Connect(c *Call)
	// End runs once as the call ends, whatever the cause.
	End(c *Call)
}

// Base gives a module the hooks it does not use.
type Base struct{}

func (Base) Invite(*Call, *sip.Request) *config.Reply          { return nil }
func (Base) GatewayInvite(*Call, GatewayInvite)                {}
func (Base) FinalReply(_ *Call, c int, r string) (int, string) { return c, r }
func (Base) Reply(*Call, *sip.Response, *sip.Response)         {}
func (Base) InDialog(*Call, Relayed)                           {}
func (Base) Request(*Call, *sip.Request, Side) *config.Reply   { return nil }
func (Base) Connect(*Call)                                     {}
func (Base) End(*Call)                                         {}

// Chain is a call's profile modules, run in the table's order.
type Chain struct {
	call    *Call
	modules []Module
}

// New builds the modules c's profile enables. At debug level it logs
// their names, in order: what an operator checks a profile against.
func New(c *Call) *Chain {
	ch := &Chain{call: c}
	var names []string
	debug := c.Log.Enabled(context.Background(), slog.LevelDebug)
	for _, e := range table {
		if m := e.build(c.Profile); m != nil {
			ch.modules = append(ch.modules, m)
			if debug {
				names = append(names, e.name)
			}
		}
	}
	if debug {
		c.Log.Debug("call profile modules", "modules", names)
	}
	return ch
}

// Call is the view the chain's modules see.
func (ch *Chain) Call() *Call { return ch.call }

// Invite runs the modules' Invite until one refuses the call.
func (ch *Chain) Invite(inv *sip.Request) *config.Reply {
	for _, m := range ch.modules {
		if r := m.Invite(ch.call, inv); r != nil {
			return r
		}
	}
	return nil
}

// GatewayInvite lets every module shape the INVITE to a gateway.
func (ch *Chain) GatewayInvite(g GatewayInvite) {
	for _, m := range ch.modules {
		m.GatewayInvite(ch.call, g)
	}
}

// FinalReply is the final failure the caller receives for code and reason.
func (ch *Chain) FinalReply(code int, reason string) (int, string) {
	for _, m := range ch.modules {
		code, reason = m.FinalReply(ch.call, code, reason)
	}
	return code, reason
}

// Reply lets every module shape an answer relayed to the caller.
func (ch *Chain) Reply(res, out *sip.Response) {
	for _, m := range ch.modules {
		m.Reply(ch.call, res, out)
	}
}

// InDialog lets every module shape a message relayed within the dialog.
func (ch *Chain) InDialog(r Relayed) {
	for _, m := range ch.modules {
		m.InDialog(ch.call, r)
	}
}

// Request runs the modules' Request until one refuses req.
func (ch *Chain) Request(req *sip.Request, from Side) *config.Reply {
	for _, m := range ch.modules {
		if r := m.Request(ch.call, req, from); r != nil {
			return r
		}
	}
	return nil
}

// Connected tells every module the call is answered.
func (ch *Chain) Connected() {
	for _, m := range ch.modules {
		m.Connect(ch.call)
	}
}

// Ended tells every module the call has ended.
func (ch *Chain) Ended() {
	for _, m := range ch.modules {
		m.End(ch.call)
	}
}
