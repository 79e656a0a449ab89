package billing

import "time"

// Credit is one source's limit on a call's length after connect. The zero
// value sets no limit.
type Credit struct {
	Time time.Duration
	Set  bool
}

// Limit is a Credit that sets d.
func Limit(d time.Duration) Credit { return Credit{Time: d, Set: true} }

// GrantCredit decides how long a call may last: the smallest of the RADIUS
// credit (h323-credit-time), the route's credit-time and the configured
// maximum. A grant of 0 (or less) refuses the call; an unset result means
// no limit.
func (l *Limits) GrantCredit(radius, route Credit) (Credit, error) {
	g := Credit{}
	for _, c := range []Credit{radius, route, {l.cfg.MaxCredit, l.cfg.MaxCredit > 0}} {
		if c.Set && (!g.Set || c.Time < g.Time) {
			g = c
		}
	}
	if g.Set && g.Time <= 0 {
		return Credit{Time: 0, Set: true}, l.refuse(NoCredit, "")
	}
	return g, nil
}
