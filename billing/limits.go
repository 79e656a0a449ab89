package billing

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Config sets the limits; a zero limit means none.
type Config struct {
	AccountCalls   int            // parallel calls per account (User-Name)
	AccountLimits  map[string]int // per-account overrides
	GatewayCalls   int            // parallel calls per gateway
	GatewayLimits  map[string]int // per-gateway overrides
	CallsPerSecond float64        // per source, token bucket
	Burst          int            // bucket size; default max(1, CallsPerSecond)
	MaxCredit      time.Duration  // configured maximum call length; 0 none
	Statuses       map[Kind]Status
}

const shards = 64

// Limits enforces Config. Safe for concurrent use; each key's state lives
// in one of 64 shards with its own lock.
type Limits struct {
	cfg      Config
	seed     maphash.Seed
	accounts [shards]counterShard
	gateways [shards]counterShard
	sources  [shards]bucketShard
	keys     Keyed // profile limit keys, each call with its own limit
	refused  [numKinds]atomic.Uint64
}

type counterShard struct {
	mu sync.Mutex
	n  map[string]int
}

type bucket struct {
	tokens float64
	last   time.Time
}

type bucketShard struct {
	mu sync.Mutex
	b  map[string]*bucket
}

// NewLimits makes the limiter.
func NewLimits(cfg Config) *Limits {
	st := DefaultStatuses()
	for k, v := range cfg.Statuses {
		st[k] = v
	}
	cfg.Statuses = st
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(cfg.CallsPerSecond))
	}
	l := &Limits{cfg: cfg, seed: maphash.MakeSeed()}
	for i := range shards {
		l.accounts[i].n = map[string]int{}
		l.gateways[i].n = map[string]int{}
		l.sources[i].b = map[string]*bucket{}
	}
	return l
}

func (l *Limits) shard(key string) int {
	return int(maphash.String(l.seed, key) % shards)
}

func (l *Limits) refuse(k Kind, key string) *Refusal {
	l.refused[k].Add(1)
	return &Refusal{Kind: k, Key: key, Status: l.cfg.Statuses[k]}
}

func limitFor(key string, def int, over map[string]int) int {
	if n, ok := over[key]; ok {
		return n
	}
	return def
}

func (l *Limits) acquire(sh *[shards]counterShard, k Kind, key string, limit int) error {
	s := &sh[l.shard(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit > 0 && s.n[key] >= limit {
		return l.refuse(k, key)
	}
	s.n[key]++
	return nil
}

func (l *Limits) release(sh *[shards]counterShard, key string) {
	s := &sh[l.shard(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.n[key]; n > 1 {
		s.n[key] = n - 1
	} else {
		delete(s.n, key) // idle keys take no memory
	}
}

// AcquireAccount counts a new call of account, or refuses it. Every
// successful acquire needs one ReleaseAccount when the call ends.
func (l *Limits) AcquireAccount(account string) error {
	return l.acquire(&l.accounts, AccountCalls, account, limitFor(account, l.cfg.AccountCalls, l.cfg.AccountLimits))
}

// ReleaseAccount ends a call counted by AcquireAccount.
func (l *Limits) ReleaseAccount(account string) { l.release(&l.accounts, account) }

// AcquireGateway counts a new attempt toward gateway, or refuses it.
func (l *Limits) AcquireGateway(gateway string) error {
	return l.acquire(&l.gateways, GatewayCalls, gateway, limitFor(gateway, l.cfg.GatewayCalls, l.cfg.GatewayLimits))
}

// ReleaseGateway ends an attempt counted by AcquireGateway.
func (l *Limits) ReleaseGateway(gateway string) { l.release(&l.gateways, gateway) }

// AcquireKey counts a new call under a call profile's limit key, or
// refuses it when limit calls are up (a limit below 1 refuses every call).
// Every successful acquire needs one ReleaseKey when the call ends.
func (l *Limits) AcquireKey(key string, limit int) error {
	if !l.keys.Acquire(key, limit) {
		return l.refuse(ProfileCalls, key)
	}
	return nil
}

// ReleaseKey ends a call counted by AcquireKey.
func (l *Limits) ReleaseKey(key string) { l.keys.Release(key) }

// ActiveAccount is the number of calls account has now.
func (l *Limits) ActiveAccount(account string) int {
	s := &l.accounts[l.shard(account)]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[account]
}

// AllowCall takes one token from source's bucket at time now, or refuses
// the call when the source exceeds CallsPerSecond.
func (l *Limits) AllowCall(source string, now time.Time) error {
	if l.cfg.CallsPerSecond <= 0 {
		return nil
	}
	s := &l.sources[l.shard(source)]
	s.mu.Lock()
	defer s.mu.Unlock()
	burst := float64(l.cfg.Burst)
	b := s.b[source]
	if b == nil {
		if len(s.b) >= 4096 {
			l.sweep(s, now)
		}
		b = &bucket{tokens: burst, last: now}
		s.b[source] = b
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(burst, b.tokens+dt*l.cfg.CallsPerSecond)
		b.last = now
	}
	if b.tokens < 1 {
		return l.refuse(CallRate, source)
	}
	b.tokens--
	return nil
}

// sweep forgets sources whose bucket has refilled: they are as good as new,
// which bounds memory under a flood of distinct sources.
func (l *Limits) sweep(s *bucketShard, now time.Time) {
	full := time.Duration(float64(l.cfg.Burst) / l.cfg.CallsPerSecond * float64(time.Second))
	for k, b := range s.b {
		if now.Sub(b.last) >= full {
			delete(s.b, k)
		}
	}
}

// Refused returns how many calls each kind of limit has refused.
func (l *Limits) Refused() map[Kind]uint64 {
	out := make(map[Kind]uint64, numKinds)
	for k := range numKinds {
		out[k] = l.refused[k].Load()
	}
	return out
}
