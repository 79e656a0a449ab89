package callctl

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// pCallControl is SEMS's call_control=...,$H(P-CallControl): a trusted
// peer (the proxy in front of the switch, which knows the caller's
// account) chooses call-control modules for one call in a header,
//
//	P-CallControl: call_timer;timer=3600, limit;key=acct-7;max_calls=5
//
// (SEMS's module names cc_call_timer and cc_pcalls, and cc_pcalls' uuid
// for key, are read too). The header of a source the profile does not
// trust is ignored: a caller must not lift its own limits. A trusted
// header that does not parse refuses the call, rather than let it through
// with a limit its sender meant to set. The modules chosen run at this
// module's place in the table, beside the profile's own, and the header
// never crosses to the gateway (headers.go).
type pCallControl struct {
	Base
	// End may run while Invite does (a CANCEL): the modules chosen are
	// handed over under mu, and once the call has ended none are.
	mu     sync.Mutex
	chosen []Module
	phase  pccPhase
}

type pccPhase int

const (
	pccOpen  pccPhase = iota // the call has not ended
	pccEnded                 // End has run
)

func newPCallControl(p *config.Profile) Module {
	if p.PCallControl == nil {
		return nil
	}
	return &pCallControl{}
}

func (m *pCallControl) Invite(c *Call, inv *sip.Request) *config.Reply {
	hs := inv.GetHeaders("P-CallControl")
	if len(hs) == 0 {
		return nil
	}
	// The transport's source, not $si: a front proxy may name the caller's
	// address for patterns, but it is the proxy that sent the header.
	src, err := netip.ParseAddrPort(inv.Source())
	if err != nil || !c.Profile.PCallControl.Trusts(src.Addr()) {
		c.Log.Info("P-CallControl from an untrusted source ignored", "source", inv.Source())
		return nil
	}
	var chosen []Module
	for _, h := range hs {
		for entry := range strings.SplitSeq(h.Value(), ",") {
			mod, err := chooseModule(strings.TrimSpace(entry), c.Profile.PCallControl)
			if err != nil {
				c.Log.Warn("P-CallControl refused", "entry", entry, "error", err)
				return &config.Reply{Code: 400, Reason: "Bad P-CallControl"}
			}
			chosen = append(chosen, mod)
		}
	}
	m.mu.Lock()
	if m.phase == pccEnded {
		m.mu.Unlock()
		return nil
	}
	m.chosen = chosen
	m.mu.Unlock()
	for _, mod := range chosen {
		if r := mod.Invite(c, inv); r != nil {
			return r
		}
	}
	return nil
}

func (m *pCallControl) Connect(c *Call) {
	m.mu.Lock()
	chosen := m.chosen
	m.mu.Unlock()
	for _, mod := range chosen {
		mod.Connect(c)
	}
}

func (m *pCallControl) End(c *Call) {
	m.mu.Lock()
	chosen := m.chosen
	m.phase = pccEnded
	m.mu.Unlock()
	for _, mod := range chosen {
		mod.End(c)
	}
}

// chooseModule builds the module one header entry names,
// "name;param=value;...", if the profile lets the header choose it.
func chooseModule(entry string, pcc *config.PCallControl) (Module, error) {
	name, rest, _ := strings.Cut(entry, ";")
	params := map[string]string{}
	for p := range strings.SplitSeq(rest, ";") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		params[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	switch strings.ToLower(strings.TrimSpace(name)) {
	case config.PCCCallTimer, "cc_call_timer":
		if !pcc.Allows(config.PCCCallTimer) {
			return nil, errors.New("call_timer is not allowed by the profile")
		}
		secs, err := positive(params, "timer")
		if err != nil {
			return nil, err
		}
		return &callTimer{secs: secs}, nil
	case config.PCCLimit, "cc_pcalls":
		if !pcc.Allows(config.PCCLimit) {
			return nil, errors.New("limit is not allowed by the profile")
		}
		key := params["key"]
		if key == "" {
			key = params["uuid"]
		}
		if key == "" {
			return nil, errors.New("limit needs a key")
		}
		maxCalls, err := positive(params, "max_calls")
		if err != nil {
			return nil, err
		}
		return &limit{chosen: &chosenLimit{key: key, max: maxCalls}}, nil
	}
	return nil, fmt.Errorf("%q: no such module", name)
}

func positive(params map[string]string, name string) (int, error) {
	n, err := strconv.Atoi(params[name])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s %q: want a positive number", name, params[name])
	}
	return n, nil
}
