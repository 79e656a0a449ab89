package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// PCallControl lets a trusted peer choose call-control modules per call
// in a P-CallControl header, as SEMS's call_control=...,$H(P-CallControl)
// does: a proxy in front of the switch that knows the caller's account
// sets its call timer or parallel-call limit. The header of a source not
// listed in Trusted is ignored, and the header never crosses to the
// gateway.
type PCallControl struct {
	// Trusted are the addresses or networks ("10.0.0.0/8", "192.0.2.7")
	// whose header is honoured; at least one is needed.
	Trusted []string `yaml:"trusted"`
	// Modules are the modules the header may choose: call_timer and limit
	// (both when left out).
	Modules []string `yaml:"modules"`

	trusted []netip.Prefix
}

// The modules a P-CallControl header may choose.
const (
	PCCCallTimer = "call_timer"
	PCCLimit     = "limit"
)

// PCCModules are the modules a P-CallControl header may choose.
var PCCModules = []string{PCCCallTimer, PCCLimit}

// Trusts reports whether a header from src is honoured.
func (p *PCallControl) Trusts(src netip.Addr) bool {
	src = src.Unmap()
	for _, n := range p.trusted {
		if n.Contains(src) {
			return true
		}
	}
	return false
}

// Allows reports whether the header may choose module.
func (p *PCallControl) Allows(module string) bool { return slices.Contains(p.Modules, module) }

func (v *validator) compilePCallControl(path string, p *PCallControl) bool {
	if p == nil {
		return true
	}
	ok := true
	if len(p.Trusted) == 0 {
		v.addf(path+".trusted", "list the addresses or networks whose P-CallControl is honoured")
		ok = false
	}
	p.trusted = p.trusted[:0]
	for i, s := range p.Trusted {
		pfx, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			a, aerr := netip.ParseAddr(strings.TrimSpace(s))
			if aerr != nil {
				v.addf(fmt.Sprintf("%s.trusted[%d]", path, i), "%q: want an address or a network (10.0.0.0/8)", s)
				ok = false
				continue
			}
			pfx = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		p.trusted = append(p.trusted, pfx.Masked())
	}
	if len(p.Modules) == 0 {
		p.Modules = slices.Clone(PCCModules)
	}
	for i, m := range p.Modules {
		if !slices.Contains(PCCModules, m) {
			v.addf(fmt.Sprintf("%s.modules[%d]", path, i), "%q: want %s", m, strings.Join(PCCModules, " or "))
			ok = false
		}
	}
	return ok
}
