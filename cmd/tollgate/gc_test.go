package main

import (
	"io"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"testing"

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
