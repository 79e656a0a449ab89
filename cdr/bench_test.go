package cdr

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// BenchmarkSpoolAppend measures one durable Append with many goroutines
// (per CPU) appending at once, as concurrent call teardowns do: they share
// fsyncs (group commit), so the cost per record falls well below one fsync
// and keeps falling as concurrency grows.
func BenchmarkSpoolAppend(b *testing.B) {
	for _, p := range []int{16, 256} {
		b.Run(fmt.Sprintf("goroutines-per-cpu=%d", p), func(b *testing.B) { benchmarkSpoolAppend(b, p) })
	}
}

func benchmarkSpoolAppend(b *testing.B, parallelism int) {
	s, err := OpenSpool(b.TempDir(), SpoolOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Append(fullRecord(int(n.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cdrs/s")
}

// BenchmarkSpoolAppendSerial is one appender alone: every record pays a
// whole fsync, the worst case.
func BenchmarkSpoolAppendSerial(b *testing.B) {
	s, err := OpenSpool(b.TempDir(), SpoolOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Append(fullRecord(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPGWriter measures the writer's sustained rate into a local
// PostgreSQL with fsync and synchronous commit ON (a durability-relevant
// figure), in batches of 1000 full CDRs with every index of the schema.
func BenchmarkPGWriter(b *testing.B) {
	pg := testenv.StartPostgresOpts(b, testenv.PostgresOptions{Durable: true})
	db := migratedDB(b, pg.DSN())
	w := NewPGWriter(db)
	const batch = 1000
	recs := make([]Record, batch)
	ctx := context.Background()
	next := 0
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		for i := range recs {
			recs[i] = fullRecord(next)
			next++
		}
		if err := w.Write(ctx, recs[:min(batch, b.N-done)]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cdrs/s")
}

// BenchmarkSpoolToPostgres is the whole durable path: parallel appenders
// into the spool and the shipper draining it into PostgreSQL (fsync on);
// it ends when every appended CDR is in the table.
func BenchmarkSpoolToPostgres(b *testing.B) {
	pg := testenv.StartPostgresOpts(b, testenv.PostgresOptions{Durable: true})
	db := migratedDB(b, pg.DSN())
	s, err := OpenSpool(b.TempDir(), SpoolOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sh := NewShipper(s, NewPGWriter(db), ShipperOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sh.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	var n atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Append(fullRecord(int(n.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	for s.Stats().Depth > 0 {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cdrs/s")
}

// BenchmarkCallRecords is one answered call's path through the CDR files,
// as the switch drives it: the journal's setup entry at the INVITE and
// again at the attempt, its connected entry (durable), then the record
// into the spool (durable) and the journal's ended entry. Many calls run
// at once, sharing fsyncs as on a busy switch; allocations and bytes per
// op are one call's.
func BenchmarkCallRecords(b *testing.B) {
	dir := b.TempDir()
	s, err := OpenSpool(filepath.Join(dir, "spool"), SpoolOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	j, err := OpenJournal(filepath.Join(dir, "journal"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go j.Run(ctx, time.Hour)
	acct := json.RawMessage(`[{"user_name":"acct-7","session_id":"A1B2C3D4 00000001 11223344 55667788","leg":"answer"}]`)
	// The records are made before the clock starts: what is measured is
	// the CDR files' work, not the test's fmt.Sprintf.
	calls := make([]Record, b.N)
	for i := range calls {
		calls[i] = fullRecord(i)
	}
	var n atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := oneCallsRecords(s, j, calls[n.Add(1)-1], acct); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func oneCallsRecords(s *Spool, j *Journal, final Record, acct json.RawMessage) error {
	setup := final
	setup.Attempts, setup.Gateway, setup.CallIDB = nil, "", ""
	setup.RingingTime, setup.ConnectTime, setup.DisconnectTime = time.Time{}, time.Time{}, time.Time{}
	setup.Duration, setup.BilledSeconds, setup.PostDialDelay, setup.SIPCode, setup.SIPReason = 0, 0, 0, 0, ""
	setup.Q850Cause, setup.ReleasedBy, setup.DisconnectReason = 0, "", ReasonCrashed
	setup.CodecA, setup.CodecB, setup.RTPAtoB, setup.RTPBtoA, setup.UserAgentB = "", "", RTPStats{}, RTPStats{}, ""
	if err := j.Setup(setup, acct); err != nil {
		return err
	}
	attempt := setup
	attempt.Gateway, attempt.CallIDB, attempt.Attempts = final.Gateway, final.CallIDB, final.Attempts[1:]
	if err := j.Setup(attempt, acct); err != nil {
		return err
	}
	connected := final
	connected.DisconnectTime, connected.Duration, connected.BilledSeconds, connected.ReleasedBy = time.Time{}, 0, 0, ""
	connected.DisconnectReason, connected.RTPAtoB, connected.RTPBtoA = ReasonCrashed, RTPStats{}, RTPStats{}
	if err := j.Connected(connected, acct); err != nil {
		return err
	}
	if err := s.Append(final); err != nil {
		return err
	}
	return j.Ended(final.ID)
}

// BenchmarkJournalHeldCalls is what the journal keeps in memory per call
// held up (connected, not ended): the live heap after a collection, less
// what it was before the calls, over their number. Run it with a fixed
// count, e.g. -benchtime 20000x.
func BenchmarkJournalHeldCalls(b *testing.B) {
	j, err := OpenJournal(b.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	acct := json.RawMessage(`[{"user_name":"acct-7","session_id":"A1B2C3D4 00000001 11223344 55667788","leg":"answer"}]`)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := j.Connected(connectedRecord(int(n.Add(1))), acct); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := j.Connections(); got != b.N {
		b.Fatalf("%d calls held, want %d", got, b.N)
	}
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "heap-bytes/held-call")
}
