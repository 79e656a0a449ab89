package relay

import (
	"net/netip"

	"golang.org/x/sys/unix"
)

// family is the IP address family of a leg's media sockets: the family of
// the party the leg faces. The two legs of a session may differ, which is
// how the relay bridges an IPv4 party and an IPv6 one.
type family uint8

const (
	ipv4 family = iota
	ipv6
	numFamilies
)

func familyOf(a netip.Addr) family {
	if a.Unmap().Is4() {
		return ipv4
	}
	return ipv6
}

func (f family) String() string {
	if f == ipv6 {
		return "IPv6"
	}
	return "IPv4"
}

// domain is the socket domain of the family.
func (f family) domain() int {
	if f == ipv6 {
		return unix.AF_INET6
	}
	return unix.AF_INET
}
