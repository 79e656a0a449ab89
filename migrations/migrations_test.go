package migrations

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/tollgate/tollgate/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.PostgresMain(m)) }

func TestUpFromEmptyAndAgain(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	files, _ := sqlFiles.ReadDir(".")
	first, err := Apply(ctx, dsn)
	if err != nil {
		t.Fatalf("first Up: %v", err)
	}
	// setup-db and migrate print these: a new schema must not read "up to date".
	if first.From != 0 || first.Applied != len(files) || !strings.HasPrefix(first.String(), "database schema created") {
		t.Errorf("first: %+v %q", first, first)
	}
	again, err := Apply(ctx, dsn)
	if err != nil {
		t.Fatalf("second Up: %v", err)
	}
	if again.Applied != 0 || again.To != first.To || !strings.HasPrefix(again.String(), "database schema is up to date") {
		t.Errorf("again: %+v %q", again, again)
	}
	if got := (Report{From: 1, To: 3, Applied: 2}).String(); got != "database schema migrated from version 1 to 3" {
		t.Errorf("a migration reads %q", got)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(files) {
		t.Fatalf("%d migrations recorded, %d files", n, len(files))
	}
	var idx int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_indexes WHERE tablename = 'cdrs'").Scan(&idx); err != nil {
		t.Fatal(err)
	}
	if idx < 10 {
		t.Fatalf("cdrs has %d indexes, want the primary key and nine search indexes", idx)
	}
}

func TestUpConcurrentStarts(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = Up(ctx, dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Up %d: %v", i, err)
		}
	}
}

// TestPartitionCDRsKeepsRows converts a cdrs table that already holds
// CDRs of several months, with an index a later migration could have
// added, into the monthly partitions: every row is kept in its month, the
// indexes come along onto the partitioned table, and a replay by id and
// setup time still meets the primary key. Down and up again keeps them too.
func TestPartitionCDRsKeepsRows(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := provider(t, dsn)
	const unpartitioned = 7
	if _, err := p.UpTo(ctx, unpartitioned); err != nil {
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
	exec(`INSERT INTO cdrs (id, setup_time, caller_number, account)
		SELECT gen_random_uuid(), timestamptz '2025-10-31 23:00:00+00' + g * interval '1 hour', 'c' || g, 'acct-' || (g % 3)
		FROM generate_series(0, 99) AS g`)
	exec("CREATE INDEX cdrs_added_later ON cdrs (account, caller_number)")
	count := func(sql string) int {
		t.Helper()
		var n int
		if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	indexes := count("SELECT count(*) FROM pg_indexes WHERE tablename = 'cdrs'")
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count("SELECT count(*) FROM cdrs"); n != 100 {
		t.Fatalf("%d rows after partitioning, want 100", n)
	}
	// 31 October 23:00 to 5 November 02:00 UTC: two months.
	if n := count("SELECT count(*) FROM cdrs_y2025m10"); n != 1 {
		t.Errorf("%d rows in October's partition, want 1", n)
	}
	if n := count("SELECT count(*) FROM cdrs_y2025m11"); n != 99 {
		t.Errorf("%d rows in November's partition, want 99", n)
	}
	if n := count("SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'cdrs'::regclass"); n != 1 {
		t.Fatal("cdrs is not partitioned")
	}
	if n := count("SELECT count(*) FROM pg_indexes WHERE tablename = 'cdrs'"); n != indexes {
		t.Errorf("%d indexes on cdrs, %d before", n, indexes)
	}
	if n := count("SELECT count(*) FROM pg_indexes WHERE tablename = 'cdrs_y2025m11' AND indexname LIKE '%account_caller_number%'"); n != 1 {
		t.Errorf("the index added later is not on the partitions")
	}
	exec(`INSERT INTO cdrs (id, setup_time) SELECT id, setup_time FROM cdrs
		ON CONFLICT (id, setup_time) DO NOTHING`)
	if n := count("SELECT count(*) FROM cdrs"); n != 100 {
		t.Fatalf("%d rows after a replay, want 100", n)
	}
	if _, err := p.DownTo(ctx, unpartitioned); err != nil {
		t.Fatal(err)
	}
	if n := count("SELECT count(*) FROM cdrs"); n != 100 {
		t.Fatalf("%d rows after down, want 100", n)
	}
	if n := count("SELECT count(*) FROM pg_partitioned_table"); n != 0 {
		t.Fatal("cdrs still partitioned after down")
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count("SELECT count(*) FROM cdrs"); n != 100 {
		t.Fatalf("%d rows after up again, want 100", n)
	}
}

func provider(t *testing.T, dsn string) *goose.Provider {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, db, sqlFiles)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
