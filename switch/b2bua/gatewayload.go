package b2bua

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tollgate/tollgate/config"
)

// GatewayLoad is what a gateway with max_calls or max_cps carries now and
// how often the hunt skipped it for either.
type GatewayLoad struct {
	Address   string  `json:"address"`
	Transport string  `json:"transport"`
	Active    int     `json:"active"` // attempts in progress and calls connected through it
	MaxCalls  int     `json:"max_calls"`
	MaxCPS    float64 `json:"max_cps"`
	// SkippedFull and SkippedRate count the attempts the hunt did not make
	// because the gateway was at max_calls or above max_cps.
	SkippedFull uint64 `json:"skipped_full"`
	SkippedRate uint64 `json:"skipped_rate"`
}

// A gateway is skipped for one of these; each is its attempt's failure
// when every gateway of the route was skipped.
const (
	skipFull = "Gateway Capacity Reached"
	skipRate = "Gateway Rate Exceeded"
)

// gatewayLoads tracks only the gateways that have max_calls or max_cps,
// keyed like health: a gateway without either costs the hunt nothing. One
// mutex is enough: it is taken once per attempt on a limited gateway and
// held for a few arithmetic steps.
type gatewayLoads struct {
	mu sync.Mutex
	m  map[string]*gatewayLoad
}

type gatewayLoad struct {
	GatewayLoad
	tokens float64
	last   time.Time
}

// limited reports whether the hunt must count and pace gw.
func limited(gw config.Gateway) bool { return gw.MaxCalls > 0 || gw.MaxCPS > 0 }

// take counts a new attempt toward gw at now, or names why the hunt is to
// skip it ("" when taken). Every take that returns "" needs one give.
func (l *gatewayLoads) take(gw config.Gateway, now time.Time) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.m[healthKey(gw)]
	if g == nil {
		g = &gatewayLoad{GatewayLoad: GatewayLoad{Address: gw.Address, Transport: gw.Transport}, tokens: max(1, gw.MaxCPS), last: now}
		l.m[healthKey(gw)] = g
	}
	// The limits come with each attempt: a route change applies to the
	// next one, with the count of what is in progress kept.
	g.MaxCalls, g.MaxCPS = gw.MaxCalls, gw.MaxCPS
	if gw.MaxCalls > 0 && g.Active >= gw.MaxCalls {
		g.SkippedFull++
		return skipFull
	}
	if gw.MaxCPS > 0 {
		burst := max(1, gw.MaxCPS)
		if dt := now.Sub(g.last).Seconds(); dt > 0 {
			g.tokens = min(burst, g.tokens+dt*gw.MaxCPS)
		}
		g.last = now
		if g.tokens < 1 {
			g.SkippedRate++
			return skipRate
		}
		g.tokens--
	}
	g.Active++
	return ""
}

// give ends an attempt or call counted by take.
func (l *gatewayLoads) give(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if g := l.m[key]; g != nil && g.Active > 0 {
		g.Active--
	}
}

// GatewayLoads lists the gateways with max_calls or max_cps that calls
// have been sent to since start, by transport and address.
func (s *Switch) GatewayLoads() []GatewayLoad {
	s.loads.mu.Lock()
	defer s.loads.mu.Unlock()
	out := make([]GatewayLoad, 0, len(s.loads.m))
	for _, g := range s.loads.m {
		out = append(out, g.GatewayLoad)
	}
	slices.SortFunc(out, func(a, b GatewayLoad) int { return strings.Compare(a.Transport+a.Address, b.Transport+b.Address) })
	return out
}
