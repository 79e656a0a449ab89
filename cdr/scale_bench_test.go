package cdr

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tollgate/tollgate/internal/testenv"
)

// scaleRowsEnv and scaleMonthsEnv set the size of BenchmarkCDRScale's
// table and the months it spans (up to now); the defaults keep `make bench`
// short.
const (
	scaleRowsEnv   = "TOLLGATE_BENCH_CDR_ROWS"
	scaleMonthsEnv = "TOLLGATE_BENCH_CDR_MONTHS"
)

// generateCDRs is one chunk of generated calls, $1 to $2, spread evenly from
// $3 at one call every $4: 2,000 accounts, 50 gateways, 20 routes, three
// nodes, 30% unanswered (busy, no answer, unavailable), answered calls up
// to ten minutes. Plain SQL over generate_series, so that 100 million rows
// cost the server's time and not a client's.
const generateCDRs = `
INSERT INTO cdrs (id, call_id_a, caller_number, called_received, called_sent, source_ip, source_port,
	account, route, gateway, attempt_count, setup_time, ringing_time, connect_time, disconnect_time,
	duration_ms, billed_seconds, post_dial_delay_ms, sip_code, sip_reason, q850_cause, released_by,
	disconnect_reason, codec_a, codec_b, media_relay, node)
SELECT md5(g::text)::uuid, g || '@bench', '1555' || lpad((g % 10000000)::text, 7, '0'), called, called,
	'10.0.' || (g % 4) || '.' || (g % 50), 5060,
	'acct' || lpad((g % 2000)::text, 4, '0'), 'r' || (g % 20), 'gw' || (g % 50), 1,
	setup, setup + interval '1.5 s',
	CASE WHEN answered THEN setup + interval '3 s' END,
	setup + interval '3 s' + dur * interval '1 ms',
	dur, (dur + 999) / 1000, 1500,
	CASE g % 10 WHEN 0 THEN 486 WHEN 1 THEN 480 WHEN 2 THEN 503 ELSE 200 END,
	CASE g % 10 WHEN 0 THEN 'Busy Here' WHEN 1 THEN 'Temporarily Unavailable' WHEN 2 THEN 'Service Unavailable' ELSE 'OK' END,
	CASE g % 10 WHEN 0 THEN 17 WHEN 1 THEN 18 WHEN 2 THEN 34 ELSE 16 END,
	CASE WHEN g % 2 = 0 THEN 'caller' ELSE 'callee' END,
	CASE g % 10 WHEN 0 THEN 'busy' WHEN 1 THEN 'no answer' WHEN 2 THEN 'failed' ELSE 'normal' END,
	'PCMA', 'PCMA', 'builtin', 'sw-' || (g % 3)
FROM (
	SELECT g, $3::timestamptz + (g - 1) * $4::interval AS setup,
		(30 + g % 60)::text || lpad(((g * 7919) % 1000000000)::text, 9, '0') AS called,
		g % 10 >= 3 AS answered,
		CASE WHEN g % 10 >= 3 THEN (g % 600) * 1000 ELSE 0 END AS dur
	FROM generate_series($1::bigint, $2::bigint) AS g
) AS calls`

// scaleDB is BenchmarkCDRScale's loaded database, kept between its runs
// (the benchmark function is called several times as b.N grows).
var scaleDB struct {
	db  *pgxpool.Pool
	end time.Time
	id  string
}

// BenchmarkCDRScale loads generated calls over the months up to now into
// the partitioned cdrs table (TOLLGATE_BENCH_CDR_ROWS, default one million,
// over TOLLGATE_BENCH_CDR_MONTHS, default 12), then times what an operator
// asks of them: searches by time range and filters, the totals of a
// search, the dashboard's hourly figures and a lookup by id. The published
// figures (docs/benchmarks.md) load one month at the density of 100
// million calls a year:
//
//	TOLLGATE_BENCH_CDR_ROWS=8333333 TOLLGATE_BENCH_CDR_MONTHS=1 go test ./cdr -run '^$' -bench CDRScale -benchtime 5x -timeout 1h
func BenchmarkCDRScale(b *testing.B) {
	if scaleDB.db == nil {
		rows := envInt(b, scaleRowsEnv, 1_000_000, 1000)
		months := envInt(b, scaleMonthsEnv, 12, 1)
		// A cluster of its own, removed at the end: 100 million rows take
		// tens of gigabytes.
		pg := testenv.StartPostgres(b)
		scaleDB.db = migratedDB(b, pg.DSN())
		scaleDB.end, scaleDB.id = loadScale(b, scaleDB.db, rows, months)
	}
	db, end := scaleDB.db, scaleDB.end
	day, week, month := end.Add(-24*time.Hour), end.Add(-7*24*time.Hour), end.Add(-30*24*time.Hour)
	searches := []struct {
		name string
		f    Filter
	}{
		{"search-newest", Filter{}},
		{"search-account-day", Filter{From: day, To: end, Account: "acct0042"}},
		{"search-called-prefix-week", Filter{From: week, To: end, CalledPrefix: "4412"}},
		{"search-code-486-day", Filter{From: day, To: end, SIPCode: 486}},
		{"search-gateway-caller-month", Filter{From: month, To: end, Gateway: "gw7", CallerPrefix: "15550"}},
		{"search-account-any-time", Filter{Account: "acct1999"}},
		{"search-reason-day", Filter{From: day, To: end, Reason: "no answer"}},
	}
	ctx := context.Background()
	for _, s := range searches {
		timed(b, s.name, func() error {
			_, _, err := Search(ctx, db, s.f, Page{Limit: 50})
			return err
		})
	}
	totals := []struct {
		name string
		f    Filter
	}{
		{"totals-day", Filter{From: day, To: end}},
		{"totals-account-month", Filter{From: month, To: end, Account: "acct0042"}},
		{"totals-gateway-week", Filter{From: week, To: end, Gateway: "gw7"}},
		{"totals-month", Filter{From: month, To: end}},
	}
	for _, s := range totals {
		timed(b, s.name, func() error {
			_, err := SearchTotals(ctx, db, s.f)
			return err
		})
	}
	timed(b, "hourly-24h", func() error {
		_, err := Hourly(ctx, db, day)
		return err
	})
	timed(b, "by-id", func() error {
		_, err := ByID(ctx, db, scaleDB.id)
		return err
	})
}

func envInt(b *testing.B, name string, def, least int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		b.Fatalf("%s=%q: want a number, at least %d", name, v, least)
	}
	return n
}

// timed runs f as a sub-benchmark, reporting the slowest run beside the
// mean: a search page is judged by its worst wait.
func timed(b *testing.B, name string, f func() error) {
	b.Run(name, func(b *testing.B) {
		var slowest time.Duration
		for b.Loop() {
			start := time.Now()
			if err := f(); err != nil {
				b.Fatal(err)
			}
			slowest = max(slowest, time.Since(start))
		}
		b.ReportMetric(float64(slowest.Microseconds())/1000, "max-ms")
	})
}

// loadScale generates n calls over the months up to now, in chunks of
// five million. The table's indexes are dropped for the load and
// made again after it, as a bulk load into PostgreSQL is best done; that
// is no part of what is measured. It returns the time of the last call
// and the id of one in the middle.
func loadScale(b *testing.B, db *pgxpool.Pool, n, months int) (time.Time, string) {
	ctx := context.Background()
	end := time.Now().UTC().Truncate(time.Hour)
	start := end.AddDate(0, -months, 0)
	step := end.Sub(start) / time.Duration(n)
	if err := NewPartitions(db, PartitionOptions{}).Ensure(ctx, start, end); err != nil {
		b.Fatal(err)
	}
	var defs []string
	rows, err := db.Query(ctx, "SELECT indexdef FROM pg_indexes WHERE tablename = 'cdrs' AND indexname <> 'cdrs_pkey' ORDER BY indexname")
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			b.Fatal(err)
		}
		// A partitioned table's index reads "ON ONLY cdrs": made again
		// so, it would stay on the parent alone, invalid, with no
		// partition's index under it.
		defs = append(defs, strings.Replace(d, " ON ONLY ", " ON ", 1))
	}
	rows.Close()
	if _, err := db.Exec(ctx, "ALTER TABLE cdrs DROP CONSTRAINT cdrs_pkey"); err != nil {
		b.Fatal(err)
	}
	for _, d := range defs {
		var name string
		if _, err := fmt.Sscanf(d, "CREATE INDEX %s ", &name); err != nil {
			b.Fatalf("index %q: %v", d, err)
		}
		if _, err := db.Exec(ctx, "DROP INDEX "+name); err != nil {
			b.Fatal(err)
		}
	}
	began := time.Now()
	const chunk = 5_000_000
	for first := 1; first <= n; first += chunk {
		last := min(first+chunk-1, n)
		if _, err := db.Exec(ctx, generateCDRs, first, last, start, step); err != nil {
			b.Fatal(err)
		}
		b.Logf("%d of %d rows in %v", last, n, time.Since(began).Round(time.Second))
	}
	loaded := time.Since(began)
	began = time.Now()
	conn, err := db.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET maintenance_work_mem = '1GB'"); err != nil {
		b.Fatal(err)
	}
	for _, d := range append([]string{"ALTER TABLE cdrs ADD PRIMARY KEY (id, setup_time)"}, defs...) {
		if _, err := conn.Exec(ctx, d); err != nil {
			b.Fatalf("%s: %v", d, err)
		}
	}
	indexed := time.Since(began)
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE cdrs"); err != nil {
		b.Fatal(err)
	}
	var heap, total int64
	var parts int
	if err := db.QueryRow(ctx, `SELECT count(*), sum(pg_relation_size(inhrelid)), sum(pg_total_relation_size(inhrelid))
		FROM pg_inherits WHERE inhparent = 'cdrs'::regclass`).Scan(&parts, &heap, &total); err != nil {
		b.Fatal(err)
	}
	var id string
	if err := db.QueryRow(ctx, "SELECT md5(($1::bigint)::text)::uuid::text", n/2).Scan(&id); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d CDRs in %d partitions: generated in %v, indexed in %v; table %.1f GB, with indexes %.1f GB (%d bytes per row)",
		n, parts, loaded.Round(time.Second), indexed.Round(time.Second), float64(heap)/1e9, float64(total)/1e9, total/int64(n))
	return start.Add(time.Duration(n-1) * step), id
}
