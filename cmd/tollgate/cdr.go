package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"layeh.com/radius/rfc2866"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/migrations"
	"github.com/tollgate/tollgate/web"
)

// cdrPipe is the path of every call record: the durable spool first, then
// a shipper to PostgreSQL or, without a database, to daily CSV files. It is
// the switch's record sink and its connected-calls journal.
type cdrPipe struct {
	spool   *cdr.Spool
	journal *cdr.Journal
	shipper *cdr.Shipper
	pool    *pgxpool.Pool
	csv     *cdr.CSVFiles
	syslog  *cdr.Syslog // cdr.syslog: every record to syslog too; nil without
	done    chan struct{}

	node       string         // cluster.node, for the records the switch leaves without one
	orphans    []cdr.Orphan   // calls the previous process left in the journal
	recovering sync.WaitGroup // recoverCalls, for the shutdown
}

// partitionRound is how often the CDR partitions are maintained: the
// months ahead made, those past cdr.retention dropped. A month changes
// rarely; an hour bounds how long a drop that failed waits for its retry.
const partitionRound = time.Hour

func openCDR(ctx context.Context, c config.CDR, node string, log *slog.Logger) (*cdrPipe, error) {
	spool, err := cdr.OpenSpool(filepath.Join(c.Dir, "spool"), cdr.SpoolOptions{Logger: log,
		SegmentSize: c.SegmentSize, Reserve: c.Reserve})
	if err != nil {
		return nil, err
	}
	p := &cdrPipe{spool: spool, node: node, done: make(chan struct{})}
	if p.journal, err = cdr.OpenJournal(filepath.Join(c.Dir, "journal"), log); err != nil {
		spool.Close()
		return nil, err
	}
	// Calls that were up when the last process died: recoverCalls writes
	// their records and sends their Stops once RADIUS is up.
	p.orphans = p.journal.Recover()
	var sink cdr.Sink
	if c.Database != "" {
		if c.Migrate {
			mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := migrations.Up(mctx, c.Database)
			cancel()
			if err != nil {
				// Records wait in the spool until the database is back.
				log.Error("database migrations failed; records wait in the spool", "error", err)
			}
		}
		if p.pool, err = pgxpool.New(ctx, c.Database); err != nil {
			p.Close()
			return nil, errors.New("cdr.database: invalid connection string")
		}
		sink = cdr.NewPGWriter(p.pool)
		parts := cdr.NewPartitions(p.pool, cdr.PartitionOptions{Retention: c.Retention, Logger: log,
			Dropped: func(ctx context.Context, part cdr.Partition) {
				err := web.WriteAudit(ctx, p.pool, web.AuditEntry{Actor: "tollgate " + node, Action: web.AuditCDRRetention,
					Target: part.Name, Detail: fmt.Sprintf("CDRs set up from %s to %s dropped: cdr.retention is %d months",
						part.From.Format(time.DateOnly), part.To.Format(time.DateOnly), c.Retention)})
				if err != nil {
					log.Error("CDR partition dropped but not audited", "partition", part.Name, "error", err)
				}
			}})
		go parts.Run(ctx, partitionRound)
		log.Info("call records: spool, then PostgreSQL", "dir", c.Dir)
	} else {
		if p.csv, err = cdr.OpenCSVFiles(filepath.Join(c.Dir, "csv"), log); err != nil {
			p.Close()
			return nil, fmt.Errorf("cdr csv: %w", err)
		}
		sink = p.csv
		log.Info("call records: no database configured; spool, then daily CSV files",
			"dir", filepath.Join(c.Dir, "csv"))
	}
	if s := c.Syslog; s != nil {
		if p.syslog, err = cdr.NewSyslog(cdr.SyslogOptions{Network: s.Network(), Address: s.Addr(),
			Format: s.Format, Facility: s.Facility, Severity: s.Severity, Tag: s.Tag}); err != nil {
			p.Close()
			return nil, err
		}
		sink = cdr.AlsoTo(sink, p.syslog, log)
		log.Info("call records: also to syslog", "address", s.Address, "format", s.Format)
	}
	p.shipper = cdr.NewShipper(spool, sink, cdr.ShipperOptions{Logger: log})
	go func() {
		defer close(p.done)
		p.shipper.Run(ctx)
	}()
	go p.journal.Run(ctx, 5*time.Second)
	return p, nil
}

// Write makes a call's record durable in the spool, then closes its journal
// entry: a crash in between leaves both, and the spool's copy wins because
// recovery writes the journal's under the same ID, which is idempotent.
// It names this node in rec (stamp).
func (p *cdrPipe) Write(_ context.Context, rec *cdr.Record) error {
	p.stamp(rec)
	if err := p.spool.Append(rec); err != nil {
		return err
	}
	return p.journal.Ended(rec.ID)
}

// stamp names this node in a record that names none: the switch leaves it
// out, and every record it hands over (or left in the journal) is this
// node's own.
func (p *cdrPipe) stamp(rec *cdr.Record) {
	if rec.Node == "" {
		rec.Node = p.node
	}
}

// recovery is how far the recovery of one orphaned call has got.
type recovery int

const (
	recoveryPending  recovery = iota // nothing done yet
	recoveryRecorded                 // its CDR is in the spool
	recoveryStopped                  // its Stops are sent or queued durably
)

// recoverCalls gives each call the previous process left in the journal
// its CDR, then the RADIUS Stop of each accounting session it had, then
// closes its entry: a crash in between redoes only what was not done
// (the CDR again under the same ID, which is idempotent; the Stops again,
// which a billing server deduplicates by Acct-Session-Id and status). What
// cannot be done yet (a full disk) is retried every few seconds; what is
// left at exit stays in the journal for the next start. acct is nil
// without accounting servers.
func (p *cdrPipe) recoverCalls(ctx context.Context, acct *aaa.Accountant, log *slog.Logger) {
	if len(p.orphans) == 0 {
		return
	}
	p.recovering.Add(1)
	go func() {
		defer p.recovering.Done()
		stage := make([]recovery, len(p.orphans))
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			left := 0
			for i, o := range p.orphans {
				if err := p.recoverOne(ctx, o, &stage[i], acct, log); err != nil {
					log.Error("call recovered from the journal not finished yet; retrying", "id", o.Record.ID, "error", err)
					left++
				}
			}
			if left == 0 {
				return
			}
			select {
			case <-ctx.Done():
				log.Error("calls recovered from the journal left in it for the next start", "calls", left)
				return
			case <-t.C:
			}
		}
	}()
}

// recoverOne does what is left of one orphaned call's recovery.
func (p *cdrPipe) recoverOne(ctx context.Context, o cdr.Orphan, stage *recovery, acct *aaa.Accountant, log *slog.Logger) error {
	rec := o.Record
	p.stamp(&rec)
	if *stage == recoveryPending {
		if err := p.spool.Append(&rec); err != nil {
			return err
		}
		*stage = recoveryRecorded
		log.Warn("call was up when Tollgate stopped: record written from the journal",
			"id", rec.ID, "connect", rec.ConnectTime, "last_alive", rec.DisconnectTime)
	}
	if *stage == recoveryRecorded {
		if err := recoveredStops(ctx, acct, o); err != nil {
			return err
		}
		*stage = recoveryStopped
	}
	return p.journal.Ended(rec.ID)
}

// recoveredStops sends the Stop of each accounting session of a recovered
// call, with the CDR's end time (and so its durations) and cause, and
// Acct-Terminate-Cause NAS-Reboot. Sessions already stopped are skipped on
// a retry: the first error ends the attempt and it is redone whole, which
// may send a Stop twice but never none.
func recoveredStops(ctx context.Context, acct *aaa.Accountant, o cdr.Orphan) error {
	if acct == nil || len(o.Accounting) == 0 {
		return nil
	}
	var legs []aaa.Leg
	if err := json.Unmarshal(o.Accounting, &legs); err != nil {
		return fmt.Errorf("accounting sessions of %s: %w", o.Record.ID, err)
	}
	for _, leg := range legs {
		stop := aaa.StopInfo{Time: o.Record.DisconnectTime, ReleaseSource: aaa.ReleasedBySwitch,
			TerminateCause: rfc2866.AcctTerminateCause_Value_NASReboot}
		if leg.ConnectTime.IsZero() {
			stop.SIPCode = o.Record.SIPCode
		}
		if err := acct.Stop(ctx, leg, stop); err != nil {
			return err
		}
	}
	return nil
}

// RecordsDurable says whether the spool can take records with its reserve
// in place; while not, the switch refuses new calls (cdr.no_space).
func (p *cdrPipe) RecordsDurable() bool { return p.spool.State() == cdr.SpoolReady }

// Setup notes a call in setup in the journal.
func (p *cdrPipe) Setup(rec *cdr.Record, accounting json.RawMessage) error {
	return p.journal.Setup(rec, accounting)
}

// Connected notes a connected call in the journal.
func (p *cdrPipe) Connected(rec *cdr.Record, accounting json.RawMessage) error {
	return p.journal.Connected(rec, accounting)
}

// Flush waits, for up to limit, until every spooled record has been
// shipped: a clean stop leaves nothing behind (what it does leave is shipped
// at the next start).
func (p *cdrPipe) Flush(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for p.spool.Stats().Depth > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// Close waits for the shipper (its context must be done) and closes files.
func (p *cdrPipe) Close() {
	if p.shipper != nil {
		<-p.done
	}
	if p.csv != nil {
		p.csv.Close()
	}
	if p.syslog != nil {
		p.syslog.Close()
	}
	if p.pool != nil {
		p.pool.Close()
	}
	p.journal.Close()
	p.spool.Close()
}

// migrate applies the database migrations named by the configuration.
func migrate(args []string, stdout, stderr io.Writer) int {
	path, ok := configFlag("migrate", args, stderr)
	if !ok {
		return 2
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if cfg.CDR.Database == "" {
		fmt.Fprintln(stderr, "tollgate migrate: cdr.database is not set in", path)
		return 1
	}
	if err := becomePeerUser(cfg.CDR.Database); err != nil {
		fmt.Fprintln(stderr, "tollgate migrate:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := migrations.Apply(ctx, cfg.CDR.Database)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate migrate: %v%s\n", err, dbHint(err))
		return 1
	}
	fmt.Fprintln(stdout, rep)
	return 0
}

// cdrCommand runs "tollgate cdr export".
func cdrCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "export" {
		fmt.Fprintln(stderr, "usage: tollgate cdr export -c FILE --from TIME --to TIME [--format csv]")
		return 2
	}
	fs := flag.NewFlagSet("cdr export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "/etc/tollgate/tollgate.yaml", "configuration file")
	from := fs.String("from", "", "first setup time included (RFC 3339 or YYYY-MM-DD)")
	to := fs.String("to", "", "setup time excluded (RFC 3339 or YYYY-MM-DD); default now")
	format := fs.String("format", "csv", "output format: csv")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *format != "csv" {
		fmt.Fprintf(stderr, "tollgate cdr export: format %q: only csv is supported\n", *format)
		return 2
	}
	var f cdr.Filter
	var err error
	if f.From, err = parseTime(*from, time.Time{}); err != nil || *from == "" {
		fmt.Fprintln(stderr, "tollgate cdr export: --from: want RFC 3339 or YYYY-MM-DD")
		return 2
	}
	if f.To, err = parseTime(*to, time.Now()); err != nil {
		fmt.Fprintln(stderr, "tollgate cdr export: --to: want RFC 3339 or YYYY-MM-DD")
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if cfg.CDR.Database == "" {
		fmt.Fprintln(stderr, "tollgate cdr export: cdr.database is not set; without a database the records are in", filepath.Join(cfg.CDR.Dir, "csv"))
		return 1
	}
	if err := becomePeerUser(cfg.CDR.Database); err != nil {
		fmt.Fprintln(stderr, "tollgate cdr export:", err)
		return 1
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, cfg.CDR.Database)
	if err != nil {
		fmt.Fprintln(stderr, "tollgate cdr export: cdr.database: invalid connection string")
		return 1
	}
	defer pool.Close()
	if err := cdr.Export(ctx, pool, f, stdout); err != nil {
		fmt.Fprintf(stderr, "tollgate cdr export: %v%s\n", err, dbHint(err))
		return 1
	}
	return 0
}

func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02", s, time.UTC)
}
