package relay

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Config is what the relay needs to run, in both `tollgate relay` and
// in-process use. The zero value of every optional field has a sensible
// default (see WithDefaults); the configuration file leaves a field unset to
// mean that default, so the defaults are written only here.
type Config struct {
	// Control lists the control sockets, in rtpproxy's -s syntax:
	//   "udp:127.0.0.1:22222" (cookies, reply cache; port defaults to 22222,
	//   host "*" means all addresses), "udp6:[::1]:22222",
	//   "unix:/run/tollgate/rtpp.sock" or a bare path (one command per
	//   connection, as Kamailio's module expects), "cunix:/path" (persistent,
	//   \n-framed), "tcp:127.0.0.1:22223" / "tcp6:..." (persistent, pipelined).
	// Empty: the relay is driven only through Handle.
	Control []string
	// MediaIP is the local IPv4 address the RTP/RTCP sockets bind to.
	// Default 127.0.0.1; "0.0.0.0" binds all addresses (then U/L replies
	// carry only the port unless AdvertiseIP is set).
	MediaIP string
	// AdvertiseIP is the address put in U/L replies, i.e. into the SDP, when
	// it differs from MediaIP (a public address in front of a NAT, rtpproxy -A).
	AdvertiseIP string
	// PortMin and PortMax bound the media ports, inclusive. RTP gets the even
	// port, RTCP the odd one above it. Default 35000-65000.
	PortMin, PortMax int
	// SetupTTL is how long a session may wait for its answer leg and first
	// packets (rtpproxy -W). Default 180 s.
	SetupTTL time.Duration
	// TTL is the inactivity timeout of a complete session (rtpproxy -T):
	// with no packet in either direction for this long it ends and its notify
	// target is told. Default 60 s.
	TTL time.Duration
	// MaxSessions refuses new sessions with E98 once this many exist.
	// 0: limited by the port range only.
	MaxSessions int
	// MaxPacketRate refuses new sessions with E98 while the relay receives
	// more packets per second than this (measured each second), so that
	// established calls keep low latency instead of queueing. 0: no limit.
	MaxPacketRate int
	// MaxBusy refuses new sessions with E98 while the busiest packet loop
	// spends more than this share of its time relaying (measured each
	// second, projected to the sessions set up since), before the loops
	// saturate and latency grows. Default 0.45; negative: no limit.
	MaxBusy float64
	// Notify lists the allowed timeout-notification targets (rtpproxy -n):
	// "tcp:host:port" or "unix:/path" (a bare path means unix). A U command
	// naming a target not in this list is accepted without notification;
	// with an empty list, U with notify arguments gets E75.
	Notify []string
}

// Defaults for the optional Config fields.
const (
	DefaultMediaIP = "127.0.0.1"
	DefaultPortMin = 35000
	DefaultPortMax = 65000
	DefaultTTL     = 60 * time.Second
	// DefaultSetupTTL is longer than rtpproxy's 60 s: it outlasts the
	// switch's default max_ring (120 s) plus no_progress, so a long-ringing
	// call keeps its relay session.
	DefaultSetupTTL = 180 * time.Second
	DefaultMaxBusy  = 0.45
	defaultUDPPort  = "22222"
)

// WithDefaults is c with every unset optional field at its default: the
// configuration the relay runs with, for callers that report it.
func (c Config) WithDefaults() Config {
	if c.MediaIP == "" {
		c.MediaIP = DefaultMediaIP
	}
	if c.PortMin == 0 && c.PortMax == 0 {
		c.PortMin, c.PortMax = DefaultPortMin, DefaultPortMax
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.SetupTTL == 0 {
		c.SetupTTL = DefaultSetupTTL
	}
	if c.MaxBusy == 0 {
		c.MaxBusy = DefaultMaxBusy
	}
	return c
}

// controlAddr is one parsed Control entry.
type controlAddr struct {
	spec    string
	network string // udp4, udp6, unix, tcp4, tcp6
	addr    string
	oneShot bool // unix: one command per connection
}

func parseControl(spec string) (controlAddr, error) {
	kind, rest, found := strings.Cut(spec, ":")
	if !found || strings.HasPrefix(spec, "/") {
		kind, rest = "unix", spec
	}
	ca := controlAddr{spec: spec}
	switch kind {
	case "udp", "udp6", "tcp", "tcp6":
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			if kind != "udp" && kind != "udp6" {
				return ca, fmt.Errorf("relay: control socket %q: %w", spec, err)
			}
			host, port = strings.Trim(rest, "[]"), defaultUDPPort
		}
		if host == "*" {
			host = ""
		}
		ca.network = map[string]string{"udp": "udp4", "udp6": "udp6", "tcp": "tcp4", "tcp6": "tcp6"}[kind]
		ca.addr = net.JoinHostPort(host, port)
	case "unix", "cunix":
		if rest == "" {
			return ca, fmt.Errorf("relay: control socket %q: empty path", spec)
		}
		ca.network, ca.addr, ca.oneShot = "unix", rest, kind == "unix"
	default:
		return ca, fmt.Errorf("relay: control socket %q: unknown type %q", spec, kind)
	}
	return ca, nil
}

func (c Config) validate() (media, advertise netip.Addr, err error) {
	media, err = netip.ParseAddr(c.MediaIP)
	if err != nil || !media.Is4() {
		return media, advertise, fmt.Errorf("relay: media IP %q is not an IPv4 address", c.MediaIP)
	}
	advertise = media
	if c.AdvertiseIP != "" {
		advertise, err = netip.ParseAddr(c.AdvertiseIP)
		if err != nil {
			return media, advertise, fmt.Errorf("relay: advertise IP %q: %w", c.AdvertiseIP, err)
		}
	}
	if c.PortMin < 1024 || c.PortMax > 65535 || c.PortMax-c.PortMin < 3 {
		return media, advertise, fmt.Errorf("relay: port range %d-%d must lie in 1024-65535 and hold at least one port pair", c.PortMin, c.PortMax)
	}
	if c.TTL < time.Second || c.SetupTTL < time.Second {
		return media, advertise, fmt.Errorf("relay: TTL %v and setup TTL %v must be at least 1s", c.TTL, c.SetupTTL)
	}
	if c.MaxBusy >= 1 {
		return media, advertise, fmt.Errorf("relay: max busy %v must be below 1 (a share of the time)", c.MaxBusy)
	}
	if c.MaxSessions < 0 || c.MaxPacketRate < 0 {
		return media, advertise, fmt.Errorf("relay: max sessions and max packet rate must not be negative")
	}
	return media, advertise, nil
}
