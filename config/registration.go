package config

import (
	"fmt"
	"strings"
)

// Registration is what Tollgate does with REGISTER: cache it toward an
// upstream registrar (SEMS's enable_reg_caching, min_reg_expires and
// max_ua_expires), or be the registrar (SEMS's registrar module). Off,
// REGISTER is answered 405, as a trunk-only switch must: nothing would
// route calls to the bindings.
type Registration struct {
	// Mode is RegistrationOff, RegistrationCache or RegistrationLocal.
	Mode string `yaml:"mode"`
	// Upstream is the registrar's host:port that cached REGISTERs are
	// relayed to, over UpstreamTransport.
	Upstream          string `yaml:"upstream"`
	UpstreamTransport string `yaml:"upstream_transport"`
	// UpstreamInterface names the SIP interface (sip.interfaces) that
	// REGISTERs to the registrar leave through, with its Via and aliases,
	// as a SEMS reg-caching profile's outbound_interface does: on a switch
	// bridging a private and a public network the registrar is often on
	// the other side from the phones. "" is the default interface.
	UpstreamInterface string `yaml:"upstream_interface"`
	// MinRegExpires (seconds) is the least lifetime asked of the upstream
	// registrar, so that its binding outlives many of the client's
	// refreshes, which the cache then answers itself.
	MinRegExpires int `yaml:"min_reg_expires"`
	// MaxUAExpires (seconds) is the most lifetime given to a client: short,
	// so that a client behind NAT refreshes its pinhole and the cache
	// learns soon that a client went away.
	MaxUAExpires int `yaml:"max_ua_expires"`

	// NATKeepalive (seconds, 0: none) is how often a client behind NAT
	// (its Contact is not the address its REGISTER came from) gets an
	// OPTIONS over its flow: it keeps the NAT's binding open between the
	// client's refreshes, and a client that does not answer within the
	// interval is dropped, its flow dead.
	NATKeepalive int `yaml:"nat_keepalive"`
	// NATKeepaliveMethod is how: options (an OPTIONS, any answer a live
	// flow), or crlf: on TCP and TLS flows RFC 5626's double-CRLF ping,
	// whose CRLF pong is the live flow (UDP flows still get OPTIONS: RFC
	// 5626 keeps UDP flows with STUN, which SIP clients do not answer
	// unasked).
	NATKeepaliveMethod string `yaml:"nat_keepalive_method"`

	// Limits: bindings per client address and per AoR (0: no limit), and
	// REGISTERs per second per source address with a burst (0: no limit;
	// burst defaults to the rate). Beyond the rate a REGISTER gets 503
	// before it is read further; beyond a count, 403.
	MaxPerSource  int     `yaml:"max_per_source"`
	MaxPerAoR     int     `yaml:"max_per_aor"`
	RegisterRate  float64 `yaml:"register_rate"`
	RegisterBurst int     `yaml:"register_burst"`

	// The local registrar. Realm is the digest realm, and the domain of
	// every AoR it holds: a call to user@anything finds user's bindings.
	Realm string `yaml:"realm"`
	// Users are the accounts that may register, with their passwords;
	// more may be kept in the database (tollgate subscriber, the
	// subscribers API), which a user of the same name here overrides.
	Users []RegistrarUser `yaml:"users"`
	// MinExpires (seconds): a shorter lifetime is refused 423 with
	// Min-Expires (RFC 3261 10.3 step 7). MaxExpires: a longer one is cut
	// down to it.
	MinExpires int `yaml:"min_expires"`
	MaxExpires int `yaml:"max_expires"`
}

// RegistrarUser is one account of the local registrar.
type RegistrarUser struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// Password is user's password, and whether user is an account.
func (r *Registration) Password(user string) (string, bool) {
	for _, u := range r.Users {
		if u.User == user {
			return u.Password, true
		}
	}
	return "", false
}

// NAT keepalive methods.
const (
	NATKeepaliveOptions = "options"
	NATKeepaliveCRLF    = "crlf"
)

// Registration modes.
const (
	RegistrationOff   = "off"
	RegistrationCache = "cache"
	RegistrationLocal = "local"
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
	if r.NATKeepaliveMethod == "" {
		r.NATKeepaliveMethod = NATKeepaliveOptions
	}
	if r.RegisterBurst == 0 {
		r.RegisterBurst = max(1, int(r.RegisterRate))
	}
	if r.Realm == "" {
		r.Realm = "tollgate"
	}
	if r.MinExpires == 0 {
		r.MinExpires = 60
	}
	if r.MaxExpires == 0 {
		r.MaxExpires = 3600
	}
}

func (v *validator) validateRegistration(r *Registration) {
	if r.MaxPerSource < 0 || r.MaxPerAoR < 0 || r.RegisterRate < 0 || r.RegisterBurst < 0 {
		v.addf("registration", "max_per_source, max_per_aor, register_rate and register_burst must not be negative")
	}
	if r.NATKeepaliveMethod != NATKeepaliveOptions && r.NATKeepaliveMethod != NATKeepaliveCRLF {
		v.addf("registration.nat_keepalive_method", "%q: want options or crlf", r.NATKeepaliveMethod)
	}
	switch r.Mode {
	case RegistrationOff:
		return
	case RegistrationCache:
	case RegistrationLocal:
		v.validateLocalRegistrar(r)
		return
	default:
		v.addf("registration.mode", "%q: want off, cache or local", r.Mode)
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
	if r.NATKeepalive < 0 {
		v.addf("registration.nat_keepalive", "must not be negative")
	}
	if r.MinRegExpires < r.MaxUAExpires {
		v.addf("registration.min_reg_expires", "%d: want at least max_ua_expires (%d), or the cache answers nothing",
			r.MinRegExpires, r.MaxUAExpires)
	}
}

func (v *validator) validateLocalRegistrar(r *Registration) {
	seen := map[string]bool{}
	for i, u := range r.Users {
		path := fmt.Sprintf("registration.users[%d]", i)
		if u.User == "" || strings.ContainsAny(u.User, "@:;<> ") {
			v.addf(path+".user", "%q: want a SIP user name", u.User)
		}
		if u.Password == "" {
			v.addf(path+".password", "empty")
		}
		if seen[u.User] {
			v.addf(path+".user", "%q listed twice", u.User)
		}
		seen[u.User] = true
	}
	if r.MinExpires < 1 || r.MaxExpires < r.MinExpires {
		v.addf("registration.min_expires", "%d to %d: want 1 <= min_expires <= max_expires", r.MinExpires, r.MaxExpires)
	}
}
