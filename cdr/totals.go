package cdr

import (
	"context"
	"fmt"
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

// SearchTotals computes the Totals of the CDRs matching f in one
// aggregate over the same indexed conditions as Search.
func SearchTotals(ctx context.Context, db Querier, f Filter) (Totals, error) {
	where, args := f.where()
	sql := "SELECT count(*), count(*) FILTER (WHERE connect_time IS NOT NULL), COALESCE(sum(duration_ms), 0)::bigint FROM cdrs WHERE " + where
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
