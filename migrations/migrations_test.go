package migrations

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tollgate/tollgate/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.PostgresMain(m)) }

func TestUpFromEmptyAndAgain(t *testing.T) {
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Up(ctx, dsn); err != nil {
		t.Fatalf("first Up: %v", err)
	}
	if err := Up(ctx, dsn); err != nil {
		t.Fatalf("second Up: %v", err)
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
	files, _ := sqlFiles.ReadDir(".")
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
