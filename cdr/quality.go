package cdr

import (
	"math"
	"time"
)

// EstimateQuality fills each direction's MOS from its loss and jitter and
// the round trips the relay measured, with a simplified ITU-T G.107
// E-model, as VoIP monitors commonly do (the formula is in
// docs/install.md, "Media quality in the CDR"):
//
//	d      = (RTT a + RTT b)/2 + 2 × jitter + 10 ms   one-way delay, ms
//	Id     = 0.024 d + 0.11 (d − 177.3) when d > 177.3
//	Ppl    = 100 × lost / (received + lost)
//	Ie,eff = 95 × Ppl / (Ppl + 25.1)                  G.711 with PLC (G.113)
//	R      = 93.2 − Id − Ie,eff
//	MOS    = 1 + 0.035 R + 7·10⁻⁶ R (R − 60)(100 − R), 1 below R 0, 4.5 above 100
//
// The one-way delay takes the relay's two round trips (to each party) as
// the path, an unknown one as 0, and a jitter buffer twice the jitter. A
// direction without received packets, or whose loss or jitter is unknown,
// gets no MOS: an estimate from nothing would read as a measurement.
func (r *Record) EstimateQuality() {
	var rtt time.Duration
	for _, d := range []RTPStats{r.RTPAtoB, r.RTPBtoA} {
		if d.RTT.Known {
			rtt += d.RTT.V
		}
	}
	for _, d := range []*RTPStats{&r.RTPAtoB, &r.RTPBtoA} {
		d.MOS = Maybe[float64]{}
		if !d.Packets.Known || d.Packets.V == 0 || !d.Lost.Known || !d.Jitter.Known {
			continue
		}
		ms := func(t time.Duration) float64 { return float64(t) / float64(time.Millisecond) }
		delay := ms(rtt)/2 + 2*ms(d.Jitter.V) + 10
		id := 0.024 * delay
		if delay > 177.3 {
			id += 0.11 * (delay - 177.3)
		}
		ppl := 100 * float64(d.Lost.V) / float64(d.Packets.V+d.Lost.V)
		ie := 95 * ppl / (ppl + 25.1)
		d.MOS = Maybe[float64]{V: math.Round(mosOf(93.2-id-ie)*100) / 100, Known: true}
	}
}

// mosOf is G.107's mapping of the rating R to a MOS.
func mosOf(r float64) float64 {
	switch {
	case r < 0:
		return 1
	case r > 100:
		return 4.5
	}
	return 1 + 0.035*r + 7e-6*r*(r-60)*(100-r)
}
