package callctl

import (
	"sync/atomic"

	"github.com/emiago/sipgo/sip"

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
		if !c.Switch.Calls.Acquire(m.chosen.key, m.chosen.max) {
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
	if !c.Switch.Calls.Acquire(key, l.MaxCalls) {
		c.Log.Info("call over its profile's limit", "key", key, "max_calls", l.MaxCalls)
		return limitRefusal(c, l)
	}
	return m.held(c, key)
}

// held notes the count taken under key, to be released when the call ends.
func (m *limit) held(c *Call, key string) *config.Reply {
	m.key = key
	// The call may have ended (a CANCEL) while Invite ran: then End found
	// nothing to release, so give the count back here.
	if !m.state.CompareAndSwap(limitIdle, limitHeld) {
		c.Switch.Calls.Release(key)
	}
	return nil
}

func (m *limit) End(c *Call) {
	if m.state.Swap(limitEnded) == limitHeld {
		c.Switch.Calls.Release(m.key)
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
