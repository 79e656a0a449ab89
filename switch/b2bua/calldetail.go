package b2bua

import (
	"slices"
	"time"

	"github.com/tollgate/tollgate/cdr"
)

// CallDetail is one call up now as an operator inspects it: where it
// stands, each leg's state and dialog, the timers that bound it, its media
// and the call profile that shaped it. A copy: reading it holds nothing.
type CallDetail struct {
	CallInfo
	Phase string
	// Profile is the call profile that applied ("" when none did).
	Profile  string
	Legs     []LegDetail
	Attempts []cdr.Attempt
	// MaxDuration is the route's max_duration, Credit the prepaid time
	// granted to the answering attempt; 0: none.
	MaxDuration time.Duration
	Credit      time.Duration
}

// LegDetail is one leg of a call.
type LegDetail struct {
	Name   string // caller or gateway
	State  string
	CallID string
	Peer   string // the peer's URI, as in To of our requests
	// SessionInterval is the RFC 4028 session interval agreed on the leg,
	// and Keepalive the in-dialog keepalive interval; 0: none.
	SessionInterval time.Duration
	Keepalive       time.Duration
}

// CallDetail returns the call with id while it is up.
func (s *Switch) CallDetail(id string) (CallDetail, bool) {
	c := s.calls.get(keyID(id))
	if c == nil {
		return CallDetail{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := CallDetail{CallInfo: c.info(), Phase: c.phase.String(), Attempts: slices.Clone(c.attempts)}
	if c.chain != nil && c.chain.profile != nil {
		d.Profile = c.chain.profile.Name
	}
	if c.route != nil {
		d.MaxDuration = c.route.MaxDuration
	}
	if c.aaa.credit.Set {
		d.Credit = c.aaa.credit.Time
	}
	d.Legs = append(d.Legs, c.a.detail("caller"))
	if c.b != nil {
		d.Legs = append(d.Legs, c.b.detail("gateway"))
	}
	return d, true
}

// detail describes the leg. Called with the call's lock held.
func (l *leg) detail(name string) LegDetail {
	return LegDetail{Name: name, State: l.state.String(), CallID: l.d.callID, Peer: string(l.d.remote),
		SessionInterval: l.timers.interval, Keepalive: l.timers.cfg.Keepalive}
}
