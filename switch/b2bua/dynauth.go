package b2bua

import (
	"slices"
	"time"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/billing"
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
)

// Disconnect ends every call a RADIUS Disconnect-Request selects, on both
// legs, as an administrator's kill does, with its own CDR reason; it
// returns their IDs (none: aaa.ErrNoSession). *Switch is the
// aaa.DynAuthHandler of the RFC 5176 listener.
func (s *Switch) Disconnect(r aaa.DynAuthRequest) ([]string, error) {
	calls := s.selectCalls(r.Selector, anyPhase)
	ids := make([]string, 0, len(calls))
	for _, c := range calls {
		c.kill(cdr.ReasonRadiusDisconnect)
		ids = append(ids, c.ID)
	}
	if len(ids) == 0 {
		return nil, aaa.ErrNoSession
	}
	return ids, nil
}

// Change applies a CoA-Request to every connected call it selects: the
// credit left from now and the Interim-Update interval. Calls still being
// set up have no credit timer yet and are not selected.
func (s *Switch) Change(r aaa.DynAuthRequest) ([]string, error) {
	var ids []string
	acct := s.Config().Radius.Accounting
	maxCredit := s.Config().Prepaid.MaxCredit
	for _, c := range s.selectCalls(r.Selector, connectedOnly) {
		c.mu.Lock()
		if !c.answered() {
			c.mu.Unlock()
			continue
		}
		if ch := r.Change; ch.HasCreditTime {
			c.changeCredit(time.Since(c.connectT)+ch.CreditTime, maxCredit)
		}
		if r.Change.Interim > 0 {
			c.changeInterim(interimWithin(acct, r.Change.Interim))
		}
		c.mu.Unlock()
		s.log.Info("call changed by RADIUS CoA", "call", c.ID, "client", r.Client,
			"credit_left", r.Change.CreditTime, "interim", r.Change.Interim)
		ids = append(ids, c.ID)
	}
	if len(ids) == 0 {
		return nil, aaa.ErrNoSession
	}
	return ids, nil
}

// selection says which calls a dynamic authorisation request may apply to.
type selection int

const (
	anyPhase      selection = iota // a Disconnect ends calls in setup too
	connectedOnly                  // a CoA changes timers that run once connected
)

// selectCalls lists the calls up that sel names, in the phase which allows.
func (s *Switch) selectCalls(sel aaa.SessionSelector, which selection) []*Call {
	if sel.Empty() {
		return nil
	}
	var out []*Call
	s.calls.each(func(c *Call) {
		c.mu.Lock()
		ok := !c.over() && (which == anyPhase || c.answered()) && c.selectedBy(sel)
		c.mu.Unlock()
		if ok {
			out = append(out, c)
		}
	})
	return out
}

// selectedBy reports whether every key sel sets is the call's: the
// incoming Call-ID (Cisco-AVPair call-id), the h323-conf-id, the answer
// leg's User-Name, and the Acct-Session-Id of any of its legs, which is
// the incoming Call-ID or, per leg, the leg's own. Called with the lock
// held.
func (c *Call) selectedBy(sel aaa.SessionSelector) bool {
	if sel.CallID != "" && sel.CallID != c.a.d.callID {
		return false
	}
	if sel.ConfID != "" && sel.ConfID != c.h323ConfID().String() {
		return false
	}
	if sel.UserName != "" && sel.UserName != c.answerLeg().UserName {
		return false
	}
	if id := sel.AcctSessionID; id != "" && id != c.a.d.callID &&
		!slices.ContainsFunc(c.attempts, func(a cdr.Attempt) bool { return a.CallID == id }) {
		return false
	}
	return true
}

// armCredit starts the credit timer for what is left of the call's credit
// after connect. Called with the lock held.
func (c *Call) armCredit(connect time.Time) {
	total := c.aaa.credit.Time
	c.aaa.creditTimer = time.AfterFunc(total-time.Since(connect), func() {
		c.mu.Lock()
		o := c.creditEnd()
		c.mu.Unlock()
		c.sw.log.Info("credit expired: hanging up", "call", c.ID, "credit", total, "reason", o.reason)
		c.end(o)
	})
}

// changeCredit sets a connected call's credit to total (from connect),
// within the switch-wide maximum, and re-arms its timers. Called with the
// lock held.
func (c *Call) changeCredit(total, maxCredit time.Duration) {
	if maxCredit > 0 && total > maxCredit {
		total = maxCredit
	}
	if c.aaa.creditTimer != nil {
		c.aaa.creditTimer.Stop()
	}
	c.aaa.credit = billing.Limit(total)
	c.armCredit(c.connectT)
	c.armReauth()
}

// changeInterim sets a connected call's Interim-Update interval, starting
// the timer when the call had none. Called with the lock held.
func (c *Call) changeInterim(every time.Duration) {
	r := c.aaa.rad
	if r == nil {
		return // no accounting servers: no interim to send
	}
	r.interimEvery = every
	if !r.accounting || every == 0 {
		return
	}
	if r.interimTimer == nil {
		r.interimTimer = time.AfterFunc(every, c.interim)
		return
	}
	r.interimTimer.Reset(every)
}

// interimWithin bounds an interval a server asked for by the configured
// minimum and maximum; 0 (none asked) stays 0.
func interimWithin(acct config.Accounting, asked time.Duration) time.Duration {
	if asked == 0 {
		return 0
	}
	asked = max(asked, acct.InterimMin)
	if acct.InterimMax > 0 {
		asked = min(asked, acct.InterimMax)
	}
	return asked
}
