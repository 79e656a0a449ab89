package b2bua

import (
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/profile"
)

// profileChoice runs the profile selectors once, before the route lookup,
// whose selected_profile criterion reads their choice. It returns the
// profile request it built for them, nil (and no choice) when the config
// has no selectors, so that a call without profiles parses nothing.
func (c *Call) profileChoice(cfg *config.Config) (*profile.Request, config.SelectorChoice) {
	if !cfg.HasProfileSelectors() {
		return nil, config.SelectorChoice{}
	}
	req := c.inviteProfileRequest()
	return req, cfg.SelectorChoice(req)
}

// inviteProfileRequest is the caller's INVITE as profile patterns read it.
func (c *Call) inviteProfileRequest() *profile.Request {
	c.mu.Lock()
	inA, l := c.inviteA, c.a.d.listener
	c.mu.Unlock()
	return profileRequest(inA, c.callerAddrPort(), l)
}

// selectProfile picks the call's profile and runs its modules' onInvite.
// It answers the caller itself and returns false when the call must not go
// on: a selector naming an unknown profile (500, as SEMS does) or a module
// refusing the call. route is the call's route from the table, whose
// profile applies when no selector picks one; req and choice are what
// profileChoice gave, so the selectors are not run a second time.
func (c *Call) selectProfile(cfg *config.Config, route *config.Route, req *profile.Request, choice config.SelectorChoice) bool {
	if !cfg.MayUseProfile(route) {
		return true
	}
	if req == nil { // no selectors: only the route's fallback profile
		req = c.inviteProfileRequest()
	}
	c.mu.Lock()
	inA := c.inviteA
	c.mu.Unlock()
	p, err := cfg.ChosenProfile(choice, route)
	if err != nil {
		c.sw.log.Warn("no call profile", "call", c.ID, "error", err)
		c.failA(500, "Server Internal Error", cdr.ReasonRejected, cdr.ReleasedBySwitch)
		return false
	}
	if p == nil {
		return true
	}
	cc := newChain(c, p, req)
	cc.msgFlags = readMsgFlags(p, inA)
	c.mu.Lock()
	c.chain = cc
	c.a.d.auth = c.callerCredentials()
	c.a.d.contact = cc.legContact(c.a.d.listener, false)
	if r := c.aaa.rad; r != nil {
		r.accounting = r.accounting && c.accountingAllowed()
	}
	c.mu.Unlock()
	if r := cc.invite(inA); r != nil {
		c.failA(r.Code, r.Reason, cdr.ReasonRejected, cdr.ReleasedBySwitch)
		return false
	}
	return true
}
