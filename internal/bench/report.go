package main

import (
	"fmt"
	"strings"
	"time"
)

// The goals of issue 2 and the comparison figure, on a 2-core machine with
// SIPp on the same cores.
const (
	goalCallRate      = 2000    // call setups+teardowns per second
	goalConcurrent    = 100_000 // calls up at once...
	goalConcurrentMem = 2 << 30 // ...in under this much memory
	kamailioCallRate  = 1750    // Kamailio 5.6 tm proxy, same harness
)

// report is the summary printed after all runs.
type report struct {
	opts       options
	machine    machine
	rate       *rateResult
	concurrent *concurrentResult
	relay      *relayResult
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
	if r.concurrent != nil {
		r.printConcurrent()
	}
	if r.relay != nil {
		r.printRelay()
	}
}

func (r report) printRate() {
	res := r.rate
	fmt.Printf("\ncall rate (steps of %v, calls held %v):\n", r.opts.stepTime, r.opts.hold)
	if res.best == 0 {
		fmt.Printf("  no step held (first step %d calls/s)\n", r.opts.rates[0])
	} else {
		fmt.Printf("  highest rate held: %d calls/s (under %.1f%% failed, at least %.0f%% of the rate placed)\n",
			res.best, 100*maxFailedFraction, 100*minAchievedFraction)
		for _, s := range res.steps {
			if s.rate == res.best {
				fmt.Printf("  at that rate: tollgate CPU %.1f%% of one core, %s CPU per call, RSS %s (idle %s); SIPp CPU %.1f%%\n",
					s.cpuPct, fmtMicros(s.cpuPerCall), fmtMB(s.rssMax), fmtMB(res.idleRSS), s.sippPct)
			}
		}
	}
	if n := len(res.steps); n > 0 && !res.steps[n-1].passed() {
		s := res.steps[n-1]
		why := fmt.Sprintf("%d of %d calls failed (%.3f%%), %.0f calls/s placed", s.failed(), s.calls,
			100*s.failedFraction(), s.achieved)
		if s.err != "" {
			why = s.err
		}
		fmt.Printf("  stopped at %d calls/s: %s\n", s.rate, why)
	} else if n == len(r.opts.rates) {
		fmt.Println("  every step held: the ceiling is above the last step")
	}
	fmt.Printf("  goal ≥ %d calls/s: %s; Kamailio 5.6 tm proxy on the same harness: ~%d calls/s\n",
		goalCallRate, verdict(res.best >= goalCallRate), kamailioCallRate)
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
	fmt.Printf("  goal %d calls in < 2 GB: %s (RSS %s for %d calls; %s projected for %d)\n",
		goalConcurrent, verdict(c.allUp && c.target >= goalConcurrent && c.heldRSS < goalConcurrentMem),
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

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
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
