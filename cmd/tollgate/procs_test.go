package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestProcsTunerHysteresis: one P until the switch uses more than procsUp
// of a core; every core until it has used less than procsDown for
// procsDownAfter intervals in a row; nothing in between moves it.
func TestProcsTunerHysteresis(t *testing.T) {
	t.Parallel()
	tu := &procsTuner{state: procsOne}
	for _, step := range []struct {
		used float64
		want procsState
	}{
		{0.1, procsOne},
		{0.79, procsOne},
		{0.81, procsAll},
		{0.6, procsAll},
		{0.2, procsAll},
		{0.2, procsAll},
		{0.7, procsAll}, // the count of low intervals starts again
	} {
		if got := tu.next(procsLoad{used: step.used}); got != step.want {
			t.Fatalf("after %.2f cores: %v, want %v", step.used, got, step.want)
		}
		tu.state = step.want
	}
	for i := range procsDownAfter {
		got := tu.next(procsLoad{used: 0.3})
		want := procsAll
		if i == procsDownAfter-1 {
			want = procsOne
		}
		if got != want {
			t.Fatalf("low interval %d: %v, want %v", i+1, got, want)
		}
		tu.state = got
	}
}

// TestProcsTunerStartsOnOneP: the tuner puts an idle switch on one P and
// gives the default back when it stops, after which a late poke changes
// nothing; GOMAXPROCS in the environment wins.
func TestProcsTunerStartsOnOneP(t *testing.T) {
	def := defaultProcs(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	tu := newProcsTuner(log)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS %d after start, want 1", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tu.start(ctx)
	cancel()
	for runtime.GOMAXPROCS(0) != def {
		runtime.Gosched()
	}
	tu.mu.Lock()
	tu.lastAt = time.Now().Add(-time.Hour) // a look is due, with no CPU used: one P, were it running
	tu.due.Store(0)
	tu.mu.Unlock()
	tu.poke()
	if got := runtime.GOMAXPROCS(0); got != def {
		t.Errorf("GOMAXPROCS %d after a poke of the stopped tuner, want %d", got, def)
	}

	t.Setenv("GOMAXPROCS", "2")
	if newProcsTuner(log) != nil {
		t.Error("a tuner with GOMAXPROCS=2 in the environment")
	}
	if got := runtime.GOMAXPROCS(0); got != def {
		t.Errorf("GOMAXPROCS %d with GOMAXPROCS=2 in the environment, want %d", got, def)
	}
}

// TestProcsTunerPokeLooksWhenDue: a reader's poke looks at the load only
// once an interval has passed since the last look, and then moves a busy
// switch from one P to every core without the ticker.
func TestProcsTunerPokeLooksWhenDue(t *testing.T) {
	def := defaultProcs(t)
	tu := newProcsTuner(slog.New(slog.NewTextHandler(io.Discard, nil)))

	// The process's CPU time, as the test says: a core's worth from here.
	var used time.Duration
	tu.cpu = func() time.Duration { return used }
	tu.lastCPU, tu.lastAt = 0, time.Now()
	tu.due.Store(time.Now().Add(procsInterval).UnixNano())
	used = procsInterval
	tu.poke() // not due
	if tu.state != procsOne || runtime.GOMAXPROCS(0) != 1 {
		t.Fatalf("a poke before the interval moved the tuner to %v", tu.state)
	}
	time.Sleep(procsInterval)
	used = time.Hour // far busier than any interval the look can span
	tu.poke()
	if tu.state != procsAll || runtime.GOMAXPROCS(0) != def {
		t.Fatalf("after an interval of a busy core: %v, GOMAXPROCS %d; want all, %d", tu.state, runtime.GOMAXPROCS(0), def)
	}
}

// TestProcsTunerLateWaits: goroutines waiting for a P move the switch to
// every core, and keep it there, whatever CPU the process got.
func TestProcsTunerLateWaits(t *testing.T) {
	t.Parallel()
	tu := &procsTuner{state: procsOne}
	if got := tu.next(procsLoad{used: 0.7, late: procsLateShare / 2}); got != procsOne {
		t.Fatalf("a few late waits under procsUp: %v, want one", got)
	}
	if got := tu.next(procsLoad{used: 0.7, late: 0.9}); got != procsAll {
		t.Fatalf("most waits late under procsUp: %v, want all", got)
	}
	tu.state = procsAll
	for i := range 2 * procsDownAfter {
		if got := tu.next(procsLoad{used: 0.2, late: 0.9}); got != procsAll {
			t.Fatalf("interval %d of late waits at low CPU: %v, want all", i+1, got)
		}
	}
}

// TestSchedWaits: the runtime's histogram of waits for a P is there to
// read, and counts the wake-ups of goroutines.
func TestSchedWaits(t *testing.T) {
	late0, all0 := schedWaits()
	done := make(chan struct{})
	for range 1000 {
		go func() { done <- struct{}{} }()
		<-done
	}
	late, all := schedWaits()
	if all <= all0 || late < late0 || late > all {
		t.Fatalf("waits %d (late %d) after 1,000 wake-ups, were %d (%d)", all, late, all0, late0)
	}
}

// defaultProcs readies a test of the tuner: GOMAXPROCS unset in the
// environment, the runtime on its default, given back at the end. It
// returns that default, which must be more than one P.
func defaultProcs(t *testing.T) int {
	t.Helper()
	if runtime.NumCPU() < 2 {
		t.Fatalf("this test needs 2 CPUs, the machine has %d", runtime.NumCPU())
	}
	os.Unsetenv("GOMAXPROCS")
	runtime.SetDefaultGOMAXPROCS()
	t.Cleanup(func() { runtime.SetDefaultGOMAXPROCS() })
	return runtime.GOMAXPROCS(0)
}
