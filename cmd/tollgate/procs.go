package main

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
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
// Going back to every core cannot wait for the tuner's own goroutine: on one
// saturated P a goroutine woken by its ticker waits behind thousands of
// runnable ones (the run queue held 3,494 goroutines 1.5 s into a step from
// 500 to 4,000 calls/s; the tuner moved after 1.8 s, and 2.5 s in another
// run). Meanwhile the socket overflows, the peers' retransmissions add to
// the load, and at 4,000 calls/s on two cores such a start set off most of
// the collapses of the load runs (docs/benchmarks.md). So the switch's
// sockets' readers poke the tuner for each datagram
// (b2bua.Options.OnDatagram): a reader must run for the switch to run at
// all, and reads its datagrams in a row once it does. The ticker still
// looks when no datagram comes, to let a switch that has gone quiet go to
// one P.
//
// GOMAXPROCS in the environment wins: the tuner then leaves it alone. What
// is sized per core (a UDP listener's sockets, the relay's packet loops) is
// sized before the tuner starts, from the default.
type procsTuner struct {
	log   *slog.Logger
	cpu   func() time.Duration      // processCPU, but in tests
	waits func() (late, all uint64) // schedWaits, but in tests
	// due is when the next look is, in Unix nanoseconds: poke reads it on
	// every datagram without taking mu, and the look's claimant moves it.
	due atomic.Int64

	// mu guards what follows: a look's reading and moving of the state,
	// against the tuner's stop.
	mu    sync.Mutex
	state procsState
	// low counts the consecutive intervals below procsDown on every core.
	low int
	// lastCPU is the process's CPU time at the last look, and lastAt when;
	// lastLate and lastWaits its counts of waits for a P (schedWaits).
	lastCPU   time.Duration
	lastAt    time.Time
	lastLate  uint64
	lastWaits uint64
}

// procsState is how many Ps the tuner runs the switch on.
type procsState int

const (
	// procsOne: GOMAXPROCS 1, while the switch uses less than procsUp.
	procsOne procsState = iota
	// procsAll: the runtime's default GOMAXPROCS.
	procsAll
	// procsStopped: the tuner has given the default back for good; a late
	// poke changes nothing.
	procsStopped
)

func (s procsState) String() string {
	switch s {
	case procsOne:
		return "one"
	case procsAll:
		return "all"
	}
	return "stopped"
}

// The tuner's pace and thresholds, in cores of CPU the process used over
// an interval. One P held 2,000 calls/s at 0.75 of a core; procsUp leaves
// it headroom for bursts, and a saturated P measured 0.86–0.88 of a core
// over a quarter second. procsDown is below what the same load costs on
// every core (15% more), so that the tuner does not come straight back;
// going down waits 10 s of it.
const (
	procsInterval  = 250 * time.Millisecond
	procsUp        = 0.8
	procsDown      = 0.5
	procsDownAfter = 40 // intervals below procsDown before going to one P
)

// One P is also full when goroutines wait for it, whatever CPU it got: on
// a machine shared with other processes (SIPp, in the load runs) a
// saturated P's thread got 0.75–0.88 of a core, under procsUp, and the
// tuner stayed on one P for 2.3–3.0 s of a step from 500 to 4,000
// calls/s while thousands of goroutines queued. So a look also counts the
// goroutines' waits for a P over its interval (the runtime's
// /sched/latencies), and one in which over procsLateShare of them waited
// longer than procsLate calls for every core. A switch that keeps up
// wakes its goroutines within a millisecond or two, GC pauses included.
const (
	procsLate      = 20 * time.Millisecond
	procsLateShare = 0.25
)

// procsLoad is what a look saw over its interval.
type procsLoad struct {
	used float64 // cores of CPU the process used
	late float64 // the share of goroutine wake-ups that waited over procsLate for a P
}

// newProcsTuner makes the tuner, or returns nil when GOMAXPROCS is set in
// the environment or the default is one P anyway. It puts the switch on
// one P: a switch starts idle, and the first datagrams of a load past a
// core move it within an interval. start runs it.
func newProcsTuner(log *slog.Logger) *procsTuner {
	if v, set := os.LookupEnv("GOMAXPROCS"); set {
		log.Debug("GOMAXPROCS from the environment", "gomaxprocs", v)
		return nil
	}
	if runtime.GOMAXPROCS(0) == 1 {
		return nil
	}
	now := time.Now()
	t := &procsTuner{log: log, cpu: processCPU, waits: schedWaits, state: procsAll, lastCPU: processCPU(), lastAt: now}
	t.lastLate, t.lastWaits = schedWaits()
	t.due.Store(now.Add(procsInterval).UnixNano())
	t.set(procsOne, procsLoad{})
	return t
}

// start runs the tuner until ctx is done, then gives the runtime its
// default back. Its ticker looks at the load like a reader's poke does.
func (t *procsTuner) start(ctx context.Context) {
	go func() {
		tick := time.NewTicker(procsInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				t.mu.Lock()
				t.state = procsStopped
				runtime.SetDefaultGOMAXPROCS()
				t.mu.Unlock()
				return
			case <-tick.C:
				t.poke()
			}
		}
	}()
}

// poke looks at the load when a look is due. The switch calls it on its
// sockets' readers for every datagram: until a look is due it costs a
// clock read and an atomic load. The caller that moves due on claims the
// look, so there is one look per interval whoever makes it; and one that
// stalls after its claim (a goroutine waiting for the saturated P again
// after its system call) holds nobody up: the next interval's look is
// anyone's.
func (t *procsTuner) poke() {
	now := time.Now()
	due := t.due.Load()
	if now.UnixNano() < due || !t.due.CompareAndSwap(due, now.Add(procsInterval).UnixNano()) {
		return
	}
	cpu := t.cpu()
	late, waits := t.waits()
	t.mu.Lock()
	t.look(now, cpu, late, waits)
	t.mu.Unlock()
}

// look moves the runtime to the state the load since the last look calls
// for, the process having used cpu by now and counted late of its waits
// for a P, under mu. A look that comes less than an interval after the
// last is dropped: its claim stalled while a later one was made.
func (t *procsTuner) look(now time.Time, cpu time.Duration, late, waits uint64) {
	elapsed := now.Sub(t.lastAt)
	if t.state == procsStopped || elapsed < procsInterval {
		return
	}
	l := procsLoad{used: float64(cpu-t.lastCPU) / float64(elapsed)}
	if waits > t.lastWaits {
		l.late = float64(late-t.lastLate) / float64(waits-t.lastWaits)
	}
	t.lastCPU, t.lastAt, t.lastLate, t.lastWaits = cpu, now, late, waits
	t.set(t.next(l), l)
}

// next is the state after an interval of load l.
func (t *procsTuner) next(l procsLoad) procsState {
	switch t.state {
	case procsOne:
		if l.used > procsUp || l.late > procsLateShare {
			return procsAll
		}
	case procsAll:
		if l.used >= procsDown || l.late > procsLateShare {
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
func (t *procsTuner) set(state procsState, l procsLoad) {
	if state == t.state {
		return
	}
	t.state, t.low = state, 0
	if state == procsOne {
		runtime.GOMAXPROCS(1)
	} else {
		runtime.SetDefaultGOMAXPROCS()
	}
	t.log.Debug("goroutines scheduled on fewer or more cores", "procs", state.String(), "gomaxprocs", runtime.GOMAXPROCS(0), "cpu_cores_used", l.used, "late_share", l.late)
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// schedWaits counts the runtime's recorded waits of runnable goroutines for
// a P since the start (/sched/latencies), all of them and those longer
// than procsLate.
func schedWaits() (late, all uint64) {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0, 0
	}
	h := s[0].Value.Float64Histogram()
	for i, n := range h.Counts {
		all += n
		if h.Buckets[i] >= procsLate.Seconds() {
			late += n
		}
	}
	return late, all
}
