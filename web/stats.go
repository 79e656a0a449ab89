package web

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/routing"
	"github.com/tollgate/tollgate/switch/b2bua"
)

// statsRanges are the time-range picker's choices, each ending now.
var statsRanges = []struct {
	Name string
	Span time.Duration
}{{"1h", time.Hour}, {"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}}

// maxStatsSpan bounds a custom range: a year of hourly rows per name is
// already the largest read the page allows itself.
const maxStatsSpan = 366 * 24 * time.Hour

// statsQuery is a statistics request, from the page's picker or the API.
type statsQuery struct {
	By       cdr.Grouping
	Range    string // one of statsRanges, or "" for From/To
	From, To time.Time
	Limit    int
}

var knownStatsParams = map[string]bool{"by": true, "range": true, "from": true, "to": true, "limit": true}

// parseStatsQuery validates a request: range=1h|24h|7d|30d (the default
// 24h), or from and to; by (pages only: the API names it in the path);
// limit 1 to cdr.MaxStatsGroups, 100 by default.
func parseStatsQuery(q url.Values, now time.Time) (statsQuery, error) {
	sq := statsQuery{By: cdr.ByGateway, Range: "24h", Limit: 100}
	for name, vs := range q {
		if !knownStatsParams[name] {
			return sq, badParam{name, "unknown parameter"}
		}
		for _, v := range vs {
			if !plainText(v) {
				return sq, badParam{name, "not valid UTF-8 text (a NUL or a broken byte sequence)"}
			}
		}
	}
	switch by := q.Get("by"); by {
	case "":
	case string(cdr.ByGateway), string(cdr.ByRoute), string(cdr.ByAccount):
		sq.By = cdr.Grouping(by)
	default:
		return sq, badParam{"by", "want gateway, route or account"}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > cdr.MaxStatsGroups {
			return sq, badParam{"limit", "want 1 to " + strconv.Itoa(cdr.MaxStatsGroups)}
		}
		sq.Limit = n
	}
	from, to := q.Get("from"), q.Get("to")
	if from != "" || to != "" {
		if q.Get("range") != "" {
			return sq, badParam{"range", "give either range or from and to"}
		}
		if from == "" || to == "" {
			return sq, badParam{"from", "give both from and to"}
		}
		var err error
		if sq.From, err = parseTimeParam("from", from); err != nil {
			return sq, err
		}
		if sq.To, err = parseTimeParam("to", to); err != nil {
			return sq, err
		}
		if !sq.To.After(sq.From) {
			return sq, badParam{"to", "must be after from"}
		}
		if sq.To.Sub(sq.From) > maxStatsSpan {
			return sq, badParam{"to", "at most 366 days after from"}
		}
		sq.Range = ""
		return sq, nil
	}
	if v := q.Get("range"); v != "" {
		sq.Range = v
	}
	for _, r := range statsRanges {
		if r.Name == sq.Range {
			sq.From, sq.To = now.Add(-r.Span), now
			return sq, nil
		}
	}
	return sq, badParam{"range", "want 1h, 24h, 7d or 30d"}
}

// groupStats is one gateway's, route's or account's line: its figures
// from the CDRs and the calls it carries right now.
type groupStats struct {
	cdr.GroupStats
	// Label is the routing table's name of a gateway address ("" when the
	// gateway is not in the routing tables).
	Label  string `json:"label,omitempty"`
	Active int    `json:"active_calls"`
	// Capacity is the gateway's max_calls in the routing tables (0: none
	// known), what Active is to be read against.
	Capacity int `json:"capacity,omitempty"`
}

// statsReport is what the page shows and the API returns.
type statsReport struct {
	By cdr.Grouping `json:"by"`
	// From and To are the hours counted: the requested range widened to
	// whole hours (UTC), the statistics' granularity.
	From   time.Time    `json:"from"`
	To     time.Time    `json:"to"`
	Groups []groupStats `json:"groups"`
}

// statsReport reads the statistics of sq and adds the calls up now of
// each name; when the range reaches now, a name with calls up but none in
// the range gets a line too.
func (s *Server) statsReport(r *http.Request, sq statsQuery) (statsReport, error) {
	ctx := r.Context()
	rep := statsReport{By: sq.By, Groups: []groupStats{}}
	rep.From, rep.To = cdr.StatsRange(sq.From, sq.To)
	rows, err := cdr.StatsBy(ctx, s.db, sq.By, sq.From, sq.To, sq.Limit)
	if err != nil {
		return rep, err
	}
	active := map[string]int{}
	for _, c := range s.sw.Snapshot() {
		if name := liveName(c, sq.By); name != "" {
			active[name]++
		}
	}
	known := map[string]routing.Gateway{}
	if sq.By == cdr.ByGateway {
		gws, err := s.routing.Gateways(ctx)
		if err != nil {
			return rep, err
		}
		for _, g := range gws {
			known[g.Address] = g
		}
	}
	line := func(g cdr.GroupStats) groupStats {
		return groupStats{GroupStats: g, Label: known[g.Name].Name, Active: active[g.Name], Capacity: known[g.Name].MaxCalls}
	}
	seen := map[string]bool{}
	for _, g := range rows {
		seen[g.Name] = true
		rep.Groups = append(rep.Groups, line(g))
	}
	if rep.To.Before(time.Now()) {
		return rep, nil
	}
	for _, name := range slices.Sorted(maps.Keys(active)) {
		if !seen[name] && len(rep.Groups) < sq.Limit {
			rep.Groups = append(rep.Groups, line(cdr.GroupStats{Name: name}))
		}
	}
	return rep, nil
}

// liveName is the gateway, route or account a call up now counts for.
func liveName(c b2bua.CallInfo, by cdr.Grouping) string {
	switch by {
	case cdr.ByRoute:
		return c.Route
	case cdr.ByAccount:
		return c.Account
	default:
		return c.Gateway
	}
}

type statsView struct {
	Q         statsQuery
	Groupings []cdr.Grouping
	Ranges    []string
	// FromInput and ToInput refill a custom range's fields.
	FromInput, ToInput string
	Report             statsReport
	Error              string
}

func (s *Server) statsPage(w http.ResponseWriter, r *http.Request) {
	v := statsView{Groupings: []cdr.Grouping{cdr.ByGateway, cdr.ByRoute, cdr.ByAccount}}
	for _, rg := range statsRanges {
		v.Ranges = append(v.Ranges, rg.Name)
	}
	sq, err := parseStatsQuery(r.URL.Query(), time.Now())
	v.Q = sq
	if sq.Range == "" {
		v.FromInput, v.ToInput = r.URL.Query().Get("from"), r.URL.Query().Get("to")
	}
	if err != nil {
		v.Error = err.Error()
		s.render(w, r, http.StatusBadRequest, "stats", v)
		return
	}
	if v.Report, err = s.statsReport(r, sq); err != nil {
		s.log.Error("statistics", "by", sq.By, "error", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the statistics are unavailable")
		return
	}
	s.render(w, r, http.StatusOK, "stats", v)
}

// apiGroupStats serves /api/v1/stats/gateways, /routes and /accounts.
func (s *Server) apiGroupStats(by cdr.Grouping) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Has("by") {
			s.fail(w, r, http.StatusBadRequest, "by: unknown parameter (the path names the grouping)")
			return
		}
		sq, err := parseStatsQuery(q, time.Now())
		if err != nil {
			s.fail(w, r, http.StatusBadRequest, err.Error())
			return
		}
		sq.By = by
		rep, err := s.statsReport(r, sq)
		if err != nil {
			s.log.Error("statistics", "by", by, "error", err)
			s.fail(w, r, http.StatusServiceUnavailable, "the statistics are unavailable")
			return
		}
		writeJSON(w, http.StatusOK, rep)
	}
}
