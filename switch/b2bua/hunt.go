package b2bua

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"
)

// errGroupTimeout cancels an attempt whose route group ran out of time.
var errGroupTimeout = errors.New("route group timeout")

// hunt tries the hops in order until one answers, the caller gives up or
// the hunt must stop: a hunt-stop code, a relay that refuses, or a RADIUS
// route with forward_on_fail (Sippy's meaning: that route's failure goes to
// the caller, no further route is tried). end is the answered or cancelled
// attempt; otherwise best is the failure the caller should hear, the last
// one a gateway sent rather than one our timers made up.
func (c *Call) hunt(ctx context.Context, hops []hop) (end, best *attemptResult) {
	var last *attemptResult
	var g routeGroup
	defer g.stop()
	followed := 0 // redirect targets added to the hunt
	for i := 0; i < len(hops); i++ {
		h := hops[i]
		r := c.attempt(g.enter(ctx, i, h, len(hops)), h)
		if r.kind != attemptFailed {
			return r, nil
		}
		last = r
		if r.real {
			best = r
		}
		if more := c.redirectHops(h, r, &followed); len(more) > 0 {
			hops = slices.Insert(slices.Clone(hops), i+1, more...)
			g.grow(i, len(more))
			continue
		}
		if h.route.StopsHunt(r.code) || r.stop || (h.radius != nil && h.radius.ForwardOnFail) || g.last.Load() ||
			c.stopsOnRedirect(r) {
			break
		}
		if next, ok := g.timedOut(); ok {
			i = next - 1
		}
	}
	if best == nil {
		best = last
	}
	if best.code == 401 || best.code == 407 {
		// A challenge we could not answer is ours to fail: relayed, it
		// would ask the caller for credentials it has no way to give the
		// gateway (nothing of its authentication crosses the switch).
		best = &attemptResult{code: 403, reason: "Forbidden", real: true}
	}
	return nil, best
}

// routeGroup is Sippy's gt=<timeout>,<skip> route parameter: the route
// carrying it and the skip-1 routes after it share one timer. When it runs
// out before an answer, the current attempt is abandoned and the hunt goes
// on with the first route after the group; when no route follows the
// group, the current attempt may go on but is the last.
type routeGroup struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	end    int         // index of the first hop after the group
	last   atomic.Bool // the last group timed out: no hop after this attempt
}

// enter returns the context of the attempt at hop i, opening a group when
// the hop starts one and closing the group the hunt has left.
func (g *routeGroup) enter(parent context.Context, i int, h hop, n int) context.Context {
	if g.cancel != nil && i >= g.end {
		g.stop()
	}
	if g.cancel == nil && h.radius != nil && h.radius.GroupTimeout > 0 {
		g.end = i + max(h.radius.GroupSkip, 1)
		g.ctx, g.cancel = context.WithCancelCause(parent)
		if g.end >= n {
			g.timer = time.AfterFunc(h.radius.GroupTimeout, func() { g.last.Store(true) })
		} else {
			cancel := g.cancel
			g.timer = time.AfterFunc(h.radius.GroupTimeout, func() { cancel(errGroupTimeout) })
		}
	}
	if g.cancel == nil {
		return parent
	}
	return g.ctx
}

// grow keeps the group over the hops a redirect inserted after hop i:
// targets of a gateway in the group belong to it.
func (g *routeGroup) grow(i, n int) {
	if g.cancel != nil && i < g.end {
		g.end += n
	}
}

// timedOut reports whether the group's timer cancelled the attempt, and
// where the hunt resumes.
func (g *routeGroup) timedOut() (next int, ok bool) {
	if g.ctx == nil || !errors.Is(context.Cause(g.ctx), errGroupTimeout) {
		return 0, false
	}
	next = g.end
	g.stop()
	return next, true
}

func (g *routeGroup) stop() {
	if g.timer != nil {
		g.timer.Stop()
	}
	if g.cancel != nil {
		g.cancel(nil)
	}
	g.ctx, g.cancel, g.timer, g.end = nil, nil, nil, 0
}
