package main

import (
	"context"
	"time"
)

// runCeiling is the call-rate run with nothing between the SIPp UAC and
// UAS: the same scenarios, rates, step time and hold, so it shows the rate
// at which SIPp itself, on the same cores, stops keeping up. A target's
// step that fails at or above that rate says more about SIPp than about
// the target.
func runCeiling(ctx context.Context, e *env, rates []int, stepTime, hold time.Duration) (rateResult, error) {
	return runSteps(ctx, e, e.sub("ceiling"), "uas", rates, stepTime, hold, func(uasAddr string, uasPort int) (*target, func(), error) {
		return &target{addr: uasAddr, port: uasPort}, func() {}, nil
	}, plainStep, false)
}
