package cdr

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Sink stores CDRs permanently: PostgreSQL (PGWriter) or, with no database
// configured, daily CSV files (CSVFiles). Write must be idempotent per record
// ID, because a batch is written again when the process died before the
// spool recorded it as shipped.
type Sink interface {
	Write(ctx context.Context, recs []Record) error
}

// ShipperOptions tune a Shipper; the zero value is sensible.
type ShipperOptions struct {
	BatchSize  int           // records per Write; default 1000
	MinBackoff time.Duration // first wait after a failed Write; default 100ms
	MaxBackoff time.Duration // longest wait between retries; default 10s
	// Linger is the pause after shipping a batch smaller than BatchSize, so
	// that under a steady call rate records go out in batches rather than
	// one write, one fsync and one checkpoint each; default 100ms.
	Linger time.Duration
	Logger *slog.Logger
}

// Shipper moves spooled records to a sink: it takes a batch from the spool,
// writes it (retrying with backoff for as long as the sink fails — the
// records wait safely in the spool meanwhile), and then commits it.
type Shipper struct {
	spool *Spool
	sink  Sink
	opt   ShipperOptions
	log   *slog.Logger

	mu    sync.Mutex
	stats ShipperStats
}

// ShipperStats say how shipping goes, for metrics and alarms.
type ShipperStats struct {
	Shipped     uint64    // records written to the sink since start
	Failures    uint64    // failed Write or Commit attempts since start
	Failing     bool      // the last attempt failed: the sink is unreachable or refusing
	LastError   string    // of the last failure
	LastErrorAt time.Time // when it happened
}

// NewShipper returns a Shipper from spool to sink; start it with Run.
func NewShipper(spool *Spool, sink Sink, opt ShipperOptions) *Shipper {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 1000
	}
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = 100 * time.Millisecond
	}
	if opt.Linger <= 0 {
		opt.Linger = 100 * time.Millisecond
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 10 * time.Second
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Shipper{spool: spool, sink: sink, opt: opt, log: log.With("component", "cdr-shipper")}
}

// Run ships until ctx is done or the spool is closed, and returns ctx's error
// (or nil when the spool was closed). A batch being retried when ctx ends is
// left in the spool, to be shipped after the next start.
func (s *Shipper) Run(ctx context.Context) error {
	for {
		b, err := s.spool.Next(ctx, s.opt.BatchSize)
		if err != nil {
			if errors.Is(err, errClosed) {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// A read error on the spool's own disk: report and retry.
			if werr := s.retry(ctx, 0, err); werr != nil {
				return werr
			}
			continue
		}
		for attempt := 0; ; attempt++ {
			err := s.sink.Write(ctx, b.Records)
			if err == nil {
				err = s.spool.Commit(b)
			}
			if err == nil {
				s.mu.Lock()
				s.stats.Shipped += uint64(len(b.Records))
				if s.stats.Failing {
					s.log.Info("CDR shipping recovered", "after_failures", attempt)
				}
				s.stats.Failing = false
				s.mu.Unlock()
				if len(b.Records) < s.opt.BatchSize {
					select {
					case <-ctx.Done():
					case <-time.After(s.opt.Linger):
					}
				}
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if werr := s.retry(ctx, attempt, err); werr != nil {
				return werr
			}
		}
	}
}

// retry records a failure and waits the backoff for the given attempt.
func (s *Shipper) retry(ctx context.Context, attempt int, err error) error {
	s.mu.Lock()
	s.stats.Failures++
	first := !s.stats.Failing
	s.stats.Failing = true
	s.stats.LastError = err.Error()
	s.stats.LastErrorAt = time.Now()
	s.mu.Unlock()
	wait := s.opt.MinBackoff << min(attempt, 20)
	wait = min(wait, s.opt.MaxBackoff)
	// Jitter, so that several Tollgates do not hammer a recovering
	// PostgreSQL in step.
	wait = wait/2 + rand.N(wait/2+1)
	if first || wait >= s.opt.MaxBackoff/2 {
		s.log.Warn("CDR shipping failed; records wait in the spool", "err", err, "retry_in", wait)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the shipper's counters.
func (s *Shipper) Stats() ShipperStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}
