package b2bua

import (
	"cmp"
	"slices"

	"github.com/tollgate/tollgate/config"
)

// routeHops is a route's hunt for one call: its gateways in order, each
// gateway group replaced by its members in an order drawn for this call.
// A gateway its probes found down is left out until it answers again,
// rather than costing every call a no-progress timeout; a full one is
// skipped later, at its attempt (beginHop), since it may free up while
// the hunt runs.
func (c *Call) routeHops(route *config.Route) []hop {
	n := 0
	for _, gw := range route.Gateways {
		n += max(1, len(gw.Members))
	}
	hops := make([]hop, 0, n)
	for _, gw := range route.Gateways {
		if gw.Group == "" {
			if !c.sw.health.down(gw) {
				hops = append(hops, hop{route: route, gw: gw})
			}
			continue
		}
		up := make([]config.Member, 0, len(gw.Members))
		for _, m := range gw.Members {
			if !c.sw.health.down(m.Gateway) {
				up = append(up, m)
			}
		}
		for _, m := range drawMembers(up, c.sw.draw) { // up is this call's copy
			hops = append(hops, hop{route: route, gw: m.Gateway})
		}
	}
	return hops
}

// drawMembers orders a group's members for one call, in place, and
// returns ms: tier by tier, lowest priority first; within a tier, weighted
// random without replacement (each next member drawn with a chance of its
// weight over the weights still left, as Kamailio's dispatcher algorithm 9
// and OpenSIPS's weight-based selection do), so that over many calls each
// member takes its weight's share of the first attempts and the hunt still
// falls through to the others; standbys (weight 0) last in their tier, in
// the order listed. intn is the random source (Options.GroupDraw). In
// place, because the hunt draws on its own copy: the switch's setup path
// allocates nothing more for it.
func drawMembers(ms []config.Member, intn func(n int) int) []config.Member {
	slices.SortStableFunc(ms, func(a, b config.Member) int { return cmp.Compare(a.Priority, b.Priority) })
	for start := 0; start < len(ms); {
		end := start + 1
		for end < len(ms) && ms[end].Priority == ms[start].Priority {
			end++
		}
		drawTier(ms[start:end], intn)
		start = end
	}
	return ms
}

// drawTier orders one tier in place: each drawn member is moved to the
// front of what is left, the others shifted behind it in their order, so
// that the standbys end last in the order listed.
func drawTier(tier []config.Member, intn func(n int) int) {
	total := 0
	for _, m := range tier {
		total += m.Weight
	}
	for i := 0; total > 0; i++ {
		x, j := intn(total), i
		for ; x >= tier[j].Weight; j++ {
			x -= tier[j].Weight
		}
		drawn := tier[j]
		copy(tier[i+1:j+1], tier[i:j])
		tier[i] = drawn
		total -= drawn.Weight
	}
}
