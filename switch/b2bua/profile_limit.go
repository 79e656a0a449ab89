package b2bua

import (
	"sync/atomic"

	"github.com/tollgate/tollgate/billing"
	"github.com/tollgate/tollgate/config"
)

// profileCalls counts the calls up per limit key. As with SEMS's cc_pcalls
// the count belongs to the process, not to a profile: every profile whose
// key gives the same value shares it (each with its own max_calls), and a
// reload, which compiles new profiles, leaves the calls already counted in
// place.
var profileCalls billing.Keyed

// limitModule is SEMS's parallel-calls control: a call whose key (a
// pattern such as "$fu" or "$si") already has max_calls calls up is
// refused with the profile's reply, by default 402 Too Many Simultaneous
// Calls as in SEMS. A call counted is released exactly once when it ends,
// whatever ends it. One module value serves one call.
type limitModule struct {
	baseModule
	key   string
	state atomic.Int32 // limitIdle, then limitHeld (counted) and/or limitEnded
}

const (
	limitIdle int32 = iota
	limitHeld
	limitEnded
)

func init() {
	registerModule("limit", 15, func(p *config.Profile) callModule {
		if p.Limit == nil {
			return nil
		}
		return &limitModule{}
	})
}

// onInvite counts the call under its key, or refuses it. A key that
// expands to nothing is a profile that cannot tell whom to count: the call
// is refused 500, as SEMS does, rather than let through uncounted.
func (m *limitModule) onInvite(cc *callChain) *config.Reply {
	l := cc.profile.Limit
	key := l.Key.Expand(cc.req)
	if key == "" {
		cc.log().Warn("limit key is empty for this call: refused", "key", l.Key.String())
		return &config.Reply{Code: 500, Reason: "Server Internal Error"}
	}
	if !profileCalls.Acquire(key, l.MaxCalls) {
		cc.log().Info("call over its profile's limit", "key", key, "max_calls", l.MaxCalls)
		return limitRefusal(cc, l)
	}
	m.key = key
	// The call may have ended (a CANCEL) while onInvite ran: then onEnd
	// found nothing to release, so give the count back here.
	if !m.state.CompareAndSwap(limitIdle, limitHeld) {
		profileCalls.Release(key)
	}
	return nil
}

func (m *limitModule) onEnd(*callChain) {
	if m.state.Swap(limitEnded) == limitHeld {
		profileCalls.Release(m.key)
	}
}

// limitRefusal is the reply to a call over the limit: the profile's
// refuse_with expanded for this call, else SEMS's 402.
func limitRefusal(cc *callChain, l *config.ProfileLimit) *config.Reply {
	r := config.DefaultLimitRefusal
	if l.RefuseWith != nil {
		text := l.RefuseWith.Expand(cc.req)
		var err error
		if r, err = config.ParseStatus(text); err != nil {
			cc.log().Warn("limit refuse_with gave no valid status", "value", text, "error", err)
			r = config.Reply{Code: 500, Reason: "Server Internal Error"}
		}
	}
	return &r
}
