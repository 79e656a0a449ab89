package cdr

import (
	"context"
	"fmt"
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
