package cdr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The cdrs table is partitioned by month of setup_time, in UTC (migration
// 00008). A month's partition is named cdrs_yYYYYmMM, so that its range can
// be read back from its name alone.
const partitionLayout = `cdrs_y2006m01`

// Partition is one month of CDRs.
type Partition struct {
	Name     string
	From, To time.Time // [From, To): the month, in UTC
}

// monthOf returns the partition holding the CDRs set up at t.
func monthOf(t time.Time) Partition {
	t = t.UTC()
	from := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return Partition{Name: from.Format(partitionLayout), From: from, To: from.AddDate(0, 1, 0)}
}

// partitionLock serialises the partition changes of several Tollgates on
// one database (a PostgreSQL advisory lock, held to the end of the
// transaction); the value is arbitrary, only the same for all.
const partitionLock = 0x746f6c6c63647273 // "tollcdrs"

// lockTimeout bounds how long a partition change waits for searches that
// hold the table: creating or dropping a partition locks the whole of
// cdrs, and a change queued behind a long export would hold every later
// search and write behind itself. It gives up instead and is tried again.
const lockTimeout = "5s"

// ensurePartitions creates the partitions of the months containing times
// that do not exist yet.
func ensurePartitions(ctx context.Context, db *pgxpool.Pool, times ...time.Time) error {
	want := make([]Partition, 0, len(times))
	for _, t := range times {
		if p := monthOf(t); !slices.Contains(want, p) {
			want = append(want, p)
		}
	}
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+lockTimeout+"'"); err != nil {
			return fmt.Errorf("cdr partitions: %w", err)
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(partitionLock)); err != nil {
			return fmt.Errorf("cdr partitions: lock: %w", err)
		}
		have, err := listPartitions(ctx, tx)
		if err != nil {
			return err
		}
		for _, p := range want {
			if slices.ContainsFunc(have, func(h Partition) bool { return h.Name == p.Name }) {
				continue
			}
			// The name and bounds come from a time, never from input.
			sql := fmt.Sprintf("CREATE TABLE %s PARTITION OF cdrs FOR VALUES FROM ('%s') TO ('%s')",
				p.Name, p.From.Format(time.RFC3339), p.To.Format(time.RFC3339))
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fmt.Errorf("cdr partitions: create %s: %w", p.Name, err)
			}
		}
		return nil
	})
}

// listPartitions returns the monthly partitions of cdrs, oldest first.
// Tables attached by hand under other names are not Tollgate's to manage
// and are left out.
func listPartitions(ctx context.Context, db interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}) ([]Partition, error) {
	rows, err := db.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'cdrs'::regclass`)
	if err != nil {
		return nil, fmt.Errorf("cdr partitions: list: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("cdr partitions: list: %w", err)
	}
	var out []Partition
	for _, n := range names {
		from, err := time.Parse(partitionLayout, n)
		if err != nil {
			continue
		}
		out = append(out, Partition{Name: n, From: from, To: from.AddDate(0, 1, 0)})
	}
	slices.SortFunc(out, func(a, b Partition) int { return a.From.Compare(b.From) })
	return out, nil
}

// PartitionOptions tune Partitions.
type PartitionOptions struct {
	// Ahead is how many months past the current one have their partition
	// made in advance; default 2.
	Ahead int
	// Retention is how many whole months before the current one are kept;
	// older partitions are dropped. 0 keeps every month.
	Retention int
	// Dropped is told of each partition dropped, after the drop, to audit
	// it; nil: logged only.
	Dropped func(ctx context.Context, p Partition)
	Logger  *slog.Logger
}

// Partitions keeps the months of the cdrs table: the partitions of the
// coming months made ahead, so that writes do not wait on DDL, and those
// past the retention dropped whole, which frees their disk at once where
// deleting rows would leave a vacuum's work. Several Tollgates sharing a
// database may all run it: changes are serialised and idempotent.
type Partitions struct {
	db  *pgxpool.Pool
	opt PartitionOptions
	log *slog.Logger
}

// NewPartitions returns the keeper of db's cdrs partitions.
func NewPartitions(db *pgxpool.Pool, opt PartitionOptions) *Partitions {
	if opt.Ahead <= 0 {
		opt.Ahead = 2
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Partitions{db: db, opt: opt, log: log.With("component", "cdr-partitions")}
}

// List returns the monthly partitions, oldest first.
func (p *Partitions) List(ctx context.Context) ([]Partition, error) {
	return listPartitions(ctx, p.db)
}

// Ensure makes the partitions of every month from from's to to's that
// has none, for a bulk load that bypasses the writer (COPY into cdrs of a
// month with no partition fails).
func (p *Partitions) Ensure(ctx context.Context, from, to time.Time) error {
	var months []time.Time
	for m := monthOf(from).From; !m.After(to); m = m.AddDate(0, 1, 0) {
		months = append(months, m)
	}
	return ensurePartitions(ctx, p.db, months...)
}

// Maintain makes the partitions of the current month and Ahead months
// after now, then drops those past the retention, and returns the ones it
// dropped.
func (p *Partitions) Maintain(ctx context.Context, now time.Time) ([]Partition, error) {
	if err := p.Ensure(ctx, now, monthOf(now).From.AddDate(0, p.opt.Ahead, 0)); err != nil {
		return nil, err
	}
	if p.opt.Retention <= 0 {
		return nil, nil
	}
	return p.expire(ctx, monthOf(now).From.AddDate(0, -p.opt.Retention, 0))
}

// expire drops the partitions that end on or before cutoff, one
// transaction each, so that one that cannot be dropped now (its lock wait
// timed out) does not keep the others.
func (p *Partitions) expire(ctx context.Context, cutoff time.Time) ([]Partition, error) {
	have, err := p.List(ctx)
	if err != nil {
		return nil, err
	}
	var dropped []Partition
	var errs []error
	for _, part := range have {
		if part.To.After(cutoff) {
			break
		}
		gone := false
		err := pgx.BeginFunc(ctx, p.db, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+lockTimeout+"'"); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(partitionLock)); err != nil {
				return err
			}
			// Another node may have dropped it meanwhile: then it is that
			// node's to log and audit, once.
			if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NULL", part.Name).Scan(&gone); err != nil || gone {
				return err
			}
			_, err := tx.Exec(ctx, "DROP TABLE "+part.Name)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("cdr partitions: drop %s: %w", part.Name, err))
			continue
		}
		if gone {
			continue
		}
		p.log.Info("CDR partition dropped: past the retention", "partition", part.Name,
			"from", part.From, "to", part.To, "retention_months", p.opt.Retention)
		if p.opt.Dropped != nil {
			p.opt.Dropped(ctx, part)
		}
		dropped = append(dropped, part)
	}
	return dropped, errors.Join(errs...)
}

// Run maintains the partitions now and then every interval until ctx
// ends. A failure (the database down, a lock not granted in time) is
// logged and tried again at the next round; records never wait on it,
// because the writer makes a missing month's partition itself.
func (p *Partitions) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := p.Maintain(ctx, time.Now()); err != nil && ctx.Err() == nil {
			p.log.Warn("CDR partitions not maintained; trying again later", "error", err, "retry_in", interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
