package testenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(PostgresMain(m)) }

func query(t *testing.T, dsn, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestPostgresStopStartKeepsData(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	port := pg.Port()

	pg.Stop()
	if _, err := pgx.Connect(ctx, pg.DSN()); err == nil {
		t.Fatal("connected to a stopped cluster")
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	if pg.Port() != port {
		t.Fatalf("port changed from %d to %d", port, pg.Port())
	}
	if got := query(t, pg.DSN(), "SELECT v FROM kept"); got != "still here" {
		t.Fatalf("got %q", got)
	}
	if got := query(t, pg.DSN(), "SHOW fsync"); got != "off" {
		t.Fatalf("test cluster fsync = %q, want off", got)
	}
}

func TestSharedPostgresDatabasesAreSeparate(t *testing.T) {
	t.Parallel()
	pg := SharedPostgres(t)
	a, b := pg.NewDatabase(t), pg.NewDatabase(t)
	if a == b {
		t.Fatal("same database twice")
	}
	if got, want := query(t, a, "SELECT current_database()"), query(t, b, "SELECT current_database()"); got == want {
		t.Fatalf("both DSNs reach %s", got)
	}
	if SharedPostgres(t) != pg {
		t.Fatal("second SharedPostgres started another cluster")
	}
}

func TestStartPostgresDirReusesCluster(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "tollgate-pgdir-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	port := FreeTCPPort(t)

	pg, err := StartPostgresDir(ctx, dir, port)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	if got := query(t, pg.DSN(), "SHOW fsync"); got != "on" {
		t.Fatalf("persistent cluster fsync = %q, want on", got)
	}
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	pg.Stop()

	pg2, err := StartPostgresDir(ctx, dir, port)
	if err != nil {
		t.Fatal(err)
	}
	defer pg2.Stop()
	if got := query(t, pg2.DSN(), "SELECT count(*)::text FROM kept"); got != "0" {
		t.Fatalf("table lost across restart: %q", got)
	}
}
