package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Media modes: how a call's media is anchored. A route may override the
// switch-wide mode.
const (
	MediaNone     = "none"     // SDP passes through untouched; media flows end to end
	MediaRTPProxy = "rtpproxy" // external rtpproxies, over their control protocol
	MediaBuiltin  = "builtin"  // Tollgate's own relay, run inside `tollgate serve`
)

// What happens to the calls of a media relay that stops answering
// (media.on_relay_lost).
const (
	// RelayLostEnd hangs them up, with the reason "media relay lost": a
	// call whose media no longer flows is billed time nobody talked.
	RelayLostEnd = "end"
	// RelayLostKeep leaves them up, for relays that come back with their
	// sessions (or parties that would rather hang up themselves).
	RelayLostKeep = "keep"
)

// Media configures media anchoring.
type Media struct {
	Mode string `yaml:"mode"` // none (default), rtpproxy or builtin
	// OnRelayLost is what happens to a relay's calls when its health
	// probe or a command gets no answer: end (default) or keep.
	OnRelayLost string `yaml:"on_relay_lost"`
	// CounterInterval is how often the RTP counters of the calls up are
	// read from their relay (Q, without deleting), on every relay, the
	// built-in one too: rtpproxy deletes a timed-out session before it
	// notifies, and a dead relay answers nothing, so the last reading is
	// what such a call's record gets. Below the relay's media timeout (ttl,
	// rtpproxy -T) a reading falls after the media stopped and the counts
	// are exact. -1s: never (counters read at teardown only).
	CounterInterval time.Duration `yaml:"counter_interval"`
	RTPProxy        RTPProxyMedia `yaml:"rtpproxy"`
	Builtin         BuiltinMedia  `yaml:"builtin"`
}

// RTPProxyMedia is the set of external rtpproxies (Sippy rtpproxy, or
// another Tollgate running `tollgate relay`).
type RTPProxyMedia struct {
	Relays []RTPProxyRelay `yaml:"relays"`
	// Timeout is how long to wait for a reply before resending (Kamailio's
	// rtpproxy_tout); Retries is how many resends follow the first try
	// (rtpproxy_retr; -1: none).
	Timeout time.Duration `yaml:"timeout"`
	Retries int           `yaml:"retries"`
	// ProbeInterval is how often a relay that stopped answering is probed.
	ProbeInterval time.Duration `yaml:"probe_interval"`
	// HealthInterval is how often a relay in service is asked V, each
	// probe waiting this long, or Timeout when that is longer: a dead relay
	// is found within the two (4 s by default). -1s: never (found only when
	// a call's command times out).
	HealthInterval time.Duration `yaml:"health_interval"`
	// Notify is where Tollgate listens for media timeout notifications:
	// "tcp:host:port" or "unix:/path"; empty: none. NotifySocket is the same
	// target as the relays know it (their -n option), when it differs.
	Notify       string `yaml:"notify"`
	NotifySocket string `yaml:"notify_socket"`
}

// RTPProxyRelay is one rtpproxy.
type RTPProxyRelay struct {
	// Address as rtpproxy's -s: udp:host[:port], udp6:host[:port],
	// unix:/path, cunix:/path, tcp:host:port.
	Address string `yaml:"address"`
	Weight  int    `yaml:"weight"` // share of new calls; default 1
	// Advertise is the address written into SDP when the relay replies with
	// a port alone (it is bound to a wildcard address); Advertise6 is the
	// same for an IPv6 port (docs/ipv6.md).
	Advertise  string `yaml:"advertise"`
	Advertise6 string `yaml:"advertise6"`
}

// BuiltinMedia configures Tollgate's own relay: in-process under
// `tollgate serve` when a call uses mode builtin, or standalone under
// `tollgate relay`. A field left unset (zero) takes the relay's own default
// (rtpproxyctl/relay's Default* constants), which are kept there only:
// this package does not import the relay, so that importing the
// configuration does not pull the relay into the switch.
type BuiltinMedia struct {
	MediaIP     string `yaml:"media_ip"`     // IPv4 address the RTP sockets bind to
	AdvertiseIP string `yaml:"advertise_ip"` // address written into SDP when it differs (NAT)
	// MediaIP6 is the IPv6 address the RTP sockets of IPv6 parties bind
	// to; unset, the relay anchors no IPv6 party (docs/ipv6.md).
	// AdvertiseIP6 is what goes into IPv6 SDP when it differs.
	MediaIP6     string `yaml:"media_ip6"`
	AdvertiseIP6 string `yaml:"advertise_ip6"`
	PortMin      int    `yaml:"port_min"` // media port range, inclusive
	PortMax      int    `yaml:"port_max"`
	// TTL ends a session that has seen no packet for this long (media
	// timeout); SetupTTL bounds how long a session waits for its answer.
	TTL      time.Duration `yaml:"ttl"`
	SetupTTL time.Duration `yaml:"setup_ttl"`
	// MaxSessions and MaxPacketRate make the relay refuse new sessions
	// (the caller gets 503) before it saturates; 0: no limit.
	MaxSessions   int `yaml:"max_sessions"`
	MaxPacketRate int `yaml:"max_packet_rate"`
	// MaxBusy refuses new sessions while the busiest packet loop spends
	// this share of its time relaying, projected to the sessions up: the
	// point past which latency grows. 0: the relay's default;
	// negative: no such limit.
	MaxBusy float64 `yaml:"max_busy"`
	// Control lists control sockets in rtpproxy's -s syntax, for other
	// controllers (Kamailio, OpenSIPS, another Tollgate). `tollgate relay`
	// needs at least one; `tollgate serve` drives its in-process relay over
	// a private loopback socket of its own and serves these besides.
	Control []string `yaml:"control"`
	// Notify lists the timeout-notification targets controllers may name
	// (rtpproxy -n): "tcp:host:port" or "unix:/path".
	Notify []string `yaml:"notify"`
}

// Defaults of the media section.
const (
	DefaultRTPProxyTimeout = time.Second
	DefaultRTPProxyRetries = 5
	DefaultProbeInterval   = 5 * time.Second
	DefaultHealthInterval  = 2 * time.Second
	// DefaultCounterInterval is half of rtpproxy's default media timeout
	// (-T 60): a timed-out call's last reading is then exact.
	DefaultCounterInterval = 30 * time.Second
)

func (m *Media) applyDefaults() {
	if m.Mode == "" {
		m.Mode = MediaNone
	}
	if m.OnRelayLost == "" {
		m.OnRelayLost = RelayLostEnd
	}
	if m.CounterInterval == 0 {
		m.CounterInterval = DefaultCounterInterval
	}
	p := &m.RTPProxy
	if p.Timeout == 0 {
		p.Timeout = DefaultRTPProxyTimeout
	}
	if p.Retries == 0 {
		p.Retries = DefaultRTPProxyRetries
	}
	if p.ProbeInterval == 0 {
		p.ProbeInterval = DefaultProbeInterval
	}
	if p.HealthInterval == 0 {
		p.HealthInterval = DefaultHealthInterval
	}
	if p.NotifySocket == "" {
		p.NotifySocket = p.Notify
	}
	for i := range p.Relays {
		if p.Relays[i].Weight == 0 {
			p.Relays[i].Weight = 1
		}
	}
}

// UsesMedia reports whether the switch-wide mode, a route, a profile or a gateway anchors
// media with mode, i.e. whether that relay must be running.
func (c *Config) UsesMedia(mode string) bool {
	if c.Media.Mode == mode {
		return true
	}
	for i := range c.Routes {
		if c.Routes[i].Media == mode {
			return true
		}
	}
	for i := range c.Profiles {
		if c.Profiles[i].Media == mode {
			return true
		}
	}
	for i := range c.GatewayGroups {
		for _, m := range c.GatewayGroups[i].Members {
			if m.Media == mode {
				return true
			}
		}
	}
	for i := range c.Routes {
		for _, g := range c.Routes[i].Gateways {
			if g.Media == mode {
				return true
			}
		}
	}
	return false
}

func validMediaMode(m string) bool {
	return m == MediaNone || m == MediaRTPProxy || m == MediaBuiltin
}

func (v *validator) validateMedia(c *Config) {
	m := &c.Media
	if !validMediaMode(m.Mode) {
		v.addf("media.mode", "%q: want none, rtpproxy or builtin", m.Mode)
	}
	if m.OnRelayLost != RelayLostEnd && m.OnRelayLost != RelayLostKeep {
		v.addf("media.on_relay_lost", "%q: want end or keep", m.OnRelayLost)
	}
	// Each reading is one Q per stream of every call up: a second is
	// already 2,000 commands a second at 1,000 calls.
	if m.CounterInterval > 0 && m.CounterInterval < time.Second || m.CounterInterval < 0 && m.CounterInterval != -time.Second {
		v.addf("media.counter_interval", "%v: want at least 1s (or -1s: read at teardown only)", m.CounterInterval)
	}
	for i := range c.Routes {
		if r := &c.Routes[i]; !validMediaMode(r.Media) {
			v.addf(fmt.Sprintf("routes[%d].media", i), "%q: want none, rtpproxy or builtin", r.Media)
		}
	}
	p := &m.RTPProxy
	if c.UsesMedia(MediaRTPProxy) && len(p.Relays) == 0 {
		v.addf("media.rtpproxy.relays", "media mode rtpproxy needs at least one relay")
	}
	for i, r := range p.Relays {
		path := fmt.Sprintf("media.rtpproxy.relays[%d]", i)
		if err := checkControlAddress(r.Address, true); err != nil {
			v.addf(path+".address", "%v", err)
		}
		if r.Weight < 0 {
			v.addf(path+".weight", "must not be negative")
		}
		if r.Advertise != "" {
			if _, err := netip.ParseAddr(r.Advertise); err != nil {
				v.addf(path+".advertise", "%q: want an IP address", r.Advertise)
			}
		}
		if r.Advertise6 != "" {
			if a, err := netip.ParseAddr(r.Advertise6); err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" || a.IsUnspecified() {
				v.addf(path+".advertise6", "%q: want an IPv6 address", r.Advertise6)
			}
		}
	}
	v.positive("media.rtpproxy.timeout", p.Timeout)
	v.positive("media.rtpproxy.probe_interval", p.ProbeInterval)
	if p.HealthInterval > 0 && p.HealthInterval < 100*time.Millisecond {
		v.addf("media.rtpproxy.health_interval", "%v: want at least 100ms (or -1s: no health probe)", p.HealthInterval)
	}
	if p.Retries < -1 {
		v.addf("media.rtpproxy.retries", "want -1 (no resend) or more")
	}
	if p.Notify != "" {
		if err := checkNotifyAddress(p.Notify); err != nil {
			v.addf("media.rtpproxy.notify", "%v", err)
		}
	}
	if p.NotifySocket != "" {
		if err := checkNotifyAddress(p.NotifySocket); err != nil {
			v.addf("media.rtpproxy.notify_socket", "%v", err)
		}
	}

	b := &m.Builtin
	if a, err := netip.ParseAddr(b.MediaIP); b.MediaIP != "" && (err != nil || !a.Is4()) {
		v.addf("media.builtin.media_ip", "%q: want an IPv4 address", b.MediaIP)
	}
	if b.AdvertiseIP != "" {
		if _, err := netip.ParseAddr(b.AdvertiseIP); err != nil {
			v.addf("media.builtin.advertise_ip", "%q: want an IP address", b.AdvertiseIP)
		}
	} else if b.MediaIP == "0.0.0.0" && c.UsesMedia(MediaBuiltin) {
		v.addf("media.builtin.advertise_ip", "media_ip 0.0.0.0 needs the address to write into SDP")
	}
	v.validateMedia6(c)
	if b.PortMin != 0 || b.PortMax != 0 {
		if b.PortMin < 1024 || b.PortMin > 65535 {
			v.addf("media.builtin.port_min", "%d: want 1024-65535", b.PortMin)
		}
		if b.PortMax < 1024 || b.PortMax > 65535 {
			v.addf("media.builtin.port_max", "%d: want 1024-65535", b.PortMax)
		} else if b.PortMax-b.PortMin < 3 {
			v.addf("media.builtin.port_max", "range %d-%d: want at least 4 ports", b.PortMin, b.PortMax)
		}
	}
	if b.TTL != 0 && b.TTL < time.Second {
		v.addf("media.builtin.ttl", "want at least 1s")
	}
	if b.SetupTTL != 0 && b.SetupTTL < time.Second {
		v.addf("media.builtin.setup_ttl", "want at least 1s")
	}
	if b.MaxSessions < 0 {
		v.addf("media.builtin.max_sessions", "must not be negative")
	}
	if b.MaxPacketRate < 0 {
		v.addf("media.builtin.max_packet_rate", "must not be negative")
	}
	if b.MaxBusy >= 1 {
		v.addf("media.builtin.max_busy", "%g: want a share below 1 (0: the default, negative: no limit)", b.MaxBusy)
	}
	for i, s := range b.Control {
		if err := checkControlAddress(s, false); err != nil {
			v.addf(fmt.Sprintf("media.builtin.control[%d]", i), "%v", err)
		}
	}
	for i, s := range b.Notify {
		if err := checkNotifyAddress(s); err != nil {
			v.addf(fmt.Sprintf("media.builtin.notify[%d]", i), "%v", err)
		}
	}
}

// checkControlAddress checks an rtpproxy -s style address. A client
// (rtpproxy relay) needs a host to send to; a listener may use "*".
func checkControlAddress(s string, client bool) error {
	kind, rest, ok := strings.Cut(s, ":")
	if strings.HasPrefix(s, "/") {
		return nil
	}
	if !ok {
		return fmt.Errorf("%q: want udp:host[:port], udp6:host[:port], unix:/path, cunix:/path or tcp:host:port", s)
	}
	switch kind {
	case "unix", "cunix":
		if !strings.HasPrefix(rest, "/") {
			return fmt.Errorf("%q: want an absolute socket path", s)
		}
		return nil
	case "udp", "udp6", "tcp", "tcp6":
		host, port, err := net.SplitHostPort(rest)
		switch {
		case err == nil:
			if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || (n == 0 && client) {
				return fmt.Errorf("%q: port %q: want 1-65535", s, port)
			}
		case kind == "udp" || kind == "udp6":
			host = strings.Trim(rest, "[]") // the port defaults to 22222
		default:
			return fmt.Errorf("%q: %w", s, err)
		}
		if host == "*" && !client {
			return nil
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("%q: host %q: want an IP address", s, host)
		}
		return nil
	}
	return fmt.Errorf("%q: unknown transport %q", s, kind)
}

// checkNotifyAddress checks a timeout-notification target.
func checkNotifyAddress(s string) error {
	kind, rest, _ := strings.Cut(s, ":")
	switch {
	case kind == "unix" && strings.HasPrefix(rest, "/"):
		return nil
	case kind == "tcp":
		if _, _, err := splitHostPort(rest); err != nil {
			return fmt.Errorf("%q: %w", s, err)
		}
		return nil
	}
	return fmt.Errorf("%q: want tcp:host:port or unix:/path", s)
}

// validateMedia6 checks the built-in relay's IPv6 media address, as the
// relay takes it: an IPv6 address without a zone, and an advertised one
// when it is the wildcard, so that an IPv6 SDP always gets an address.
func (v *validator) validateMedia6(c *Config) {
	b := &c.Media.Builtin
	if b.MediaIP6 == "" {
		if b.AdvertiseIP6 != "" {
			v.addf("media.builtin.advertise_ip6", "needs media_ip6 (the IPv6 address the relay binds)")
		}
		return
	}
	a, err := netip.ParseAddr(b.MediaIP6)
	if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
		v.addf("media.builtin.media_ip6", "%q: want an IPv6 address (without a zone)", b.MediaIP6)
		return
	}
	if b.AdvertiseIP6 != "" {
		if adv, err := netip.ParseAddr(b.AdvertiseIP6); err != nil || !adv.Is6() || adv.Is4In6() || adv.Zone() != "" || adv.IsUnspecified() {
			v.addf("media.builtin.advertise_ip6", "%q: want an IPv6 address", b.AdvertiseIP6)
		}
	} else if a.IsUnspecified() && c.UsesMedia(MediaBuiltin) {
		v.addf("media.builtin.advertise_ip6", `media_ip6 "::" needs the address to write into SDP`)
	}
}
