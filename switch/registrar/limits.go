package registrar

import (
	"net/netip"
	"sync"
	"time"
)

// Rate bounds the REGISTERs each source address may send: a token bucket
// per address, refilled at perSec up to burst. It is asked before a
// REGISTER is read any further, so a flood costs a map lookup per message
// and never reaches the cache's lock or the upstream registrar.
type Rate struct {
	mu      sync.Mutex
	perSec  float64
	burst   float64
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewRate returns a limiter of perSec REGISTERs a second per source, burst
// at once.
func NewRate(perSec, burst float64) *Rate {
	return &Rate{perSec: perSec, burst: burst, buckets: map[netip.Addr]*bucket{}}
}

// Allow takes a token of a's bucket, and tells whether there was one.
func (r *Rate) Allow(a netip.Addr, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.buckets[a]
	if b == nil {
		b = &bucket{tokens: r.burst, at: now}
		r.buckets[a] = b
	}
	b.tokens = min(r.burst, b.tokens+now.Sub(b.at).Seconds()*r.perSec)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Sweep forgets the sources whose bucket has refilled: they are as if
// never seen, and the map does not grow with every address that ever sent.
func (r *Rate) Sweep(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for a, b := range r.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*r.perSec >= r.burst {
			delete(r.buckets, a)
		}
	}
}
