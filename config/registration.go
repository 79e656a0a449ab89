package config

// Registration is what Tollgate does with REGISTER (SEMS's
// enable_reg_caching, min_reg_expires and max_ua_expires). Off, REGISTER
// is answered 405, as a trunk-only switch must: nothing would route calls
// to the bindings.
type Registration struct {
	// Mode is RegistrationOff or RegistrationCache.
	Mode string `yaml:"mode"`
	// Upstream is the registrar's host:port that cached REGISTERs are
	// relayed to, over UpstreamTransport.
	Upstream          string `yaml:"upstream"`
	UpstreamTransport string `yaml:"upstream_transport"`
	// MinRegExpires (seconds) is the least lifetime asked of the upstream
	// registrar, so that its binding outlives many of the client's
	// refreshes, which the cache then answers itself.
	MinRegExpires int `yaml:"min_reg_expires"`
	// MaxUAExpires (seconds) is the most lifetime given to a client: short,
	// so that a client behind NAT refreshes its pinhole and the cache
	// learns soon that a client went away.
	MaxUAExpires int `yaml:"max_ua_expires"`
}

// Registration modes.
const (
	RegistrationOff   = "off"
	RegistrationCache = "cache"
)

func (r *Registration) applyDefaults() {
	if r.Mode == "" {
		r.Mode = RegistrationOff
	}
	if r.UpstreamTransport == "" {
		r.UpstreamTransport = "udp"
	}
	if r.MinRegExpires == 0 {
		r.MinRegExpires = 3600
	}
	if r.MaxUAExpires == 0 {
		r.MaxUAExpires = 60
	}
}

func (v *validator) validateRegistration(r *Registration) {
	switch r.Mode {
	case RegistrationOff:
		return
	case RegistrationCache:
	default:
		v.addf("registration.mode", "%q: want off or cache", r.Mode)
		return
	}
	if _, _, err := splitHostPort(r.Upstream); err != nil {
		v.addf("registration.upstream", "%v", err)
	}
	if r.UpstreamTransport != "udp" && r.UpstreamTransport != "tcp" {
		v.addf("registration.upstream_transport", "%q: want udp or tcp", r.UpstreamTransport)
	}
	if r.MaxUAExpires < 1 {
		v.addf("registration.max_ua_expires", "%d: want at least 1 second", r.MaxUAExpires)
	}
	if r.MinRegExpires < r.MaxUAExpires {
		v.addf("registration.min_reg_expires", "%d: want at least max_ua_expires (%d), or the cache answers nothing",
			r.MinRegExpires, r.MaxUAExpires)
	}
}
