package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/cdr"
)

// callStats are the CDR figures of a time window.
type callStats struct {
	Calls    int64   `json:"calls"`
	Answered int64   `json:"answered"`
	ASR      float64 `json:"asr"`      // answered / calls, percent
	ACDSec   float64 `json:"acd_sec"`  // mean duration of answered calls
	PDDMs    float64 `json:"pdd_ms"`   // mean post-dial delay
	Minutes  float64 `json:"minutes"`  // billed minutes
	Failures []cause `json:"failures"` // by SIP code, most frequent first
	Hourly   []hour  `json:"hourly"`   // per hour, oldest first
	Window   string  `json:"window"`   // e.g. "24h"
}

type cause struct {
	Code   int    `json:"sip_code"`
	Reason string `json:"reason"`
	Calls  int64  `json:"calls"`
}

type hour struct {
	At       time.Time `json:"t"`
	Calls    int64     `json:"calls"`
	Answered int64     `json:"answered"`
	ASR      float64   `json:"asr"`
	ACDSec   float64   `json:"acd_sec"`
	PDDMs    float64   `json:"pdd_ms"`
}

// cdrStats sums up the CDRs set up in the last window, from the hourly
// rollups (cdr.Hourly, cdr.Failures): the dashboard's polling costs the
// window's hours, not its calls.
func (s *Server) cdrStats(ctx context.Context, window time.Duration) (callStats, error) {
	// Empty lists are [] in JSON, as the API's description says, not null.
	st := callStats{Window: window.String(), Failures: []cause{}, Hourly: []hour{}}
	from := time.Now().Add(-window)
	hours, err := cdr.Hourly(ctx, s.db, from)
	if err != nil {
		return st, err
	}
	var durSum, pddSum float64
	var pddN int64
	for _, hs := range hours {
		h := hour{At: hs.At, Calls: hs.Calls, Answered: hs.Answered, ACDSec: hs.MeanDurationMs / 1000, PDDMs: hs.MeanPostDialDelay}
		if h.Calls > 0 {
			h.ASR = 100 * float64(h.Answered) / float64(h.Calls)
		}
		st.Calls += h.Calls
		st.Answered += h.Answered
		durSum += h.ACDSec * float64(h.Answered)
		if h.PDDMs > 0 {
			pddSum += h.PDDMs * float64(h.Calls)
			pddN += h.Calls
		}
		st.Minutes += float64(hs.BilledSeconds) / 60
		st.Hourly = append(st.Hourly, h)
	}
	if st.Calls > 0 {
		st.ASR = 100 * float64(st.Answered) / float64(st.Calls)
	}
	if st.Answered > 0 {
		st.ACDSec = durSum / float64(st.Answered)
	}
	if pddN > 0 {
		st.PDDMs = pddSum / float64(pddN)
	}
	failures, err := cdr.Failures(ctx, s.db, from, 10)
	if err != nil {
		return st, err
	}
	for _, f := range failures {
		st.Failures = append(st.Failures, cause{Code: f.SIPCode, Reason: f.Reason, Calls: f.Calls})
	}
	return st, nil
}

// liveStats is what the dashboard polls.
type liveStats struct {
	Now      time.Time `json:"now"`
	Active   int64     `json:"active_calls"`
	Started  uint64    `json:"calls_started"`
	Answered uint64    `json:"calls_answered"`
	Ended    uint64    `json:"calls_ended"`
	Refused  uint64    `json:"calls_refused"` // 503 at the front door: overload or drain
	Bad      uint64    `json:"sip_malformed"`
	// Attempts are the attempts toward gateways by outcome, and Limits the
	// calls refused by each billing limit (absent when not known).
	Attempts []outcomeCount `json:"gateway_attempts"`
	Limits   []limitCount   `json:"calls_refused_by_limit,omitempty"`
	CPS      float64        `json:"cps"`
	Series   []sample       `json:"series"`
	CDR      *callStats     `json:"cdr,omitempty"`
	CDRError string         `json:"cdr_error,omitempty"`
	// Nodes are the load and health of every node of a cluster (absent on
	// a single server), ClusterError why they could not be asked.
	Nodes        []nodeView `json:"nodes,omitempty"`
	ClusterError string     `json:"cluster_error,omitempty"`
}

func (s *Server) live(ctx context.Context, minutes int, window time.Duration) liveStats {
	st := s.sw.Stats()
	now := time.Now()
	ls := liveStats{
		Now: now, Active: s.sw.ActiveCalls(), Started: st.CallsStarted.Load(), Answered: st.CallsAnswered.Load(),
		Ended: st.CallsEnded.Load(), Refused: st.Refused.Load(), Bad: st.Malformed.Load(),
		Attempts: gatewayAttempts(st), Limits: s.limitRefusals(),
		CPS: s.series.last().CPS, Series: s.series.since(now.Add(-time.Duration(minutes) * time.Minute)),
	}
	if ls.Series == nil {
		ls.Series = []sample{}
	}
	if s.opt.Cluster != nil {
		// Health and load only: no node lists a call for the dashboard.
		if nodes, err := s.opt.Cluster.List(ctx, "", 0); err != nil {
			s.log.Warn("cluster view unavailable", "error", err)
			ls.ClusterError = "The other cluster nodes could not be asked."
		} else {
			ls.Nodes = nodeViews(nodes)
		}
	}
	if window > 0 {
		cs, err := s.cdrStats(ctx, window)
		if err != nil {
			s.log.Error("CDR statistics", "error", err)
			ls.CDRError = "CDR statistics unavailable"
		} else {
			ls.CDR = &cs
		}
	}
	return ls
}

// dashboardRanges are the windows the dashboard's picker offers for its
// CDR figures, each as many hours as /api/v1/stats?hours= takes; the
// Statistics page goes further, per gateway, route and account.
var dashboardRanges = []struct {
	Name  string
	Hours int
}{{"1h", 1}, {"24h", 24}, {"7d", 168}}

type dashboardView struct {
	Live   liveStats
	Health health
	// Range is the picked window ("24h" unless ?range= says otherwise),
	// Hours the same in hours, for the page's polling.
	Range  string
	Hours  int
	Ranges []string
}

func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request) {
	v := dashboardView{Range: "24h", Hours: 24}
	picked := r.URL.Query().Get("range")
	for _, dr := range dashboardRanges {
		v.Ranges = append(v.Ranges, dr.Name)
		if picked == dr.Name {
			v.Range, v.Hours = dr.Name, dr.Hours
		}
	}
	if picked != "" && picked != v.Range {
		s.fail(w, r, http.StatusBadRequest, "range: want 1h, 24h or 7d")
		return
	}
	v.Live, v.Health = s.live(r.Context(), 15, time.Duration(v.Hours)*time.Hour), s.health(r.Context())
	s.render(w, r, http.StatusOK, "dashboard", v)
}

// apiStats: ?minutes= of live samples (1-60, default 15), ?hours= of CDR
// statistics (0-168, default 24; 0 skips the database).
func (s *Server) apiStats(w http.ResponseWriter, r *http.Request) {
	minutes, hours := 15, 24
	for _, p := range []struct {
		name     string
		dst      *int
		min, max int
	}{{"minutes", &minutes, 1, 60}, {"hours", &hours, 0, 168}} {
		if v := r.URL.Query().Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < p.min || n > p.max {
				s.fail(w, r, http.StatusBadRequest, p.name+": want "+strconv.Itoa(p.min)+" to "+strconv.Itoa(p.max))
				return
			}
			*p.dst = n
		}
	}
	writeJSON(w, http.StatusOK, s.live(r.Context(), minutes, time.Duration(hours)*time.Hour))
}
