package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// profileStep writes to path a CPU profile of the switch serving its
// profiles on pprofAddr, taken over the middle half of a step of stepTime
// that starts now: the first quarter is the UAC's ramp and the switch's
// warm-up, the last the step's tail. It profiles the switch as it runs in
// production, CDR files and journal included, which is what a profile of
// where a call's CPU goes needs (and what profile-guided optimisation
// would: built with one, the switch measured no better, docs/benchmarks.md).
// It returns when the profile is written or ctx ends.
func profileStep(ctx context.Context, pprofAddr, path string, stepTime time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(stepTime / 4):
	}
	seconds := max(int((stepTime / 2).Seconds()), 1)
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, seconds)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("cpu profile: %s: %s", res.Status, msg)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return fmt.Errorf("cpu profile %s: %w", path, err)
	}
	return f.Close()
}
