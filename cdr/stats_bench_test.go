package cdr

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/internal/testenv"
)

// statsBenchRows is the size of BenchmarkStats10M's CDR table.
const statsBenchRows = 10_000_000

// statsBenchChunk CDRs are inserted per statement: each statement's
// trigger folds its rows into the hourly rollup, as the writer's batches do.
const statsBenchChunk = 1_000_000

// loadStatsCDRs generates n calls over the 30 days before end in SQL:
// 50 gateways, 200 routes, 2,000 accounts; 2 in 10 busy, 1 in 10 failed, 1
// in 10 answered on a second gateway after a 503, the rest answered. As a
// bulk load would, it drops the secondary indexes of cdrs for the load and
// builds them again after it (inserting 10 million rows into nine indexes
// with the test cluster's small buffers takes over an hour); the trigger
// keeping the rollup runs as it does for the writer.
func loadStatsCDRs(b *testing.B, db *pgxpool.Pool, n int, end time.Time) {
	ctx := context.Background()
	start := time.Now()
	if err := NewPartitions(db, PartitionOptions{}).Ensure(ctx, end.Add(-31*24*time.Hour), end); err != nil {
		b.Fatal(err)
	}
	exec := func(sql string, args ...any) {
		b.Helper()
		rows, err := db.Query(ctx, sql, append([]any{queryMode}, args...)...)
		if err != nil {
			b.Fatal(err)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			b.Fatalf("%.80s: %v", sql, err)
		}
	}
	var names, defs []string
	rows, err := db.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cdrs' AND indexname <> 'cdrs_pkey'`, queryMode)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			b.Fatal(err)
		}
		names, defs = append(names, name), append(defs, def)
	}
	rows.Close()
	for _, name := range names {
		exec("DROP INDEX " + name)
	}
	for lo := 1; lo <= n; lo += statsBenchChunk {
		hi := min(lo+statsBenchChunk-1, n)
		exec(`
			INSERT INTO cdrs (id, call_id_a, caller_number, called_received, called_sent, account, route, gateway,
			                  attempt_count, attempts, setup_time, connect_time, disconnect_time, duration_ms,
			                  billed_seconds, post_dial_delay_ms, sip_code, sip_reason, disconnect_reason, released_by)
			SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, i || '@bench', '1555' || lpad((i % 10000000)::text, 7, '0'),
			       called, called, 'acct' || lpad((i % 2000)::text, 4, '0'), 'r' || (i % 200),
			       CASE WHEN o = 3 THEN gw2 ELSE gw1 END,
			       CASE WHEN o = 3 THEN 2 ELSE 1 END,
			       CASE o WHEN 0 THEN jsonb_build_array(jsonb_build_object('gateway', gw1, 'sip_code', 486, 'ringing', true, 'answered', false))
			              WHEN 1 THEN jsonb_build_array(jsonb_build_object('gateway', gw1, 'sip_code', 486, 'ringing', true, 'answered', false))
			              WHEN 2 THEN jsonb_build_array(jsonb_build_object('gateway', gw1, 'sip_code', 503, 'ringing', false, 'answered', false))
			              WHEN 3 THEN jsonb_build_array(jsonb_build_object('gateway', gw1, 'sip_code', 503, 'ringing', false, 'answered', false),
			                                            jsonb_build_object('gateway', gw2, 'sip_code', 200, 'ringing', true, 'answered', true))
			              ELSE jsonb_build_array(jsonb_build_object('gateway', gw1, 'sip_code', 200, 'ringing', true, 'answered', true)) END,
			       setup, CASE WHEN o >= 3 THEN setup + interval '3 s' END,
			       setup + interval '3 s' + make_interval(secs => dur / 1000), dur, dur / 1000,
			       CASE WHEN o = 2 THEN 0 ELSE 200 + i % 800 END,
			       CASE WHEN o < 2 THEN 486 WHEN o = 2 THEN 503 ELSE 200 END,
			       CASE WHEN o < 2 THEN 'Busy Here' WHEN o = 2 THEN 'Service Unavailable' ELSE 'OK' END,
			       CASE WHEN o < 2 THEN 'busy' WHEN o = 2 THEN 'failed' ELSE 'normal' END, 'caller'
			FROM generate_series($1::bigint, $2::bigint) AS i,
			     LATERAL (SELECT i % 10 AS o,
			                     (30 + i % 60) || lpad(((i * 7919) % 1000000000)::text, 9, '0') AS called,
			                     '10.1.0.' || (i % 50) || ':5060' AS gw1, '10.1.0.' || ((i + 1) % 50) || ':5060' AS gw2,
			                     $3::timestamptz - make_interval(secs => i * 2592000.0 / $4) AS setup,
			                     CASE WHEN i % 10 >= 3 THEN (i % 600) * 1000 ELSE 0 END AS dur) AS g`,
			lo, hi, end, n)
	}
	loaded := time.Now()
	// The definitions of a partitioned table's indexes read "ON ONLY
	// cdrs", which would make each on the parent alone, invalid and
	// unused: made on the whole table, they are built on every partition.
	for _, def := range defs {
		exec(strings.Replace(def, " ON ONLY ", " ON ", 1))
	}
	var parts, valid int
	if err := db.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_inherits WHERE inhparent = 'cdrs'::regclass), count(*)
		FROM pg_index x JOIN pg_inherits i ON i.inhrelid = x.indrelid
		WHERE i.inhparent = 'cdrs'::regclass AND x.indisvalid`).Scan(&parts, &valid); err != nil {
		b.Fatal(err)
	}
	if valid != parts*(len(defs)+1) {
		b.Fatalf("%d valid indexes on %d partitions, want %d each", valid, parts, len(defs)+1)
	}
	exec("ANALYZE cdrs")
	exec("ANALYZE cdr_stats_hourly")
	exec("ANALYZE cdr_codes_hourly")
	b.Logf("generated %d CDRs and their hourly statistics in %v, indexed them in %v",
		n, loaded.Sub(start).Round(time.Second), time.Since(loaded).Round(time.Second))
}

var statsBench struct {
	db  Querier
	end time.Time
}

// BenchmarkStats10M times the statistics queries on 10 million CDRs spread
// over 30 days: StatsBy on the hourly rollup, the dashboard's Hourly and
// Failures on theirs, and, for comparison, the same figures aggregated
// from the cdrs table with its indexes ("raw-"). Run with:
//
//	go test ./cdr -run '^$' -bench Stats10M -benchtime 5x
//
// Generating the table takes minutes; -bench 'Stats10M/rollup' skips the
// slow raw queries.
func BenchmarkStats10M(b *testing.B) {
	if statsBench.db == nil {
		db := migratedDB(b, testenv.StartPostgres(b).DSN())
		statsBench.end = time.Now().UTC().Truncate(time.Hour)
		loadStatsCDRs(b, db, statsBenchRows, statsBench.end)
		statsBench.db = db
	}
	ctx := context.Background()
	end := statsBench.end
	ranges := []struct {
		name string
		span time.Duration
	}{{"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}}
	for _, g := range []Grouping{ByGateway, ByRoute, ByAccount} {
		for _, r := range ranges {
			b.Run("rollup-"+string(g)+"-"+r.name, func(b *testing.B) {
				for b.Loop() {
					got, err := StatsBy(ctx, statsBench.db, g, end.Add(-r.span), end, MaxStatsGroups)
					if err != nil || len(got) == 0 {
						b.Fatal(len(got), err)
					}
				}
			})
		}
	}
	// The dashboard's windows (Hourly and Failures, from the rollup that
	// the trigger kept during the load), held to the aggregates over the
	// CDRs once, from a time between hours as the dashboard's are.
	for _, r := range ranges[:2] {
		from := end.Add(-r.span - 20*time.Minute)
		if hours, err := dashboardDiff(ctx, statsBench.db, from, 10); err != nil || hours == 0 {
			b.Fatalf("dashboard over %s: %d hours, %v", r.name, hours, err)
		}
		b.Run("dashboard-hourly-"+r.name, func(b *testing.B) {
			for b.Loop() {
				if got, err := Hourly(ctx, statsBench.db, from); err != nil || len(got) == 0 {
					b.Fatal(len(got), err)
				}
			}
		})
		b.Run("dashboard-failures-"+r.name, func(b *testing.B) {
			for b.Loop() {
				if got, err := Failures(ctx, statsBench.db, from, 10); err != nil || len(got) == 0 {
					b.Fatal(len(got), err)
				}
			}
		})
	}
	// The same sums straight from cdrs: per account and per final gateway
	// (indexed columns), and per attempted gateway (unnesting attempts).
	raw := map[string]string{
		"account": `SELECT account, count(*), count(connect_time), sum(duration_ms), avg(post_dial_delay_ms) FILTER (WHERE post_dial_delay_ms > 0)
			FROM cdrs WHERE setup_time >= $1 AND setup_time < $2 GROUP BY account`,
		"final-gateway": `SELECT gateway, count(*), count(connect_time), sum(duration_ms), avg(post_dial_delay_ms) FILTER (WHERE post_dial_delay_ms > 0)
			FROM cdrs WHERE setup_time >= $1 AND setup_time < $2 GROUP BY gateway`,
		"attempted-gateway": `SELECT a.e ->> 'gateway', count(*), count(*) FILTER (WHERE (a.e ->> 'answered')::boolean)
			FROM cdrs, jsonb_array_elements(attempts) AS a (e) WHERE setup_time >= $1 AND setup_time < $2 GROUP BY 1`,
	}
	for name, sql := range raw {
		for _, r := range ranges {
			b.Run("raw-"+name+"-"+r.name, func(b *testing.B) {
				for b.Loop() {
					rows, err := statsBench.db.Query(ctx, sql, queryMode, end.Add(-r.span), end)
					if err != nil {
						b.Fatal(err)
					}
					n := 0
					for rows.Next() {
						n++
					}
					rows.Close()
					if rows.Err() != nil || n == 0 {
						b.Fatal(n, rows.Err())
					}
				}
			})
		}
	}
}

// BenchmarkPGWriterStatsTrigger is BenchmarkPGWriter with and without the
// trigger that keeps the statistics rollups: what they cost the writer.
//
//	go test ./cdr -run '^$' -bench PGWriterStatsTrigger -benchtime 20000x
func BenchmarkPGWriterStatsTrigger(b *testing.B) {
	for _, trigger := range []bool{true, false} {
		name := map[bool]string{true: "with", false: "without"}[trigger]
		b.Run(name, func(b *testing.B) {
			pg := testenv.StartPostgresOpts(b, testenv.PostgresOptions{Durable: true})
			db := migratedDB(b, pg.DSN())
			ctx := context.Background()
			if !trigger {
				if _, err := db.Exec(ctx, "DROP TRIGGER cdrs_stats ON cdrs"); err != nil {
					b.Fatal(err)
				}
			}
			w := NewPGWriter(db)
			const batch = 1000
			recs := make([]Record, batch)
			next := 0
			b.ResetTimer()
			for done := 0; done < b.N; done += batch {
				for i := range recs {
					recs[i] = fullRecord(next)
					recs[i].Gateway = fmt.Sprintf("gw-%d", next%50)
					recs[i].Account = fmt.Sprintf("acct-%d", next%2000)
					next++
				}
				if err := w.Write(ctx, recs[:min(batch, b.N-done)]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cdrs/s")
		})
	}
}
