package b2bua

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// probeDownAfter is how many probes in a row must go unanswered before a
// gateway is taken out of the hunt: one lost datagram is not an outage.
const probeDownAfter = 2

// probeHistory bounds the state changes kept per gateway.
const probeHistory = 20

// GatewayHealth is what the probes found of one probed gateway.
type GatewayHealth struct {
	Address   string         `json:"address"`
	Transport string         `json:"transport"`
	Up        bool           `json:"up"`
	Since     time.Time      `json:"since"` // of the current state
	LastProbe time.Time      `json:"last_probe"`
	Failures  int            `json:"failures"` // unanswered probes in a row
	History   []HealthChange `json:"history"`  // newest last
}

// HealthChange is one change of a gateway's state.
type HealthChange struct {
	At time.Time `json:"at"`
	Up bool      `json:"up"`
}

// health holds the probed gateways' states, keyed by transport and
// address. A gateway nobody probes is absent and always hunted.
type health struct {
	mu sync.Mutex
	m  map[string]*GatewayHealth
}

func healthKey(gw config.Gateway) string { return gw.Transport + ":" + gw.Address }

// down reports whether the hunt is to skip gw.
func (h *health) down(gw config.Gateway) bool {
	if !gw.Probe {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	g := h.m[healthKey(gw)]
	return g != nil && !g.Up
}

// probeResult is how one probe ended.
type probeResult int

const (
	probeAnswered   probeResult = iota // any response
	probeUnanswered                    // nothing within the interval
	// probeUnreachable: an ICMP destination unreachable came back for it
	// (unreachable.go). Unlike a silence, which may be one lost datagram,
	// it says that nothing listens there: the gateway is down at once.
	probeUnreachable
)

// note records one probe's outcome. A gateway starts up: a switch that
// has just started routes at once rather than after its first probes.
func (h *health) note(gw config.Gateway, result probeResult, now time.Time) (changed bool, g GatewayHealth) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.m[healthKey(gw)]
	if st == nil {
		st = &GatewayHealth{Address: gw.Address, Transport: gw.Transport, Up: true, Since: now}
		h.m[healthKey(gw)] = st
	}
	st.LastProbe = now
	up := st.Up
	switch result {
	case probeAnswered:
		st.Failures = 0
		up = true
	case probeUnanswered:
		if st.Failures++; st.Failures >= probeDownAfter {
			up = false
		}
	case probeUnreachable:
		st.Failures++
		up = false
	}
	if up != st.Up {
		st.Up, st.Since, changed = up, now, true
		st.History = append(st.History, HealthChange{At: now, Up: up})
		if len(st.History) > probeHistory {
			st.History = slices.Delete(st.History, 0, len(st.History)-probeHistory)
		}
	}
	return changed, *st
}

// keep forgets the gateways no longer probed.
func (h *health) keep(probed map[string]config.Gateway) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.m {
		if _, ok := probed[k]; !ok {
			delete(h.m, k)
		}
	}
}

// GatewayHealth lists the probed gateways' states, by address.
func (s *Switch) GatewayHealth() []GatewayHealth {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	out := make([]GatewayHealth, 0, len(s.health.m))
	for _, g := range s.health.m {
		c := *g
		c.History = slices.Clone(g.History)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b GatewayHealth) int { return strings.Compare(a.Transport+a.Address, b.Transport+b.Address) })
	return out
}

// probe sends an OPTIONS to every gateway with probe: true of the routes
// in force, every timers.probe_interval, until ctx ends. Each probe has the
// interval to be answered, so that probes never pile up.
func (s *Switch) probe(ctx context.Context) {
	for {
		cfg := s.Config()
		interval := cfg.Timers.ProbeInterval
		probed := map[string]config.Gateway{}
		for _, r := range cfg.Routes {
			for _, gw := range r.Gateways {
				if gw.Probe {
					probed[healthKey(gw)] = gw
				}
				for _, m := range gw.Members {
					if m.Gateway.Probe {
						probed[healthKey(m.Gateway)] = m.Gateway
					}
				}
			}
		}
		s.health.keep(probed)
		var wg sync.WaitGroup
		for _, gw := range probed {
			wg.Go(func() {
				pctx, cancel := context.WithTimeout(ctx, interval)
				defer cancel()
				result, why := s.options(pctx, gw)
				if ctx.Err() != nil {
					return
				}
				if changed, g := s.health.note(gw, result, time.Now()); changed {
					args := []any{"gateway", gw.Address, "transport", gw.Transport, "up", g.Up}
					if result == probeUnreachable {
						args = append(args, "icmp", why)
					}
					s.log.Warn("gateway probe: state changed", args...)
				}
			})
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// errUnreachable ends a probe an ICMP unreachable answered.
type errUnreachable struct{ why string }

func (e errUnreachable) Error() string { return "ICMP " + e.why }

// options sends one OPTIONS to gw and reports whether anything answered,
// and the ICMP error that answered instead, if one did.
func (s *Switch) options(ctx context.Context, gw config.Gateway) (result probeResult, icmp string) {
	host, port := splitHostPort(gw.Address)
	l := pickListener(s.listeners, gw.Transport, strings.Contains(host, ":"))
	if l == nil {
		return probeUnanswered, ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // as sipgo keeps an IPv6 host in a URI
	}
	uri := sip.Uri{Scheme: "sip", Host: host, Port: port}
	req := sip.NewRequest(sip.OPTIONS, uri)
	req.AppendHeader(l.via())
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "ping", Host: l.host, Port: l.adPort}, Params: sip.NewParams()}
	from.Params.Add("tag", newTag())
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: uri, Params: sip.NewParams()})
	callID := sip.CallIDHeader(sip.GenerateTagN(24))
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(l.contact())
	req.AppendHeader(sip.NewHeader("User-Agent", s.Config().SIP.UserAgent))
	req.SetTransport(gw.Transport)
	req.SetDestination(gw.Address)
	l.bind(req)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if gw.Transport == "udp" {
		defer s.unreach.stop(s.unreach.watch(gw.Address, func(why string) { cancel(errUnreachable{why}) }))
	}
	res, err := s.do(ctx, req)
	var unreach errUnreachable
	switch {
	case err == nil && res != nil:
		return probeAnswered, ""
	case errors.As(context.Cause(ctx), &unreach):
		return probeUnreachable, unreach.why
	}
	return probeUnanswered, ""
}
