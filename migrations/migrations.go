// Package migrations holds Tollgate's PostgreSQL schema as versioned SQL
// files embedded in the binary, and applies them (`tollgate migrate`, or at
// start when configured).
package migrations

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var sqlFiles embed.FS

// Up applies every migration not yet applied to the database at dsn. It is
// idempotent, and safe when several Tollgate processes start at once: a
// PostgreSQL advisory lock serialises them.
func Up(ctx context.Context, dsn string) error {
	_, err := Apply(ctx, dsn)
	return err
}

// Report is what Apply did, for the commands that tell an administrator.
type Report struct {
	From, To int64 // schema versions before and after; From 0: a new schema
	Applied  int   // migrations applied
}

func (r Report) String() string {
	switch {
	case r.Applied == 0:
		return fmt.Sprintf("database schema is up to date (version %d)", r.To)
	case r.From == 0:
		return fmt.Sprintf("database schema created (version %d)", r.To)
	}
	return fmt.Sprintf("database schema migrated from version %d to %d", r.From, r.To)
}

// Apply is Up, reporting what it did.
func Apply(ctx context.Context, dsn string) (Report, error) {
	var rep Report
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return rep, fmt.Errorf("migrations: parse dsn: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return rep, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sqlFiles, goose.WithSessionLocker(locker))
	if err != nil {
		return rep, fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return rep, fmt.Errorf("migrations: up: %w", err)
	}
	if len(res) > 0 {
		rep.Applied = len(res)
		// The schema stood at the last migration before the first applied.
		for _, src := range p.ListSources() {
			if src.Version < res[0].Source.Version {
				rep.From = src.Version
			}
		}
		rep.To = res[len(res)-1].Source.Version
		return rep, nil
	}
	if rep.To, err = p.GetDBVersion(ctx); err != nil {
		return rep, fmt.Errorf("migrations: version: %w", err)
	}
	rep.From = rep.To
	return rep, nil
}
