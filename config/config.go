// Package config is Tollgate's one YAML configuration file: its types, its
// defaults, and a validation that names every error with its line and
// column, so an operator can fix a refused reload without guessing.
package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration. A loaded Config is never mutated: a
// reload builds a new one and swaps it in, so calls keep the values they
// started with.
type Config struct {
	SIP    SIP     `yaml:"sip"`
	Limits Limits  `yaml:"limits"`
	Timers Timers  `yaml:"timers"`
	Routes []Route `yaml:"routes"`
	// GatewayGroups are named sets of weighted gateways that routes hunt
	// as one entry (gatewaygroups.go).
	GatewayGroups []GatewayGroup `yaml:"gateway_groups"`
	Media         Media          `yaml:"media"`
	CDR           CDR            `yaml:"cdr"`
	Log           Log            `yaml:"log"`
	Radius        Radius         `yaml:"radius"`
	Prepaid       Prepaid        `yaml:"prepaid"`
	Web           Web            `yaml:"web"`
	Cluster       Cluster        `yaml:"cluster"`
	// DialogTimers are the session timers and keepalives of every call
	// whose profile does not set its own (dialogtimers.go).
	DialogTimers DialogTimers `yaml:"dialog_timers"`
	// Registration is what REGISTER does: refused, or cached toward an
	// upstream registrar (registration.go).
	Registration Registration `yaml:"registration"`
	// Runtime tunes the Go runtime: the memory limit (runtime.go).
	Runtime Runtime `yaml:"runtime"`

	CallProfiles `yaml:",inline"` // profiles and profile_select (profiles.go)

	// path is the file it was read from, for reloads.
	path string
	// table answers longest-prefix lookups; built once by Load.
	table routeTable
	// legA and legB are the dialog timers of calls without a profile.
	legA, legB LegTimers
}

// SIP is the signalling side: where Tollgate listens and how it presents
// itself to both legs.
type SIP struct {
	// Listen holds "transport:host:port" entries, e.g. "udp:127.0.0.1:5060",
	// "tcp:[::1]:5060".
	Listen []string `yaml:"listen"`
	// PublicAddress is the host (and optional port) written into Contact and
	// Via when Tollgate sits behind a static NAT; empty means the listen
	// address.
	PublicAddress string `yaml:"public_address"`
	// UserAgent is the value of the User-Agent and Server headers Tollgate
	// sends; the peers' own values never cross to the other leg.
	UserAgent string `yaml:"user_agent"`
	// UDPSockets is how many sockets share each UDP listen address
	// (SO_REUSEPORT), each read and parsed by its own goroutine: one socket
	// saturates one core near 1,500 calls/s. 0: one per CPU; 1: a single
	// socket. The kernel spreads datagrams by source address and port.
	UDPSockets int `yaml:"udp_sockets"`
	// TLSCert and TLSKey name the PEM certificate chain and key that tls:
	// listeners present, and that the switch presents as a client when a
	// gateway asks for one. They are read again on SIGHUP, so a renewed
	// certificate is served without dropping calls.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// TLSCA names PEM CA certificates that sign the gateways' and (where
	// verified) the callers' certificates; empty: the system's roots.
	TLSCA string `yaml:"tls_ca"`
	// TLSVerifyClient lists tls: listen entries whose peers must present a
	// certificate signed by TLSCA: a carrier's trunk port can demand one
	// while a port for phones does not.
	TLSVerifyClient []string `yaml:"tls_verify_client"`
	// Interfaces are named interfaces beside the default one that Listen
	// and PublicAddress make (interfaces.go).
	Interfaces []Interface `yaml:"interfaces"`
	// ConnectionIdle is how long a TCP or TLS connection may carry no
	// message, either way, before the switch closes it (default 1h, at
	// least 1s): connections are reused per peer, and a peer that went
	// away must not hold a socket forever. RFC 5626 keepalives (CRLF)
	// count as traffic. A dialog whose connection was closed reaches its
	// peer over a new one.
	ConnectionIdle time.Duration `yaml:"connection_idle"`
	// OptionsTranscoderInStatsHdr and OptionsTranscoderOutStatsHdr name
	// the headers of the switch's replies to OPTIONS that tell the
	// built-in relay's transcoder use (SEMS's options_transcoder_in_stats_hdr
	// and options_transcoder_out_stats_hdr, e.g. P-Transcoder-Stats-In):
	// "pcmu=0,pcma=1,g722=0", the streams decoding (in) or encoding (out)
	// each codec now. Empty: no header.
	OptionsTranscoderInStatsHdr  string `yaml:"options_transcoder_in_stats_hdr"`
	OptionsTranscoderOutStatsHdr string `yaml:"options_transcoder_out_stats_hdr"`

	listeners []Listener
}

// Listener is one parsed listen address.
type Listener struct {
	Transport string // "udp", "tcp" or "tls"
	// VerifyClient: the listener asks for and checks a client certificate.
	VerifyClient bool
	Host         string
	Port         int
	// Interface names the interface the listener belongs to, InterfaceID
	// is its number ($Rn, $Rf), and Public is the interface's public
	// address ("": the listen address).
	Interface   string
	InterfaceID int
	Public      string
}

// Addr is the listener as host:port.
func (l Listener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// Network is the Go network name for the listener's address family.
func (l Listener) Network() string {
	if strings.Contains(l.Host, ":") {
		return l.Transport + "6"
	}
	return l.Transport + "4"
}

// Listeners returns the parsed listen addresses: sip.listen's, then each
// interface's.
func (s SIP) Listeners() []Listener { return s.listeners }

// Limits protect the switch from overload: beyond them new calls are
// refused early with 503 and Retry-After instead of slowing every call down.
type Limits struct {
	MaxCalls   int           `yaml:"max_calls"`   // concurrent calls; 0 = unlimited
	RetryAfter time.Duration `yaml:"retry_after"` // the Retry-After given with 503
	CallLimits `yaml:",inline"`
}

// Timers are the switch-wide defaults; a route may override the per-call ones.
type Timers struct {
	NoProgress  time.Duration `yaml:"no_progress"`  // no 18x/2xx from a gateway within this: try the next
	MaxRing     time.Duration `yaml:"max_ring"`     // no answer within this after the INVITE: try the next
	MaxDuration time.Duration `yaml:"max_duration"` // connected calls are cut after this; 0 = unlimited
	ACKTimeout  time.Duration `yaml:"ack_timeout"`  // our 200 never ACKed by the caller within this: hang up
	Drain       time.Duration `yaml:"drain"`        // on SIGTERM, how long calls may finish before being cut
	// ProbeInterval is how often a gateway with probe: true is sent an
	// OPTIONS; one unanswered within the interval is a failed probe.
	ProbeInterval time.Duration `yaml:"probe_interval"`
}

// Route sends calls whose called number starts with Prefix to its gateways,
// in order, with failover. CallerPrefix, Source, Interface and
// SelectedProfile narrow it to some of those calls, and Priority ranks it among the routes that match a
// call (routes.go has the rule).
type Route struct {
	Name   string `yaml:"name"`
	Prefix string `yaml:"prefix"` // "" matches every number (the default route)
	// CallerPrefix is a prefix of the caller's number, the From user;
	// "": any caller.
	CallerPrefix string `yaml:"caller_prefix"`
	// Source lists IP addresses and CIDR blocks of the caller's real
	// source address; empty: any source.
	Source []string `yaml:"source"`
	// Interface is the name of the SIP interface the call must arrive on
	// (sip.interfaces, or "default" for sip.listen); "": any.
	Interface string `yaml:"interface"`
	// SelectedProfile is the call profile the profile selectors
	// (profile_select) must have chosen for the call; "": any. Only the
	// selectors count, not a route's fallback Profile below: that one is
	// known only once the route is, so matching on it would be circular.
	// The selectors run before the route lookup and their choice is the
	// one the call then gets.
	SelectedProfile string `yaml:"selected_profile"`
	// Priority ranks the matching routes before the length of their
	// prefixes does: the highest wins. Default 0.
	Priority int       `yaml:"priority"`
	Gateways []Gateway `yaml:"gateways"`
	// HuntStop lists the final response codes that end the hunt: the caller
	// gets them at once instead of the next gateway being tried.
	HuntStop    []int         `yaml:"hunt_stop"`
	NoProgress  time.Duration `yaml:"no_progress"`
	MaxRing     time.Duration `yaml:"max_ring"`
	MaxDuration time.Duration `yaml:"max_duration"`
	// Media overrides media.mode for this route: none, rtpproxy or builtin.
	Media string `yaml:"media"`
	// Auth overrides radius.auth for this route: none, ip or digest.
	Auth string `yaml:"auth"`
	// CreditTime bounds the length of its calls after connect; 0: none.
	CreditTime time.Duration `yaml:"credit_time"`
	Profile    string        `yaml:"profile"` // call profile when no selector picks one
	// Redirect is what a gateway's 3xx does: relay (default) ends the hunt
	// and gives the caller the 3xx with its Contact; follow tries the
	// Contact's targets as further gateways of the route.
	Redirect string `yaml:"redirect"`
	// MaxRedirects bounds the redirect targets one call follows (default
	// 3), so that gateways redirecting to each other cannot loop.
	MaxRedirects int `yaml:"max_redirects"`
}

// What a gateway's redirect (3xx) does, per route or profile.
const (
	RedirectRelay  = "relay"
	RedirectFollow = "follow"
)

// DefaultMaxRedirects is max_redirects when a route does not set it.
const DefaultMaxRedirects = 3

// Follows reports whether the route follows redirects; a Route built in
// code (RADIUS routes) relays them, as the default.
func (r *Route) Follows() bool { return r.Redirect == RedirectFollow }

// StopsHunt reports whether a final code from a gateway ends the failover.
func (r *Route) StopsHunt(code int) bool {
	for _, c := range r.HuntStop {
		if c == code {
			return true
		}
	}
	return false
}

// Gateway is one next hop of a route.
type Gateway struct {
	Address   string `yaml:"address"`   // host:port
	Transport string `yaml:"transport"` // udp (default), tcp or tls
	// UDPOnly keeps a udp gateway's large requests on UDP. By default an
	// INVITE over 1300 bytes to a udp gateway goes over TCP, as RFC 3261
	// 18.1.1 asks (UDP would fragment it, and a lost fragment loses the
	// whole request); a peer that does not speak TCP needs this instead.
	UDPOnly bool `yaml:"udp_only"`
	// AuthUser and AuthPassword answer the gateway's digest challenge
	// (401/407) to our INVITE, for carriers that authenticate their
	// customers by digest rather than by source address. The password
	// never leaves in JSON: the web UI's configuration view shows
	// gateways to viewers too.
	AuthUser     string `yaml:"auth_user"`
	AuthPassword string `yaml:"auth_password" json:"-"`
	// Probe sends the gateway an OPTIONS every timers.probe_interval, as
	// Kamailio's dispatcher does: after two unanswered in a row the hunt
	// skips it, until it answers again. Any response counts as an answer.
	Probe bool `yaml:"probe"`
	// MaxCalls is the gateway's capacity: the attempts in progress and
	// calls connected through it that one Tollgate allows at a time; the
	// hunt skips the gateway while it is full. MaxCPS paces the new
	// attempts per second (a token bucket of max(1, MaxCPS)), skipping it
	// when they come faster. 0: no limit. Unlike limits.gateway_calls,
	// these travel with the gateway, so a gateway managed from the web UI
	// carries its own.
	MaxCalls int     `yaml:"max_calls"`
	MaxCPS   float64 `yaml:"max_cps"`
	// Proxy, when set, is the outbound proxy (host:port) the INVITE is sent
	// to with a loose Route, the Request-URI still naming Address. Set from
	// a call profile's outbound_proxy, not from the route table.
	Proxy string `yaml:"-"`
	// Media, when set, is the media mode of the calls sent to this
	// gateway (none, rtpproxy or builtin), over the route's and the
	// profile's: a carrier that needs its media anchored, or one that
	// must see the caller's own SDP, gets it whatever route reaches it.
	// Decided per attempt, so a hunt across gateways of different modes
	// gives each the SDP of its own.
	Media string `yaml:"media"`
	// Group, in a route's gateways, makes the entry the gateway group of
	// that name (gateway_groups) rather than one gateway; Members are
	// then the group's gateways, which each call tries in an order drawn
	// by their weights. Set by Load for the file's routes and by the
	// routing tables for theirs.
	Group   string   `yaml:"group"`
	Members []Member `yaml:"-"`
}

// Log configures log/slog.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text or json; empty: text on a terminal, json otherwise
}

// MaxGatewayCPS bounds a gateway's max_cps: beyond it the figure is a
// typo rather than a limit.
const MaxGatewayCPS = 10000

// DefaultHuntStop are the codes after which trying another gateway cannot
// help: the called party itself is busy or declined.
var DefaultHuntStop = []int{486, 600, 603}

// DefaultConnectionIdle is sip.connection_idle when unset: longer than the
// refresh of a default session timer (half of 1800 s), so a call's own
// refreshes keep its connection.
const DefaultConnectionIdle = time.Hour

func (c *Config) applyDefaults() {
	if c.SIP.UserAgent == "" {
		c.SIP.UserAgent = "Tollgate"
	}
	if c.SIP.ConnectionIdle == 0 {
		c.SIP.ConnectionIdle = DefaultConnectionIdle
	}
	if len(c.SIP.Listen) == 0 && len(c.SIP.Interfaces) == 0 {
		c.SIP.Listen = []string{"udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"}
	}
	if c.Limits.RetryAfter == 0 {
		c.Limits.RetryAfter = 30 * time.Second
	}
	t := &c.Timers
	if t.NoProgress == 0 {
		t.NoProgress = 5 * time.Second
	}
	if t.MaxRing == 0 {
		t.MaxRing = 120 * time.Second
	}
	if t.ACKTimeout == 0 {
		t.ACKTimeout = 32 * time.Second
	}
	if t.Drain == 0 {
		t.Drain = 30 * time.Second
	}
	if t.ProbeInterval == 0 {
		t.ProbeInterval = 5 * time.Second
	}
	c.Media.applyDefaults()
	c.resolveGroups()
	c.Cluster.applyDefaults()
	c.Registration.applyDefaults()
	c.Runtime.applyDefaults()
	for i := range c.Routes {
		c.routeDefaults(&c.Routes[i])
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	c.CDR.applyDefaults()
	c.applyRadiusDefaults()
	c.Web.applyDefaults()
	c.applyProfileDefaults()
}

// routeDefaults fills what a route leaves unset from the switch-wide
// values; the auth default comes later, with the radius section's.
func (c *Config) routeDefaults(r *Route) {
	t := &c.Timers
	if r.Media == "" {
		r.Media = c.Media.Mode
	}
	if r.Name == "" {
		r.Name = r.Prefix
		if r.Name == "" {
			r.Name = "default"
		}
	}
	if r.HuntStop == nil {
		r.HuntStop = DefaultHuntStop
	}
	if r.NoProgress == 0 {
		r.NoProgress = t.NoProgress
	}
	if r.MaxRing == 0 {
		r.MaxRing = t.MaxRing
	}
	if r.MaxDuration == 0 {
		r.MaxDuration = t.MaxDuration
	}
	if r.Redirect == "" {
		r.Redirect = RedirectRelay
	}
	if r.MaxRedirects == 0 {
		r.MaxRedirects = DefaultMaxRedirects
	}
	for j := range r.Gateways {
		if r.Gateways[j].Transport == "" {
			r.Gateways[j].Transport = "udp"
		}
		for k := range r.Gateways[j].Members {
			if m := &r.Gateways[j].Members[k]; m.Gateway.Transport == "" {
				m.Gateway.Transport = "udp"
			}
		}
	}
}

// WithRoutes is the configuration with routes from another source (the
// routing tables in PostgreSQL) added to the file's: one of them replaces
// the file's route that matches the same calls (the same prefix, caller
// prefix, source and interface), so that an operator can take over a route
// from the UI without editing the file; the file's other routes stay, and
// the routes given come first in the table's last tie-break.
// The routes get the file's defaults (timers, media mode, auth) and the
// result is a new Config, so calls holding the old one keep their route.
func (c *Config) WithRoutes(extra []Route) *Config {
	n := *c
	n.Routes = make([]Route, 0, len(c.Routes)+len(extra))
	taken := make(map[string]bool, len(extra))
	for i := range extra {
		r := extra[i]
		c.routeDefaults(&r)
		if r.Auth == "" {
			r.Auth = c.Radius.Auth
		}
		n.Routes = append(n.Routes, r)
		taken[matchKey(&r)] = true
	}
	for _, r := range c.Routes {
		if !taken[matchKey(&r)] {
			n.Routes = append(n.Routes, r)
		}
	}
	n.table = newRouteTable(n.Routes)
	return &n
}

// Path is the file the configuration was loaded from.
func (c *Config) Path() string { return c.path }

// Route returns the route of a call, chosen by the rule in routes.go, or
// nil when no route matches.
func (c *Config) Route(q RouteQuery) *Route { return c.table.lookup(&q) }

// parseListen parses "transport:host:port".
func parseListen(s string) (Listener, error) {
	tr, hp, ok := strings.Cut(s, ":")
	if !ok {
		return Listener{}, fmt.Errorf("want transport:host:port, e.g. udp:127.0.0.1:5060")
	}
	tr = strings.ToLower(tr)
	if tr != "udp" && tr != "tcp" && tr != "tls" {
		return Listener{}, fmt.Errorf("transport %q: want udp, tcp or tls", tr)
	}
	host, port, err := splitHostPort(hp)
	if err != nil {
		return Listener{}, err
	}
	if net.ParseIP(host) == nil {
		return Listener{}, fmt.Errorf("host %q: want an IP address", host)
	}
	return Listener{Transport: tr, Host: host, Port: port}, nil
}

func splitHostPort(hp string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %w", hp, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q: want 1-65535", ps)
	}
	if host == "" {
		return "", 0, fmt.Errorf("%q: missing host", hp)
	}
	return host, port, nil
}
