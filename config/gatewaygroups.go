package config

import (
	"fmt"
	"strings"
)

// GatewayGroup is a named set of gateways that a route's hunt names as one
// entry (routes[].gateways[].group). Each call tries its members in an
// order drawn by weight — weighted random without replacement, as
// Kamailio's dispatcher algorithm 9 and OpenSIPS's weight-based selection
// do — lower priority tiers first, so that a carrier's traffic spreads
// over its trunks in the shares the operator set and a failing trunk still
// falls through to the others.
type GatewayGroup struct {
	Name    string        `yaml:"name"`
	Members []GroupMember `yaml:"members"`
}

// GroupMember is one gateway of a group as the file writes it: the
// gateway's own options, and its weight and priority in the group.
type GroupMember struct {
	Gateway `yaml:",inline"`
	// Weight is the member's share of the first attempts among the
	// members of its tier, 0 to MaxGroupWeight; left out: 1. Weight 0 is a
	// standby: tried only after every weighted member of its tier, in the
	// order listed.
	Weight *int `yaml:"weight"`
	// Priority is the member's tier: every member of a lower tier is tried
	// before any of a higher one. Default 0.
	Priority int `yaml:"priority"`
}

// Member is a group's gateway as the switch hunts it, with its weight
// resolved (GroupMember's, or the routing tables').
type Member struct {
	Gateway  Gateway
	Weight   int
	Priority int
}

// Bounds of a member's weight and priority: wide enough for percentages
// and per-mille shares, small enough that a typo shows.
const (
	MaxGroupWeight   = 1000
	MaxGroupPriority = 1000
)

// DefaultGroupWeight is a member's weight when it names none: members
// without weights share the calls equally.
const DefaultGroupWeight = 1

// GroupPrefix is how a route of the routing tables (API, UI, CSV) names a
// gateway group among its gateways: "group:NAME". A gateway's name cannot
// start with it.
const GroupPrefix = "group:"

// resolveGroups gives every route gateway entry that names a group its
// members. An unknown group is left without members for validate to report.
func (c *Config) resolveGroups() {
	byName := make(map[string][]Member, len(c.GatewayGroups))
	for _, g := range c.GatewayGroups {
		ms := make([]Member, 0, len(g.Members))
		for _, m := range g.Members {
			w := DefaultGroupWeight
			if m.Weight != nil {
				w = *m.Weight
			}
			gw := m.Gateway
			if gw.Transport == "" {
				gw.Transport = "udp"
			}
			ms = append(ms, Member{Gateway: gw, Weight: w, Priority: m.Priority})
		}
		byName[g.Name] = ms
	}
	for i := range c.Routes {
		for j := range c.Routes[i].Gateways {
			if gw := &c.Routes[i].Gateways[j]; gw.Group != "" {
				gw.Members = byName[gw.Group]
			}
		}
	}
}

// validateGatewayGroups checks the groups and the routes' references to
// them.
func (v *validator) validateGatewayGroups(c *Config) {
	names := map[string]int{}
	for i, g := range c.GatewayGroups {
		path := fmt.Sprintf("gateway_groups[%d]", i)
		switch {
		case strings.TrimSpace(g.Name) == "":
			v.addf(path+".name", "required")
		case strings.HasPrefix(g.Name, GroupPrefix):
			v.addf(path+".name", "%q: a group's name is written without %q", g.Name, GroupPrefix)
		}
		if j, dup := names[g.Name]; dup {
			v.addf(path+".name", "%q already used by gateway_groups[%d]", g.Name, j)
		}
		names[g.Name] = i
		if len(g.Members) == 0 {
			v.addf(path+".members", "a group needs at least one member")
		}
		for j, m := range g.Members {
			mp := fmt.Sprintf("%s.members[%d]", path, j)
			if m.Group != "" {
				v.addf(mp+".group", "a group's member is a gateway, not another group")
			}
			gw := m.Gateway
			if gw.Transport == "" {
				gw.Transport = "udp"
			}
			v.checkGateway(mp, gw)
			if m.Weight != nil && (*m.Weight < 0 || *m.Weight > MaxGroupWeight) {
				v.addf(mp+".weight", "%d: want 0 (standby) to %d", *m.Weight, MaxGroupWeight)
			}
			if m.Priority < 0 || m.Priority > MaxGroupPriority {
				v.addf(mp+".priority", "%d: want 0 (first) to %d", m.Priority, MaxGroupPriority)
			}
		}
	}
	for i := range c.Routes {
		for j, gw := range c.Routes[i].Gateways {
			if gw.Group == "" {
				continue
			}
			gp := fmt.Sprintf("routes[%d].gateways[%d]", i, j)
			if _, ok := names[gw.Group]; !ok {
				v.addf(gp+".group", "%q: no such gateway group (gateway_groups)", gw.Group)
			}
		}
	}
}

// checkGateway checks one gateway of a route or a group.
func (v *validator) checkGateway(gp string, g Gateway) {
	if _, _, err := splitHostPort(g.Address); err != nil {
		v.addf(gp+".address", "%v", err)
	}
	if g.Transport != "udp" && g.Transport != "tcp" && g.Transport != "tls" {
		v.addf(gp+".transport", "%q: want udp, tcp or tls", g.Transport)
	}
	if g.UDPOnly && g.Transport != "udp" {
		v.addf(gp+".udp_only", "the gateway's transport is %s: udp_only applies to udp gateways", g.Transport)
	}
	if g.MaxCalls < 0 {
		v.addf(gp+".max_calls", "must not be negative (0: no limit)")
	}
	if g.MaxCPS < 0 || g.MaxCPS > MaxGatewayCPS {
		v.addf(gp+".max_cps", "%v: want 0 (no limit) to %d", g.MaxCPS, MaxGatewayCPS)
	}
	if g.Media != "" && !validMediaMode(g.Media) {
		v.addf(gp+".media", "%q: want none, rtpproxy or builtin (empty: the route's)", g.Media)
	}
}

// checkRouteEntry checks one entry of a route's gateways: a gateway, or a
// group named by group alone.
func (v *validator) checkRouteEntry(gp string, g Gateway) {
	if g.Group == "" {
		v.checkGateway(gp, g)
		return
	}
	if g.Address != "" || g.AuthUser != "" || g.Probe || g.MaxCalls != 0 || g.MaxCPS != 0 || g.Media != "" || g.UDPOnly {
		v.addf(gp+".group", "an entry names either a group or a gateway: the group's members carry their own options")
	}
}
