package migrations

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tollgate/tollgate/internal/testenv"
)

// TestCDRCodesBackfill: the migration that adds cdr_codes_hourly counts
// the CDRs already there, in every partition, as the trigger counts the
// CDRs inserted after it; run again (as when a start finishes a
// migration stopped half way), or after a down, it sets the same sums,
// not twice them.
func TestCDRCodesBackfill(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := provider(t, dsn)
	var version int64
	for _, s := range p.ListSources() {
		if strings.HasSuffix(s.Path, "_cdr_codes_hourly.sql") {
			version = s.Version
		}
	}
	if version == 0 {
		t.Fatal("no migration *_cdr_codes_hourly.sql")
	}
	if _, err := p.UpTo(ctx, version-1); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// Calls every 7 minutes from 30 October 22:00 UTC, over two months'
	// partitions: a third answered (some for over an hour, past their
	// setup hour), the others busy, unavailable, not found or cancelled;
	// some without a post-dial delay.
	insert := func(first, last int) {
		t.Helper()
		exec(`CREATE TABLE IF NOT EXISTS cdrs_y2025m10 PARTITION OF cdrs
			FOR VALUES FROM ('2025-10-01 00:00:00+00') TO ('2025-11-01 00:00:00+00')`)
		exec(`CREATE TABLE IF NOT EXISTS cdrs_y2025m11 PARTITION OF cdrs
			FOR VALUES FROM ('2025-11-01 00:00:00+00') TO ('2025-12-01 00:00:00+00')`)
		exec(`INSERT INTO cdrs (id, setup_time, connect_time, duration_ms, billed_seconds, post_dial_delay_ms,
				sip_code, sip_reason, disconnect_reason)
			SELECT gen_random_uuid(), s, CASE WHEN g % 3 = 0 THEN s + interval '2 s' END,
				CASE WHEN g % 3 = 0 THEN (g % 97) * 61000 + 250 ELSE 0 END,
				CASE WHEN g % 3 = 0 THEN (g % 97) * 61 + 1 ELSE 0 END,
				CASE WHEN g % 4 = 0 THEN 0 ELSE 100 + g % 900 END,
				code, CASE code WHEN 486 THEN 'Busy Here' WHEN 503 THEN (ARRAY['Service Unavailable', 'Overloaded'])[g % 2 + 1]
					WHEN 404 THEN 'Not Found' WHEN 487 THEN 'Request Terminated' ELSE 'OK' END,
				CASE WHEN g % 3 = 0 THEN 'normal' ELSE 'failed' END
			FROM generate_series($1::int, $2::int) AS g,
				LATERAL (SELECT timestamptz '2025-10-30 22:00:00+00' + g * interval '7 min' AS s,
					CASE WHEN g % 3 = 0 THEN 200 ELSE (ARRAY[486, 503, 404, 487, 503])[g % 5 + 1] END AS code) AS c`,
			first, last)
	}
	insert(0, 999)
	// What the dashboard reads against the CDRs themselves: rows of one
	// side missing from the other.
	check := func(when string) {
		t.Helper()
		var kept, missing, extra int
		err := conn.QueryRow(ctx, `
			WITH direct AS (
				SELECT date_trunc('hour', setup_time, 'UTC') AS hour, sip_code, count(*)::bigint AS calls,
					count(*) FILTER (WHERE connect_time IS NOT NULL)::bigint AS answered,
					coalesce(sum(duration_ms) FILTER (WHERE connect_time IS NOT NULL), 0)::bigint AS answered_ms,
					coalesce(sum(post_dial_delay_ms) FILTER (WHERE post_dial_delay_ms > 0), 0)::bigint AS pdd_ms,
					count(*) FILTER (WHERE post_dial_delay_ms > 0)::bigint AS pdd_calls,
					sum(billed_seconds)::bigint AS billed_seconds,
					min(sip_reason) FILTER (WHERE connect_time IS NULL) AS failed_reason
				FROM cdrs GROUP BY 1, 2
			), kept AS (
				SELECT hour, sip_code, calls, answered, answered_ms, pdd_ms, pdd_calls, billed_seconds, failed_reason
				FROM cdr_codes_hourly
			)
			SELECT (SELECT count(*) FROM kept), (SELECT count(*) FROM (SELECT * FROM direct EXCEPT SELECT * FROM kept) AS m),
				(SELECT count(*) FROM (SELECT * FROM kept EXCEPT SELECT * FROM direct) AS e)`).Scan(&kept, &missing, &extra)
		if err != nil {
			t.Fatal(err)
		}
		if kept == 0 || missing+extra > 0 {
			t.Errorf("%s: %d rows kept, %d of the CDRs' sums missing, %d not the CDRs'", when, kept, missing, extra)
		}
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		t.Fatal(err)
	}
	check("after the backfill")
	var months int
	if err := conn.QueryRow(ctx, `SELECT count(DISTINCT date_trunc('month', hour, 'UTC')) FROM cdr_codes_hourly`).Scan(&months); err != nil {
		t.Fatal(err)
	}
	if months != 2 {
		t.Errorf("the backfill counted %d months, want both partitions'", months)
	}
	// New CDRs, some in hours the backfill counted, through the trigger.
	insert(990, 1500)
	check("after inserts")
	// A migration stopped before goose recorded it runs again whole: its
	// backfill meets the rows it and the trigger made, and sets them.
	exec("DELETE FROM goose_db_version WHERE version_id = $1", version)
	if _, err := p.UpTo(ctx, version); err != nil {
		t.Fatal(err)
	}
	check("run again")
	if _, err := p.DownTo(ctx, version-1); err != nil {
		t.Fatal(err)
	}
	insert(1501, 1600)
	if _, err := p.UpTo(ctx, version); err != nil {
		t.Fatal(err)
	}
	check("down, inserts, up again")
}
