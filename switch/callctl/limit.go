package callctl

import (
	"errors"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/billing"
	"github.com/tollgate/tollgate/config"
)

// limit is SEMS's parallel-calls control: a call whose key (a pattern such
// as "$fu" or "$si") already has max_calls calls up is refused with the
// profile's reply, by default 402 Too Many Simultaneous Calls as in SEMS.
// A call counted is released exactly once when it ends, whatever ends it.
// One module value serves one call.
type limit struct {
	Base
	key   string
	state atomic.Int32 // limitIdle, then limitHeld (counted) and/or limitEnded
	// chosen is a key and maximum a P-CallControl header chose
	// (pcallcontrol.go); nil: the profile's limit.
	chosen *chosenLimit
}

type chosenLimit struct {
	key string
	max int
}

// A call's count moves from idle to held when counted, and to ended when
// the call ends: whichever of Invite and End comes second releases it.
const (
	limitIdle int32 = iota
	limitHeld
	limitEnded
)

func newLimit(p *config.Profile) Module {
	if p.Limit == nil {
		return nil
	}
	return &limit{}
}

// Invite counts the call under its key, or refuses it. A key that expands
// to nothing is a profile that cannot tell whom to count: the call is
// refused 500, as SEMS does, rather than let through uncounted.
func (m *limit) Invite(c *Call, _ *sip.Request) *config.Reply {
	if m.chosen != nil {
		if err := c.Switch.Calls.AcquireKey(m.chosen.key, m.chosen.max); err != nil {
			if r := unchecked(c, m.chosen.key, err); r != nil {
				return r
			}
			c.Log.Info("call over its P-CallControl limit", "key", m.chosen.key, "max_calls", m.chosen.max)
			r := config.DefaultLimitRefusal
			return &r
		}
		return m.held(c, m.chosen.key)
	}
	l := c.Profile.Limit
	key := l.Key.Expand(c.Request)
	if key == "" {
		c.Log.Warn("limit key is empty for this call: refused", "key", l.Key.String())
		return &config.Reply{Code: 500, Reason: "Server Internal Error"}
	}
	if err := c.Switch.Calls.AcquireKey(key, l.MaxCalls); err != nil {
		if r := unchecked(c, key, err); r != nil {
			return r
		}
		c.Log.Info("call over its profile's limit", "key", key, "max_calls", l.MaxCalls)
		return limitRefusal(c, l)
	}
	return m.held(c, key)
}

// unchecked is the reply to a call whose count could not be checked (a
// cluster's limits failing closed while Redis is away): the limiter's 503,
// not the over-the-limit reply, which would tell the caller something
// untrue. nil when the refusal is an over-the-limit one.
func unchecked(c *Call, key string, err error) *config.Reply {
	if r, ok := errors.AsType[*billing.Refusal](err); ok && r.Cause == billing.Unchecked {
		c.Log.Warn("call limit not checked: refused", "key", key, "error", err)
		return &config.Reply{Code: r.Status.Code, Reason: r.Status.Reason}
	}
	return nil
}

// held notes the count taken under key, to be released when the call ends.
func (m *limit) held(c *Call, key string) *config.Reply {
	m.key = key
	// The call may have ended (a CANCEL) while Invite ran: then End found
	// nothing to release, so give the count back here.
	if !m.state.CompareAndSwap(limitIdle, limitHeld) {
		c.Switch.Calls.ReleaseKey(key)
	}
	return nil
}

func (m *limit) End(c *Call) {
	if m.state.Swap(limitEnded) == limitHeld {
		c.Switch.Calls.ReleaseKey(m.key)
	}
}

// limitRefusal is the reply to a call over the limit: the profile's
// refuse_with expanded for this call, else SEMS's 402.
func limitRefusal(c *Call, l *config.ProfileLimit) *config.Reply {
	r := config.DefaultLimitRefusal
	if l.RefuseWith != nil {
		text := l.RefuseWith.Expand(c.Request)
		var err error
		if r, err = config.ParseStatus(text); err != nil {
			c.Log.Warn("limit refuse_with gave no valid status", "value", text, "error", err)
			r = config.Reply{Code: 500, Reason: "Server Internal Error"}
		}
	}
	return &r
}
