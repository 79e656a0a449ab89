package relay

import (
	"net/netip"
	"slices"
	"strconv"
)

// updateMods are the U/L modifiers of section 2.5.
type updateMods struct {
	asym    bool // A, unless S is also given
	weak    bool // W
	newPort bool // N
	v6      bool // 6: the command's address is IPv6
	// local is the address an l or r modifier named (invalid: none): the
	// port the reply names takes a local address of its family, so that
	// a controller can bridge an IPv4 party and an IPv6 one.
	local netip.Addr
	// bind is the address an l modifier named when it is one of the
	// relay's interfaces (InterfaceIPs): the leg the command opens binds
	// there instead of on the family's media address.
	bind   netip.Addr
	ptime  int // Z<ms>
	codecs string
}

// parseUpdateMods reads the modifier letters of a U or L command. media
// are the relay's local media addresses, against which l/r are checked:
// l must name one of them (or any address of a family whose media address
// is a wildcard), r an address of a family the relay has media in. The
// relay has one address per family, so the route r asks for is that one.
func parseUpdateMods(mods string, media mediaAddrs) (updateMods, error) {
	var m updateMods
	var a, s, haveCodecs bool
	for i := 0; i < len(mods); {
		ch := lower(mods[i])
		i++
		switch ch {
		case 'a':
			a = true
		case 's':
			s = true
		case 'w':
			m.weak = true
		case 'n':
			m.newPort = true
		case '6':
			m.v6 = true
		case 'e':
			return m, eBridgeE
		case 'i':
			return m, eBridgeI
		case 'z':
			j := span(mods, i, isDigit)
			v, err := strconv.Atoi(mods[i:j])
			if err != nil || v < 1 || v > 999 {
				return m, ePtime
			}
			m.ptime, i = v, j
		case 'c':
			j := span(mods, i, func(b byte) bool { return isDigit(b) || b == ',' })
			list := mods[i:j]
			if haveCodecs || !validCodecs(list) {
				return m, eCodecs
			}
			m.codecs, haveCodecs, i = list, true, j
		case 'l', 'r':
			addr, j, ok := modAddr(mods, i)
			if !ok {
				if ch == 'l' {
					return m, eLocalSyntax
				}
				return m, eRemoteSyntax
			}
			i = j
			addr = addr.Unmap()
			own := media.local[familyOf(addr)]
			iface := slices.Contains(media.interfaces, addr)
			if ch == 'l' && !iface && (!own.IsValid() || (addr != own && !own.IsUnspecified())) {
				return m, eLocalAddr
			}
			if ch == 'l' && iface {
				m.bind = addr
			}
			if ch == 'r' && !own.IsValid() {
				return m, eRemoteAddr
			}
			m.local = addr
		default:
			return m, eBadMod
		}
	}
	m.asym = a && !s
	return m, nil
}

// modAddr reads the address after an l or r modifier: an IPv4 literal, or
// an IPv6 one in brackets. A {label} never resolves: the relay has no
// address labels.
func modAddr(mods string, i int) (netip.Addr, int, bool) {
	if i < len(mods) && mods[i] == '[' {
		j := i + 1
		for j < len(mods) && mods[j] != ']' {
			j++
		}
		if j == len(mods) {
			return netip.Addr{}, j, false
		}
		a, err := netip.ParseAddr(mods[i+1 : j])
		return a, j + 1, err == nil
	}
	j := span(mods, i, func(b byte) bool { return isDigit(b) || b == '.' })
	a, err := netip.ParseAddr(mods[i:j])
	return a, j, err == nil
}

func validCodecs(list string) bool {
	if list == "" {
		return false
	}
	prev := byte(',')
	for i := 0; i < len(list); i++ {
		if list[i] == ',' && prev == ',' {
			return false
		}
		prev = list[i]
	}
	return prev != ','
}

func span(s string, i int, ok func(byte) bool) int {
	for i < len(s) && ok(s[i]) {
		i++
	}
	return i
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
