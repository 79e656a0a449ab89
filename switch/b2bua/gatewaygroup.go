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
	hops := make([]hop, 0, len(route.Gateways))
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
		for _, m := range drawMembers(up, c.sw.draw) {
			hops = append(hops, hop{route: route, gw: m.Gateway})
		}
	}
	return hops
}

// drawMembers orders a group's members for one call: tier by tier, lowest
// priority first; within a tier, weighted random without replacement (each
// next member drawn with a chance of its weight over the weights still
// left, as Kamailio's dispatcher algorithm 9 and OpenSIPS's weight-based
// selection do), so that over many calls each member takes its weight's
// share of the first attempts and the hunt still falls through to the
// others; standbys (weight 0) last in their tier, in the order listed.
// intn is the random source (Options.GroupDraw). ms is not changed.
func drawMembers(ms []config.Member, intn func(n int) int) []config.Member {
	rest := slices.Clone(ms)
	slices.SortStableFunc(rest, func(a, b config.Member) int { return cmp.Compare(a.Priority, b.Priority) })
	out := make([]config.Member, 0, len(rest))
	for len(rest) > 0 {
		tier := 1
		for tier < len(rest) && rest[tier].Priority == rest[0].Priority {
			tier++
		}
		out = drawTier(out, rest[:tier], intn)
		rest = rest[tier:]
	}
	return out
}

// drawTier appends one tier's members to out in their drawn order; tier is
// reordered in place.
func drawTier(out, tier []config.Member, intn func(n int) int) []config.Member {
	total := 0
	for _, m := range tier {
		total += m.Weight
	}
	for total > 0 {
		x := intn(total)
		i := 0
		for ; x >= tier[i].Weight; i++ {
			x -= tier[i].Weight
		}
		out = append(out, tier[i])
		total -= tier[i].Weight
		tier = slices.Delete(tier, i, i+1)
	}
	return append(out, tier...) // the standbys, in the order listed
}
