package billing

import (
	"hash/maphash"
	"sync"
)

// keyedShards spreads keys over independent locks so that calls of
// different customers never wait for one another.
const keyedShards = 64

// Keyed counts things in progress per key — parallel calls per From URI,
// per source IP, per any string a profile pattern yields — each capped by
// the limit the caller passes, which may differ from call to call (as
// SEMS's cc_pcalls takes max_calls from each call's profile). Safe for
// concurrent use. Idle keys take no memory. The zero value is ready to use.
type Keyed struct {
	once   sync.Once
	seed   maphash.Seed
	shards [keyedShards]keyedShard
}

type keyedShard struct {
	mu sync.Mutex
	n  map[string]int
}

func (k *Keyed) shard(key string) *keyedShard {
	k.once.Do(func() { k.seed = maphash.MakeSeed() })
	return &k.shards[maphash.String(k.seed, key)%keyedShards]
}

// Acquire counts one more for key and returns true, unless key already
// has limit or more; a limit below 1 refuses every time. Each true needs
// exactly one Release.
func (k *Keyed) Acquire(key string, limit int) bool {
	s := k.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.n[key]
	if n >= limit {
		return false
	}
	if s.n == nil {
		s.n = make(map[string]int)
	}
	s.n[key] = n + 1
	return true
}

// Release ends one thing counted by Acquire. Releasing a key with no count
// does nothing: a double release must not hand out a slot nobody freed.
func (k *Keyed) Release(key string) {
	s := k.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch n := s.n[key]; {
	case n > 1:
		s.n[key] = n - 1
	case n == 1:
		delete(s.n, key)
	}
}

// Each calls fn with every key counted now and its count, one shard
// locked at a time: fn must not call back into k.
func (k *Keyed) Each(fn func(key string, n int)) {
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		for key, n := range s.n {
			fn(key, n)
		}
		s.mu.Unlock()
	}
}

// Count is key's count now.
func (k *Keyed) Count(key string) int {
	s := k.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[key]
}

// Keys is the number of keys with a count, for the status page and tests.
func (k *Keyed) Keys() int {
	total := 0
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		total += len(s.n)
		s.mu.Unlock()
	}
	return total
}
