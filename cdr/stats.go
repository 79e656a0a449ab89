package cdr

import (
	"context"
	"fmt"
	"time"
)

// Grouping is what statistics are grouped by. Gateways are counted per
// attempt (every gateway a call tried), routes and accounts per call.
type Grouping string

// The groupings of cdr_stats_hourly (migration 00008).
const (
	ByGateway Grouping = "gateway"
	ByRoute   Grouping = "route"
	ByAccount Grouping = "account"
)

// GroupStats are one gateway's, route's or account's figures over a time
// range, as carriers compare their suppliers and customers.
type GroupStats struct {
	Name     string `json:"name"`
	Attempts int64  `json:"attempts"`
	Answered int64  `json:"answered"`
	// ASR is answered / attempts, and NER the attempts the network
	// delivered (answered, busy, no answer, refused by the called user) /
	// attempts; percent, 0 without attempts.
	ASR float64 `json:"asr"`
	NER float64 `json:"ner"`
	// ACD is the mean connected time of the answered attempts, PDD the
	// mean post-dial delay of the calls that had one.
	ACD     float64 `json:"acd_seconds"`
	PDD     float64 `json:"pdd_ms"`
	Minutes float64 `json:"minutes"`
	// Erlangs is the mean number of connected calls over the range:
	// connected time / the range's length.
	Erlangs float64 `json:"erlangs"`
}

// StatsRange is the hours a statistics query covers: every hour (UTC)
// that overlaps [from, to), the granularity of cdr_stats_hourly.
func StatsRange(from, to time.Time) (time.Time, time.Time) {
	start := from.UTC().Truncate(time.Hour)
	end := to.UTC().Truncate(time.Hour)
	if end.Before(to) {
		end = end.Add(time.Hour)
	}
	return start, end
}

// MaxStatsGroups bounds the groups one query returns.
const MaxStatsGroups = 1000

// StatsBy returns the figures of each name of g over the hours of
// [from, to) (see StatsRange), the most attempted first, at most limit
// (1 to MaxStatsGroups). It reads the rollups, never the CDRs: the days
// the range covers whole from cdr_stats_daily, the hours at its ends from
// cdr_stats_hourly, so its cost grows with names × days, not with calls.
func StatsBy(ctx context.Context, db Querier, g Grouping, from, to time.Time, limit int) ([]GroupStats, error) {
	switch g {
	case ByGateway, ByRoute, ByAccount:
	default:
		return nil, fmt.Errorf("cdr: statistics by %q: want gateway, route or account", g)
	}
	if limit < 1 || limit > MaxStatsGroups {
		return nil, fmt.Errorf("cdr: statistics: limit %d: want 1 to %d", limit, MaxStatsGroups)
	}
	start, end := StatsRange(from, to)
	if !end.After(start) {
		return nil, fmt.Errorf("cdr: statistics: empty range %v to %v", from, to)
	}
	dayFrom, dayTo := wholeDays(start, end)
	rows, err := db.Query(ctx, `
		SELECT name, sum(attempts), sum(answered), sum(ner_ok), sum(duration_ms), sum(pdd_ms), sum(pdd_calls)
		FROM (SELECT name, attempts, answered, ner_ok, duration_ms, pdd_ms, pdd_calls FROM cdr_stats_daily
		      WHERE kind = $1 AND day >= $4 AND day < $5
		      UNION ALL
		      SELECT name, attempts, answered, ner_ok, duration_ms, pdd_ms, pdd_calls FROM cdr_stats_hourly
		      WHERE kind = $1 AND ((hour >= $2 AND hour < $4) OR (hour >= $5 AND hour < $3))) AS s
		GROUP BY name ORDER BY sum(attempts) DESC, name LIMIT $6`,
		queryMode, string(g), start, end, dayFrom, dayTo, limit)
	if err != nil {
		return nil, fmt.Errorf("cdr: statistics by %s: %w", g, err)
	}
	defer rows.Close()
	span := end.Sub(start)
	out := []GroupStats{}
	for rows.Next() {
		var s GroupStats
		var ner, durMs, pddMs, pddCalls int64
		if err := rows.Scan(&s.Name, &s.Attempts, &s.Answered, &ner, &durMs, &pddMs, &pddCalls); err != nil {
			return nil, fmt.Errorf("cdr: statistics by %s: %w", g, err)
		}
		out = append(out, s.figures(ner, durMs, pddMs, pddCalls, span))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cdr: statistics by %s: %w", g, err)
	}
	return out, nil
}

// figures derives the ratios and means from the sums.
func (s GroupStats) figures(ner, durMs, pddMs, pddCalls int64, span time.Duration) GroupStats {
	if s.Attempts > 0 {
		s.ASR = 100 * float64(s.Answered) / float64(s.Attempts)
		s.NER = 100 * float64(ner) / float64(s.Attempts)
	}
	if s.Answered > 0 {
		s.ACD = float64(durMs) / 1000 / float64(s.Answered)
	}
	if pddCalls > 0 {
		s.PDD = float64(pddMs) / float64(pddCalls)
	}
	s.Minutes = float64(durMs) / 60000
	s.Erlangs = float64(durMs) / float64(span.Milliseconds())
	return s
}

// HourStats are the figures of the CDRs set up in one hour.
type HourStats struct {
	At                time.Time // the hour's start (UTC)
	Calls, Answered   int64
	MeanDurationMs    float64 // of answered calls
	MeanPostDialDelay float64 // ms, of calls that had one
	BilledSeconds     int64
}

// Hourly returns the figures of the CDRs set up since from, per hour
// (UTC), oldest first: the dashboard's. The whole hours come from
// cdr_codes_hourly (migration 00023), which the CDR inserts keep; only the
// part of an hour that from cuts is aggregated from cdrs, so the cost
// grows with the hours of the window, not with its calls.
func Hourly(ctx context.Context, db Querier, from time.Time) ([]HourStats, error) {
	rows, err := db.Query(ctx, `
		SELECT h, sum(calls)::bigint, sum(answered)::bigint, sum(answered_ms)::bigint, sum(pdd_ms)::bigint,
		       sum(pdd_calls)::bigint, sum(billed_seconds)::bigint
		FROM (SELECT hour AS h, calls, answered, answered_ms, pdd_ms, pdd_calls, billed_seconds
		      FROM cdr_codes_hourly WHERE hour >= $2
		      UNION ALL
		      SELECT date_trunc('hour', setup_time, 'UTC'), count(*), count(*) FILTER (WHERE connect_time IS NOT NULL),
		             coalesce(sum(duration_ms) FILTER (WHERE connect_time IS NOT NULL), 0),
		             coalesce(sum(post_dial_delay_ms) FILTER (WHERE post_dial_delay_ms > 0), 0),
		             count(*) FILTER (WHERE post_dial_delay_ms > 0), coalesce(sum(billed_seconds), 0)
		      FROM cdrs WHERE setup_time >= $1 AND setup_time < $2 GROUP BY 1) AS c
		GROUP BY h ORDER BY h`, queryMode, from, wholeHourFrom(from))
	if err != nil {
		return nil, fmt.Errorf("cdr: hourly figures: %w", err)
	}
	defer rows.Close()
	var out []HourStats
	for rows.Next() {
		var h HourStats
		var answeredMs, pddMs, pddCalls int64
		if err := rows.Scan(&h.At, &h.Calls, &h.Answered, &answeredMs, &pddMs, &pddCalls, &h.BilledSeconds); err != nil {
			return nil, fmt.Errorf("cdr: hourly figures: %w", err)
		}
		h.At = h.At.UTC()
		if h.Answered > 0 {
			h.MeanDurationMs = float64(answeredMs) / float64(h.Answered)
		}
		if pddCalls > 0 {
			h.MeanPostDialDelay = float64(pddMs) / float64(pddCalls)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cdr: hourly figures: %w", err)
	}
	return out, nil
}

// FailureCount is how many unanswered calls ended with one SIP code.
type FailureCount struct {
	SIPCode int
	Reason  string // the least of the reason phrases recorded with the code
	Calls   int64
}

// Failures counts the unanswered calls set up since from by final SIP
// code, the limit most frequent first (the lower code first on a tie).
// As Hourly, it reads the whole hours from cdr_codes_hourly and only the
// part of an hour that from cuts from cdrs.
func Failures(ctx context.Context, db Querier, from time.Time, limit int) ([]FailureCount, error) {
	if limit < 1 {
		return nil, fmt.Errorf("cdr: failures: limit %d: want at least 1", limit)
	}
	rows, err := db.Query(ctx, `
		SELECT sip_code, coalesce(min(reason), ''), sum(failed)::bigint
		FROM (SELECT sip_code, failed_reason AS reason, calls - answered AS failed
		      FROM cdr_codes_hourly WHERE hour >= $2 AND calls > answered
		      UNION ALL
		      SELECT sip_code, min(sip_reason), count(*) FROM cdrs
		      WHERE setup_time >= $1 AND setup_time < $2 AND connect_time IS NULL GROUP BY sip_code) AS f
		GROUP BY sip_code ORDER BY sum(failed) DESC, sip_code LIMIT $3`, queryMode, from, wholeHourFrom(from), limit)
	if err != nil {
		return nil, fmt.Errorf("cdr: failures: %w", err)
	}
	defer rows.Close()
	var out []FailureCount
	for rows.Next() {
		var f FailureCount
		if err := rows.Scan(&f.SIPCode, &f.Reason, &f.Calls); err != nil {
			return nil, fmt.Errorf("cdr: failures: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cdr: failures: %w", err)
	}
	return out, nil
}

// wholeHourFrom is the first whole hour (UTC) at or after from: the
// rollups answer from there on, the CDRs before it.
func wholeHourFrom(from time.Time) time.Time {
	h := from.UTC().Truncate(time.Hour)
	if h.Before(from) {
		h = h.Add(time.Hour)
	}
	return h
}
