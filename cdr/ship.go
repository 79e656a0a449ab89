package cdr

import (
	"context"
	"errors"
	"fmt"
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
	// SlowWrite is how long a write may take before the store counts as
	// slow (ShipSlow); default 5s.
	SlowWrite time.Duration
	Logger    *slog.Logger
}

// Shipper moves spooled records to a sink: it takes a batch from the spool,
// writes it (retrying with backoff for as long as the sink fails — the
// records wait safely in the spool meanwhile), and then commits it.
type Shipper struct {
	spool *Spool
	sink  Sink
	opt   ShipperOptions
	log   *slog.Logger

	mu         sync.Mutex
	stats      ShipperStats
	writeStart time.Time // of the write in progress; zero between writes
}

// ShipperStats say how shipping goes, for metrics and alarms.
type ShipperStats struct {
	Shipped     uint64    // records written to the sink since start
	Failures    uint64    // failed Write or Commit attempts since start
	State       ShipState // how the store (PostgreSQL, or the CSV files) answers
	LastError   string    // of the last failure
	LastErrorAt time.Time // when it happened
	// LastWrite is how long the last write took, or the one in progress
	// has taken so far.
	LastWrite time.Duration
}

// ShipState is how the store answers the shipper.
type ShipState int32

const (
	// ShipOK: writes succeed in reasonable time.
	ShipOK ShipState = iota
	// ShipSlow: a write has been in progress longer than SlowWrite (a hung
	// or overloaded PostgreSQL, a locked table); records wait in the spool.
	ShipSlow
	// ShipFailing: the last write failed (PostgreSQL unreachable or
	// refusing); records wait in the spool and are retried.
	ShipFailing
)

func (st ShipState) String() string {
	switch st {
	case ShipOK:
		return "ok"
	case ShipSlow:
		return "slow"
	case ShipFailing:
		return "failing"
	}
	return fmt.Sprintf("ShipState(%d)", int32(st))
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
	if opt.SlowWrite <= 0 {
		opt.SlowWrite = 5 * time.Second
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
			err := s.write(ctx, b)
			if err == nil {
				err = s.spool.Commit(b)
			}
			if err == nil {
				s.mu.Lock()
				s.stats.Shipped += uint64(len(b.Records))
				s.setState(ShipOK, nil)
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

// write writes a batch to the sink; one that takes longer than SlowWrite
// turns the state to slow while it lasts, so that a hung database is seen
// (and logged) while it hangs, not only when it errs.
func (s *Shipper) write(ctx context.Context, b Batch) error {
	start := time.Now()
	s.mu.Lock()
	s.writeStart = start
	s.mu.Unlock()
	slow := time.AfterFunc(s.opt.SlowWrite, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.writeStart.Equal(start) && s.stats.State == ShipOK {
			s.setState(ShipSlow, fmt.Errorf("a write of %d records in progress for %v", len(b.Records), s.opt.SlowWrite))
		}
	})
	err := s.sink.Write(ctx, b.Records)
	slow.Stop()
	s.mu.Lock()
	s.writeStart = time.Time{}
	s.stats.LastWrite = time.Since(start)
	s.mu.Unlock()
	return err
}

// setState changes the state, logging the change. Called with mu held.
func (s *Shipper) setState(st ShipState, cause error) {
	old := s.stats.State
	if old == st {
		return
	}
	s.stats.State = st
	switch st {
	case ShipOK:
		s.log.Info("CDR store answering again", "was", old.String(), "last_write", s.stats.LastWrite)
	case ShipSlow:
		s.log.Warn("CDR store slow; records wait in the spool", "was", old.String(), "why", cause)
	case ShipFailing:
		s.log.Warn("CDR store failing; records wait in the spool", "was", old.String(), "err", cause)
	}
}

// retry records a failure and waits the backoff for the given attempt.
func (s *Shipper) retry(ctx context.Context, attempt int, err error) error {
	s.mu.Lock()
	s.stats.Failures++
	first := s.stats.State != ShipFailing
	s.setState(ShipFailing, err)
	s.stats.LastError = err.Error()
	s.stats.LastErrorAt = time.Now()
	s.mu.Unlock()
	wait := s.opt.MinBackoff << min(attempt, 20)
	wait = min(wait, s.opt.MaxBackoff)
	// Jitter, so that several Tollgates do not hammer a recovering
	// PostgreSQL in step.
	wait = wait/2 + rand.N(wait/2+1)
	if !first && wait >= s.opt.MaxBackoff/2 {
		s.log.Warn("CDR shipping still failing; records wait in the spool", "err", err, "retry_in", wait)
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
	st := s.stats
	if !s.writeStart.IsZero() {
		st.LastWrite = time.Since(s.writeStart)
	}
	return st
}
