package b2bua

import (
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
)

// selectProfile picks the call's profile and runs its modules' onInvite.
// It answers the caller itself and returns false when the call must not go
// on: a selector naming an unknown profile (500, as SEMS does) or a module
// refusing the call. route is the call's route from the table, whose
// profile applies when no selector picks one.
func (c *Call) selectProfile(cfg *config.Config, route *config.Route) bool {
	if !cfg.MayUseProfile(route) {
		return true
	}
	c.mu.Lock()
	inA, l := c.inviteA, c.a.d.listener
	c.mu.Unlock()
	req := profileRequest(inA, c.callerAddrPort(), l)
	p, err := cfg.SelectProfile(req, route)
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
	c.aaa.accounting = c.aaa.accounting && c.accountingAllowed()
	c.mu.Unlock()
	if r := cc.invite(inA); r != nil {
		c.failA(r.Code, r.Reason, cdr.ReasonRejected, cdr.ReleasedBySwitch)
		return false
	}
	return true
}
