package config

// routeTable finds the route with the longest prefix of a called number.
// Lookups probe a map once per prefix length, longest first: no allocation
// and no lock, since a table is never changed after Load.
type routeTable struct {
	byPrefix map[string]*Route
	maxLen   int
}

func newRouteTable(routes []Route) routeTable {
	t := routeTable{byPrefix: make(map[string]*Route, len(routes))}
	for i := range routes {
		r := &routes[i]
		if _, dup := t.byPrefix[r.Prefix]; dup {
			continue
		}
		t.byPrefix[r.Prefix] = r
		t.maxLen = max(t.maxLen, len(r.Prefix))
	}
	return t
}

func (t routeTable) lookup(number string) *Route {
	for n := min(len(number), t.maxLen); n >= 0; n-- {
		if r, ok := t.byPrefix[number[:n]]; ok {
			return r
		}
	}
	return nil
}
