package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestKamailioGroupSample starts the Kamailio run's proxy for real and
// checks that its sample covers the children it forks, where the work is
// done, and not only the main process.
func TestKamailioGroupSample(t *testing.T) {
	t.Parallel()
	uas, err := testenv.PickUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	k, err := startKamailio(context.Background(), t.TempDir(), fmt.Sprintf("127.0.0.1:%d", uas), 64)
	if err != nil {
		t.Fatal(err)
	}
	defer k.shutdown()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	members := 0
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if g, _, err := parseProcStatGroup(stat); err == nil && g == k.pid() {
			members++
		}
	}
	if members < 3 {
		t.Fatalf("kamailio's group has %d processes, want its main process and its children", members)
	}
	group, err := k.sample()
	if err != nil {
		t.Fatal(err)
	}
	main, err := sampleProc(k.pid())
	if err != nil {
		t.Fatal(err)
	}
	if group.cpu < main.cpu || group.rss <= 0 {
		t.Fatalf("group sample %+v against the main process's %+v", group, main)
	}
}

// TestKamailioAndCeilingRuns drives a short step of real calls through the
// Kamailio run's proxy and through the ceiling run, the way the driver does:
// every call must complete through the proxy's script (its CPU sampling is
// TestKamailioGroupSample's), and the ceiling has no target to measure.
func TestKamailioAndCeilingRuns(t *testing.T) {
	t.Parallel()
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e := &env{root: root, dir: t.TempDir(),
		uac: filepath.Join(root, "internal/testenv/scenarios/uac.xml"),
		uas: filepath.Join(root, "internal/testenv/scenarios/uas.xml")}
	if e.sipp, err = requireBinary(ctx, "sipp", "sip-tester"); err != nil {
		t.Fatal(err)
	}
	rates := []int{20}
	kam, err := runKamailio(ctx, e, "kamailio", rates, 2*time.Second, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(kam.steps) != 1 || kam.best != 20 || kam.steps[0].successful != 40 || kam.steps[0].err != "" {
		t.Fatalf("kamailio run: %+v", kam)
	}
	ceiling, err := runCeiling(ctx, e, rates, 2*time.Second, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(ceiling.steps) != 1 || ceiling.best != 20 || ceiling.steps[0].successful != 40 || ceiling.steps[0].cpuPerCall != 0 {
		t.Fatalf("ceiling run: %+v", ceiling)
	}
}
