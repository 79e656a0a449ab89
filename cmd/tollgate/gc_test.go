package main

import (
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/tollgate/tollgate/config"
)

// TestMemoryLimitApplied: runtime.memory_limit becomes the runtime's soft
// memory limit, "off" lifts it, and GOMEMLIMIT in the environment wins.
func TestMemoryLimitApplied(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	tuneMemoryLimit(config.Runtime{MemoryLimit: "600MiB"}, log)
	if got := debug.SetMemoryLimit(-1); got != 600<<20 {
		t.Errorf("limit %d after 600MiB", got)
	}
	tuneMemoryLimit(config.Runtime{MemoryLimit: "50%"}, log)
	if got, want := debug.SetMemoryLimit(-1), int64(machineMemory()/2); got != want {
		t.Errorf("limit %d after 50%%, want %d (machine %d)", got, want, machineMemory())
	}
	tuneMemoryLimit(config.Runtime{MemoryLimit: config.MemoryLimitOff}, log)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("limit %d after off", got)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	tuneMemoryLimit(config.Runtime{MemoryLimit: "600MiB"}, log)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("limit %d with GOMEMLIMIT set: the environment must win", got)
	}
}

func TestMemTotal(t *testing.T) {
	t.Parallel()
	n, ok := memTotal([]byte("MemFree:        18454 kB\nMemTotal:       24684544 kB\nBuffers: 1 kB\n"))
	if !ok || n != 24684544<<10 {
		t.Errorf("MemTotal = %d, %v", n, ok)
	}
	if _, ok := memTotal([]byte("MemFree: 1 kB\n")); ok {
		t.Error("no MemTotal line read as one")
	}
	if machineMemory() == 0 || machineMemory() == math.MaxInt64 {
		t.Errorf("this machine's memory: %d", machineMemory())
	}
}

// TestGCHeadroomFollowsTheLiveHeap: with a live heap past the headroom the
// tuner lowers GOGC after a collection, so that the next comes once the
// headroom has piled up, and gives GOGC 200 back once the heap is small
// again; "off" and GOGC in the environment leave GOGC alone.
func TestGCHeadroomFollowsTheLiveHeap(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	os.Unsetenv("GOGC")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	gc := tuneGC(config.Runtime{MemoryLimit: config.MemoryLimitOff, GCHeadroom: "16MiB"}, log)
	defer gc.stop()
	if got := gogc(); got != gcPercent {
		t.Fatalf("GOGC %d at start, want %d", got, gcPercent)
	}
	live := make([][]byte, 128)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	// 128 MiB live, 16 MiB of headroom: 12%, raised to the floor of 25.
	awaitGOGC(t, minGCPercent)
	runtime.KeepAlive(live)
	live = nil
	awaitGOGC(t, gcPercent)

	gc.apply(config.Runtime{MemoryLimit: config.MemoryLimitOff, GCHeadroom: config.GCHeadroomOff})
	live = make([][]byte, 128)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	runtime.GC()
	if got := gogc(); got != gcPercent {
		t.Errorf("GOGC %d with the headroom off and 128 MiB live, want %d", got, gcPercent)
	}
	runtime.KeepAlive(live)
	gc.stop()

	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	env := tuneGC(config.Runtime{MemoryLimit: config.MemoryLimitOff, GCHeadroom: "16MiB"}, log)
	defer env.stop()
	live = make([][]byte, 128)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	runtime.GC()
	if got := gogc(); got != 150 {
		t.Errorf("GOGC %d with GOGC=150 in the environment: the environment must win", got)
	}
	runtime.KeepAlive(live)
}

func TestPercentFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		live, headroom, spaced int64
		want                   int
	}{
		{10 << 20, 128 << 20, 0, gcPercent},
		{64 << 20, 128 << 20, 0, gcPercent},
		{128 << 20, 128 << 20, 0, 100},
		{300 << 20, 128 << 20, 0, 42},
		{300 << 20, 128 << 20, 68 << 20, 42}, // 100,000 calls built at 400/s
		{2 << 30, 128 << 20, 0, minGCPercent},
		{300 << 20, 0, 2 << 30, gcPercent}, // off
		{0, 128 << 20, 0, gcPercent},
		// High call rates: four seconds of allocations, over a live heap of
		// finished transactions, go past gcPercent up to maxGCPercent.
		{150 << 20, 128 << 20, 336 << 20, 224},           // 2,000 calls/s
		{250 << 20, 128 << 20, 1100 << 20, maxGCPercent}, // 4,000 calls/s
		{10 << 20, 128 << 20, 1 << 20, gcPercent},        // idle: the headroom's share
	} {
		if got := percentFor(tc.live, tc.headroom, tc.spaced); got != tc.want {
			t.Errorf("percentFor(%d, %d, %d) = %d, want %d", tc.live, tc.headroom, tc.spaced, got, tc.want)
		}
	}
}

// TestSpacedAllowance: the garbage that spaces collections gcSpacing
// apart is gcSpacing's worth of the allocations measured.
func TestSpacedAllowance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		allocated uint64
		elapsed   time.Duration
		want      int64
	}{
		{17 << 20, time.Second, 68 << 20},  // 100,000 calls built at 400/s
		{84 << 20, time.Second, 336 << 20}, // 2,000 calls/s
		{42 << 20, 500 * time.Millisecond, 336 << 20},
		{0, time.Second, 0},
		{1 << 30, 0, 0},
	} {
		if got := spacedAllowance(tc.allocated, tc.elapsed); got != tc.want {
			t.Errorf("spacedAllowance(%d, %v) = %d, want %d", tc.allocated, tc.elapsed, got, tc.want)
		}
	}
}

// gogc is the runtime's GOGC now.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// awaitGOGC collects until the tuner, which runs after a collection on the
// runtime's cleanup goroutine, has set GOGC to want.
func awaitGOGC(t *testing.T, want int) {
	t.Helper()
	for range 200 {
		runtime.GC()
		if gogc() == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("GOGC %d, want %d", gogc(), want)
}
