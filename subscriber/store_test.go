package subscriber

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/internal/testenv"
	"github.com/tollgate/tollgate/migrations"
)

func TestMain(m *testing.M) { os.Exit(testenv.PostgresMain(m)) }

func newStore(t *testing.T) (*Store, *pgxpool.Pool) {
	t.Helper()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	ctx := context.Background()
	if err := migrations.Up(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	db, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return NewStore(db), db
}

// TestStore: subscribers are added, listed, read as HA1s by realm and
// deleted; the password itself is stored nowhere.
func TestStore(t *testing.T) {
	s, db := newStore(t)
	ctx := context.Background()
	if _, err := s.Add(ctx, "alice", "example.net", "s3cret-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, "carol", "other.realm", "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, "alice", "example.net", "again"); !errors.Is(err, ErrExists) {
		t.Errorf("alice twice: %v, want ErrExists", err)
	}
	for _, bad := range []struct{ user, password string }{{"a@b", "x"}, {"", "x"}, {"bob smith", "x"}, {"bob", ""}} {
		if _, err := s.Add(ctx, bad.user, "example.net", bad.password); !errors.Is(err, ErrBadUser) {
			t.Errorf("%q/%q: %v, want ErrBadUser", bad.user, bad.password, err)
		}
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[0].User != "alice" || list[1].Realm != "other.realm" {
		t.Fatalf("list %+v %v", list, err)
	}
	ha1s, err := s.HA1s(ctx, "example.net")
	if err != nil || len(ha1s) != 1 || ha1s["alice"] != aaa.HA1("alice", "example.net", "s3cret-password") {
		t.Fatalf("HA1s of example.net: %v %v", ha1s, err)
	}
	var row string
	if err := db.QueryRow(ctx, "SELECT s::text FROM subscribers s WHERE username = 'alice'").Scan(&row); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row, "s3cret") {
		t.Fatalf("the password is stored: %s", row)
	}
	if err := s.Delete(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
}

// TestFollow: the switch is handed the subscribers at once, and again
// when they change.
func TestFollow(t *testing.T) {
	s, _ := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan map[string]string, 10)
	go s.Follow(ctx, 20*time.Millisecond, func() string { return "example.net" }, slog.New(slog.DiscardHandler),
		func(m map[string]string) { got <- m })
	if m := <-got; len(m) != 0 {
		t.Fatalf("first set %v, want empty", m)
	}
	if _, err := s.Add(ctx, "dave", "example.net", "pw"); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m["dave"] != aaa.HA1("dave", "example.net", "pw") {
			t.Fatalf("after the add: %v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the added subscriber was not handed over")
	}
}
