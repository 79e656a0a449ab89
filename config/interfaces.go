package config

import (
	"fmt"
	"net/netip"
	"slices"
)

// Interface is one named SIP interface (SEMS's signalling and media
// interfaces): the addresses Tollgate listens on in one network, the
// address it shows that network, and where its media is relayed. Several
// let one Tollgate bridge a private and a public network: a call comes in
// on one and a profile sends its gateway leg out on another
// (outbound_interface), each leg's media on the relay address of its own
// network (rtprelay_interface, aleg_rtprelay_interface).
//
// sip.listen and sip.public_address are the interface named "default"
// ($Rf 0), present when sip.listen is set; sip.interfaces are numbered from
// 1 in their order.
type Interface struct {
	Name string `yaml:"name"`
	// Listen holds "transport:host:port" entries, as sip.listen.
	Listen []string `yaml:"listen"`
	// PublicAddress is the host (and optional port) written into Via and
	// Contact of what leaves through this interface; empty: the listen
	// address.
	PublicAddress string `yaml:"public_address"`
	// MediaIP is the IPv4 address the relay receives this interface's legs'
	// media on (the built-in relay binds its sockets there); empty: the
	// relay's own address (media.builtin.media_ip).
	MediaIP string `yaml:"media_ip"`
	// MediaAdvertise is the address written into the SDP for MediaIP, when
	// it differs (a NAT in front of the interface); empty: MediaIP.
	MediaAdvertise string `yaml:"media_advertise"`
}

// DefaultInterface is the name of the interface sip.listen makes.
const DefaultInterface = "default"

// InterfaceNames are the names of the configured interfaces, the default
// one first when sip.listen is set.
func (s SIP) InterfaceNames() []string {
	var out []string
	if len(s.Listen) > 0 {
		out = append(out, DefaultInterface)
	}
	for _, i := range s.Interfaces {
		out = append(out, i.Name)
	}
	return out
}

// MediaInterface returns the named interface's media address and the
// address the SDP shows for it; both invalid when the interface has no
// media address of its own (or is the default one, whose media is the
// relay's).
func (s SIP) MediaInterface(name string) (bind, advertise netip.Addr) {
	for _, i := range s.Interfaces {
		if i.Name != name || i.MediaIP == "" {
			continue
		}
		bind, _ = netip.ParseAddr(i.MediaIP)
		advertise = bind
		if i.MediaAdvertise != "" {
			advertise, _ = netip.ParseAddr(i.MediaAdvertise)
		}
		return bind, advertise
	}
	return netip.Addr{}, netip.Addr{}
}

// MediaIPs are the interfaces' media addresses, which a built-in relay
// must be allowed to bind.
func (s SIP) MediaIPs() []string {
	var out []string
	for _, i := range s.Interfaces {
		if i.MediaIP != "" && !slices.Contains(out, i.MediaIP) {
			out = append(out, i.MediaIP)
		}
	}
	return out
}

// hasInterface reports whether name is a configured interface.
func (s SIP) hasInterface(name string) bool {
	return slices.Contains(s.InterfaceNames(), name)
}

// validateInterfaces parses every interface's listen addresses into the
// listeners, after sip.listen's: seen holds the transport and address of
// every listener parsed so far, so that two interfaces cannot claim one
// socket.
func (v *validator) validateInterfaces(c *Config, seen map[string]bool) {
	names := map[string]bool{DefaultInterface: len(c.SIP.Listen) > 0}
	for i, in := range c.SIP.Interfaces {
		path := fmt.Sprintf("sip.interfaces[%d]", i)
		switch {
		case !isName(in.Name):
			v.addf(path+".name", "%q: want a name of letters, digits, '-' or '_'", in.Name)
		case names[in.Name]:
			v.addf(path+".name", "%q: interface named twice (default is sip.listen's)", in.Name)
		}
		names[in.Name] = true
		if len(in.Listen) == 0 {
			v.addf(path+".listen", "an interface needs at least one listen address")
		}
		for j, s := range in.Listen {
			l, err := parseListen(s)
			lpath := fmt.Sprintf("%s.listen[%d]", path, j)
			if err != nil {
				v.addf(lpath, "%v", err)
				continue
			}
			if seen[l.Transport+l.Addr()] {
				v.addf(lpath, "listed twice")
			}
			seen[l.Transport+l.Addr()] = true
			l.Interface, l.InterfaceID, l.Public = in.Name, i+1, in.PublicAddress
			c.SIP.listeners = append(c.SIP.listeners, l)
		}
		if in.MediaIP != "" {
			if a, err := netip.ParseAddr(in.MediaIP); err != nil || !a.Is4() {
				v.addf(path+".media_ip", "%q: want an IPv4 address (the relay's media is IPv4)", in.MediaIP)
			}
		}
		if in.MediaAdvertise != "" {
			if _, err := netip.ParseAddr(in.MediaAdvertise); err != nil || in.MediaIP == "" {
				v.addf(path+".media_advertise", "%q: want an IP address, beside media_ip", in.MediaAdvertise)
			}
		}
	}
}

// validateProfileInterfaces checks that the interfaces profiles name exist.
func (v *validator) validateProfileInterfaces(c *Config) {
	for i, cp := range c.Profiles {
		for _, o := range []struct{ option, name string }{
			{"outbound_interface", cp.OutboundInterface},
			{"rtprelay_interface", cp.RTPRelayInterface},
			{"aleg_rtprelay_interface", cp.ALegRTPRelayInterface},
		} {
			if o.name != "" && !c.SIP.hasInterface(o.name) {
				v.addf(fmt.Sprintf("profiles[%d].%s", i, o.option), "%q: no such interface (want one of %v)",
					o.name, c.SIP.InterfaceNames())
			}
		}
	}
}

// validateRegistrationInterface checks the interface cached REGISTERs
// leave through.
func (v *validator) validateRegistrationInterface(c *Config) {
	name := c.Registration.UpstreamInterface
	if name == "" {
		return
	}
	switch {
	case c.Registration.Mode != RegistrationCache:
		v.addf("registration.upstream_interface", "only with mode: cache (nothing goes upstream otherwise)")
	case !c.SIP.hasInterface(name):
		v.addf("registration.upstream_interface", "%q: no such interface (want one of %v)", name, c.SIP.InterfaceNames())
	}
}

// ProfileInterfaces are the interfaces a profile's calls use, by name
// (SEMS's outbound_interface, rtprelay_interface, aleg_rtprelay_interface).
// Unset, the gateway leg leaves through the first interface with a
// listener for its transport and address family, and each leg's media
// is on the relay's own address.
type ProfileInterfaces struct {
	// OutboundInterface is the interface the gateway leg's requests leave
	// through: their Via and Contact, and the socket they are sent from.
	OutboundInterface string `yaml:"outbound_interface,omitempty"`
	// RTPRelayInterface is the media interface of the gateway leg: the
	// relay address its SDP carries. ALegRTPRelayInterface is the caller
	// leg's.
	RTPRelayInterface     string `yaml:"rtprelay_interface,omitempty"`
	ALegRTPRelayInterface string `yaml:"aleg_rtprelay_interface,omitempty"`
}

// isName reports whether s is a non-empty name of letters, digits, '-'
// and '_'.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
