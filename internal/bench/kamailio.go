package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"text/template"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// kamailioScript is Kamailio's configuration for the Kamailio run: a
// transaction-stateful proxy (tm, rr, sl) in front of the SIPp UAS.
//
//go:embed kamailio.cfg
var kamailioScript string

// kamailioModulePaths are where Debian and others put Kamailio's modules.
var kamailioModulePaths = []string{
	"/usr/lib/x86_64-linux-gnu/kamailio/modules",
	"/usr/lib/aarch64-linux-gnu/kamailio/modules",
	"/usr/lib/kamailio/modules",
	"/usr/lib64/kamailio/modules",
}

// kamailioSocketBuffer is the largest UDP receive buffer Kamailio probes
// for: the 4 MB SIPp asks for in the same harness.
const kamailioSocketBuffer = 4 << 20

// kamailioShmPerCall is a generous bound on Kamailio's shared memory per
// call in flight: two transactions (INVITE and BYE), each holding its
// request and reply clones, a few kB each.
const kamailioShmPerCall = 16 << 10

// kamailioShmMB sizes Kamailio's shared memory (-m, in MB) for the highest
// rate of the run: the calls in flight are those of the hold plus the ~5 s
// tm keeps a finished transaction (its wait timer), with margin. Kamailio
// touches only what it uses, so the size is a ceiling, not a cost.
func kamailioShmMB(maxRate int, hold time.Duration) int {
	inFlight := float64(maxRate) * (hold + 10*time.Second).Seconds()
	mb := int(inFlight*kamailioShmPerCall/(1<<20)) + 1
	return max(mb, 256)
}

// kamailio is one running Kamailio proxy: its main process and the children
// it forks, all in the process group the driver gave it.
type kamailio struct {
	*child
	addr string // 127.0.0.1:port of its UDP listener
	port int
	log  string // its stderr
}

// startKamailio writes the proxy's script relaying to nextHop, starts
// kamailio in the foreground with its own runtime folder under dir, and
// returns once it answers OPTIONS.
func startKamailio(ctx context.Context, dir, nextHop string, shmMB int) (*kamailio, error) {
	bin, err := requireBinary(ctx, "kamailio", "kamailio")
	if err != nil {
		return nil, err
	}
	modules := ""
	for _, p := range kamailioModulePaths {
		if _, err := os.Stat(filepath.Join(p, "tm.so")); err == nil {
			modules = p
			break
		}
	}
	if modules == "" {
		return nil, fmt.Errorf("kamailio's tm.so not found in %v", kamailioModulePaths)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("kamailio folder: %w", err)
	}
	port, err := testenv.PickUDPPort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var script bytes.Buffer
	// Two UDP workers per core: while one waits on a lock or the kernel the
	// other keeps the core busy, as Kamailio's own sizing advice has it.
	err = template.Must(template.New("kamailio").Parse(kamailioScript)).Execute(&script, map[string]any{
		"Listen": addr, "ModulePath": modules, "NextHop": nextHop,
		"Children": 2 * runtime.NumCPU(), "MaxBuffer": kamailioSocketBuffer,
	})
	if err != nil {
		return nil, fmt.Errorf("kamailio script: %w", err)
	}
	cfg := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(cfg, script.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("write kamailio script: %w", err)
	}
	logPath := filepath.Join(dir, "kamailio.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("kamailio log: %w", err)
	}
	defer logFile.Close()
	// -DD -E: main process in the foreground, children forked, logs on
	// stderr. -Y: a private runtime folder, never /run/kamailio.
	// -m: shared memory (transactions), -M: each process's private memory.
	cmd := exec.Command(bin, "-DD", "-E", "-f", cfg, "-Y", dir, "-w", dir,
		"-P", filepath.Join(dir, "kamailio.pid"), "-m", fmt.Sprint(shmMB), "-M", "16")
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	ch, err := startChild("kamailio", cmd)
	if err != nil {
		return nil, err
	}
	k := &kamailio{child: ch, addr: addr, port: port, log: logPath}
	if err := awaitOptions(ctx, "kamailio", addr, ch, logPath, 30*time.Second); err != nil {
		k.shutdown()
		return nil, err
	}
	return k, nil
}

// sample sums the CPU time and memory of the main process and every child.
func (k *kamailio) sample() (procSample, error) { return sampleGroup(k.pid()) }

// shutdown stops Kamailio's whole process group, and kills it if it hangs.
func (k *kamailio) shutdown() {
	k.stop(syscall.SIGTERM, 10*time.Second)
}

// runKamailio is the call-rate run with Kamailio in Tollgate's place: the
// same UAS, UAC scenarios, rates, step time and hold, so that its CPU per
// call compares with Tollgate's from the same run.
func runKamailio(ctx context.Context, e *env, name string, rates []int, stepTime, hold time.Duration) (rateResult, error) {
	dir := e.sub(name)
	shm := kamailioShmMB(slices.Max(rates), hold)
	return runSteps(ctx, e, dir, "kam", rates, stepTime, hold, func(uasAddr string, _ int) (*target, func(), error) {
		k, err := startKamailio(ctx, filepath.Join(dir, "proxy"), uasAddr, shm)
		if err != nil {
			return nil, nil, err
		}
		return &target{addr: k.addr, port: k.port, log: k.log, sample: k.sample}, k.shutdown, nil
	}, plainStep, false)
}

// plainStep measures a step and nothing else.
func plainStep(step *rateStep, measure func() rateStep) { *step = measure() }
