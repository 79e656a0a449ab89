package main

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// maxFailedFraction is the pass mark of a call-rate step: under 0.1% of its
// calls may fail.
const maxFailedFraction = 0.001

// minAchievedFraction is how much of the asked rate SIPp must have reached
// over the step for it to count as held: a rate nobody could generate was
// not sustained, even if every call that was placed succeeded.
const minAchievedFraction = 0.95

// rateStep is the outcome of one step of the call-rate run.
type rateStep struct {
	rate       int     // asked calls/s
	calls      int     // calls the step places: rate × step time
	successful int     // UAC calls that completed INVITE..BYE/200
	uasFailed  int     // calls the UAS counted as failed during the step
	retrans    int     // UAC retransmissions
	udpDrops   int64   // datagrams the kernel dropped for full receive buffers, machine-wide
	tgDrops    int64   // of which at Tollgate's socket
	achieved   float64 // calls/s the UAC really placed
	cpuPct     float64 // tollgate CPU as % of one core over the step
	cpuPerCall time.Duration
	rssMax     int64       // tollgate's highest VmRSS seen during the step
	sippPct    float64     // both SIPps' CPU as % of one core
	err        string      // why the step could not be measured, if it could not
	radius     *radiusStep // the radius run's accounting and FreeRADIUS; nil in the plain run
}

// failed counts every call of the step that did not complete: failed,
// never placed, or still hanging, plus those the UAS saw fail.
func (s rateStep) failed() int {
	lost := max(s.calls-s.successful, 0)
	return lost + s.uasFailed
}

func (s rateStep) failedFraction() float64 {
	if s.calls == 0 {
		return 1
	}
	return float64(s.failed()) / float64(s.calls)
}

func (s rateStep) passed() bool {
	return s.err == "" && s.failedFraction() < maxFailedFraction &&
		s.achieved >= minAchievedFraction*float64(s.rate) &&
		(s.radius == nil || s.radius.ok(s.successful))
}

// rateResult is the whole call-rate run.
type rateResult struct {
	steps   []rateStep
	idleRSS int64
	best    int // highest rate held, 0 if none
}

// runRate steps the call rate up through one switch and one UAS, a fresh
// UAC per step, and stops after the first step that is not held. With
// withRadius (the radius run) the switch authorises every call by IP and
// accounts both legs on a real FreeRADIUS, whose Routing AVPair is the only
// route to the UAS, and each step also waits for its accounting. With
// profile set, the first step's CPU profile is written there (profileStep).
func runRate(ctx context.Context, e *env, name string, withRadius bool, rates []int, stepTime, hold time.Duration, profile string) (rateResult, error) {
	dir := e.sub(name)
	conf := tgConfig{maxCalls: 1_000_000}
	if profile != "" {
		port, err := testenv.PickTCPPort()
		if err != nil {
			return rateResult{}, err
		}
		conf.pprof = fmt.Sprintf("127.0.0.1:%d", port)
	}
	var rs *radiusSide
	return runSteps(ctx, e, dir, "tg", rates, stepTime, hold, func(uasAddr string, _ int) (*target, func(), error) {
		conf.gateway = uasAddr
		if withRadius {
			var err error
			if rs, err = startRadiusSide(dir, uasAddr); err != nil {
				return nil, nil, err
			}
			conf.gateway, conf.radius = "", rs.yaml()
		}
		tg, err := startTollgate(ctx, e.tollgate, dir+"/tollgate", conf)
		if err != nil {
			if rs != nil {
				rs.close()
			}
			return nil, nil, err
		}
		stop := func() {
			tg.shutdown()
			if rs != nil {
				rs.close()
			}
		}
		return &target{addr: tg.addr, port: tg.port, log: tg.log,
			sample: func() (procSample, error) { return sampleProc(tg.pid()) }}, stop, nil
	}, func(step *rateStep, measure func() rateStep) {
		var frBefore frSample
		if rs != nil {
			var err error
			if frBefore, err = rs.sample(); err != nil {
				step.err = fmt.Sprintf("freeradius: %v", err)
				return
			}
		}
		var profiled chan error
		if profile != "" {
			profiled = make(chan error, 1)
			go func() { profiled <- profileStep(ctx, conf.pprof, profile, stepTime) }()
		}
		*step = measure()
		if profiled != nil {
			if err := <-profiled; err != nil {
				step.err = err.Error()
				return
			}
			fmt.Printf("CPU profile of this step written to %s\n", profile)
			profile = ""
		}
		if rs != nil {
			rs.after(ctx, step, frBefore, stepTime)
		}
	}, withRadius)
}

// target is what a call-rate step measures between the SIPp UAC and UAS:
// Tollgate, Kamailio, or nothing at all for the SIPp→SIPp ceiling, where the
// UAC calls the UAS directly.
type target struct {
	addr string // where the UAC sends its calls
	port int    // the port of that socket, whose drops are counted
	log  string // the target's log, quoted when it dies; empty for none
	// sample reads the CPU time and memory of all the target's processes;
	// nil for the ceiling, which has none besides the two SIPps.
	sample func() (procSample, error)
}

// sampleNow samples the target; for the ceiling, which has no process of
// its own, it is only the time, so that its CPU and memory read as zero.
func (t *target) sampleNow() (procSample, error) {
	if t.sample == nil {
		return procSample{at: time.Now()}, nil
	}
	return t.sample()
}

// startTarget starts the system under test in front of the UAS at uasAddr
// (127.0.0.1:uasPort) and returns it with the function that stops it.
type startTarget func(uasAddr string, uasPort int) (*target, func(), error)

// stepRunner measures one step: it calls measure, and may do more around it
// (the radius run samples FreeRADIUS and waits for the accounting).
type stepRunner func(step *rateStep, measure func() rateStep)

// runSteps is the call-rate run's loop, for any target: one UAS for the
// whole run, the target in front of it, then a fresh UAC per rate until a
// step is not held. label names the target in the column headers.
func runSteps(ctx context.Context, e *env, dir, label string, rates []int, stepTime, hold time.Duration,
	start startTarget, runStep stepRunner, withRadius bool) (rateResult, error) {
	var res rateResult
	uasPort, err := testenv.PickUDPPort()
	if err != nil {
		return res, err
	}
	uasAddr := fmt.Sprintf("127.0.0.1:%d", uasPort)
	bound := time.Duration(len(rates))*(stepTime+hold+time.Minute) + time.Minute
	if withRadius {
		// Each step may wait for its accounting after its calls.
		bound += time.Duration(len(rates)) * (stepTime + 2*time.Minute)
	}
	uas, err := startSIPp(e.sipp, dir, sippRun{name: "uas", scenario: e.uas, port: uasPort, timeout: bound})
	if err != nil {
		return res, err
	}
	defer uas.stop(syscall.SIGKILL, time.Second)
	t, stop, err := start(uasAddr, uasPort)
	if err != nil {
		return res, err
	}
	defer stop()
	if t.sample != nil {
		idle, err := t.sample()
		if err != nil {
			return res, err
		}
		res.idleRSS = idle.rss
	}

	printStepHeader(label, withRadius)
	for i, rate := range rates {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		step := rateStep{rate: rate}
		runStep(&step, func() rateStep { return measureStep(ctx, e, dir, t, uas, i, rate, stepTime, hold) })
		res.steps = append(res.steps, step)
		printStep(step, t.sample != nil)
		if !step.passed() {
			break
		}
		res.best = rate
	}
	return res, nil
}

// printStepHeader prints the column names of printStep.
// label names the target: "tg", "kam", or "uas" for the ceiling, where the
// target's own columns stay empty.
func printStepHeader(label string, withRadius bool) {
	fmt.Printf("%6s %7s %7s %7s %9s %8s %9s %9s %7s %8s %8s %8s", "rate", "calls", "failed", "fail%",
		"placed/s", label+" cpu%", "cpu/call", label+" RSS", "sipp%", "retrans", "drop all", "drop "+label)
	if withRadius {
		fmt.Printf(" %8s %8s %8s %7s %8s", "fr cpu%", "drop fr", "acct/s", "lag", "acct ok")
	}
	fmt.Println("  result")
}

// printStep prints a step's row as soon as it is measured; without measured
// (the ceiling) the target's CPU and memory columns show "-".
func printStep(step rateStep, measured bool) {
	verdict := "held"
	if !step.passed() {
		verdict = "NOT held"
		if step.err != "" {
			verdict += ": " + step.err
		}
	}
	cpuPct, perCall, rss := fmt.Sprintf("%.1f", step.cpuPct), fmtMicros(step.cpuPerCall), fmtMB(step.rssMax)
	if !measured {
		cpuPct, perCall, rss = "-", "-", "-"
	}
	fmt.Printf("%6d %7d %7d %7.3f %9.0f %8s %9s %9s %7.1f %8d %8d %8d",
		step.rate, step.calls, step.failed(), 100*step.failedFraction(), step.achieved, cpuPct,
		perCall, rss, step.sippPct, step.retrans, step.udpDrops, step.tgDrops)
	if r := step.radius; r != nil {
		fmt.Printf(" %8.1f %8d %8.0f %6.1fs %8s", r.frCPUPct, r.frDrops, r.acctRate, r.lag.Seconds(), yesNo(r.ok(step.successful)))
		if r.err != "" {
			verdict += "; accounting: " + r.err
		} else if !r.ok(step.successful) {
			verdict += fmt.Sprintf("; accounting: %d calls connected, %d of the run lack a record", r.answered, r.open)
		}
	}
	fmt.Println("  " + verdict)
}

// measureStep runs one UAC at rate for stepTime and measures the target.
func measureStep(ctx context.Context, e *env, dir string, t *target, uas *sipp, i, rate int,
	stepTime, hold time.Duration) rateStep {
	step := rateStep{rate: rate, calls: int(float64(rate) * stepTime.Seconds())}
	fail := func(err error) rateStep {
		step.err = err.Error()
		return step
	}
	uacPort, err := testenv.PickUDPPort()
	if err != nil {
		return fail(err)
	}
	uasBefore, _ := uas.stats()
	dropsBefore, err := udpReceiveDrops()
	if err != nil {
		return fail(err)
	}
	tgDropsBefore, err := udpSocketDrops(t.port)
	if err != nil {
		return fail(err)
	}
	tgBefore, err := t.sampleNow()
	if err != nil {
		return fail(err)
	}
	uasCPUBefore, err := sampleProc(uas.pid())
	if err != nil {
		return fail(err)
	}
	// SIPp ends its own run 10s after the last call should have ended. A
	// call not done by then has failed the step anyway (it counts as lost),
	// and waiting out SIPp's 32s retransmission timers would only make a
	// failing step slow.
	limit := stepTime + hold + 10*time.Second
	uac, err := startSIPp(e.sipp, dir, sippRun{name: fmt.Sprintf("uac-%d-%d", i, rate), scenario: e.uac,
		remote: t.addr, port: uacPort, rate: rate, calls: step.calls, hold: hold, timeout: limit})
	if err != nil {
		return fail(err)
	}
	step.rssMax = watchRSS(ctx, t, uac.child, limit+5*time.Second)
	uac.finish(ctx, time.Second)
	tgAfter, err := t.sampleNow()
	if err != nil {
		return fail(fmt.Errorf("target gone: %w: %s", err, tailFile(t.log, 800)))
	}
	uasCPUAfter, err := sampleProc(uas.pid())
	if err != nil {
		return fail(err)
	}
	if dropsAfter, err := udpReceiveDrops(); err == nil {
		step.udpDrops = dropsAfter - dropsBefore
	}
	if tgDropsAfter, err := udpSocketDrops(t.port); err == nil {
		step.tgDrops = tgDropsAfter - tgDropsBefore
	}
	wall := tgAfter.at.Sub(tgBefore.at)
	cpu := tgAfter.cpu - tgBefore.cpu
	step.cpuPct = 100 * cpu.Seconds() / wall.Seconds()
	if st, err := uac.stats(); err == nil {
		step.successful, step.retrans = st.Successful, st.Retransmissions
		if placing := st.Elapsed - hold; placing > 0 {
			step.achieved = float64(st.Created) / placing.Seconds()
		}
	} else {
		return fail(err)
	}
	if step.successful > 0 {
		step.cpuPerCall = cpu / time.Duration(step.successful)
	}
	sippCPU := uasCPUAfter.cpu - uasCPUBefore.cpu
	if ps := uac.cmd.ProcessState; ps != nil {
		sippCPU += ps.UserTime() + ps.SystemTime()
	}
	step.sippPct = 100 * sippCPU.Seconds() / wall.Seconds()
	// The UAS's report is up to a second old: let it show the step's end.
	awaitUASIdle(ctx, uas, 15*time.Second)
	if uasAfter, err := uas.stats(); err == nil {
		step.uasFailed = uasAfter.Failed - uasBefore.Failed
	}
	if step.failed() > 0 {
		if sum := uac.errorSummary(); sum != "" {
			fmt.Printf("  UAC error log:\n%s\n", sum)
		}
	}
	return step
}

// watchRSS samples the target's memory every second until c exits, the
// limit passes or ctx ends, and returns the highest seen.
func watchRSS(ctx context.Context, t *target, c *child, limit time.Duration) int64 {
	var peak int64
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := time.After(limit)
	for {
		if s, err := t.sampleNow(); err == nil {
			peak = max(peak, s.rss)
		}
		select {
		case <-c.done:
			return peak
		case <-ctx.Done():
			return peak
		case <-deadline:
			return peak
		case <-tick.C:
		}
	}
}

// awaitUASIdle waits until the UAS reports no call in progress.
func awaitUASIdle(ctx context.Context, uas *sipp, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if st, err := uas.stats(); err == nil && st.Current == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}
