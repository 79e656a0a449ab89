package cdr

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is ByID's answer when no CDR has the id.
var ErrNotFound = errors.New("cdr: no such record")

// ByID returns the CDR with id (a UUID), through the primary key.
func ByID(ctx context.Context, db Querier, id string) (Record, error) {
	rows, err := db.Query(ctx, "SELECT "+columnList+" FROM cdrs WHERE id = $1::uuid", queryMode, id)
	if err != nil {
		return Record{}, fmt.Errorf("cdr: lookup: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Record{}, fmt.Errorf("cdr: lookup: %w", err)
		}
		return Record{}, ErrNotFound
	}
	return newScanner().scan(rows)
}

// HourStats are the figures of the CDRs set up in one hour.
type HourStats struct {
	At                time.Time // the hour's start
	Calls, Answered   int64
	MeanDurationMs    float64 // of answered calls
	MeanPostDialDelay float64 // ms, of calls that had one
	BilledSeconds     int64
}

// Hourly aggregates the CDRs set up since from, per hour, oldest first;
// the setup-time index bounds the scan to that window.
func Hourly(ctx context.Context, db Querier, from time.Time) ([]HourStats, error) {
	rows, err := db.Query(ctx, `
		SELECT date_trunc('hour', setup_time) AS h, count(*),
		       count(*) FILTER (WHERE connect_time IS NOT NULL),
		       coalesce(avg(duration_ms) FILTER (WHERE connect_time IS NOT NULL), 0),
		       coalesce(avg(post_dial_delay_ms) FILTER (WHERE post_dial_delay_ms > 0), 0),
		       coalesce(sum(billed_seconds), 0)
		FROM cdrs WHERE setup_time >= $1 GROUP BY h ORDER BY h`, from)
	if err != nil {
		return nil, fmt.Errorf("cdr: hourly figures: %w", err)
	}
	defer rows.Close()
	var out []HourStats
	for rows.Next() {
		var h HourStats
		if err := rows.Scan(&h.At, &h.Calls, &h.Answered, &h.MeanDurationMs, &h.MeanPostDialDelay, &h.BilledSeconds); err != nil {
			return nil, fmt.Errorf("cdr: hourly figures: %w", err)
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
	Reason  string // one of the reason phrases recorded with the code
	Calls   int64
}

// Failures counts the unanswered calls set up since from by final SIP
// code, the limit most frequent first.
func Failures(ctx context.Context, db Querier, from time.Time, limit int) ([]FailureCount, error) {
	rows, err := db.Query(ctx, `
		SELECT sip_code, min(sip_reason), count(*) FROM cdrs
		WHERE setup_time >= $1 AND connect_time IS NULL
		GROUP BY sip_code ORDER BY count(*) DESC LIMIT $2`, from, limit)
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
