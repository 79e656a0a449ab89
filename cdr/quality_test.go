package cdr

import (
	"testing"
	"time"
)

func TestEstimateQuality(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	flow := func(rcvd, lost uint64, jitter time.Duration) RTPStats {
		return RTPStats{Packets: Known(rcvd), Lost: Known(lost), Jitter: KnownDuration(jitter)}
	}
	for _, tc := range []struct {
		name   string
		a, b   RTPStats
		rttA   time.Duration // 0: unknown
		rttB   time.Duration
		wantAB float64 // 0: unknown
		wantBA float64
	}{
		{name: "clean", a: flow(1000, 0, 0), b: flow(1000, 0, 20*ms), wantAB: 4.40, wantBA: 4.38},
		{name: "5% loss", a: flow(950, 50, 0), b: flow(1000, 0, 0), wantAB: 3.91, wantBA: 4.40},
		{name: "round trips", a: flow(1000, 0, 5*ms), b: flow(500, 500, 30*ms), rttA: 100 * ms, rttB: 300 * ms, wantAB: 4.14, wantBA: 1.09},
		{name: "no packets", a: flow(0, 0, 0), b: RTPStats{Packets: Known(10), Lost: Known(0)}, wantAB: 0, wantBA: 0},
	} {
		r := Record{RTPAtoB: tc.a, RTPBtoA: tc.b}
		if tc.rttA > 0 {
			r.RTPAtoB.RTT = KnownDuration(tc.rttA)
		}
		if tc.rttB > 0 {
			r.RTPBtoA.RTT = KnownDuration(tc.rttB)
		}
		r.EstimateQuality()
		for _, c := range []struct {
			dir  string
			got  Maybe[float64]
			want float64
		}{{"A to B", r.RTPAtoB.MOS, tc.wantAB}, {"B to A", r.RTPBtoA.MOS, tc.wantBA}} {
			if c.got.Known != (c.want != 0) || c.got.V != c.want {
				t.Errorf("%s, %s: MOS %+v, want %v", tc.name, c.dir, c.got, c.want)
			}
		}
	}
}
