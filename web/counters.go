package web

import (
	"maps"
	"slices"

	"github.com/tollgate/tollgate/switch/b2bua"
)

// outcomeCount is how many attempts toward gateways ended one way.
type outcomeCount struct {
	Outcome  string  `json:"outcome"`
	Attempts uint64  `json:"attempts"`
	Percent  float64 `json:"percent"` // of all attempts
}

// gatewayAttempts lists the switch's attempts by outcome, every outcome
// present, in the switch's order (answered near the top), so that the
// dashboard's rows and the metric's series never come and go.
func gatewayAttempts(st *b2bua.Stats) []outcomeCount {
	m := st.AttemptsByOutcome()
	keys := slices.Sorted(maps.Keys(m))
	var total uint64
	for _, n := range m {
		total += n
	}
	out := make([]outcomeCount, 0, len(keys))
	for _, o := range keys {
		c := outcomeCount{Outcome: o.String(), Attempts: m[o]}
		if total > 0 {
			c.Percent = 100 * float64(c.Attempts) / float64(total)
		}
		out = append(out, c)
	}
	return out
}

// limitCount is how many calls one billing limit refused.
type limitCount struct {
	Limit string `json:"limit"`
	Calls uint64 `json:"calls"`
}

// limitRefusals lists the refusals by limit kind; nil when the server was
// not given the limits' counters.
func (s *Server) limitRefusals() []limitCount {
	if s.opt.LimitRefusals == nil {
		return nil
	}
	m := s.opt.LimitRefusals()
	keys := slices.Sorted(maps.Keys(m))
	out := make([]limitCount, 0, len(keys))
	for _, k := range keys {
		out = append(out, limitCount{Limit: k.String(), Calls: m[k]})
	}
	return out
}
