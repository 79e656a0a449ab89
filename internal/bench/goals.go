package main

import (
	"fmt"
	"math"
	"slices"
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

// ratioGoal judges issue 13's CPU goal on the comparisons of every round:
// at goalRatioRate, no failed call on either side in any round and a median
// ratio of at most goalRatio. The median, because the machine's speed
// drifts by more than the difference sought between runs minutes apart.
func ratioGoal(rounds [][]comparison) goalState {
	ratios, measured, clean := ratiosAt(rounds, goalRatioRate)
	if !measured {
		return goalNotMeasured
	}
	return verdict(clean && median(ratios) <= goalRatio)
}

// ratiosAt gathers the rounds' ratios at rate. measured is false when a
// round had no figure to compare there, or none did; clean is false when a
// call failed on either side in any round.
func ratiosAt(rounds [][]comparison, rate int) (ratios []float64, measured, clean bool) {
	clean = true
	for _, cs := range rounds {
		i := slices.IndexFunc(cs, func(c comparison) bool { return c.rate == rate })
		if i < 0 || math.IsNaN(cs[i].ratio()) {
			return nil, false, false
		}
		ratios = append(ratios, cs[i].ratio())
		clean = clean && cs[i].tgFailed == 0 && cs[i].kamFailed == 0
	}
	return ratios, len(ratios) > 0, clean
}

// median is the middle of xs, or the mean of its two middle values.
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
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
// side at every rate both measured, round by round, and with several
// rounds the median ratio at each rate.
func (r report) printComparison() {
	fmt.Println("\nCPU per call, Tollgate against Kamailio (same harness, same run):")
	fmt.Printf("%6s %6s %12s %12s %7s %10s %10s\n", "round", "rate", "tollgate", "kamailio", "ratio", "tg failed", "kam failed")
	for i, cs := range r.rounds {
		for _, c := range cs {
			ratio := "-"
			if v := c.ratio(); !math.IsNaN(v) {
				ratio = fmt.Sprintf("%.2f", v)
			}
			fmt.Printf("%6d %6d %12s %12s %7s %10d %10d\n", i+1, c.rate, fmtMicros(c.tollgate), fmtMicros(c.kamailio),
				ratio, c.tgFailed, c.kamFailed)
		}
	}
	if len(r.rounds) < 2 {
		return
	}
	for _, c := range r.rounds[0] {
		if ratios, measured, _ := ratiosAt(r.rounds, c.rate); measured {
			fmt.Printf("  median ratio at %d calls/s over %d rounds: %.2f (%.2f–%.2f)\n", c.rate, len(ratios),
				median(ratios), slices.Min(ratios), slices.Max(ratios))
		}
	}
}

// printGoals prints issue 13's goals as this run's own figures judge them.
func (r report) printGoals() {
	fmt.Println("\ngoals (issue 13):")
	ratio := goalNotMeasured
	if len(r.rounds) > 0 {
		ratio = ratioGoal(r.rounds)
	}
	fmt.Printf("  CPU per call ≤ %.1f × Kamailio's at %d calls/s (the median of %d rounds), no failed call on either: %s\n",
		goalRatio, goalRatioRate, len(r.rounds), ratio)
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
