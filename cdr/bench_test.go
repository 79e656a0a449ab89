package cdr

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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
			if err := s.Append(new(fullRecord(int(n.Add(1))))); err != nil {
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
		if err := s.Append(new(fullRecord(i))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpoolAppendPaced appends at a steady call rate, one record
// every millisecond from a goroutine of its own (a call ending), as the
// switch does at 1,000 calls/s, rather than as fast as the disk allows:
// how many records a fsync carries then depends on the group commit's
// linger, not on how many appenders are blocked. flushes/s is the spool's
// fsyncs a second; cpu-ns/op the process's CPU per record.
func BenchmarkSpoolAppendPaced(b *testing.B) {
	s, err := OpenSpool(b.TempDir(), SpoolOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var flushes atomic.Int64
	flush := s.gc.flush
	s.gc.flush = func(g *commitGroup) error { flushes.Add(1); return flush(g) }
	recs := make([]Record, b.N)
	for i := range recs {
		recs[i] = fullRecord(i)
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var appends sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPUTime(b)
	for i := range recs {
		<-tick.C
		appends.Go(func() {
			if err := s.Append(&recs[i]); err != nil {
				b.Error(err)
			}
		})
	}
	appends.Wait()
	b.StopTimer()
	b.ReportMetric(float64((processCPUTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(flushes.Load())/b.Elapsed().Seconds(), "flushes/s")
	b.ReportMetric(float64(b.N)/float64(flushes.Load()), "records/flush")
}

// BenchmarkSpoolShip is the spool between the switch and the shipper:
// parallel appenders (16 per CPU, as concurrent call teardowns) and one
// consumer taking batches with Next and marking them shipped with Commit,
// with nothing downstream. The appenders stay at most a shipper's batch
// (1,000 records) ahead of the consumer, as at a real call rate: alone
// they outrun it several times over on this machine, which no switch
// does for long. It ends when the consumer has every record.
// consumer-cpu-ns/op is the CPU the consumer's own thread spent per record
// (what the shipper costs the switch besides its sink, checkpoint fsyncs
// included); cpu-ns/op is the whole process's.
func BenchmarkSpoolShip(b *testing.B) {
	s, err := OpenSpool(b.TempDir(), SpoolOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	recs := make([]Record, b.N)
	for i := range recs {
		recs[i] = fullRecord(i)
	}
	ahead := newWindow(1000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	consumerCPU := make(chan time.Duration, 1)
	start := make(chan struct{})
	go func() {
		// Locked to its thread, the consumer's CPU is the thread's.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		<-start
		cpu0 := threadCPU(b)
		for got := 0; got < b.N; {
			batch, err := s.Next(ctx, 1000)
			if err != nil {
				b.Error(err)
				break
			}
			got += len(batch.Records)
			if err := s.Commit(batch); err != nil {
				b.Error(err)
				break
			}
			ahead.leave(len(batch.Records))
		}
		consumerCPU <- threadCPU(b) - cpu0
	}()
	var n atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPUTime(b)
	close(start)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ahead.enter()
			if err := s.Append(&recs[n.Add(1)-1]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	consumed := <-consumerCPU
	b.StopTimer()
	b.ReportMetric(float64(consumed.Nanoseconds())/float64(b.N), "consumer-cpu-ns/op")
	b.ReportMetric(float64((processCPUTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cdrs/s")
}

// window keeps producers at most max items ahead of their consumer.
type window struct {
	mu         sync.Mutex
	cond       sync.Cond
	ahead, max int
}

func newWindow(max int) *window {
	w := &window{max: max}
	w.cond.L = &w.mu
	return w
}

// enter waits until the producer may produce one more item.
func (w *window) enter() {
	w.mu.Lock()
	for w.ahead >= w.max {
		w.cond.Wait()
	}
	w.ahead++
	w.mu.Unlock()
}

// leave says the consumer took n items.
func (w *window) leave(n int) {
	w.mu.Lock()
	w.ahead -= n
	w.mu.Unlock()
	w.cond.Broadcast()
}

// threadCPU is the CPU time the calling thread has used so far.
func threadCPU(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		b.Error(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processUserTime is the CPU time the process has used so far in user
// space: its own work, without the kernel's on its behalf (fsyncs).
func processUserTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano())
}

// processCPUTime is the CPU time the process has used so far.
func processCPUTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
			if err := s.Append(new(fullRecord(int(n.Add(1))))); err != nil {
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
	s, j, acct, calls := callRecordsFiles(b)
	var n atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := oneCallsRecords(s, j, &calls[n.Add(1)-1], acct); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCallRecordsFresh is BenchmarkCallRecords with each step of a
// call on a goroutine started for it, as the switch runs them: sipgo
// starts one per SIP request (the INVITE, the answer, the BYE), and its
// stack starts small. What a step costs then includes growing that stack,
// which copies it and walks every frame on it: the bigger the frames on
// the way (a Record passed by value takes 800 bytes in each), the more
// often. Each step builds its record on its goroutine, as the switch's
// Call.record does. user-ns/op is the process's user CPU per call, which
// leaves out the kernel's share of the fsyncs.
func BenchmarkCallRecordsFresh(b *testing.B) {
	s, j, acct, calls := callRecordsFiles(b)
	var n atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	cpu, user := processCPUTime(b), processUserTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			final := &calls[n.Add(1)-1]
			err := onFreshGoroutine(func() error { rec := setupOf(final); return j.Setup(&rec, acct) })
			if err == nil {
				err = onFreshGoroutine(func() error { rec := attemptOf(final); return j.Setup(&rec, acct) })
			}
			if err == nil {
				err = onFreshGoroutine(func() error { rec := connectedOf(final); return j.Connected(&rec, acct) })
			}
			if err == nil {
				err = onFreshGoroutine(func() error { return endOf(s, j, final) })
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(processCPUTime(b)-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(processUserTime(b)-user)/float64(b.N), "user-ns/op")
}

// onFreshGoroutine runs step on a goroutine started for it, and waits.
func onFreshGoroutine(step func() error) error {
	done := make(chan error, 1)
	go func() { done <- step() }()
	return <-done
}

func oneCallsRecords(s *Spool, j *Journal, final *Record, acct json.RawMessage) error {
	setup := setupOf(final)
	if err := j.Setup(&setup, acct); err != nil {
		return err
	}
	attempt := attemptOf(final)
	if err := j.Setup(&attempt, acct); err != nil {
		return err
	}
	connected := connectedOf(final)
	if err := j.Connected(&connected, acct); err != nil {
		return err
	}
	return endOf(s, j, final)
}

// setupOf is the record of the call that ends as final, as the switch
// journals it at the INVITE.
func setupOf(final *Record) Record {
	setup := *final
	setup.Attempts, setup.Gateway, setup.CallIDB = nil, "", ""
	setup.RingingTime, setup.ConnectTime, setup.DisconnectTime = time.Time{}, time.Time{}, time.Time{}
	setup.Duration, setup.BilledSeconds, setup.PostDialDelay, setup.SIPCode, setup.SIPReason = 0, 0, 0, 0, ""
	setup.Q850Cause, setup.ReleasedBy, setup.DisconnectReason = 0, "", ReasonCrashed
	setup.CodecA, setup.CodecB, setup.RTPAtoB, setup.RTPBtoA, setup.UserAgentB = "", "", RTPStats{}, RTPStats{}, ""
	return setup
}

// attemptOf is that record as journaled when its answered attempt starts.
func attemptOf(final *Record) Record {
	attempt := setupOf(final)
	attempt.Gateway, attempt.CallIDB, attempt.Attempts = final.Gateway, final.CallIDB, final.Attempts[1:]
	return attempt
}

// connectedOf is that record as journaled at the answer.
func connectedOf(final *Record) Record {
	connected := *final
	connected.DisconnectTime, connected.Duration, connected.BilledSeconds, connected.ReleasedBy = time.Time{}, 0, 0, ""
	connected.DisconnectReason, connected.RTPAtoB, connected.RTPBtoA = ReasonCrashed, RTPStats{}, RTPStats{}
	return connected
}

// endOf is what the switch's record sink does at the end of the call.
func endOf(s *Spool, j *Journal, final *Record) error {
	rec := *final
	if err := s.Append(&rec); err != nil {
		return err
	}
	return j.Ended(rec.ID)
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
			if err := j.Connected(new(connectedRecord(int(n.Add(1)))), acct); err != nil {
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

// callRecordsFiles opens a spool and a journal in a temporary folder, with
// the journal's writer running, and makes b.N calls' records before the
// clock starts: what the call-records benchmarks measure is the CDR files'
// work, not the test's fmt.Sprintf. All is closed when b ends.
func callRecordsFiles(b *testing.B) (*Spool, *Journal, json.RawMessage, []Record) {
	b.Helper()
	dir := b.TempDir()
	s, err := OpenSpool(filepath.Join(dir, "spool"), SpoolOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	j, err := OpenJournal(filepath.Join(dir, "journal"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(func() {
		cancel()
		j.Close()
	})
	go j.Run(ctx, time.Hour)
	acct := json.RawMessage(`[{"user_name":"acct-7","session_id":"A1B2C3D4 00000001 11223344 55667788","leg":"answer"}]`)
	calls := make([]Record, b.N)
	for i := range calls {
		calls[i] = fullRecord(i)
	}
	return s, j, acct, calls
}
