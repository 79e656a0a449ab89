package main

import (
	"fmt"
	"math"
	"time"
)

// goalState is how a goal stands after a run.
type goalState int

const (
	goalNotMeasured goalState = iota // the run did not measure what it needs
	goalNotMet
	goalMet
)

func (g goalState) String() string {
	switch g {
	case goalMet:
		return "MET"
	case goalNotMet:
		return "NOT met"
	default:
		return "not measured"
	}
}

// The comparison with Kamailio (issue 13): Tollgate's CPU per call at most
// Kamailio's, at this rate, with no failed call on either.
const (
	goalRatioRate = 1000
	goalRatio     = 1.0
)

// comparison is one rate that both the call-rate and the Kamailio run
// measured: each one's CPU per successful call and failed calls.
type comparison struct {
	rate                int
	tollgate, kamailio  time.Duration
	tgFailed, kamFailed int
}

// ratio is Tollgate's CPU per call over Kamailio's; NaN when Kamailio's is
// zero (no successful call, so nothing to compare with).
func (c comparison) ratio() float64 {
	if c.kamailio <= 0 {
		return math.NaN()
	}
	return float64(c.tollgate) / float64(c.kamailio)
}

// compare pairs the steps of tg and kam at the rates both measured, in
// tg's order. A step whose measurement broke (err) has no figure to pair.
func compare(tg, kam *rateResult) []comparison {
	byRate := map[int]rateStep{}
	for _, s := range kam.steps {
		if s.err == "" {
			byRate[s.rate] = s
		}
	}
	var out []comparison
	for _, s := range tg.steps {
		k, ok := byRate[s.rate]
		if !ok || s.err != "" {
			continue
		}
		out = append(out, comparison{rate: s.rate, tollgate: s.cpuPerCall, kamailio: k.cpuPerCall,
			tgFailed: s.failed(), kamFailed: k.failed()})
	}
	return out
}

// ratioGoal judges issue 13's CPU goal on the comparisons: at
// goalRatioRate, no failed call on either side and a ratio of at most
// goalRatio.
func ratioGoal(cs []comparison) goalState {
	for _, c := range cs {
		if c.rate != goalRatioRate {
			continue
		}
		r := c.ratio()
		if math.IsNaN(r) {
			return goalNotMeasured
		}
		return verdict(c.tgFailed == 0 && c.kamFailed == 0 && r <= goalRatio)
	}
	return goalNotMeasured
}

// callRateGoal judges a rate goal on a call-rate run: met when the highest
// rate held reaches want in steps of at least goalCallRateTime; not met when
// the run stopped at a step not held at or below want (shorter steps only
// make that easier); not measured when the run held every step it had but
// none reached want, or reached it in steps too short to count.
func callRateGoal(res *rateResult, stepTime time.Duration, want int) goalState {
	if res == nil {
		return goalNotMeasured
	}
	if res.best >= want {
		if stepTime < goalCallRateTime {
			return goalNotMeasured
		}
		return goalMet
	}
	if n := len(res.steps); n > 0 && !res.steps[n-1].passed() && res.steps[n-1].rate <= want {
		return goalNotMet
	}
	return goalNotMeasured
}

// concurrentGoal judges the memory goal: all goalConcurrent calls up at
// once, in under goalConcurrentMem. A smaller run does not measure it.
func concurrentGoal(c *concurrentResult) goalState {
	if c.target < goalConcurrent {
		return goalNotMeasured
	}
	return verdict(c.allUp && c.heldRSS < goalConcurrentMem)
}

// printComparison prints Tollgate's and Kamailio's CPU per call side by
// side at every rate both measured.
func (r report) printComparison() {
	fmt.Println("\nCPU per call, Tollgate against Kamailio (same harness, same run):")
	fmt.Printf("%6s %12s %12s %7s %10s %10s\n", "rate", "tollgate", "kamailio", "ratio", "tg failed", "kam failed")
	for _, c := range compare(r.rate, r.kamailio) {
		ratio := "-"
		if v := c.ratio(); !math.IsNaN(v) {
			ratio = fmt.Sprintf("%.2f", v)
		}
		fmt.Printf("%6d %12s %12s %7s %10d %10d\n", c.rate, fmtMicros(c.tollgate), fmtMicros(c.kamailio),
			ratio, c.tgFailed, c.kamFailed)
	}
}

// printGoals prints issue 13's goals as this run's own figures judge them.
func (r report) printGoals() {
	fmt.Println("\ngoals (issue 13):")
	ratio := goalNotMeasured
	if r.rate != nil && r.kamailio != nil {
		ratio = ratioGoal(compare(r.rate, r.kamailio))
	}
	fmt.Printf("  CPU per call ≤ %.1f × Kamailio's at %d calls/s, no failed call on either: %s\n",
		goalRatio, goalRatioRate, ratio)
	fmt.Printf("  ≥ %d calls/s held in steps of ≥ %v (< %.1f%% failed): %s%s\n", goalCallRate, goalCallRateTime,
		100*maxFailedFraction, callRateGoal(r.rate, r.opts.stepTime, goalCallRate), r.ceilingNote())
	fmt.Printf("  must not regress: issue 12's ≥ %d calls/s in steps of ≥ %v: %s\n", floorCallRate, goalCallRateTime,
		callRateGoal(r.rate, r.opts.stepTime, floorCallRate))
	conc := goalNotMeasured
	if r.concurrent != nil {
		conc = concurrentGoal(r.concurrent)
	}
	fmt.Printf("  %d concurrent calls in < %s: %s\n", goalConcurrent, fmtMB(goalConcurrentMem), conc)
	rad := goalNotMeasured
	if r.radius != nil {
		rad = verdict(r.radius.best >= goalRadiusCallRate)
	}
	fmt.Printf("  with RADIUS auth + accounting, ≥ %d calls/s: %s\n", goalRadiusCallRate, rad)
}

// ceilingNote says where SIPp alone stopped, when the ceiling run found a
// limit: a rate goal above it cannot be shown on this machine.
func (r report) ceilingNote() string {
	c := r.ceiling
	if c == nil {
		return ""
	}
	if n := len(c.steps); n > 0 && !c.steps[n-1].passed() {
		return fmt.Sprintf(" (SIPp→SIPp ceiling: held %d calls/s, not %d)", c.best, c.steps[n-1].rate)
	}
	return fmt.Sprintf(" (SIPp→SIPp ceiling: above %d calls/s, every step held)", c.best)
}
