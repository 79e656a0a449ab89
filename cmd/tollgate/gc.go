package main

import (
	"bufio"
	"bytes"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/config"
)

// gcPercent is the switch's GOGC when the environment sets none. Every call
// allocates some 40 kB of short-lived SIP messages, and with Go's default
// of 100 the collector took a tenth of the switch's CPU; at 200 it runs
// half as often, for about 20% more memory per held call (13 → 16 kB
// measured with 20,000 calls up; docs/benchmarks.md). GOGC in the
// environment still wins. The memory limit (runtime.memory_limit) bounds
// what the rare collections let the heap grow to.
const gcPercent = 200

func tuneGC(rt config.Runtime, log *slog.Logger) {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
		log.Debug("garbage collector tuned", "gogc", gcPercent)
	}
	tuneMemoryLimit(rt, log)
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
