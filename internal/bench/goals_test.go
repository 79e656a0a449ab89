package main

import (
	"math"
	"testing"
	"time"
)

// steps builds a run's steps at rates, with CPU per call and failed calls
// for each: calls − successful is what failed() counts.
func steps(rates []int, perCall []time.Duration, failed []int) *rateResult {
	res := &rateResult{}
	for i, rate := range rates {
		res.steps = append(res.steps, rateStep{rate: rate, calls: 1000, successful: 1000 - failed[i], cpuPerCall: perCall[i]})
	}
	return res
}

func TestCompareAndRatioGoal(t *testing.T) {
	t.Parallel()
	us := time.Microsecond
	tg := steps([]int{500, 1000, 2000}, []time.Duration{600 * us, 500 * us, 450 * us}, []int{0, 0, 30})
	kam := steps([]int{500, 1000}, []time.Duration{300 * us, 250 * us}, []int{0, 0})
	cs := compare(tg, kam)
	if len(cs) != 2 || cs[0].rate != 500 || cs[1].rate != 1000 {
		t.Fatalf("compared %+v, want the rates both measured: 500, 1000", cs)
	}
	if r := cs[1].ratio(); r != 2.0 {
		t.Fatalf("ratio at 1000 = %v, want 2", r)
	}
	if g := ratioGoal(oneRound(cs)); g != goalNotMet {
		t.Fatalf("ratio 2: %v, want NOT met", g)
	}

	cheaper := steps([]int{1000}, []time.Duration{240 * us}, []int{0})
	if g := ratioGoal(oneRound(compare(cheaper, kam))); g != goalMet {
		t.Fatalf("ratio 0.96, no failures: %v, want MET", g)
	}
	equal := steps([]int{1000}, []time.Duration{250 * us}, []int{0})
	if g := ratioGoal(oneRound(compare(equal, kam))); g != goalMet {
		t.Fatalf("ratio exactly 1: %v, want MET", g)
	}
	failing := steps([]int{1000}, []time.Duration{240 * us}, []int{1})
	if g := ratioGoal(oneRound(compare(failing, kam))); g != goalNotMet {
		t.Fatalf("one failed Tollgate call: %v, want NOT met", g)
	}
	kamFailing := steps([]int{1000}, []time.Duration{250 * us}, []int{2})
	if g := ratioGoal(oneRound(compare(cheaper, kamFailing))); g != goalNotMet {
		t.Fatalf("failed Kamailio calls: %v, want NOT met", g)
	}
	if g := ratioGoal(oneRound(compare(steps([]int{500}, []time.Duration{us}, []int{0}), kam))); g != goalNotMeasured {
		t.Fatalf("no step at 1000: %v, want not measured", g)
	}
	noKamCalls := steps([]int{1000}, []time.Duration{0}, []int{1000})
	if r := compare(cheaper, noKamCalls)[0].ratio(); !math.IsNaN(r) {
		t.Fatalf("ratio over no successful Kamailio call = %v, want NaN", r)
	}
	if g := ratioGoal(oneRound(compare(cheaper, noKamCalls))); g != goalNotMeasured {
		t.Fatalf("no Kamailio figure: %v, want not measured", g)
	}
	broken := &rateResult{steps: []rateStep{{rate: 1000, err: "sipp did not start"}}}
	if cs := compare(cheaper, broken); len(cs) != 0 {
		t.Fatalf("a broken step was compared: %+v", cs)
	}
}

func oneRound(cs []comparison) [][]comparison { return [][]comparison{cs} }

// TestRatioGoalOverRounds judges the ratio on the median of the rounds, so
// that one run caught on a slow minute of the machine decides nothing; a
// failed call in any round, or a round without the figure, still does.
func TestRatioGoalOverRounds(t *testing.T) {
	t.Parallel()
	us := time.Microsecond
	kam := steps([]int{1000}, []time.Duration{800 * us}, []int{0})
	round := func(perCall time.Duration, failed int) []comparison {
		return compare(steps([]int{1000}, []time.Duration{perCall}, []int{failed}), kam)
	}
	for _, c := range []struct {
		name   string
		rounds [][]comparison
		want   goalState
		median float64
	}{
		{"median under, one round over", [][]comparison{round(720*us, 0), round(960*us, 0), round(760*us, 0)}, goalMet, 0.95},
		{"median over, one round under", [][]comparison{round(880*us, 0), round(720*us, 0), round(840*us, 0)}, goalNotMet, 1.05},
		{"even count: the middle two's mean", [][]comparison{round(720*us, 0), round(880*us, 0)}, goalMet, 1.0},
		{"a failed call in one round", [][]comparison{round(720*us, 0), round(720*us, 1), round(720*us, 0)}, goalNotMet, 0.9},
	} {
		if g := ratioGoal(c.rounds); g != c.want {
			t.Errorf("%s: %v, want %v", c.name, g, c.want)
		}
		if ratios, measured, _ := ratiosAt(c.rounds, goalRatioRate); !measured || math.Abs(median(ratios)-c.median) > 1e-9 {
			t.Errorf("%s: median of %v = %v, want %v", c.name, ratios, median(ratios), c.median)
		}
	}
	missing := [][]comparison{round(720*us, 0), compare(steps([]int{500}, []time.Duration{us}, []int{0}), kam)}
	if g := ratioGoal(missing); g != goalNotMeasured {
		t.Errorf("a round without the rate: %v, want not measured", g)
	}
}

func TestCallRateGoal(t *testing.T) {
	t.Parallel()
	held := func(rates ...int) *rateResult {
		res := &rateResult{}
		for _, r := range rates {
			res.steps = append(res.steps, rateStep{rate: r, calls: 1000, successful: 1000, achieved: float64(r)})
			res.best = r
		}
		return res
	}
	stopped := func(res *rateResult, rate int) *rateResult {
		res.steps = append(res.steps, rateStep{rate: rate, calls: 1000, successful: 500, achieved: float64(rate)})
		return res
	}
	for _, c := range []struct {
		name     string
		res      *rateResult
		stepTime time.Duration
		want     goalState
	}{
		{"4000 held for 30s", held(3000, 4000), 30 * time.Second, goalMet},
		{"4000 held in 5s steps", held(3000, 4000), 5 * time.Second, goalNotMeasured},
		{"stopped at 3500", stopped(held(3000), 3500), 30 * time.Second, goalNotMet},
		{"stopped at 4000", stopped(held(3000), 4000), 30 * time.Second, goalNotMet},
		{"stopped at 3500 in short steps", stopped(held(3000), 3500), 5 * time.Second, goalNotMet},
		{"every step held, all below 4000", held(200, 400), 30 * time.Second, goalNotMeasured},
		{"stopped above 4000 without holding it", stopped(held(3000), 4500), 30 * time.Second, goalNotMeasured},
		{"no run", nil, 30 * time.Second, goalNotMeasured},
	} {
		if got := callRateGoal(c.res, c.stepTime, goalCallRate); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestConcurrentGoal(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		res  concurrentResult
		want goalState
	}{
		{concurrentResult{target: 100_000, allUp: true, heldRSS: 500 << 20}, goalMet},
		{concurrentResult{target: 100_000, allUp: true, heldRSS: 700 << 20}, goalNotMet},
		{concurrentResult{target: 100_000, allUp: false, heldRSS: 500 << 20}, goalNotMet},
		{concurrentResult{target: 20_000, allUp: true, heldRSS: 100 << 20}, goalNotMeasured},
	} {
		if got := concurrentGoal(&c.res); got != c.want {
			t.Errorf("%+v: %v, want %v", c.res, got, c.want)
		}
	}
}

func TestKamailioShmMB(t *testing.T) {
	t.Parallel()
	if got := kamailioShmMB(200, time.Second); got != 256 {
		t.Fatalf("small rate: %d MB, want the 256 MB floor", got)
	}
	// 4,000 calls/s held 1 s: 44,000 calls in flight at 16 kB.
	if got := kamailioShmMB(4000, time.Second); got != 688 {
		t.Fatalf("4000 calls/s: %d MB, want 688", got)
	}
}
