package cdr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tollgate/tollgate/internal/testenv"
	"github.com/tollgate/tollgate/migrations"
)

// The environment that sizes BenchmarkCDRScale: the calls it generates
// (default one million, so that `make bench` stays short) over the months
// up to now (default 12); a directory for a cluster kept between runs, so
// that a query can be measured before and after a change on the same
// hundred million rows without generating them again (removed by hand:
// it holds tens of gigabytes); a time after which no further month is
// loaded, so that a load on a shared machine ends when promised; and how
// many months load side by side (default 1).
const (
	scaleRowsEnv    = "TOLLGATE_BENCH_CDR_ROWS"
	scaleMonthsEnv  = "TOLLGATE_BENCH_CDR_MONTHS"
	scaleDirEnv     = "TOLLGATE_BENCH_CDR_DIR"
	scaleUntilEnv   = "TOLLGATE_BENCH_CDR_LOAD_UNTIL"
	scaleLoadersEnv = "TOLLGATE_BENCH_CDR_LOADERS"
)

// scaleMinFree is the free disk a load step must leave behind: a full
// disk fails every other test and build on the machine, so the load stops
// before a step that its estimate says would go below it.
const scaleMinFree = 8 << 30

// generateCDRs is one chunk of generated calls, $1 to $2, spread evenly
// from $3 at one call every $4, into the partition named cdrs_partition: 2,000 accounts, 50
// gateways, 20 routes, three nodes, 30% unanswered (busy, no answer,
// unavailable), answered calls up to ten minutes, each call with the one
// attempt the statistics read (gateway, final code, ringing, answered).
// Plain SQL over generate_series, so that 100 million rows cost the
// server's time and not a client's.
const generateCDRs = `
INSERT INTO cdrs_partition (id, call_id_a, caller_number, called_received, called_sent, source_ip, source_port,
	account, route, gateway, attempts, attempt_count, setup_time, ringing_time, connect_time, disconnect_time,
	duration_ms, billed_seconds, post_dial_delay_ms, sip_code, sip_reason, q850_cause, released_by,
	disconnect_reason, codec_a, codec_b, media_relay, node)
SELECT md5(g::text)::uuid, g || '@bench', '1555' || lpad((g % 10000000)::text, 7, '0'), called, called,
	'10.0.' || (g % 4) || '.' || (g % 50), 5060,
	'acct' || lpad((g % 2000)::text, 4, '0'), 'r' || (g % 20), 'gw' || (g % 50),
	jsonb_build_array(jsonb_build_object('gateway', 'gw' || (g % 50), 'sip_code', code,
		'ringing', true, 'answered', answered)), 1,
	setup, setup + interval '1.5 s',
	CASE WHEN answered THEN setup + interval '3 s' END,
	setup + interval '3 s' + dur * interval '1 ms',
	dur, (dur + 999) / 1000, 1500, code,
	CASE code WHEN 486 THEN 'Busy Here' WHEN 480 THEN 'Temporarily Unavailable' WHEN 503 THEN 'Service Unavailable' ELSE 'OK' END,
	CASE code WHEN 486 THEN 17 WHEN 480 THEN 18 WHEN 503 THEN 34 ELSE 16 END,
	CASE WHEN g % 2 = 0 THEN 'caller' ELSE 'callee' END,
	CASE code WHEN 486 THEN 'busy' WHEN 480 THEN 'no answer' WHEN 503 THEN 'failed' ELSE 'normal' END,
	'PCMA', 'PCMA', 'builtin', 'sw-' || (g % 3)
FROM (
	SELECT g, $3::timestamptz + (g - 1) * $4::interval AS setup,
		(30 + g % 60)::text || lpad(((g * 7919) % 1000000000)::text, 9, '0') AS called,
		g % 10 >= 3 AS answered,
		CASE g % 10 WHEN 0 THEN 486 WHEN 1 THEN 480 WHEN 2 THEN 503 ELSE 200 END AS code,
		CASE WHEN g % 10 >= 3 THEN (g % 600) * 1000 ELSE 0 END AS dur
	FROM generate_series($1::bigint, $2::bigint) AS g
) AS calls`

// fillRollups folds one month's generated calls into cdr_stats_hourly in
// one aggregate after the load, where the insert trigger (disabled for
// it: a partition loaded directly does not fire the parent's statement
// trigger) would fold each statement's rows through cdr_stats_rows. That
// function costs ~80 µs a call (12,000 calls/s: 100 million in over two
// hours); this is the same sums from the columns in one pass, exact for
// the generated calls, whose one attempt is on the call's gateway with its
// final code, ringing, answered when the call was. checkRollups holds it
// to cdr_stats_rows on a sample. Months do not share an hour, so each
// month's rows are new keys.
const fillRollups = `
INSERT INTO cdr_stats_hourly (kind, hour, name, attempts, answered, ner_ok, duration_ms, pdd_ms, pdd_calls)
SELECT CASE WHEN GROUPING(route) = 0 THEN 'route' WHEN GROUPING(account) = 0 THEN 'account'
		WHEN GROUPING(gateway) = 0 THEN 'gateway' ELSE 'all' END,
	hour, coalesce(route, account, gateway, ''), count(*), count(*) FILTER (WHERE answered),
	CASE WHEN GROUPING(gateway) = 0 THEN count(*) FILTER (WHERE answered OR sip_code IN (404, 480, 484, 486, 487, 600, 603))
		ELSE count(*) FILTER (WHERE answered OR sip_code IN (404, 480, 484, 486, 487, 600, 603)
			OR disconnect_reason IN ('busy', 'no answer')) END,
	sum(duration_ms), sum(greatest(post_dial_delay_ms, 0)), count(*) FILTER (WHERE post_dial_delay_ms > 0)
FROM (SELECT date_trunc('hour', setup_time, 'UTC') AS hour, route, account, gateway,
		connect_time IS NOT NULL AS answered, sip_code, disconnect_reason, duration_ms, post_dial_delay_ms
	FROM cdrs WHERE setup_time >= $1 AND setup_time < $2) AS c
GROUP BY GROUPING SETS ((hour, route), (hour, account), (hour, gateway), (hour))`

// checkRollups compares the rollups of the hour at $1 with what
// cdr_stats_rows, the trigger's function, makes of the same calls: the
// rows that differ, both ways.
const checkRollups = `
WITH trig AS (
	SELECT r.kind, r.hour, r.name, sum(r.attempts) AS attempts, sum(r.answered) AS answered, sum(r.ner_ok) AS ner_ok,
		sum(r.duration_ms) AS duration_ms, sum(r.pdd_ms) AS pdd_ms, sum(r.pdd_calls) AS pdd_calls
	FROM cdrs c, cdr_stats_rows(c) r
	WHERE c.setup_time >= $1 AND c.setup_time < $1::timestamptz + interval '1 hour'
	GROUP BY r.kind, r.hour, r.name
), kept AS (
	SELECT kind, hour, name, attempts, answered, ner_ok, duration_ms, pdd_ms, pdd_calls
	FROM cdr_stats_hourly WHERE hour = $1
)
SELECT (SELECT count(*) FROM trig), (SELECT count(*) FROM (SELECT * FROM trig EXCEPT SELECT * FROM kept) AS a),
	(SELECT count(*) FROM (SELECT * FROM kept EXCEPT SELECT * FROM trig) AS b)`

// fillCodes folds one month's generated calls into cdr_codes_hourly
// (migration 00023), the dashboard's rollup, in one aggregate after the
// load, for the same reason as fillRollups: the sums the trigger adds
// per insert, over the month's calls at once. checkCodes holds it to the
// trigger.
const fillCodes = `
INSERT INTO cdr_codes_hourly (hour, sip_code, calls, answered, answered_ms, pdd_ms, pdd_calls, billed_seconds, failed_reason)
SELECT date_trunc('hour', setup_time, 'UTC') AS h, sip_code, count(*), count(*) FILTER (WHERE connect_time IS NOT NULL),
	coalesce(sum(duration_ms) FILTER (WHERE connect_time IS NOT NULL), 0),
	coalesce(sum(post_dial_delay_ms) FILTER (WHERE post_dial_delay_ms > 0), 0),
	count(*) FILTER (WHERE post_dial_delay_ms > 0), sum(billed_seconds),
	min(sip_reason) FILTER (WHERE connect_time IS NULL)
FROM cdrs WHERE setup_time >= $1 AND setup_time < $2 GROUP BY h, sip_code`

// checkCodes has the trigger count the calls of the hour at $1 again, in
// a transaction rolled back after: their rows of cdr_codes_hourly are put
// aside and emptied, the calls taken out of cdrs and inserted through
// it, and the rows the trigger made compared with those fillCodes made.
// The last statement answers the rows compared and those that differ,
// both ways.
var checkCodes = []string{
	`CREATE TEMP TABLE filled_codes (LIKE cdr_codes_hourly) ON COMMIT DROP`,
	`INSERT INTO filled_codes SELECT * FROM cdr_codes_hourly WHERE hour = $1`,
	`CREATE TEMP TABLE hour_cdrs (LIKE cdrs) ON COMMIT DROP`,
	`INSERT INTO hour_cdrs SELECT * FROM cdrs WHERE setup_time >= $1 AND setup_time < $1::timestamptz + interval '1 hour'`,
	`DELETE FROM cdrs WHERE setup_time >= $1 AND setup_time < $1::timestamptz + interval '1 hour'`,
	`DELETE FROM cdr_codes_hourly WHERE hour = $1`,
	`INSERT INTO cdrs SELECT * FROM hour_cdrs`,
	`SELECT (SELECT count(*) FROM filled_codes),
		(SELECT count(*) FROM (SELECT * FROM filled_codes EXCEPT SELECT * FROM cdr_codes_hourly WHERE hour = $1) AS a),
		(SELECT count(*) FROM (SELECT * FROM cdr_codes_hourly WHERE hour = $1 EXCEPT SELECT * FROM filled_codes) AS b)`,
}

// fillDaily sums the hourly rollups into cdr_stats_daily, as migration
// 00013 does for the hours already there.
const fillDaily = `
INSERT INTO cdr_stats_daily (kind, day, name, attempts, answered, ner_ok, duration_ms, pdd_ms, pdd_calls)
SELECT kind, date_trunc('day', hour, 'UTC') AS d, name, sum(attempts), sum(answered), sum(ner_ok),
	sum(duration_ms), sum(pdd_ms), sum(pdd_calls)
FROM cdr_stats_hourly GROUP BY kind, d, name`

// scaleLoad is what a load left in the database, recorded in it so that a
// run on a kept cluster (scaleDirEnv) finds the same calls.
type scaleLoad struct {
	rows     int64     // calls loaded
	from     time.Time // the oldest call loaded
	end      time.Time // the newest call
	middleID string    // a call in the middle, for the lookup by id
}

// scaleDB is BenchmarkCDRScale's loaded database, kept between its runs
// (the benchmark function is called several times as b.N grows).
var scaleDB struct {
	db   *pgxpool.Pool
	load scaleLoad
}

// BenchmarkCDRScale loads generated calls over the months up to now into
// the partitioned cdrs table and its statistics rollups, then times what
// an operator asks of them: searches by time range and filters, the
// totals of a search, the dashboard's figures, the statistics page and a
// lookup by id. The published figures (docs/benchmarks.md) are of the
// newest seven months of a 100-million-call year, the load cut by its
// deadline:
//
//	TOLLGATE_BENCH_CDR_ROWS=100000000 TOLLGATE_BENCH_CDR_MONTHS=12 TOLLGATE_BENCH_CDR_LOADERS=2 \
//	  TOLLGATE_BENCH_CDR_LOAD_UNTIL=2026-12-07T05:50:00Z TOLLGATE_BENCH_CDR_DIR=/var/tmp/cdrscale \
//	  nice -n 5 go test ./cdr -run '^$' -bench CDRScale -benchtime 3x -timeout 3h -v
func BenchmarkCDRScale(b *testing.B) {
	if scaleDB.db == nil {
		scaleDB.db, scaleDB.load = openScale(b)
	}
	db, load := scaleDB.db, scaleDB.load
	end := load.end
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
		{"totals-all", Filter{From: load.from, To: end.Add(time.Hour)}},
	}
	for _, s := range totals {
		timed(b, s.name, func() error {
			_, err := SearchTotals(ctx, db, s.f)
			return err
		})
		// The same totals aggregated from the CDRs alone, as before the
		// rollups answered them: the before and after on the same rows.
		if _, _, ok := s.f.rollupKey(); ok {
			timed(b, s.name+"-from-cdrs", func() error {
				where, args := s.f.where()
				var calls, answered, ms int64
				return db.QueryRow(ctx, rawTotals+where, args...).Scan(&calls, &answered, &ms)
			})
		}
	}
	// The dashboard's windows, from the rollup and, as before it, from
	// the CDRs alone.
	for _, r := range []struct {
		name string
		from time.Time
	}{{"24h", day}, {"7d", week}} {
		timed(b, "dashboard-hourly-"+r.name, func() error {
			_, err := Hourly(ctx, db, r.from)
			return err
		})
		timed(b, "dashboard-failures-"+r.name, func() error {
			_, err := Failures(ctx, db, r.from, 10)
			return err
		})
		for _, q := range []struct {
			name, sql string
			args      []any
		}{{"hourly", hourlyFromCDRs, []any{r.from}}, {"failures", failuresFromCDRs, []any{r.from, 10}}} {
			timed(b, "dashboard-"+q.name+"-"+r.name+"-from-cdrs", func() error {
				rows, err := db.Query(ctx, q.sql, q.args...)
				if err != nil {
					return err
				}
				rows.Close()
				return rows.Err()
			})
		}
	}
	for _, g := range []Grouping{ByGateway, ByRoute, ByAccount} {
		for _, r := range []struct {
			name string
			from time.Time
		}{{"24h", day}, {"7d", week}, {"30d", month}, {"all", load.from}} {
			timed(b, "stats-"+string(g)+"-"+r.name, func() error {
				_, err := StatsBy(ctx, db, g, r.from, end, 100)
				return err
			})
		}
	}
	timed(b, "by-id", func() error {
		_, err := ByID(ctx, db, load.middleID)
		return err
	})
}

// openScale starts the benchmark's cluster and loads it, or finds the
// load a previous run left in a kept cluster.
func openScale(b *testing.B) (*pgxpool.Pool, scaleLoad) {
	rows := envInt(b, scaleRowsEnv, 1_000_000, 1000)
	months := envInt(b, scaleMonthsEnv, 12, 1)
	until := time.Time{}
	if v := os.Getenv(scaleUntilEnv); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			b.Fatalf("%s=%q: want a time such as 2026-12-07T06:00:00Z: %v", scaleUntilEnv, v, err)
		}
		until = t
	}
	var pg *testenv.Postgres
	if dir := os.Getenv(scaleDirEnv); dir != "" {
		var err error
		pg, err = testenv.StartPostgresDir(context.Background(), dir, testenv.FreeTCPPort(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pg.Stop)
	} else {
		// A cluster of its own, removed at the end: 100 million rows
		// take tens of gigabytes.
		pg = testenv.StartPostgres(b)
	}
	// A kept cluster's rows may meet a migration that rewrites or indexes
	// them: that takes minutes, not migratedDB's two.
	migrating := time.Now()
	mctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if err := migrations.Up(mctx, pg.DSN()); err != nil {
		b.Fatal(err)
	}
	b.Logf("migrations applied in %v", time.Since(migrating).Round(time.Millisecond))
	db := migratedDB(b, pg.DSN())
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_cdr_scale (
		rows bigint NOT NULL, from_time timestamptz NOT NULL, end_time timestamptz NOT NULL, middle_id text NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	var l scaleLoad
	err := db.QueryRow(ctx, "SELECT rows, from_time, end_time, middle_id FROM bench_cdr_scale").Scan(&l.rows, &l.from, &l.end, &l.middleID)
	switch {
	case err == nil:
		b.Logf("kept cluster: %d CDRs from %v to %v", l.rows, l.from, l.end)
		return db, l
	case !errors.Is(err, pgx.ErrNoRows):
		b.Fatal(err)
	}
	l = loadScale(b, db, rows, months, until)
	if _, err := db.Exec(ctx, "INSERT INTO bench_cdr_scale VALUES ($1, $2, $3, $4)", l.rows, l.from, l.end, l.middleID); err != nil {
		b.Fatal(err)
	}
	return db, l
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

// scaleMonth is one month (partition) of a load: its calls first to last
// over [lo, hi).
type scaleMonth struct {
	p           Partition
	lo, hi      time.Time
	first, last int64
}

// scaleLoader is the state the loaders of loadScale share: what a step
// has cost so far per row (the estimate the disk guard and the deadline
// judge the next month by, starting from the 8.3-million-row run of
// docs/benchmarks.md), the disk the months under way will still take,
// and what was loaded.
type scaleLoader struct {
	b       *testing.B
	dataDir string
	until   time.Time
	start   time.Time
	step    time.Duration
	defs    []string
	began   time.Time

	mu         sync.Mutex
	heapBytes  float64
	indexBytes float64
	seconds    float64 // per row, one loader
	reserved   int64   // bytes the months under way will still write
	state      loadState
	loaded     int64
	oldest     int64 // first call of the oldest month loaded
}

// loadState is whether loaders still take months.
type loadState int

const (
	loading loadState = iota
	loadStopped
)

// loadScale generates n calls spread over the months up to now, a month
// (partition) at a time, the newest first, so that a load cut short by the
// disk guard or the deadline still holds the recent months at the intended
// density; loaders (TOLLGATE_BENCH_CDR_LOADERS, default 1) load months side
// by side. A month's calls go into its partition with no index and
// unlogged (no WAL: the rows are read the same, and a bulk load is best
// done so), then get their indexes, rollups and a VACUUM ANALYZE; the
// parent's indexes are made at the end, which attaches the months'. None
// of it is part of what is measured.
func loadScale(b *testing.B, db *pgxpool.Pool, n, months int, until time.Time) scaleLoad {
	ctx := context.Background()
	end := time.Now().UTC().Truncate(time.Hour)
	start := end.AddDate(0, -months, 0)
	step := end.Sub(start) / time.Duration(n)
	if err := NewPartitions(db, PartitionOptions{}).Ensure(ctx, start, end); err != nil {
		b.Fatal(err)
	}
	conn, err := db.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	l := &scaleLoader{b: b, until: until, start: start, step: step, began: time.Now(),
		heapBytes: 410, indexBytes: 280, seconds: 1.0 / 20000, oldest: int64(n) + 1}
	if err := conn.QueryRow(ctx, "SHOW data_directory").Scan(&l.dataDir); err != nil {
		b.Fatal(err)
	}
	l.defs = dropIndexes(b, conn)
	parts, err := listPartitions(ctx, conn)
	if err != nil {
		b.Fatal(err)
	}
	queue := make(chan scaleMonth, len(parts))
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		lo, hi := maxTime(p.From, start), minTime(p.To, end)
		// Call g is set up at start + (g-1)·step: the month holds the
		// calls from first to last.
		first := int64((lo.Sub(start)+step-1)/step) + 1
		last := min(int64((hi.Sub(start)+step-1)/step), int64(n))
		if hi.After(lo) && last >= first {
			queue <- scaleMonth{p: p, lo: lo, hi: hi, first: first, last: last}
		}
	}
	close(queue)
	var wg sync.WaitGroup
	errs := make(chan error, envInt(b, scaleLoadersEnv, 1, 1))
	for range cap(errs) {
		wg.Go(func() {
			if err := l.run(ctx, db, queue); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if l.loaded == 0 {
		b.Fatal("no month loaded")
	}
	loadedIn := time.Since(l.began)
	finishBegan := time.Now()
	for _, s := range []string{"SET maintenance_work_mem = '1GB'", "SET work_mem = '1GB'"} {
		if _, err := conn.Exec(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	for _, d := range append(l.defs, "ALTER TABLE cdrs ADD PRIMARY KEY (id, setup_time)") {
		if _, err := conn.Exec(ctx, strings.Replace(d, " ON ONLY ", " ON ", 1)); err != nil {
			b.Fatalf("%s: %v", d, err)
		}
	}
	for _, s := range []string{fillDaily, "ANALYZE cdr_stats_hourly", "ANALYZE cdr_stats_daily", "ANALYZE cdr_codes_hourly"} {
		if _, err := conn.Exec(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	var heap, total, rollups int64
	var indexes int
	if err := conn.QueryRow(ctx, `SELECT sum(pg_relation_size(inhrelid)), sum(pg_total_relation_size(inhrelid)),
		pg_total_relation_size('cdr_stats_hourly') + pg_total_relation_size('cdr_stats_daily'),
		(SELECT count(*) FROM pg_index x JOIN pg_inherits i ON i.inhrelid = x.indrelid WHERE i.inhparent = 'cdrs'::regclass)
		FROM pg_inherits WHERE inhparent = 'cdrs'::regclass`).Scan(&heap, &total, &rollups, &indexes); err != nil {
		b.Fatal(err)
	}
	var id string
	if err := conn.QueryRow(ctx, "SELECT md5(($1::bigint)::text)::uuid::text", (l.oldest+int64(n))/2).Scan(&id); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d CDRs loaded in %v (%.0f rows/s, every step included); parent indexes and daily rollups in %v; "+
		"table %.1f GB, with indexes %.1f GB (%d bytes per row), rollups %.2f GB; %d indexes on the partitions",
		l.loaded, loadedIn.Round(time.Second), float64(l.loaded)/loadedIn.Seconds(), time.Since(finishBegan).Round(time.Second),
		float64(heap)/1e9, float64(total)/1e9, total/l.loaded, float64(rollups)/1e9, indexes)
	return scaleLoad{
		rows:     l.loaded,
		from:     start.Add(time.Duration(l.oldest-1) * step),
		end:      start.Add(time.Duration(n-1) * step),
		middleID: id,
	}
}

// run loads months from queue until it is empty or the load stops.
func (l *scaleLoader) run(ctx context.Context, db *pgxpool.Pool, queue <-chan scaleMonth) error {
	conn, err := db.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	for _, s := range []string{"SET maintenance_work_mem = '1GB'", "SET work_mem = '1GB'"} {
		if _, err := conn.Exec(ctx, s); err != nil {
			return err
		}
	}
	for m := range queue {
		if err := l.month(ctx, conn, m); err != nil {
			return err
		}
	}
	return nil
}

// admit decides whether month m of rows may start, and reserves its disk.
func (l *scaleLoader) admit(m scaleMonth, rows int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == loadStopped {
		return 0, errLoadStopped
	}
	if took := time.Duration(l.seconds * float64(rows) * float64(time.Second)); !l.until.IsZero() && time.Now().Add(took).After(l.until) {
		l.state = loadStopped
		return 0, fmt.Errorf("load stopped before %s: its %d rows would take ~%v at %.0f rows/s a loader, past %s",
			m.p.Name, rows, took.Round(time.Second), 1/l.seconds, scaleUntilEnv)
	}
	// The sorts of an index build spill to temporary files beside the
	// indexes: counted as much again.
	need := int64((l.heapBytes + 2*l.indexBytes) * float64(rows))
	if err := diskGuard(l.dataDir, need+l.reserved, "loading "+m.p.Name); err != nil {
		l.state = loadStopped
		return 0, fmt.Errorf("load stopped: %w", err)
	}
	l.reserved += need
	return need, nil
}

// errLoadStopped is admit's answer once a loader has stopped the load.
var errLoadStopped = errors.New("load stopped")

// month loads m: generate, check the disk again with the heap's real size,
// index, roll up, vacuum.
func (l *scaleLoader) month(ctx context.Context, conn *pgxpool.Conn, m scaleMonth) error {
	rows := m.last - m.first + 1
	need, err := l.admit(m, rows)
	if errors.Is(err, errLoadStopped) {
		return nil
	}
	if err != nil {
		l.b.Log(err)
		return nil
	}
	defer func() {
		l.mu.Lock()
		l.reserved -= need
		l.mu.Unlock()
	}()
	began := time.Now()
	if err := loadMonth(ctx, conn, m.p, m.first, m.last, l.start, l.step); err != nil {
		return err
	}
	generated := time.Since(began)
	var heap int64
	if err := conn.QueryRow(ctx, "SELECT pg_relation_size($1::regclass)", m.p.Name).Scan(&heap); err != nil {
		return err
	}
	l.mu.Lock()
	l.heapBytes = float64(heap) / float64(rows)
	// What is left of this month is its indexes; the other months under
	// way still hold their reservations.
	others := l.reserved - need
	err = diskGuard(l.dataDir, int64(2*l.indexBytes*float64(rows))+others, "indexing "+m.p.Name)
	if err != nil {
		l.state = loadStopped
	}
	l.mu.Unlock()
	if err != nil {
		l.b.Logf("load stopped, %s emptied: %v", m.p.Name, err)
		_, err := conn.Exec(ctx, "TRUNCATE "+m.p.Name)
		return err
	}
	indexBegan := time.Now()
	if err := indexMonth(ctx, conn, m.p, l.defs); err != nil {
		return err
	}
	indexed := time.Since(indexBegan)
	rollupBegan := time.Now()
	for _, fill := range []string{fillRollups, fillCodes} {
		if _, err := conn.Exec(ctx, fill, m.lo, m.hi); err != nil {
			return fmt.Errorf("%s rollups: %w", m.p.Name, err)
		}
	}
	rolledUp := time.Since(rollupBegan)
	var sample, missing, extra int
	if err := conn.QueryRow(ctx, checkRollups, m.hi.Add(-time.Hour)).Scan(&sample, &missing, &extra); err != nil {
		return err
	}
	if sample == 0 || missing+extra > 0 {
		return fmt.Errorf("%s: the rollups of %v differ from the trigger's: %d rows, %d missing, %d not the trigger's",
			m.p.Name, m.hi.Add(-time.Hour), sample, missing, extra)
	}
	if err := checkCodesOf(ctx, conn, m.hi.Add(-time.Hour)); err != nil {
		return fmt.Errorf("%s: %w", m.p.Name, err)
	}
	vacuumBegan := time.Now()
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+m.p.Name); err != nil {
		return err
	}
	vacuumed := time.Since(vacuumBegan)
	var total int64
	if err := conn.QueryRow(ctx, "SELECT pg_total_relation_size($1::regclass)", m.p.Name).Scan(&total); err != nil {
		return err
	}
	free, _ := freeBytes(l.dataDir)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.indexBytes = float64(total-heap) / float64(rows)
	l.seconds = time.Since(began).Seconds() / float64(rows)
	l.loaded += rows
	l.oldest = min(l.oldest, m.first)
	l.b.Logf("%s: %d rows generated in %v (%.0f rows/s), indexed in %v, rolled up in %v, vacuumed in %v; "+
		"%d heap + %d index bytes per row; %d rows in %v; %.1f GB free; load average %s",
		m.p.Name, rows, generated.Round(time.Second), float64(rows)/generated.Seconds(), indexed.Round(time.Second),
		rolledUp.Round(time.Second), vacuumed.Round(time.Second), heap/rows, (total-heap)/rows,
		l.loaded, time.Since(l.began).Round(time.Second), float64(free)/1e9, loadAverage())
	return nil
}

// checkCodesOf runs checkCodes on the hour at h.
func checkCodesOf(ctx context.Context, conn *pgxpool.Conn, h time.Time) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	// Nothing of it is kept.
	defer func() { _ = tx.Rollback(ctx) }()
	for _, s := range checkCodes[:len(checkCodes)-1] {
		var args []any
		if strings.Contains(s, "$1") {
			args = []any{h}
		}
		if _, err := tx.Exec(ctx, s, args...); err != nil {
			return fmt.Errorf("%.60s: %w", s, err)
		}
	}
	var sample, missing, extra int
	if err := tx.QueryRow(ctx, checkCodes[len(checkCodes)-1], h).Scan(&sample, &missing, &extra); err != nil {
		return err
	}
	if sample == 0 || missing+extra > 0 {
		return fmt.Errorf("the codes of %v differ from the trigger's: %d rows, %d missing, %d not the trigger's",
			h, sample, missing, extra)
	}
	return nil
}

// loadAverage is the machine's load average, as the figures are read
// against it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// dropIndexes drops the primary key and indexes of cdrs, returning the
// secondary indexes' definitions to make again.
func dropIndexes(b *testing.B, conn *pgxpool.Conn) []string {
	ctx := context.Background()
	var defs []string
	rows, err := conn.Query(ctx, "SELECT indexdef FROM pg_indexes WHERE tablename = 'cdrs' AND indexname <> 'cdrs_pkey' ORDER BY indexname")
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			b.Fatal(err)
		}
		defs = append(defs, d)
	}
	rows.Close()
	if _, err := conn.Exec(ctx, "ALTER TABLE cdrs DROP CONSTRAINT cdrs_pkey"); err != nil {
		b.Fatal(err)
	}
	for _, d := range defs {
		var name string
		if _, err := fmt.Sscanf(d, "CREATE INDEX %s ", &name); err != nil {
			b.Fatalf("index %q: %v", d, err)
		}
		if _, err := conn.Exec(ctx, "DROP INDEX "+name); err != nil {
			b.Fatal(err)
		}
	}
	return defs
}

// loadMonth generates calls first to last into p, unlogged, in chunks of
// five million.
func loadMonth(ctx context.Context, conn *pgxpool.Conn, p Partition, first, last int64, start time.Time, step time.Duration) error {
	if _, err := conn.Exec(ctx, "ALTER TABLE "+p.Name+" SET UNLOGGED"); err != nil {
		return err
	}
	insert := strings.Replace(generateCDRs, "cdrs_partition", p.Name, 1)
	const chunk = 5_000_000
	for from := first; from <= last; from += chunk {
		if _, err := conn.Exec(ctx, insert, from, min(from+chunk-1, last), start, step); err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
	}
	return nil
}

// indexMonth makes p's primary key and the indexes defs of the parent on
// p alone, where the parent's will find and attach them.
func indexMonth(ctx context.Context, conn *pgxpool.Conn, p Partition, defs []string) error {
	sqls := []string{"ALTER TABLE " + p.Name + " ADD PRIMARY KEY (id, setup_time)"}
	for _, d := range defs {
		using := strings.Index(d, " USING ")
		if using < 0 {
			return fmt.Errorf("index %q: no USING", d)
		}
		sqls = append(sqls, "CREATE INDEX ON "+p.Name+d[using:])
	}
	for _, s := range sqls {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// diskGuard refuses a step whose estimated need would leave less than
// scaleMinFree on dir's file system.
func diskGuard(dir string, need int64, step string) error {
	free, err := freeBytes(dir)
	if err != nil {
		return err
	}
	if free-need < scaleMinFree {
		return fmt.Errorf("%s needs ~%.1f GB and %s has %.1f GB free: it would leave less than %d GB",
			step, float64(need)/1e9, dir, float64(free)/1e9, scaleMinFree>>30)
	}
	return nil
}

func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Clean(dir), &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
