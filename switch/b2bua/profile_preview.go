package b2bua

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/billing"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/callctl"
)

// Preview is what the switch would do with an INVITE, without traffic:
// the profile chosen and either its refusal or the INVITE to the route's
// first gateway.
type Preview struct {
	Profile string        // "" when no profile applies
	Refusal *config.Reply // the profile refuses the call (refuse_with, codec filter)
	Invite  *sip.Request  // the INVITE to the first gateway
}

// PreviewInvite runs profile selection and the profile's modules on req as
// a call would, and builds the INVITE to the first gateway (the profile's
// next hop, else the static route's) the way Call.try does. It
// consults no RADIUS server and no media relay: numbers RADIUS would
// rewrite stay as received and the SDP is not anchored. req.Source() is
// the address $si and $sp read.
func PreviewInvite(cfg *config.Config, req *sip.Request) (*Preview, error) {
	if req.Method != sip.INVITE {
		return nil, fmt.Errorf("preview: %s is not an INVITE", req.Method)
	}
	if req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil {
		return nil, errors.New("preview: the INVITE needs From, To, Call-ID and CSeq")
	}
	log := slog.New(slog.DiscardHandler)
	// A limiter of its own: a preview counts against no real call's limit.
	lim := billing.NewLimits(billing.Config{})
	s := &Switch{log: log, calls: newCallTable(), aaa: NewAAA(log, AAAOptions{Limits: lim}), draw: rand.IntN}
	s.modules = callctl.Switch{Allowed: allowed, Calls: lim}
	s.cfg.Store(cfg)
	for _, l := range cfg.SIP.Listeners() {
		s.listeners = append(s.listeners, newListener(l))
	}
	if len(s.listeners) == 0 {
		return nil, errors.New("preview: the configuration has no listener")
	}
	c := s.newCall(req, nil, newTag())
	preq := profileRequest(req, c.callerAddrPort(), c.a.d.listener)
	choice := cfg.SelectorChoice(preq)
	route := cfg.Route(c.routeQuery(choice.Name))
	p, err := cfg.ChosenProfile(choice, route)
	if err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	pv := &Preview{}
	if p != nil {
		pv.Profile = p.Name
		c.chain = newChain(c, p, preq)
		defer c.chain.ended() // gives back what onInvite took (a limit's slot)
		if r := c.chain.invite(req); r != nil {
			pv.Refusal = r
			return pv, nil
		}
	}
	var hops []hop
	if route != nil {
		hops = c.routeHops(route)
	}
	if _, hops = c.profileRouting(cfg, route, hops); len(hops) == 0 {
		return pv, fmt.Errorf("preview: no route or next hop with a gateway for %q", c.called)
	}
	gw := hops[0].gw
	l := c.outboundListener(gw, hops[0].local)
	if l == nil {
		return pv, fmt.Errorf("preview: no %s listener for gateway %s", gw.Transport, gw.Address)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b, inv := c.newAttempt(gw, l, req, nil)
	c.chain.gatewayInvite(b, inv)
	pv.Invite = inv
	return pv, nil
}
