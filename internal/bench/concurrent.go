package main

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// concurrentResult is the outcome of the concurrent-calls run.
type concurrentResult struct {
	target     int           // calls asked for
	rate       int           // calls/s while building up
	hold       time.Duration // how long each call is held
	held       int           // calls up at once when memory was measured
	allUp      bool          // every call was up at once
	buildTime  time.Duration // from the first INVITE until all were up
	idleRSS    int64         // tollgate before the first call
	heldRSS    int64         // tollgate's highest VmRSS while the calls were held
	settledRSS int64         // its VmRSS at the end of the measurement
	successful int
	failed     int
	udpDrops   int64 // datagrams the kernel dropped for full receive buffers, machine-wide
	tgDrops    int64 // of which at Tollgate's socket
	err        string
}

// perCall is the switch's memory per held call.
func (r concurrentResult) perCall() int64 {
	if r.held == 0 {
		return 0
	}
	return (r.heldRSS - r.idleRSS) / int64(r.held)
}

func (r concurrentResult) allSucceeded() bool {
	return r.err == "" && r.successful == r.target && r.failed == 0
}

// runConcurrent builds up n long calls at rate through a fresh switch, holds
// them while measuring its memory for settle, then lets them all hang up.
// A zero hold is chosen so that the first call ends only after all are up
// and measured.
func runConcurrent(ctx context.Context, e *env, n, rate int, hold, settle time.Duration) (concurrentResult, error) {
	build := time.Duration(float64(n) / float64(rate) * float64(time.Second))
	if hold <= 0 {
		hold = build*3/2 + settle + 10*time.Second
	}
	res := concurrentResult{target: n, rate: rate, hold: hold}
	dir := e.sub("concurrent")
	uasPort, err := testenv.PickUDPPort()
	if err != nil {
		return res, err
	}
	uacPort, err := testenv.PickUDPPort()
	if err != nil {
		return res, err
	}
	// The last call is placed at about 2×build (SIPp may lag) and ends a
	// hold later; retransmissions may take 32s more to give up.
	limit := 2*build + hold + 45*time.Second
	uas, err := startSIPp(e.sipp, dir, sippRun{name: "uas", scenario: e.uas, port: uasPort, timeout: limit + time.Minute})
	if err != nil {
		return res, err
	}
	defer uas.stop(syscall.SIGKILL, time.Second)
	tg, err := startTollgate(ctx, e.tollgate, dir+"/tollgate",
		tgConfig{gateway: fmt.Sprintf("127.0.0.1:%d", uasPort), maxCalls: n + n/5 + 1000})
	if err != nil {
		return res, err
	}
	defer tg.shutdown()
	idle, err := sampleProc(tg.pid())
	if err != nil {
		return res, err
	}
	res.idleRSS = idle.rss
	fmt.Printf("building up %d calls at %d calls/s, each held %v (tollgate idle RSS %s)\n",
		n, rate, hold.Round(time.Second), fmtMB(idle.rss))

	dropsBefore, err := udpReceiveDrops()
	if err != nil {
		return res, err
	}
	tgDropsBefore, err := udpSocketDrops(tg.port)
	if err != nil {
		return res, err
	}
	start := time.Now()
	uac, err := startSIPp(e.sipp, dir, sippRun{name: "uac", scenario: e.uac, remote: tg.addr, port: uacPort,
		rate: rate, calls: n, limit: n, hold: hold, timeout: limit})
	if err != nil {
		return res, err
	}
	defer uac.stop(syscall.SIGKILL, time.Second)

	// Give up waiting once the first calls start hanging up, or when SIPp
	// has fallen far behind its rate.
	upBy := start.Add(min(hold, 2*build+30*time.Second))
	res.held, res.allUp = awaitAllUp(ctx, uac, uas, n, upBy)
	res.buildTime = time.Since(start)
	if !res.allUp {
		fmt.Printf("not all calls came up: %d of %d at most\n", res.held, n)
	} else {
		fmt.Printf("all %d calls up after %v; holding them %v while measuring\n",
			n, res.buildTime.Round(100*time.Millisecond), settle)
	}
	res.heldRSS, res.settledRSS = holdAndMeasure(ctx, tg, settle)
	fmt.Printf("tollgate RSS with %d calls up: %s at most, %s after %v\n",
		res.held, fmtMB(res.heldRSS), fmtMB(res.settledRSS), settle)

	uac.finish(ctx, time.Until(start.Add(limit+5*time.Second)))
	if dropsAfter, err := udpReceiveDrops(); err == nil {
		res.udpDrops = dropsAfter - dropsBefore
	}
	if tgDropsAfter, err := udpSocketDrops(tg.port); err == nil {
		res.tgDrops = tgDropsAfter - tgDropsBefore
	}
	st, err := uac.stats()
	if err != nil {
		res.err = err.Error()
		return res, nil
	}
	res.successful, res.failed = st.Successful, st.Failed
	if tg.exited() {
		res.err = "tollgate exited: " + tailFile(tg.log, 800)
	}
	if !res.allSucceeded() {
		if sum := uac.errorSummary(); sum != "" {
			fmt.Printf("  UAC error log:\n%s\n", sum)
		}
	}
	return res, nil
}

// awaitAllUp polls both SIPps until the UAC has placed all n calls and the
// calls up at both ends — the lower of the two SIPps' current calls — stay
// the same on two reports in a row (a report is written each second), or
// until upBy. Failed calls leave the two counts apart for good, so the
// lower one is what the switch holds. It returns the most calls seen up.
func awaitAllUp(ctx context.Context, uac, uas *sipp, n int, upBy time.Time) (int, bool) {
	peak, last := 0, -1
	var lastReport time.Duration
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		a, errA := uac.stats()
		b, errB := uas.stats()
		// Polls and reports are both a second apart: a report read twice
		// proves nothing stable.
		if errA == nil && errB == nil && a.Elapsed != lastReport {
			lastReport = a.Elapsed
			up := min(a.Current, b.Current)
			peak = max(peak, up)
			if a.Created == n && up == last {
				return up, up == n
			}
			last = up
		}
		select {
		case <-ctx.Done():
			return peak, false
		case <-uac.done:
			return peak, false
		case <-tick.C:
		}
		if time.Now().After(upBy) {
			return peak, false
		}
	}
}

// holdAndMeasure samples the switch's memory every second for d and returns
// the highest VmRSS, the conservative figure for memory held by the calls,
// and the last one, after the set-up transactions have had d to expire.
func holdAndMeasure(ctx context.Context, tg *tollgate, d time.Duration) (peak, last int64) {
	end := time.Now().Add(d)
	for {
		if s, err := sampleProc(tg.pid()); err == nil {
			peak, last = max(peak, s.rss), s.rss
		}
		if time.Now().After(end) || ctx.Err() != nil {
			return peak, last
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
