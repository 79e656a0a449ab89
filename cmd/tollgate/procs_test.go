package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"testing"
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
		if got := tu.next(step.used); got != step.want {
			t.Fatalf("after %.2f cores: %v, want %v", step.used, got, step.want)
		}
		tu.state = step.want
	}
	for i := range procsDownAfter {
		got := tu.next(0.3)
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
// gives the default back when it stops; GOMAXPROCS in the environment
// wins.
func TestProcsTunerStartsOnOneP(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Fatalf("this test needs 2 CPUs, the machine has %d", runtime.NumCPU())
	}
	os.Unsetenv("GOMAXPROCS")
	runtime.SetDefaultGOMAXPROCS()
	t.Cleanup(func() { runtime.SetDefaultGOMAXPROCS() })
	def := runtime.GOMAXPROCS(0)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	ctx, cancel := context.WithCancel(context.Background())
	startProcsTuner(ctx, log)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS %d after start, want 1", got)
	}
	cancel()
	for runtime.GOMAXPROCS(0) != def {
		runtime.Gosched()
	}

	t.Setenv("GOMAXPROCS", "2")
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	startProcsTuner(ctx, log)
	if got := runtime.GOMAXPROCS(0); got != def {
		t.Errorf("GOMAXPROCS %d with GOMAXPROCS=2 in the environment, want %d", got, def)
	}
}
