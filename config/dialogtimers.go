package config

import (
	"fmt"
	"time"
)

// DialogTimers are the timers kept per leg of a connected call: RFC 4028
// session timers, under SEMS's option names (the plain ones for the
// gateway leg, the aleg_ ones for the caller's), and in-dialog keepalives,
// under Sippy B2BUA's (keepalive_ans for the caller's leg, the one the
// switch answers; keepalive_orig for the gateway's, the one it
// originates). They are set globally (dialog_timers:) or in a profile,
// option by option: a profile's value wins, an unset one is the global
// value, else the default.
type DialogTimers struct {
	EnableSessionTimer     *bool   `yaml:"enable_session_timer,omitempty"`
	EnableALegSessionTimer *bool   `yaml:"enable_aleg_session_timer,omitempty"`
	SessionExpires         *int    `yaml:"session_expires,omitempty"` // seconds
	MinimumTimer           *int    `yaml:"minimum_timer,omitempty"`   // seconds: our Min-SE
	MaximumTimer           *int    `yaml:"maximum_timer,omitempty"`   // seconds; 0: no maximum
	SessionRefreshMethod   *string `yaml:"session_refresh_method,omitempty"`
	Accept501Reply         *bool   `yaml:"accept_501_reply,omitempty"`
	// The caller's leg; each unset one takes its gateway-leg value, as
	// SEMS's do.
	ALegSessionExpires       *int    `yaml:"aleg_session_expires,omitempty"`
	ALegMinimumTimer         *int    `yaml:"aleg_minimum_timer,omitempty"`
	ALegMaximumTimer         *int    `yaml:"aleg_maximum_timer,omitempty"`
	ALegSessionRefreshMethod *string `yaml:"aleg_session_refresh_method,omitempty"`
	ALegAccept501Reply       *bool   `yaml:"aleg_accept_501_reply,omitempty"`

	KeepaliveAns    *int    `yaml:"keepalive_ans,omitempty"`  // seconds; 0: none
	KeepaliveOrig   *int    `yaml:"keepalive_orig,omitempty"` // seconds; 0: none
	KeepaliveMethod *string `yaml:"keepalive_method,omitempty"`
}

// Session refresh methods (SEMS's session_refresh_method): UPDATE when the
// peer allows it else re-INVITE, UPDATE only, or re-INVITE only.
const (
	RefreshUpdateFallbackInvite = "UPDATE_FALLBACK_INVITE"
	RefreshUpdate               = "UPDATE"
	RefreshInvite               = "INVITE"
)

// Keepalive methods: an in-dialog OPTIONS, or a re-INVITE with the media
// the leg last agreed to (for peers that answer OPTIONS without looking at
// the dialog).
const (
	KeepaliveOptions = "OPTIONS"
	KeepaliveInvite  = "INVITE"
)

// Defaults as SEMS's: RFC 4028 recommends 1800 s, and forbids a Min-SE
// below 90 s on the wire; a lower minimum_timer is accepted for tests.
const (
	defaultSessionExpires = 1800
	defaultMinimumTimer   = 90
)

// LegTimers are the resolved timers of one leg of a call.
type LegTimers struct {
	// SessionTimer: the switch negotiates a session interval on the leg,
	// refreshes it where it is the refresher, and ends the call when the
	// peer's refresh does not come.
	SessionTimer   bool
	SessionExpires time.Duration
	MinSE          time.Duration
	MaxSE          time.Duration // 0: none
	RefreshMethod  string
	Accept501      bool
	// Keepalive is the interval of in-dialog keepalives; 0: none.
	Keepalive       time.Duration
	KeepaliveMethod string
}

// Active reports whether the leg has any timer of its own.
func (t LegTimers) Active() bool { return t.SessionTimer || t.Keepalive > 0 }

// LegTimers returns the timers of a call's caller leg (a) and gateway leg
// (b) under profile p (nil: none).
func (c *Config) LegTimers(p *Profile) (a, b LegTimers) {
	var pt *DialogTimers
	if p != nil {
		pt = &p.DialogTimers
	}
	g := &c.DialogTimers
	pickB := func(f func(*DialogTimers) *bool) bool {
		if pt != nil && f(pt) != nil {
			return *f(pt)
		}
		if v := f(g); v != nil {
			return *v
		}
		return false
	}
	pickI := func(f func(*DialogTimers) *int) (int, bool) {
		if pt != nil && f(pt) != nil {
			return *f(pt), true
		}
		if v := f(g); v != nil {
			return *v, true
		}
		return 0, false
	}
	pickS := func(f func(*DialogTimers) *string) (string, bool) {
		if pt != nil && f(pt) != nil {
			return *f(pt), true
		}
		if v := f(g); v != nil {
			return *v, true
		}
		return "", false
	}
	secs := func(own, fallback func(*DialogTimers) *int, def int) time.Duration {
		if v, ok := pickI(own); ok {
			return time.Duration(v) * time.Second
		}
		if fallback != nil {
			if v, ok := pickI(fallback); ok {
				return time.Duration(v) * time.Second
			}
		}
		return time.Duration(def) * time.Second
	}
	str := func(own, fallback func(*DialogTimers) *string, def string) string {
		if v, ok := pickS(own); ok {
			return v
		}
		if fallback != nil {
			if v, ok := pickS(fallback); ok {
				return v
			}
		}
		return def
	}
	flag := func(own, fallback func(*DialogTimers) *bool, def bool) bool {
		if (pt != nil && own(pt) != nil) || own(g) != nil {
			return pickB(own)
		}
		if (pt != nil && fallback(pt) != nil) || fallback(g) != nil {
			return pickB(fallback)
		}
		return def
	}
	se := func(d *DialogTimers) *int { return d.SessionExpires }
	minSE := func(d *DialogTimers) *int { return d.MinimumTimer }
	maxSE := func(d *DialogTimers) *int { return d.MaximumTimer }
	method := func(d *DialogTimers) *string { return d.SessionRefreshMethod }
	a501 := func(d *DialogTimers) *bool { return d.Accept501Reply }
	b = LegTimers{
		SessionTimer:    pickB(func(d *DialogTimers) *bool { return d.EnableSessionTimer }),
		SessionExpires:  secs(se, nil, defaultSessionExpires),
		MinSE:           secs(minSE, nil, defaultMinimumTimer),
		MaxSE:           secs(maxSE, nil, 0),
		RefreshMethod:   str(method, nil, RefreshUpdateFallbackInvite),
		Accept501:       flag(a501, a501, true),
		Keepalive:       secs(func(d *DialogTimers) *int { return d.KeepaliveOrig }, nil, 0),
		KeepaliveMethod: str(func(d *DialogTimers) *string { return d.KeepaliveMethod }, nil, KeepaliveOptions),
	}
	a = LegTimers{
		SessionTimer:    pickB(func(d *DialogTimers) *bool { return d.EnableALegSessionTimer }),
		SessionExpires:  secs(func(d *DialogTimers) *int { return d.ALegSessionExpires }, se, defaultSessionExpires),
		MinSE:           secs(func(d *DialogTimers) *int { return d.ALegMinimumTimer }, minSE, defaultMinimumTimer),
		MaxSE:           secs(func(d *DialogTimers) *int { return d.ALegMaximumTimer }, maxSE, 0),
		RefreshMethod:   str(func(d *DialogTimers) *string { return d.ALegSessionRefreshMethod }, method, RefreshUpdateFallbackInvite),
		Accept501:       flag(func(d *DialogTimers) *bool { return d.ALegAccept501Reply }, a501, true),
		Keepalive:       secs(func(d *DialogTimers) *int { return d.KeepaliveAns }, nil, 0),
		KeepaliveMethod: b.KeepaliveMethod,
	}
	return a, b
}

// validateDialogTimers checks one set of dialog timer options at path.
func (v *validator) validateDialogTimers(path string, d *DialogTimers) {
	at := func(option string) string {
		if path == "" {
			return option
		}
		return path + "." + option
	}
	for _, o := range []struct {
		name string
		v    *int
	}{
		{"session_expires", d.SessionExpires}, {"aleg_session_expires", d.ALegSessionExpires},
		{"minimum_timer", d.MinimumTimer}, {"aleg_minimum_timer", d.ALegMinimumTimer},
	} {
		if o.v != nil && *o.v < 1 {
			v.addf(at(o.name), "%d: want a number of seconds, at least 1", *o.v)
		}
	}
	for _, o := range []struct {
		name string
		v    *int
	}{
		{"maximum_timer", d.MaximumTimer}, {"aleg_maximum_timer", d.ALegMaximumTimer},
		{"keepalive_ans", d.KeepaliveAns}, {"keepalive_orig", d.KeepaliveOrig},
	} {
		if o.v != nil && *o.v < 0 {
			v.addf(at(o.name), "%d: want a number of seconds, 0 for none", *o.v)
		}
	}
	for _, o := range []struct {
		name string
		v    *string
	}{{"session_refresh_method", d.SessionRefreshMethod}, {"aleg_session_refresh_method", d.ALegSessionRefreshMethod}} {
		if o.v == nil {
			continue
		}
		switch *o.v {
		case RefreshUpdateFallbackInvite, RefreshUpdate, RefreshInvite:
		default:
			v.addf(at(o.name), "%q: want UPDATE_FALLBACK_INVITE, UPDATE or INVITE", *o.v)
		}
	}
	if m := d.KeepaliveMethod; m != nil && *m != KeepaliveOptions && *m != KeepaliveInvite {
		v.addf(at("keepalive_method"), "%q: want OPTIONS or INVITE", *m)
	}
}

// checkLegTimers checks the timers a call would get, once global and
// profile values are combined: a session interval below the leg's own
// floor, or above its ceiling, could never be negotiated.
func (v *validator) checkLegTimers(path string, legs ...LegTimers) {
	for i, t := range legs {
		if !t.SessionTimer {
			continue
		}
		prefix := ""
		if i == 0 {
			prefix = "aleg_"
		}
		if t.SessionExpires < t.MinSE {
			v.addf(path, "%ssession_expires %v is below %sminimum_timer %v", prefix, t.SessionExpires, prefix, t.MinSE)
		}
		if t.MaxSE > 0 && t.SessionExpires > t.MaxSE {
			v.addf(path, "%ssession_expires %v is above %smaximum_timer %v", prefix, t.SessionExpires, prefix, t.MaxSE)
		}
	}
}

// validateAllDialogTimers checks the global options and every profile's.
func (v *validator) validateAllDialogTimers(c *Config) {
	v.validateDialogTimers("dialog_timers", &c.DialogTimers)
	c.legA, c.legB = c.LegTimers(nil)
	v.checkLegTimers("dialog_timers", c.legA, c.legB)
	for i := range c.Profiles {
		path := fmt.Sprintf("profiles[%d]", i)
		v.validateDialogTimers(path, &c.Profiles[i].DialogTimers)
	}
	for _, p := range c.byName {
		p.legA, p.legB = c.LegTimers(p)
		v.checkLegTimers(p.Origin, p.legA, p.legB)
	}
}

// CallLegTimers are the timers of the caller's leg (a) and the gateway's
// (b) of a call under profile p (nil: none), resolved when the file was
// loaded so that a call pays nothing to learn them. They are shared by
// every call under p and must not be changed: a held call keeps the
// pointers, not a copy of its own.
func (c *Config) CallLegTimers(p *Profile) (a, b *LegTimers) {
	if p != nil {
		return &p.legA, &p.legB
	}
	return &c.legA, &c.legB
}
