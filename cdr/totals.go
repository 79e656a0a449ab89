package cdr

import (
	"context"
	"fmt"
	"time"
)

// Totals sum up every CDR of a search, not one page: what an operator
// asks of a search first (how many calls, how many answered, how long).
type Totals struct {
	Calls    int64   `json:"calls"`
	Answered int64   `json:"answered"`
	Minutes  float64 `json:"minutes"`     // connected time, all calls
	ASR      float64 `json:"asr"`         // answered / calls, percent; 0 with no call
	ACD      float64 `json:"acd_seconds"` // mean connected time of the answered calls
}

// SearchTotals computes the Totals of the CDRs matching f. A search that
// filters on nothing but its time range, one account or one route (what
// the statistics rollups are kept by) is summed from the rollups for the
// whole hours and days it covers, and from the CDRs only for the partial
// hours at its ends: its cost no longer grows with the calls of the range
// (a month at 100 million calls a year: seconds from the CDRs, see
// docs/benchmarks.md). Any other filter is one aggregate over the same
// indexed conditions as Search.
func SearchTotals(ctx context.Context, db Querier, f Filter) (Totals, error) {
	sql, args, err := f.totalsQuery(ctx, db, time.Now())
	if err != nil {
		return Totals{}, err
	}
	rows, err := db.Query(ctx, sql, append([]any{queryMode}, args...)...)
	if err != nil {
		return Totals{}, fmt.Errorf("cdr: totals: %w", err)
	}
	defer rows.Close()
	var t Totals
	var ms int64
	if rows.Next() {
		if err := rows.Scan(&t.Calls, &t.Answered, &ms); err != nil {
			return Totals{}, fmt.Errorf("cdr: totals: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return Totals{}, fmt.Errorf("cdr: totals: %w", err)
	}
	t.Minutes = float64(ms) / 60000
	if t.Calls > 0 {
		t.ASR = 100 * float64(t.Answered) / float64(t.Calls)
	}
	if t.Answered > 0 {
		t.ACD = float64(ms) / 1000 / float64(t.Answered)
	}
	return t, nil
}

// rawTotals is the aggregate of the CDRs matching a WHERE clause.
const rawTotals = "SELECT count(*) AS calls, count(*) FILTER (WHERE connect_time IS NOT NULL) AS answered, " +
	"COALESCE(sum(duration_ms), 0)::bigint AS ms FROM cdrs WHERE "

// rollupKey is the rollup rows (kind and name of cdr_stats_hourly and
// cdr_stats_daily, migrations 00009, 00013, 00017) that count exactly the
// calls f selects in whole hours, or ok false when f filters on something
// they are not kept by. Gateways are not: their rows count attempts on
// every gateway a call tried, where the search's gateway is its last.
func (f Filter) rollupKey() (kind, name string, ok bool) {
	rest := f
	rest.From, rest.To = time.Time{}, time.Time{}
	switch rest {
	case Filter{}:
		return "all", "", true
	case Filter{Account: f.Account}:
		return "account", f.Account, true
	case Filter{Route: f.Route}:
		return "route", f.Route, true
	}
	return "", "", false
}

// totalsQuery is SearchTotals' statement: from the rollups and the CDRs of
// the partial hours when f allows it (see rollupKey), from the CDRs alone
// otherwise. The rollups keep the calls of partitions that retention has
// dropped, so they are read from the oldest partition on, the first hour
// a CDR can still be in; now bounds the hours of a search with no end.
func (f Filter) totalsQuery(ctx context.Context, db Querier, now time.Time) (string, []any, error) {
	kind, name, ok := f.rollupKey()
	if !ok {
		where, args := f.where()
		return rawTotals + where, args, nil
	}
	parts, err := listPartitions(ctx, db)
	if err != nil {
		return "", nil, fmt.Errorf("cdr: totals: %w", err)
	}
	if len(parts) == 0 {
		where, args := f.where()
		return rawTotals + where, args, nil
	}
	// Whole hours [hourFrom, hourTo) come from the rollups.
	hourFrom := parts[0].From
	if f.From.After(hourFrom) {
		hourFrom = f.From.UTC().Truncate(time.Hour)
		if hourFrom.Before(f.From) {
			hourFrom = hourFrom.Add(time.Hour)
		}
	}
	hourTo := now.UTC().Truncate(time.Hour)
	if !f.To.IsZero() {
		hourTo = f.To.UTC().Truncate(time.Hour)
	}
	if !hourTo.After(hourFrom) {
		where, args := f.where()
		return rawTotals + where, args, nil
	}
	dayFrom, dayTo := wholeDays(hourFrom, hourTo)
	args := []any{kind, name, hourFrom, hourTo, dayFrom, dayTo}
	// The CDRs before hourFrom and from hourTo on, under f's filters.
	before, after := f, f
	before.To = hourFrom
	after.From = hourTo
	whereBefore, args := before.whereAfter(args)
	whereAfter, args := after.whereAfter(args)
	return `SELECT coalesce(sum(calls), 0)::bigint, coalesce(sum(answered), 0)::bigint, coalesce(sum(ms), 0)::bigint FROM (
		SELECT sum(attempts) AS calls, sum(answered) AS answered, sum(duration_ms) AS ms FROM cdr_stats_daily
		WHERE kind = $1 AND name = $2 AND day >= $5 AND day < $6
		UNION ALL
		SELECT sum(attempts), sum(answered), sum(duration_ms) FROM cdr_stats_hourly
		WHERE kind = $1 AND name = $2 AND ((hour >= $3 AND hour < $5) OR (hour >= $6 AND hour < $4))
		UNION ALL ` + rawTotals + whereBefore + `
		UNION ALL ` + rawTotals + whereAfter + `) AS t`, args, nil
}

// wholeDays is the whole days (UTC) [dayFrom, dayTo) within the hours
// [start, end); both end when the range holds no whole day.
func wholeDays(start, end time.Time) (time.Time, time.Time) {
	dayFrom, dayTo := start.Truncate(24*time.Hour), end.Truncate(24*time.Hour)
	if dayFrom.Before(start) {
		dayFrom = dayFrom.Add(24 * time.Hour)
	}
	if !dayTo.After(dayFrom) {
		return end, end
	}
	return dayFrom, dayTo
}
