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
	// MediaIP6 is the local IPv6 address of the media sockets of legs that
	// face IPv6 parties (rtpproxy's -6, or the second half of -l v4/v6).
	// Empty: the relay has no IPv6 media, and U/L asking for it get E36.
	// "::" binds all IPv6 addresses (then replies carry only the port
	// unless AdvertiseIP6 is set).
	MediaIP6 string
	// AdvertiseIP6 is AdvertiseIP for the IPv6 legs.
	AdvertiseIP6 string
	// InterfaceIPs are further local addresses a U or L may ask the leg it
	// opens to bind with the l modifier: the media addresses of a switch's
	// interfaces, so that each side of a call bridging two networks gets
	// an address in its own. The reply names the address itself.
	InterfaceIPs []string
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

// mediaAddrs are the relay's local media addresses, one per family, and
// what its U/L replies say of each ("" for a wildcard address without an
// advertised one: the reply then carries the port only, as rtpproxy's).
type mediaAddrs struct {
	local     [numFamilies]netip.Addr // invalid: no media address of that family
	advertise [numFamilies]string
	// interfaces are further addresses an l modifier may bind (Config's
	// InterfaceIPs).
	interfaces []netip.Addr
}

func (c Config) validate() (mediaAddrs, error) {
	var m mediaAddrs
	media, err := netip.ParseAddr(c.MediaIP)
	if err != nil || !media.Is4() {
		return m, fmt.Errorf("relay: media IP %q is not an IPv4 address", c.MediaIP)
	}
	m.local[ipv4] = media
	if m.advertise[ipv4], err = advertised(media, c.AdvertiseIP); err != nil {
		return m, err
	}
	if c.MediaIP6 != "" {
		media6, err := netip.ParseAddr(c.MediaIP6)
		if err != nil || !media6.Is6() || media6.Is4In6() || media6.Zone() != "" {
			return m, fmt.Errorf("relay: IPv6 media IP %q is not an IPv6 address (without a zone)", c.MediaIP6)
		}
		m.local[ipv6] = media6
		if m.advertise[ipv6], err = advertised(media6, c.AdvertiseIP6); err != nil {
			return m, err
		}
	} else if c.AdvertiseIP6 != "" {
		return m, fmt.Errorf("relay: advertise IPv6 %q without an IPv6 media IP", c.AdvertiseIP6)
	}
	for _, s := range c.InterfaceIPs {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return m, fmt.Errorf("relay: interface IP %q is not an IP address (without a zone)", s)
		}
		m.interfaces = append(m.interfaces, a.Unmap())
	}
	if c.PortMin < 1024 || c.PortMax > 65535 || c.PortMax-c.PortMin < 3 {
		return m, fmt.Errorf("relay: port range %d-%d must lie in 1024-65535 and hold at least one port pair", c.PortMin, c.PortMax)
	}
	if c.TTL < time.Second || c.SetupTTL < time.Second {
		return m, fmt.Errorf("relay: TTL %v and setup TTL %v must be at least 1s", c.TTL, c.SetupTTL)
	}
	if c.MaxBusy >= 1 {
		return m, fmt.Errorf("relay: max busy %v must be below 1 (a share of the time)", c.MaxBusy)
	}
	if c.MaxSessions < 0 || c.MaxPacketRate < 0 {
		return m, fmt.Errorf("relay: max sessions and max packet rate must not be negative")
	}
	return m, nil
}

// advertised is the reply text for the media address local, given the
// configured advertised address adv ("" when none).
func advertised(local netip.Addr, adv string) (string, error) {
	if adv == "" {
		if local.IsUnspecified() {
			return "", nil
		}
		return local.String(), nil
	}
	a, err := netip.ParseAddr(adv)
	if err != nil {
		return "", fmt.Errorf("relay: advertise IP %q: %w", adv, err)
	}
	return a.Unmap().String(), nil
}
