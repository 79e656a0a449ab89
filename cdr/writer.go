package cdr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PGWriter stores CDR batches in PostgreSQL's cdrs table, idempotently.
//
// A batch is first COPYed straight into cdrs in one transaction — the fast
// path, nearly always taken. If any of its IDs is already there (a batch
// replayed after a crash, or after a commit whose acknowledgement was lost),
// COPY fails on the primary key and nothing of it is kept; the batch is then
// COPYed into a per-connection temporary staging table and moved with
// INSERT ... SELECT ... ON CONFLICT (id, setup_time) DO NOTHING, so each CDR
// lands once. The key holds setup_time because cdrs is partitioned by it
// (a unique index of a partitioned table must hold the partition key); a
// record's setup time is fixed at the call's start and every copy of it
// (spool replay, journal recovery, a survivor's takeover) carries the same,
// so the pair is as unique as the id.
// Staging every batch would cost a second write of every row for a case
// that happens only after failures.
type PGWriter struct {
	db *pgxpool.Pool
}

// NewPGWriter returns a Sink writing to db, whose schema is migrated.
func NewPGWriter(db *pgxpool.Pool) *PGWriter { return &PGWriter{db: db} }

// SQLSTATEs: unique_violation, and check_violation, which is also what a
// row for which no partition exists gets.
const (
	uniqueViolation = "23505"
	checkViolation  = "23514"
)

// The staging table lives as long as its connection; ON COMMIT DELETE ROWS
// empties it at each commit without the catalog churn of a table created and
// dropped per batch.
const createStage = `CREATE TEMP TABLE IF NOT EXISTS cdrs_stage (LIKE cdrs INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`

var insertFromStage = `INSERT INTO cdrs (` + columnList + `) SELECT ` + columnList + ` FROM cdrs_stage ON CONFLICT (id, setup_time) DO NOTHING`

// Write stores recs; it is idempotent per record ID.
//
// A record whose month has no partition yet (the partitions are made ahead,
// but a clock far off, a database restored from before, or a maintenance
// round that failed can leave a month without one) fails the batch with
// SQLSTATE check_violation; the months of the batch then get their
// partitions and the batch is written again, so no record is refused for
// want of one.
func (w *PGWriter) Write(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	err := w.write(ctx, recs)
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == checkViolation {
		times := make([]time.Time, len(recs))
		for i, r := range recs {
			times[i] = r.SetupTime
		}
		if perr := ensurePartitions(ctx, w.db, times...); perr != nil {
			return errors.Join(err, perr)
		}
		err = w.write(ctx, recs)
	}
	return err
}

func (w *PGWriter) write(ctx context.Context, recs []Record) error {
	err := w.copyDirect(ctx, recs)
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == uniqueViolation {
		return w.copyStaged(ctx, recs)
	}
	return err
}

func (w *PGWriter) copyDirect(ctx context.Context, recs []Record) error {
	tx, err := w.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("cdr writer: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cdrs"}, columns, rowSource(recs)); err != nil {
		return fmt.Errorf("cdr writer: copy: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("cdr writer: commit: %w", err)
	}
	return nil
}

func rowSource(recs []Record) pgx.CopyFromSource {
	row := make([]any, 0, len(columns))
	i := 0
	return pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(recs) {
			return nil, nil
		}
		var err error
		row, err = values(recs[i], row)
		i++
		return row, err
	})
}

func (w *PGWriter) copyStaged(ctx context.Context, recs []Record) error {
	tx, err := w.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("cdr writer: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.Exec(ctx, createStage); err != nil {
		return fmt.Errorf("cdr writer: staging table: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cdrs_stage"}, columns, rowSource(recs)); err != nil {
		return fmt.Errorf("cdr writer: copy: %w", err)
	}
	if _, err := tx.Exec(ctx, insertFromStage); err != nil {
		return fmt.Errorf("cdr writer: insert: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("cdr writer: commit: %w", err)
	}
	return nil
}
