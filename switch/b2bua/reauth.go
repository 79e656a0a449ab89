package b2bua

import (
	"context"
	"time"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/cdr"
)

// reauthState is where a prepaid call stands with mid-call
// re-authorisation: asking the auth server for more credit before its
// grant ends, as Sippy Softswitch's incremental allocation does, so that a
// long call need not be granted a whole balance at setup.
type reauthState int

const (
	reauthIdle    reauthState = iota // not asked yet, or the last grant came
	reauthAsking                     // an Access-Request is out
	reauthRefused                    // rejected or unanswered: the call ends with its grant
	reauthCapped                     // prepaid.max_credit reached: nothing more to ask
)

// callReauth is a call's re-authorisation; guarded by the call's lock.
type callReauth struct {
	state reauthState
	asked int // re-authorisations sent so far
	timer *time.Timer
}

// reauthBefore is how long before its grant ends the call asks for more:
// the RADIUS route's reauth= parameter, else prepaid.reauthorize_before;
// 0 when the call is not one to re-authorise (no RADIUS authorisation or
// no credit limit). Called with the lock held.
func (c *Call) reauthBefore() time.Duration {
	if c.sw.aaa.auth == nil || c.account() == "" || !c.radiusCredit().Set || !c.aaa.credit.Set {
		return 0
	}
	if rr := c.aaa.hopRadius; rr != nil && rr.HasReauth {
		return rr.ReauthBefore
	}
	return c.sw.Config().Prepaid.ReauthorizeBefore
}

// armReauth (re)starts the timer that asks for more credit before the
// current grant ends. Called with the lock held, once connected and
// whenever the credit changes.
func (c *Call) armReauth() {
	if c.aaa.rad == nil {
		return // no RADIUS: nobody to ask
	}
	r := &c.aaa.rad.reauth
	if r.timer != nil {
		r.timer.Stop()
	}
	before := c.reauthBefore()
	if before <= 0 || r.state == reauthRefused || r.state == reauthCapped {
		return
	}
	at := c.connectT.Add(c.aaa.credit.Time - before)
	r.timer = time.AfterFunc(time.Until(at), c.reauthorize)
}

// reauthorize sends the call's next re-authorisation. A grant (a positive
// h323-credit-time) extends the credit by that much and re-arms both
// timers; a reject, an accept granting nothing, or no answer before the
// grant ends leaves the credit timer to end the call, with its own reason.
func (c *Call) reauthorize() {
	c.mu.Lock()
	if !c.answered() || c.aaa.rad.reauth.state != reauthIdle {
		c.mu.Unlock()
		return
	}
	r := &c.aaa.rad.reauth
	r.state, r.asked = reauthAsking, r.asked+1
	req := c.authRequest()
	req.Purpose, req.Account, req.ReauthNumber = aaa.AuthReauthorize, c.account(), r.asked
	req.SessionTime = time.Since(c.connectT)
	grantEnd := c.connectT.Add(c.aaa.credit.Time)
	c.mu.Unlock()

	ctx, cancel := context.WithDeadline(context.Background(), grantEnd)
	grant, err := c.sw.aaa.auth.Authorize(ctx, req)
	cancel()

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over() {
		return
	}
	if err != nil || !grant.HasCreditTime || grant.CreditTime <= 0 {
		r.state = reauthRefused
		c.sw.log.Info("re-authorisation refused: the call ends with its grant", "call", c.ID,
			"reauth", r.asked, "credit", c.aaa.credit.Time, "error", err)
		return
	}
	r.state = reauthIdle
	before := c.aaa.credit.Time
	c.changeCredit(before+grant.CreditTime, c.sw.Config().Prepaid.MaxCredit)
	if c.aaa.credit.Time <= before {
		r.state = reauthCapped
		if r.timer != nil {
			r.timer.Stop()
		}
	}
	c.sw.log.Info("re-authorised: credit extended", "call", c.ID, "reauth", r.asked,
		"granted", grant.CreditTime, "credit", c.aaa.credit.Time)
}

// creditEnd is how the call ends when its credit timer fires: with its
// own reason when more credit was asked for and refused. Called with the
// lock held.
func (c *Call) creditEnd() outcome {
	if r := c.aaa.rad; r != nil && r.reauth.state == reauthRefused {
		return answered(cdr.ReasonCreditNotRenewed)
	}
	return outcomeCreditExpired()
}
