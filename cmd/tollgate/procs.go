package main

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"syscall"
	"time"
)

// procsTuner runs the switch's goroutines on one P (GOMAXPROCS 1) while it
// uses less than a core, and on the runtime's default (every core, or the
// cgroup's quota) once it needs more.
//
// Why: a call is a dozen short goroutine wake-ups (a datagram read, a
// response handed to the call, a timer), and Go's scheduler is work
// conserving: each wake-up with a P idle wakes a thread to run it, which
// mostly finds the work already taken and goes back to sleep (futex calls,
// findRunnable; golang/go#54622). At 1,000 calls/s on two cores that was
// 15% of the switch's CPU per call: 549–555 µs per call with GOMAXPROCS=1
// against 643–669 with 2, and 2,000 calls/s held on one P with 386 µs per
// call against 421 (docs/benchmarks.md). Past a core's worth of work the
// second P is what holds 3,000 calls/s, so it comes back before the one P
// is full, and leaves again only once the load has been well below a core
// for a while: the band between the two thresholds keeps the tuner from
// flapping.
//
// GOMAXPROCS in the environment wins: the tuner then leaves it alone. What
// is sized per core (a UDP listener's sockets, the relay's packet loops) is
// sized before the tuner starts, from the default.
type procsTuner struct {
	log   *slog.Logger
	state procsState
	// low counts the consecutive intervals below procsDown on every core.
	low int
	// lastCPU is the process's CPU time at the last look, and lastAt when.
	lastCPU time.Duration
	lastAt  time.Time
}

// procsState is how many Ps the tuner runs the switch on.
type procsState int

const (
	// procsOne: GOMAXPROCS 1, while the switch uses less than procsUp.
	procsOne procsState = iota
	// procsAll: the runtime's default GOMAXPROCS.
	procsAll
)

func (s procsState) String() string {
	if s == procsOne {
		return "one"
	}
	return "all"
}

// The tuner's pace and thresholds, in cores of CPU the process used over
// an interval. One P held 2,000 calls/s at 0.75 of a core; procsUp leaves
// it headroom for bursts. procsDown is below what the same load costs on
// every core (15% more), so that the tuner does not come straight back.
const (
	procsInterval  = time.Second
	procsUp        = 0.8
	procsDown      = 0.5
	procsDownAfter = 10 // intervals below procsDown before going to one P
)

// startProcsTuner runs the tuner until ctx is done, unless GOMAXPROCS is
// set in the environment or the default is one P anyway. It starts on one
// P: a switch starts idle.
func startProcsTuner(ctx context.Context, log *slog.Logger) {
	if v, set := os.LookupEnv("GOMAXPROCS"); set {
		log.Debug("GOMAXPROCS from the environment", "gomaxprocs", v)
		return
	}
	if runtime.GOMAXPROCS(0) == 1 {
		return
	}
	t := &procsTuner{log: log, state: procsAll, lastCPU: processCPU(), lastAt: time.Now()}
	t.set(procsOne, 0)
	go t.run(ctx)
}

func (t *procsTuner) run(ctx context.Context) {
	tick := time.NewTicker(procsInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			runtime.SetDefaultGOMAXPROCS()
			return
		case now := <-tick.C:
			cpu := processCPU()
			used := float64(cpu-t.lastCPU) / float64(now.Sub(t.lastAt))
			t.lastCPU, t.lastAt = cpu, now
			t.set(t.next(used), used)
		}
	}
}

// next is the state after an interval in which the process used used
// cores of CPU.
func (t *procsTuner) next(used float64) procsState {
	switch t.state {
	case procsOne:
		if used > procsUp {
			return procsAll
		}
	case procsAll:
		if used >= procsDown {
			t.low = 0
			return procsAll
		}
		t.low++
		if t.low >= procsDownAfter {
			return procsOne
		}
	}
	return t.state
}

// set moves the runtime to state, if it is not there.
func (t *procsTuner) set(state procsState, used float64) {
	if state == t.state {
		return
	}
	t.state, t.low = state, 0
	if state == procsOne {
		runtime.GOMAXPROCS(1)
	} else {
		runtime.SetDefaultGOMAXPROCS()
	}
	t.log.Debug("goroutines scheduled on fewer or more cores", "procs", state.String(), "gomaxprocs", runtime.GOMAXPROCS(0), "cpu_cores_used", used)
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
