package main

import (
	"fmt"
	"strings"
	"time"
)

// The goals of issue 13, on a 2-core machine with SIPp on the same cores.
// Kamailio's figures are not among them: the kamailio run measures them in
// the same run, on the same machine and harness.
const (
	goalCallRate      = 4000             // call setups+teardowns per second held...
	goalCallRateTime  = 30 * time.Second // ...for steps at least this long
	goalConcurrent    = 100_000          // calls up at once...
	goalConcurrentMem = 600 << 20        // ...in under this much memory

	// With RADIUS authorisation and accounting on, with FreeRADIUS on the
	// same cores too, and Sippy B2BUA's claimed range.
	goalRadiusCallRate  = 2000
	sippyLow, sippyHigh = 150, 400

	// Issue 12's goal, met before: the call rate must not fall below it.
	floorCallRate = 2000
)

// report is the summary printed after all runs.
type report struct {
	opts     options
	machine  machine
	rate     *rateResult
	kamailio *rateResult // the call-rate steps through Kamailio
	// rounds are the comparisons with Kamailio, one per round of the rate
	// and kamailio runs (-rounds); rate and kamailio are the first round's.
	rounds     [][]comparison
	ceiling    *rateResult // the call-rate steps SIPp to SIPp
	concurrent *concurrentResult
	relay      *relayResult
	radius     *rateResult
	elapsed    time.Duration
	loadAfter  string
}

func (r report) print() {
	fmt.Println("==================== summary ====================")
	mode := "full run"
	if r.opts.quick {
		mode = "QUICK run (short steps: a smoke test, not a published figure)"
	}
	fmt.Printf("%s, %v in all\n", mode, r.elapsed.Round(time.Second))
	fmt.Printf("machine: %s; load average after: %s\n", r.machine, r.loadAfter)
	fmt.Println("SIPp UAC and UAS share the same cores as Tollgate.")
	if r.rate != nil {
		r.printRate()
	}
	if r.kamailio != nil {
		fmt.Printf("\nKamailio transaction-stateful proxy (tm + rr + sl), the same steps:\n")
		r.printSteps(r.kamailio, "kamailio")
	}
	if r.ceiling != nil {
		fmt.Printf("\nceiling: SIPp UAC straight to the UAS, the same steps:\n")
		r.printSteps(r.ceiling, "")
	}
	if len(r.rounds) > 0 {
		r.printComparison()
	}
	r.printGoals()
	if r.radius != nil {
		r.printRadius()
	}
	if r.concurrent != nil {
		r.printConcurrent()
	}
	if r.relay != nil {
		r.printRelay()
	}
}

func (r report) printRate() {
	fmt.Printf("\ncall rate (steps of %v, calls held %v):\n", r.opts.stepTime, r.opts.hold)
	r.printSteps(r.rate, "tollgate")
}

func (r report) printRadius() {
	res := r.radius
	fmt.Printf("\ncall rate with RADIUS IP authorisation and accounting on FreeRADIUS (no -X), steps of %v:\n", r.opts.stepTime)
	r.printSteps(res, "tollgate")
	for _, s := range res.steps {
		if s.rate != res.best || s.radius == nil {
			continue
		}
		a := s.radius
		fmt.Printf("  at that rate: FreeRADIUS CPU %.1f%% of one core, %d datagrams dropped at its sockets; %d calls "+
			"(an Access-Request each) and %d accounting records (%.0f/s written during the step, the rest %.1fs after it)\n",
			a.frCPUPct, a.frDrops, s.calls, a.written, a.acctRate, a.lag.Seconds())
	}
	if n := len(res.steps); n > 0 {
		a := res.steps[n-1].radius
		if a != nil {
			fmt.Printf("  accounting check (every connected call: Start and Stop on both legs in the detail file): %s; "+
				"%d calls of the run lack a record, %d records duplicated, %d unplaceable\n",
				verdict(a.err == "" && a.open == 0 && a.bad == 0), a.open, a.dups, a.bad)
			if a.err != "" {
				fmt.Println("  accounting could not be checked:", a.err)
			}
		}
	}
	fmt.Printf("  goal ≥ %d calls/s: %s; Sippy B2BUA claims %d–%d calls/s\n",
		goalRadiusCallRate, verdict(res.best >= goalRadiusCallRate), sippyLow, sippyHigh)
}

// printSteps prints the outcome of a call-rate run, plain or with RADIUS;
// who names the target measured, empty for the ceiling, which has none.
func (r report) printSteps(res *rateResult, who string) {
	if res.best == 0 {
		fmt.Printf("  no step held (first step %d calls/s)\n", r.opts.rates[0])
	} else {
		fmt.Printf("  highest rate held: %d calls/s (under %.1f%% failed, at least %.0f%% of the rate placed)\n",
			res.best, 100*maxFailedFraction, 100*minAchievedFraction)
		for _, s := range res.steps {
			if s.rate != res.best {
				continue
			}
			if who == "" {
				fmt.Printf("  at that rate: SIPp CPU %.1f%%\n", s.sippPct)
				continue
			}
			fmt.Printf("  at that rate: %s CPU %.1f%% of one core, %s CPU per call, RSS %s (idle %s); SIPp CPU %.1f%%\n",
				who, s.cpuPct, fmtMicros(s.cpuPerCall), fmtMB(s.rssMax), fmtMB(res.idleRSS), s.sippPct)
		}
	}
	if n := len(res.steps); n > 0 && !res.steps[n-1].passed() {
		s := res.steps[n-1]
		why := fmt.Sprintf("%d of %d calls failed (%.3f%%), %.0f calls/s placed", s.failed(), s.calls,
			100*s.failedFraction(), s.achieved)
		if s.err != "" {
			why = s.err
		}
		if a := s.radius; a != nil && !a.ok(s.successful) {
			why += fmt.Sprintf("; accounting: %d calls connected of %d completed, %d of the run lacking a record after %.0fs",
				a.answered, s.successful, a.open, a.lag.Seconds())
			if a.err != "" {
				why += " (" + a.err + ")"
			}
		}
		fmt.Printf("  stopped at %d calls/s: %s\n", s.rate, why)
	} else if n == len(r.opts.rates) {
		fmt.Println("  every step held: the limit is above the last step")
	}
}

func (r report) printConcurrent() {
	c := r.concurrent
	fmt.Printf("\nconcurrent calls (%d asked, built at %d calls/s, each held %v):\n",
		c.target, c.rate, c.hold.Round(time.Second))
	up := fmt.Sprintf("all %d up after %v", c.held, c.buildTime.Round(100*time.Millisecond))
	if !c.allUp {
		up = fmt.Sprintf("only %d of %d up at once", c.held, c.target)
	}
	fmt.Printf("  %s; tollgate RSS idle %s, with the calls up %s at most (%s after %v): %s per held call\n",
		up, fmtMB(c.idleRSS), fmtMB(c.heldRSS), fmtMB(c.settledRSS), r.opts.settle, fmtKB(c.perCall()))
	result := fmt.Sprintf("%d successful, %d failed; UDP datagrams dropped for full receive buffers: %d, %d of them at Tollgate's socket",
		c.successful, c.failed, c.udpDrops, c.tgDrops)
	if c.err != "" {
		result += "; " + c.err
	}
	fmt.Printf("  all calls succeeded: %s (%s)\n", yesNo(c.allSucceeded()), result)
	projected := c.idleRSS + c.perCall()*goalConcurrent
	fmt.Printf("  goal %d calls in < %s: %s (RSS %s for %d calls; %s projected for %d)\n",
		goalConcurrent, fmtMB(goalConcurrentMem), concurrentGoal(c),
		fmtMB(c.heldRSS), c.held, fmtMB(projected), goalConcurrent)
}

func (r report) printRelay() {
	rl := r.relay
	fmt.Printf("\nbuilt-in RTP relay (relayload %s):\n", strings.Join(rl.args, " "))
	for _, l := range rl.lines {
		fmt.Println("  " + l)
	}
	if rl.err != "" {
		fmt.Println("  relayload did not finish cleanly:", rl.err)
	}
}

func verdict(met bool) goalState {
	if met {
		return goalMet
	}
	return goalNotMet
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func fmtMB(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func fmtKB(b int64) string { return fmt.Sprintf("%.1f kB", float64(b)/(1<<10)) }

func fmtMicros(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}
