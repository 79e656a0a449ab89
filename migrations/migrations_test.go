package migrations

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
