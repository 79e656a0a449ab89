package config

// MayUseProfile reports whether a call to route could get a call profile:
// there are selectors, or the route names one. The switch asks before it
// parses the caller's INVITE for the profile's patterns, which a config
// without profiles never needs.
func (c *Config) MayUseProfile(route *Route) bool {
	return len(c.selectors) > 0 || (route != nil && route.Profile != "")
}

// HasProfileSelectors reports whether profile_select has selectors: the
// switch runs them before the route lookup (a route's selected_profile)
// only then, so that a config without profiles never parses the INVITE
// for their patterns.
func (c *Config) HasProfileSelectors() bool { return len(c.selectors) > 0 }
