package config

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// RouteQuery is what a call offers the route table: the called number and
// the caller's number, real source address and arrival interface, and the
// profile the selectors chose, which routes may narrow themselves to.
type RouteQuery struct {
	Called string // the Request-URI user
	Caller string // the From user ($fU)
	// Source is the caller's real address ($si): behind the cluster's
	// trusted front proxies, the address they name, as IP authorisation
	// uses it.
	Source netip.Addr
	// Interface is the name of the SIP interface the INVITE arrived on
	// (DefaultInterface for sip.listen).
	Interface string
	// SelectedProfile is the profile the profile selectors chose for the
	// call (Config.SelectorChoice); "" when none did. A route's fallback
	// profile plays no part: it is known only once the route is.
	SelectedProfile string
}

// The route-choosing rule, written down in docs/gateways.md and the web
// UI's help: among the routes whose called prefix, caller prefix, source,
// interface and selected profile all match the call, the highest priority
// wins, then the longest called prefix, then the longest caller prefix,
// then a route with a selected_profile over one without, then the route
// listed first (the database's routes by id, then the file's in order).

// routeMatch is one route as the table tests it.
type routeMatch struct {
	route  *Route
	caller string
	// sources are the route's parsed source addresses; restricted tells
	// an empty list (no source can match: every entry was invalid) from
	// a route that does not look at the source.
	sources    []netip.Prefix
	restricted bool
	iface      string
	selected   string // the selected_profile criterion
	priority   int32
	order      int
	// any: no criterion besides the called prefix, the common route.
	any bool
}

// matches tests the criteria besides the called prefix; q.Source is
// unmapped.
func (m *routeMatch) matches(q *RouteQuery) bool {
	if m.any {
		return true
	}
	if !strings.HasPrefix(q.Caller, m.caller) {
		return false
	}
	if m.iface != "" && m.iface != q.Interface {
		return false
	}
	if m.selected != "" && m.selected != q.SelectedProfile {
		return false
	}
	if !m.restricted {
		return true
	}
	for _, p := range m.sources {
		if p.Contains(q.Source) {
			return true
		}
	}
	return false
}

// better orders the candidates of one called prefix: the rule above with
// the called prefix's length left out, since they share it.
func better(a, b routeMatch) int {
	if c := cmp.Compare(b.priority, a.priority); c != 0 {
		return c
	}
	if c := cmp.Compare(len(b.caller), len(a.caller)); c != 0 {
		return c
	}
	if c := cmp.Compare(criterion(b.selected), criterion(a.selected)); c != 0 {
		return c
	}
	return cmp.Compare(a.order, b.order)
}

// criterion is 1 for a criterion a route sets, 0 for one it leaves open,
// so that the route that sets it sorts first.
func criterion(s string) int {
	if s == "" {
		return 0
	}
	return 1
}

// routeTable finds a call's route. It keeps the routes by called prefix,
// each prefix's routes in the order of the rule, so that a lookup probes
// the map once per prefix length, longest first, and tests a prefix's
// routes only until the first that matches. It stops at the first match
// when no route of a shorter prefix can have a higher priority, which is
// every lookup when no route sets one. A prefix whose first route takes
// any call (no criteria, the common case) is answered from the map alone:
// a plain call costs what it did before routes had criteria. No
// allocation and no lock: a table is never changed after it is built.
type routeTable struct {
	byPrefix    map[string]prefixHead
	candidates  [][]routeMatch
	maxLen      int
	maxPriority int32
}

// prefixHead is what the map keeps of a prefix: its first route and that
// route's priority (the highest of the prefix's), and where its routes
// are, or anyCall when the first takes every call and so wins them all.
type prefixHead struct {
	route    *Route
	priority int32
	list     int32
}

const anyCall = -1

func newRouteTable(routes []Route) routeTable {
	t := routeTable{byPrefix: make(map[string]prefixHead, len(routes))}
	lists := map[string][]routeMatch{}
	for i := range routes {
		r := &routes[i]
		m := routeMatch{route: r, caller: r.CallerPrefix, iface: r.Interface, selected: r.SelectedProfile, priority: int32(r.Priority), order: i,
			restricted: len(r.Source) > 0}
		for _, s := range r.Source {
			if p, err := ParseSource(s); err == nil {
				m.sources = append(m.sources, p)
			}
		}
		m.any = m.caller == "" && m.iface == "" && m.selected == "" && !m.restricted
		if i == 0 || m.priority > t.maxPriority {
			t.maxPriority = m.priority
		}
		lists[r.Prefix] = append(lists[r.Prefix], m)
		t.maxLen = max(t.maxLen, len(r.Prefix))
	}
	for prefix, ms := range lists {
		slices.SortFunc(ms, better)
		h := prefixHead{route: ms[0].route, priority: ms[0].priority, list: anyCall}
		if !ms[0].any {
			h.list = int32(len(t.candidates))
			t.candidates = append(t.candidates, ms)
		}
		t.byPrefix[prefix] = h
	}
	return t
}

func (t *routeTable) lookup(q *RouteQuery) *Route {
	q.Source = q.Source.Unmap() // as the routes' sources are kept
	var best *Route
	var bestPriority int32
	for n := min(len(q.Called), t.maxLen); n >= 0; n-- {
		h, ok := t.byPrefix[q.Called[:n]]
		if !ok || best != nil && h.priority <= bestPriority {
			continue // a longer called prefix already won this priority
		}
		if h.list == anyCall {
			best, bestPriority = h.route, h.priority
		} else {
			ms := t.candidates[h.list]
			for i := range ms {
				m := &ms[i]
				if best != nil && m.priority <= bestPriority {
					break
				}
				if m.matches(q) {
					best, bestPriority = m.route, m.priority
					break
				}
			}
		}
		if best != nil && bestPriority == t.maxPriority {
			break
		}
	}
	return best
}

// ParseSource reads one entry of a route's source list: an IP address, or
// a CIDR block without host bits (10.1.2.3/8 is refused rather than read
// as 10.0.0.0/8, which would let in more than its author meant).
func ParseSource(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q: want an address without a zone", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q: want an IP address or a CIDR block such as 192.0.2.0/24", s)
	}
	if p.Addr().Is4In6() {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		if p.Bits() < 0 {
			return netip.Prefix{}, fmt.Errorf("%q: an IPv4-mapped block needs a length of at least 96", s)
		}
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set: want %s, or the address alone", s, m)
	}
	return p, nil
}

// matchKey names the calls a route matches: two routes with the same key
// match the same calls, so one of them would never be chosen, and a
// database route replaces the file's route of the same key.
func matchKey(r *Route) string {
	srcs := make([]string, 0, len(r.Source))
	for _, s := range r.Source {
		if p, err := ParseSource(s); err == nil {
			srcs = append(srcs, p.String())
		} else {
			srcs = append(srcs, s)
		}
	}
	slices.Sort(srcs)
	srcs = slices.Compact(srcs)
	return strings.Join([]string{r.Prefix, r.CallerPrefix, r.Interface, r.SelectedProfile, strings.Join(srcs, ",")}, "\x00")
}
