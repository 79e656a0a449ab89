package main

import (
	"bufio"
	"bytes"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/config"
)

// gcPercent is the switch's GOGC when the environment sets none. Every call
// allocates some 40 kB of short-lived SIP messages, and with Go's default
// of 100 the collector took a tenth of the switch's CPU; at 200 it runs
// half as often, for about 20% more memory per held call (13 → 16 kB
// measured with 20,000 calls up; docs/benchmarks.md). GOGC in the
// environment still wins. The headroom (runtime.gc_headroom, gcTuner)
// lowers it where many calls are up, and the memory limit
// (runtime.memory_limit) bounds what the rare collections let the heap
// grow to.
const gcPercent = 200

// minGCPercent is the lowest GOGC the headroom sets: with a live heap
// beyond four times the headroom the collector still waits for a quarter
// of it as garbage, rather than running without pause.
const minGCPercent = 25

// maxGCPercent is the highest GOGC the allocation term sets (gcSpacing):
// at 3,000 calls/s and more, four seconds of allocations are some 4.5
// times the live heap (at 4,000 calls/s, 178 MB/s over 220–270 MB live),
// and GOGC 200 made the collector run about every 3 s instead, with less
// runway for its assists, which fall on the goroutines that allocate most:
// the sockets' readers among them. At 4,000 calls/s on two cores shared
// with SIPp that was the difference between a collapse (1.1–2.8% of calls
// failed, the sockets overflowing) and every call completing at 300 µs of
// CPU each, for a heap of five times the live one (1.1–1.2 GB RSS), in
// about two runs of three (docs/benchmarks.md). The memory limit
// (runtime.memory_limit, 75% of the machine by default) still bounds it.
const maxGCPercent = 400

// gcTuner keeps the garbage the collector lets pile up above the live heap
// within runtime.gc_headroom, or within what the switch allocates in
// gcSpacing when that is more. After each collection it sets GOGC to that
// allowance as a share of the heap found live: the headroom's share at
// most gcPercent, the allocations' at most maxGCPercent. A switch with few
// calls up keeps GOGC 200, and one holding 100,000 calls (some 300 MB live)
// collects once 128 MiB of garbage has piled up instead of at 900 MB. Go
// has no such setting of its own: GOGC is a ratio, and the memory limit a
// ceiling that would make the collector run without pause once the calls
// themselves hold more than it.
//
// The allocation term is for high call rates: there the live heap is
// mostly the finished transactions RFC 3261 keeps for a few seconds (150 MB
// at 2,000 calls/s), and a fixed headroom made the collector mark it every
// 1.5 s instead of every 3.5 s: 2,000 calls/s was no longer held
// (docs/benchmarks.md). The collector's cost is the live heap it marks
// times how often it runs, so the allowance never makes it run more often
// than every gcSpacing, unless that would take GOGC past maxGCPercent.
type gcTuner struct {
	log *slog.Logger
	// headroom is the configured headroom in bytes; 0 when off.
	headroom atomic.Int64
	// state says whether the tuner still follows collections.
	state atomic.Int32 // a gcTunerState

	// Used by collected only, one run at a time: each run arms the next.
	percent    int    // the GOGC it set last
	lastAllocs uint64 // the heap's cumulative allocations at the last run
	lastRun    time.Time
}

// gcSpacing is the shortest time between collections the headroom leads
// to: the allowance is at least what the switch allocated in that time.
const gcSpacing = 4 * time.Second

// gcTunerState is whether a gcTuner follows the collections.
type gcTunerState int32

const (
	gcTunerFollowing gcTunerState = iota
	gcTunerStopped
)

// gcSentinel is what the tuner leaves for the collector to find
// unreachable: its cleanup runs after the collection that found it. It
// holds a pointer so that it is never packed among tiny allocations, whose
// block may stay alive for longer.
type gcSentinel struct {
	_ *byte
	_ [8]byte
}

// tuneGC sets the runtime's GOGC, headroom and memory limit from rt at
// start; the tuner it returns takes the headroom of later reloads. With
// GOGC set in the environment the tuner leaves GOGC alone.
func tuneGC(rt config.Runtime, log *slog.Logger) *gcTuner {
	t := &gcTuner{log: log, percent: gcPercent, lastRun: time.Now()}
	t.apply(rt)
	if _, set := os.LookupEnv("GOGC"); set {
		t.state.Store(int32(gcTunerStopped))
		log.Debug("GOGC from the environment", "gogc", os.Getenv("GOGC"))
		return t
	}
	debug.SetGCPercent(gcPercent)
	log.Debug("garbage collector tuned", "gogc", gcPercent)
	t.arm()
	return t
}

// apply takes rt's headroom and memory limit, at start and at each reload.
func (t *gcTuner) apply(rt config.Runtime) {
	headroom, on, err := rt.GCHeadroomBytes()
	if err != nil { // the configuration was validated: cannot happen
		t.log.Error("garbage collector headroom not set", "error", err)
	}
	if !on || err != nil {
		headroom = 0
	}
	t.headroom.Store(headroom)
	tuneMemoryLimit(rt, t.log)
}

// stop makes the tuner leave GOGC as it is from the next collection on.
func (t *gcTuner) stop() { t.state.Store(int32(gcTunerStopped)) }

// arm leaves a sentinel whose cleanup, after the next collection, tunes
// GOGC and arms the next one.
func (t *gcTuner) arm() {
	runtime.AddCleanup(new(gcSentinel), (*gcTuner).collected, t)
}

// collected runs after each collection, on the runtime's cleanup goroutine:
// quick, and without anything that waits.
func (t *gcTuner) collected() {
	if gcTunerState(t.state.Load()) == gcTunerStopped {
		return
	}
	m := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(m)
	now := time.Now()
	if m[0].Value.Kind() == metrics.KindUint64 && m[1].Value.Kind() == metrics.KindUint64 {
		live, allocs := m[0].Value.Uint64(), m[1].Value.Uint64()
		headroom := t.headroom.Load()
		spaced := spacedAllowance(allocs-t.lastAllocs, now.Sub(t.lastRun))
		t.lastAllocs, t.lastRun = allocs, now
		if p := percentFor(int64(live), headroom, spaced); p != t.percent {
			debug.SetGCPercent(p)
			t.percent = p
			t.log.Debug("garbage collector tuned", "gogc", p, "live_bytes", live,
				"headroom_bytes", headroom, "spaced_bytes", spaced)
		}
	}
	t.arm()
}

// spacedAllowance is what the switch allocates in gcSpacing at the rate
// of allocated bytes in elapsed: the garbage to let pile up so that the
// collector runs no more often than that; 0 when nothing was measured.
func spacedAllowance(allocated uint64, elapsed time.Duration) int64 {
	if elapsed <= 0 {
		return 0
	}
	return int64(float64(allocated) * float64(gcSpacing) / float64(elapsed))
}

// percentFor is the GOGC for a live heap of live bytes: the headroom as a
// share of it, within [minGCPercent, gcPercent], or the spaced allowance's
// share, up to maxGCPercent, when that is more; gcPercent when the
// headroom is off (0), as the tuner then leaves the collector alone.
func percentFor(live, headroom, spaced int64) int {
	if headroom <= 0 || live <= 0 {
		return gcPercent
	}
	byHeadroom := min(gcPercent, max(minGCPercent, headroom*100/live))
	bySpacing := min(maxGCPercent, spaced*100/live)
	return int(max(byHeadroom, bySpacing))
}

// tuneMemoryLimit sets the runtime's soft memory limit from
// runtime.memory_limit, at start and at each reload. GOMEMLIMIT in the
// environment wins, as GOGC does.
func tuneMemoryLimit(rt config.Runtime, log *slog.Logger) {
	if v, set := os.LookupEnv("GOMEMLIMIT"); set {
		log.Debug("memory limit from the environment", "gomemlimit", v)
		return
	}
	limit, on, err := rt.MemoryLimitBytes(machineMemory())
	if err != nil { // the configuration was validated: cannot happen
		log.Error("memory limit not set", "error", err)
		return
	}
	if !on {
		limit = math.MaxInt64 // the runtime's own "no limit"
	}
	if prev := debug.SetMemoryLimit(limit); prev != limit {
		log.Info("memory limit set", "memory_limit", rt.MemoryLimit, "bytes", limit)
	}
}

// machineMemory is the memory the switch may use: the machine's RAM, or
// the cgroup's limit when that is smaller (a container, a systemd
// MemoryMax=).
func machineMemory() uint64 {
	total := uint64(math.MaxInt64)
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if n, ok := memTotal(b); ok {
			total = n
		}
	}
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if b, err := os.ReadFile(path); err == nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n < total {
				total = n
			}
		}
	}
	return total
}

// memTotal reads MemTotal out of /proc/meminfo, which gives it in kB.
func memTotal(meminfo []byte) (uint64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		rest, found := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !found {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		return kb << 10, err == nil
	}
	return 0, false
}
