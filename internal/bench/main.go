// Command bench is `make bench`'s load driver for the whole switch: SIPp UAC
// → tollgate serve → SIPp UAS, all on 127.0.0.1. It measures
//
//  1. the call rate: steps of rising calls/s (INVITE/100/180/200/ACK, a
//     short hold, BYE/200), each held for -step-time, reporting the highest
//     rate with under 0.1% failed calls and Tollgate's CPU and memory;
//  2. Kamailio: the steps of 1 with a Kamailio transaction-stateful proxy
//     (tm + rr + sl) in Tollgate's place, for its CPU per call beside
//     Tollgate's from the same run and machine;
//  3. the ceiling: the steps of 1 from the SIPp UAC straight to the UAS,
//     the rate at which SIPp itself stops keeping up;
//  4. concurrent calls: -concurrent long calls up at once, reporting
//     Tollgate's memory per held call;
//  5. the built-in RTP relay, by running internal/bench/relayload briefly;
//  6. the call rate with RADIUS: the steps of 1 again, every call authorised
//     by source IP and accounted (Start and Stop per leg) on a real
//     FreeRADIUS without -X, whose detail file must hold all four records
//     of every connected call.
//
// Every run is bounded in time and stops by itself; -quick makes a smoke
// run of about six minutes. docs/benchmarks.md explains each figure.
//
//	go run ./internal/bench -quick
//	go run ./internal/bench -steps 1000,2000,3000 -step-time 30s -concurrent 100000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the driver's flags, after -quick has filled the unset ones.
type options struct {
	quick          bool
	runs           map[string]bool
	rates          []int
	stepTime       time.Duration
	hold           time.Duration
	concurrent     int
	concurrentRate int
	concurrentHold time.Duration
	settle         time.Duration
	relayArgs      []string
	keep           bool
	tollgate       string
	rounds         int // of the rate and kamailio runs, alternating
	cpuProfile     string
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "smoke run: 5s steps, 20,000 concurrent calls, a short relay run (about 6 minutes)")
	runs := fs.String("runs", "rate,kamailio,ceiling,concurrent,relay,radius",
		"which runs to do, comma-separated: rate, kamailio, ceiling, concurrent, relay, radius")
	steps := fs.String("steps", "250,500,1000,1500,2000,2500,3000,3500,4000", "call rates (calls/s) of the call-rate run, in order")
	stepTime := fs.Duration("step-time", 30*time.Second, "how long each call rate is held (-quick: 5s)")
	hold := fs.Duration("hold", time.Second, "how long each call of the call-rate run lasts before its BYE")
	concurrent := fs.Int("concurrent", 100_000, "calls up at once in the concurrent-calls run (-quick: 20000)")
	concurrentRate := fs.Int("concurrent-rate", 1000, "calls/s while building up the concurrent calls")
	concurrentHold := fs.Duration("concurrent-hold", 0, "how long each concurrent call lasts; 0 chooses one that outlasts the build-up and the measurement")
	settle := fs.Duration("settle", 40*time.Second, "how long the concurrent calls are held while memory is sampled; "+
		"longer than finished transactions stay in memory: set-up ones 4s, others 32s (-quick: 5s)")
	relayArgs := fs.String("relay-args", "-steps 100,200,400,600,800,1000,1200,1400 -step-time 3s", "flags for internal/bench/relayload (-quick: -steps 100,200,400 -step-time 2s)")
	rounds := fs.Int("rounds", 1, "how many times the rate and kamailio runs are done, alternating: the ratio to Kamailio is "+
		"judged on the median of the rounds' ratios, as the machine's speed drifts between runs minutes apart")
	keep := fs.Bool("keep", false, "keep the work folder (configs, SIPp and Tollgate logs, CDRs)")
	tollgateBin := fs.String("tollgate", "", "a tollgate binary to measure; empty builds ./cmd/tollgate from the checkout")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of Tollgate during the call-rate run's first step to this file "+
		"(the middle half of the step; the profiler's own cost is in that step's figures)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		if !set["step-time"] {
			*stepTime = 5 * time.Second
		}
		if !set["concurrent"] {
			*concurrent = 20_000
		}
		if !set["settle"] {
			*settle = 5 * time.Second
		}
		if !set["relay-args"] {
			*relayArgs = "-steps 100,200,400 -step-time 2s"
		}
	}
	o := options{quick: *quick, runs: map[string]bool{}, stepTime: *stepTime, hold: *hold,
		concurrent: *concurrent, concurrentRate: *concurrentRate, concurrentHold: *concurrentHold,
		settle: *settle, relayArgs: strings.Fields(*relayArgs), keep: *keep, tollgate: *tollgateBin, rounds: *rounds,
		cpuProfile: *cpuProfile}
	for _, r := range strings.Split(*runs, ",") {
		switch r = strings.TrimSpace(r); r {
		case "rate", "kamailio", "ceiling", "concurrent", "relay", "radius":
			o.runs[r] = true
		default:
			return o, fmt.Errorf("-runs: unknown run %q (want rate, kamailio, ceiling, concurrent, relay, radius)", r)
		}
	}
	for _, s := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return o, fmt.Errorf("-steps: bad rate %q", s)
		}
		o.rates = append(o.rates, n)
	}
	if o.stepTime < time.Second || o.hold <= 0 || o.concurrent <= 0 || o.concurrentRate <= 0 || o.settle <= 0 || o.rounds <= 0 {
		return o, errors.New("-step-time must be at least 1s; -hold, -concurrent, -concurrent-rate, -settle and -rounds must be positive")
	}
	return o, nil
}

// env is what every run shares: the binaries, the scenarios, the work folder.
type env struct {
	root     string // the checkout
	dir      string // the work folder
	sipp     string
	tollgate string
	uac, uas string // scenario files
}

// sub returns a folder of the work folder for one run.
func (e *env) sub(name string) string { return filepath.Join(e.dir, name) }

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	root, err := findRoot()
	if err != nil {
		return err
	}
	nofile, err := raiseFileLimit()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tollgate-bench-")
	if err != nil {
		return fmt.Errorf("work folder: %w", err)
	}
	if o.keep {
		fmt.Println("work folder (kept):", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	e := &env{root: root, dir: dir,
		uac: filepath.Join(root, "internal/testenv/scenarios/uac.xml"),
		uas: filepath.Join(root, "internal/testenv/scenarios/uas.xml")}
	if e.sipp, err = requireBinary(ctx, "sipp", "sip-tester"); err != nil {
		return err
	}
	if e.tollgate = o.tollgate; e.tollgate == "" {
		if e.tollgate, err = buildTollgate(ctx, root, dir); err != nil {
			return err
		}
	} else if e.tollgate, err = filepath.Abs(e.tollgate); err != nil {
		return err
	}
	m := describeMachine()
	mode := "full"
	if o.quick {
		mode = "quick"
	}
	fmt.Printf("Tollgate load benchmark (%s run), %s\n", mode, time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("machine: %s; open files limit %d\n\n", m, nofile)
	started := time.Now()

	rep := report{opts: o, machine: m}
	for round := 1; round <= o.rounds; round++ {
		var tg, kam *rateResult
		if o.runs["rate"] {
			fmt.Printf("== call-rate run%s: %v per step, calls held %v\n", roundName(round, o.rounds), o.stepTime, o.hold)
			profile := ""
			if round == 1 {
				profile = o.cpuProfile
			}
			res, err := runRate(ctx, e, roundDir("rate", round), false, o.rates, o.stepTime, o.hold, profile)
			if err != nil {
				return fmt.Errorf("call-rate run: %w", err)
			}
			tg = &res
			fmt.Println()
		}
		if o.runs["kamailio"] {
			fmt.Printf("== kamailio run%s: the call-rate steps through a Kamailio transaction-stateful proxy, %v per step\n",
				roundName(round, o.rounds), o.stepTime)
			res, err := runKamailio(ctx, e, roundDir("kamailio", round), o.rates, o.stepTime, o.hold)
			if err != nil {
				return fmt.Errorf("kamailio run: %w", err)
			}
			kam = &res
			fmt.Println()
		}
		if round == 1 {
			rep.rate, rep.kamailio = tg, kam
		}
		if tg != nil && kam != nil {
			rep.rounds = append(rep.rounds, compare(tg, kam))
		}
	}
	if o.runs["ceiling"] {
		fmt.Printf("== ceiling run: the call-rate steps from the SIPp UAC straight to the UAS, %v per step\n", o.stepTime)
		res, err := runCeiling(ctx, e, o.rates, o.stepTime, o.hold)
		if err != nil {
			return fmt.Errorf("ceiling run: %w", err)
		}
		rep.ceiling = &res
		fmt.Println()
	}
	if o.runs["concurrent"] {
		fmt.Printf("== concurrent-calls run: %d calls\n", o.concurrent)
		res, err := runConcurrent(ctx, e, o.concurrent, o.concurrentRate, o.concurrentHold, o.settle)
		if err != nil {
			return fmt.Errorf("concurrent-calls run: %w", err)
		}
		rep.concurrent = &res
		fmt.Println()
	}
	if o.runs["relay"] {
		fmt.Printf("== relay run: go run ./internal/bench/relayload %s\n", strings.Join(o.relayArgs, " "))
		res := runRelay(ctx, root, o.relayArgs, 3*time.Minute)
		rep.relay = &res
		fmt.Println()
	}
	if o.runs["radius"] {
		fmt.Printf("== radius run: the call-rate steps with RADIUS IP authorisation and accounting on FreeRADIUS, %v per step\n", o.stepTime)
		res, err := runRate(ctx, e, "radius", true, o.rates, o.stepTime, o.hold, "")
		if err != nil {
			return fmt.Errorf("radius run: %w", err)
		}
		rep.radius = &res
		fmt.Println()
	}
	rep.elapsed = time.Since(started)
	rep.loadAfter = loadAverage()
	rep.print()
	return ctx.Err()
}

// roundName names a round in a run's heading when there are several.
func roundName(round, rounds int) string {
	if rounds == 1 {
		return ""
	}
	return fmt.Sprintf(" (round %d of %d)", round, rounds)
}

// roundDir is the work folder of a run's round: the first keeps the run's
// name.
func roundDir(run string, round int) string {
	if round == 1 {
		return run
	}
	return fmt.Sprintf("%s%d", run, round)
}

// findRoot walks up from the working folder to the module's go.mod.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(string(data), "module github.com/tollgate/tollgate") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the Tollgate checkout (no go.mod of github.com/tollgate/tollgate above here)")
		}
		dir = parent
	}
}

// machine describes where the figures were made.
type machine struct {
	cpus       int
	model      string
	goVersion  string
	loadBefore string
}

func (m machine) String() string {
	return fmt.Sprintf("%d CPUs (%s), %s, load average %s", m.cpus, m.model, m.goVersion, m.loadBefore)
}

func describeMachine() machine {
	m := machine{cpus: runtime.NumCPU(), model: "unknown CPU", goVersion: runtime.Version(), loadBefore: loadAverage()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.model = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadAverage is the 1, 5 and 15 minute load average: the figures are only
// as good as the machine was quiet.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
