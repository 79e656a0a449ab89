package billing

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisDown is what SharedLimits does with a new call while Redis does
// not answer in time.
type RedisDown int

const (
	// FailOpen: each node applies limit ÷ live nodes (rounded up) to its
	// own calls, the live nodes as last seen in Redis. Calls keep flowing;
	// a cluster may briefly exceed a limit by up to one call per node.
	FailOpen RedisDown = iota
	// FailClosed: calls subject to a limit are refused with 503.
	FailClosed
)

// SharedConfig configures SharedLimits.
type SharedConfig struct {
	Limits Config
	Redis  *redis.Client
	Node   string
	// Timeout bounds each Redis call on a call's path: beyond it the call
	// is decided as RedisDown says, never delayed further.
	Timeout time.Duration
	// Heartbeat is how often the node rewrites its counts in Redis and
	// says it is alive; DeadAfter how long after its last heartbeat a node's
	// counts stop counting.
	Heartbeat, DeadAfter time.Duration
	RedisDown            RedisDown
	Logger               *slog.Logger
}

// Redis keys. All under one prefix so an operator can tell them apart.
const (
	keyNodes  = "tollgate:nodes"  // sorted set: node -> last heartbeat (Unix ms)
	keyCounts = "tollgate:calls:" // + node: hash "a:account"/"g:gateway"/"p:profile key" -> calls
	keyRate   = "tollgate:rate:"  // + source: token bucket hash
)

// acquireScript counts one more call for field on this node (KEYS[1]) unless
// the nodes alive (heartbeat after ARGV[3]) already hold ARGV[2] or more.
// Reading the other nodes' hashes from inside the script makes check and
// increment one atomic step across the cluster. A dead node's hash expires
// with its heartbeat; its entry in the set is ignored by score.
var acquireScript = redis.NewScript(`
local total = 0
for _, n in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[3], '+inf')) do
	total = total + (tonumber(redis.call('HGET', 'tollgate:calls:' .. n, ARGV[1])) or 0)
end
if total >= tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`)

// rateScript takes one token from the bucket KEYS[1] (ARGV: rate per second,
// burst, now in Unix ms), refilled since its last use.
var rateScript = redis.NewScript(`
local b = redis.call('HMGET', KEYS[1], 't', 'l')
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t, l = tonumber(b[1]) or burst, tonumber(b[2]) or now
if now > l then t = math.min(burst, t + (now - l) / 1000 * rate); l = now end
local ok = 0
if t >= 1 then t = t - 1; ok = 1 end
redis.call('HSET', KEYS[1], 't', t, 'l', l)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return ok
`)

// SharedLimits holds Limits' parallel-call limits (per account, per
// gateway, per call profile's limit key) and calls-per-second limit (per
// source) cluster-wide in Redis.
// Each node's own counts live in this process (mine) and are the truth for
// its calls: Redis holds a copy, one hash per node, that the node rewrites
// whole at every heartbeat. So a lost increment or decrement (Redis slow,
// restarted, failed over) is repaired within one heartbeat, a release is
// never retried or doubled, and a dead node's counts expire with its hash.
// Credit decisions are local, as in Limits.
type SharedLimits struct {
	cfg   SharedConfig
	local *Limits // credit, and the per-node buckets of fail-open
	log   *slog.Logger
	key   string // this node's hash

	mine Keyed // this node's calls per field, the truth
	// rewrite keeps the heartbeat's rewrite of this node's hash apart from
	// changes in flight: acquisitions (count here, then in Redis) and
	// releases (count here, then queue the decrement) hold it shared, the
	// rewrite exclusively, so the rewrite never writes a count that a change
	// in flight then moves once more. It is held exclusively for one Redis
	// round trip of at most Timeout per heartbeat.
	rewrite sync.RWMutex
	nodes   atomic.Int64                // live nodes as last seen, for fail-open
	open    atomic.Pointer[Limits]      // fail-open's calls-per-second buckets at rate ÷ nodes
	refused [numKinds]atomic.Uint64     // beyond local's NoCredit
	release chan string                 // fields whose decrement is still to be sent
	state   atomic.Pointer[redisHealth] // for logging a change once
}

type redisHealth struct{ err error }

// NewShared makes the limiter; Run keeps its heartbeat.
func NewShared(cfg SharedConfig) *SharedLimits {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &SharedLimits{cfg: cfg, local: NewLimits(cfg.Limits), log: cfg.Logger, key: keyCounts + cfg.Node,
		release: make(chan string, 4096)}
	s.cfg.Limits = s.local.cfg // statuses and burst defaulted
	s.nodes.Store(1)
	s.open.Store(NewLimits(s.local.cfg))
	s.state.Store(&redisHealth{})
	return s
}

// Run sends the heartbeat and the releases until ctx ends, then takes this
// node's counts out of Redis: a node that stops cleanly holds no calls.
func (s *SharedLimits) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Heartbeat)
	defer t.Stop()
	s.beat(ctx)
	for {
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = s.cfg.Redis.ZRem(cctx, keyNodes, s.cfg.Node).Err()
			_ = s.cfg.Redis.Del(cctx, s.key).Err()
			cancel()
			return
		case f := <-s.release:
			s.sendRelease(ctx, f)
		case <-t.C:
			s.beat(ctx)
		}
	}
}

// beat rewrites this node's counts whole, renews their lifetime, says the
// node is alive, and reads how many nodes are. Decrements still queued are
// dropped: the rewrite carries them.
func (s *SharedLimits) beat(ctx context.Context) {
	s.rewrite.Lock()
	defer s.rewrite.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	for drained := false; !drained; {
		select {
		case <-s.release:
		default:
			drained = true
		}
	}
	now := time.Now()
	counts := map[string]any{}
	s.mine.Each(func(field string, n int) { counts[field] = n })
	var live *redis.IntCmd
	_, err := s.cfg.Redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.key)
		if len(counts) > 0 {
			p.HSet(ctx, s.key, counts)
			p.PExpire(ctx, s.key, s.cfg.DeadAfter)
		}
		p.ZAdd(ctx, keyNodes, redis.Z{Score: float64(now.UnixMilli()), Member: s.cfg.Node})
		p.ZRemRangeByScore(ctx, keyNodes, "-inf", strconv.FormatInt(now.Add(-10*s.cfg.DeadAfter).UnixMilli(), 10))
		live = p.ZCount(ctx, keyNodes, s.aliveSince(now), "+inf")
		return nil
	})
	s.health(err)
	if err != nil {
		return
	}
	if n := max(1, live.Val()); n != s.nodes.Swap(n) {
		s.open.Store(NewLimits(divided(s.local.cfg, int(n))))
	}
}

// health logs Redis becoming unreachable and reachable again, once each.
func (s *SharedLimits) health(err error) {
	was := s.state.Load()
	if (was.err == nil) == (err == nil) {
		return
	}
	if !s.state.CompareAndSwap(was, &redisHealth{err: err}) {
		return
	}
	if err != nil {
		mode := "open: limit ÷ nodes per node"
		if s.cfg.RedisDown == FailClosed {
			mode = "closed: limited calls refused"
		}
		s.log.Error("redis unreachable: shared limits fail "+mode, "error", err, "nodes", s.nodes.Load())
		return
	}
	s.log.Info("redis answering again: shared limits held cluster-wide")
}

// LiveNodes names the nodes whose last heartbeat is more recent than
// deadAfter: the cluster as the limits see it.
func LiveNodes(ctx context.Context, rdb redis.UniversalClient, deadAfter time.Duration) ([]string, error) {
	since := strconv.FormatInt(time.Now().Add(-deadAfter).UnixMilli(), 10)
	return rdb.ZRangeByScore(ctx, keyNodes, &redis.ZRangeBy{Min: since, Max: "+inf"}).Result()
}

func (s *SharedLimits) aliveSince(now time.Time) string {
	return strconv.FormatInt(now.Add(-s.cfg.DeadAfter).UnixMilli(), 10)
}

// divided is cfg with every limit shared out over n nodes, rounded up.
func divided(cfg Config, n int) Config {
	div := func(v int) int {
		if v <= 0 {
			return v
		}
		return (v + n - 1) / n
	}
	out := cfg
	out.AccountCalls, out.GatewayCalls = div(cfg.AccountCalls), div(cfg.GatewayCalls)
	out.AccountLimits, out.GatewayLimits = map[string]int{}, map[string]int{}
	for k, v := range cfg.AccountLimits {
		out.AccountLimits[k] = div(v)
	}
	for k, v := range cfg.GatewayLimits {
		out.GatewayLimits[k] = div(v)
	}
	out.CallsPerSecond = cfg.CallsPerSecond / float64(n)
	out.Burst = max(1, div(cfg.Burst))
	return out
}

func (s *SharedLimits) acquire(k Kind, field string, limit, localLimit int) error {
	if limit <= 0 {
		return nil // unlimited: not counted anywhere
	}
	s.rewrite.RLock()
	defer s.rewrite.RUnlock()
	s.mine.Acquire(field, math.MaxInt)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	now := time.Now()
	ok, err := acquireScript.Run(ctx, s.cfg.Redis, []string{s.key, keyNodes},
		field, limit, s.aliveSince(now), s.cfg.DeadAfter.Milliseconds()).Int()
	s.health(err)
	switch {
	case err == nil && ok == 1:
		return nil
	case err == nil:
		s.mine.Release(field)
		return s.refuse(k, field)
	case s.cfg.RedisDown == FailClosed:
		s.mine.Release(field)
		return s.unavailable(k, field)
	case s.mine.Count(field) > localLimit:
		s.mine.Release(field)
		return s.refuse(k, field)
	}
	return nil
}

func (s *SharedLimits) refuse(k Kind, field string) *Refusal {
	s.refused[k].Add(1)
	return &Refusal{Kind: k, Key: field[2:], Status: s.cfg.Limits.Statuses[k]}
}

// unavailable is fail-closed's refusal: 503, the limit could not be checked.
func (s *SharedLimits) unavailable(k Kind, field string) *Refusal {
	s.refused[k].Add(1)
	return &Refusal{Kind: k, Key: field[2:], Cause: Unchecked, Status: Status{Code: 503, Reason: "Limits Unavailable"}}
}

func (s *SharedLimits) releaseField(field string, limit int) {
	if limit <= 0 {
		return
	}
	s.rewrite.RLock()
	defer s.rewrite.RUnlock()
	s.mine.Release(field)
	select {
	case s.release <- field:
	default:
		// The heartbeat's rewrite repairs the count within one beat.
	}
}

// sendRelease takes one call off field's count in Redis; the count is
// dropped when it reaches 0. A failure is repaired by the next heartbeat.
func (s *SharedLimits) sendRelease(ctx context.Context, field string) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Heartbeat)
	defer cancel()
	n, err := s.cfg.Redis.HIncrBy(ctx, s.key, field, -1).Result()
	if err == nil && n <= 0 {
		err = s.cfg.Redis.HDel(ctx, s.key, field).Err()
	}
	s.health(err)
}

// AcquireAccount counts a new call of account cluster-wide, or refuses it.
func (s *SharedLimits) AcquireAccount(account string) error {
	c := s.cfg.Limits
	return s.acquire(AccountCalls, "a:"+account, limitFor(account, c.AccountCalls, c.AccountLimits),
		limitFor(account, s.open.Load().cfg.AccountCalls, s.open.Load().cfg.AccountLimits))
}

// ReleaseAccount ends a call counted by AcquireAccount.
func (s *SharedLimits) ReleaseAccount(account string) {
	c := s.cfg.Limits
	s.releaseField("a:"+account, limitFor(account, c.AccountCalls, c.AccountLimits))
}

// AcquireGateway counts a new attempt toward gateway cluster-wide, or
// refuses it.
func (s *SharedLimits) AcquireGateway(gateway string) error {
	c := s.cfg.Limits
	return s.acquire(GatewayCalls, "g:"+gateway, limitFor(gateway, c.GatewayCalls, c.GatewayLimits),
		limitFor(gateway, s.open.Load().cfg.GatewayCalls, s.open.Load().cfg.GatewayLimits))
}

// ReleaseGateway ends an attempt counted by AcquireGateway.
func (s *SharedLimits) ReleaseGateway(gateway string) {
	c := s.cfg.Limits
	s.releaseField("g:"+gateway, limitFor(gateway, c.GatewayCalls, c.GatewayLimits))
}

// AcquireKey counts a new call under a call profile's limit key
// cluster-wide, or refuses it: over the limit (a limit below 1 refuses
// every call), or, failing closed, when Redis cannot say. Failing open,
// each node holds limit ÷ live nodes, rounded up, as for accounts.
func (s *SharedLimits) AcquireKey(key string, limit int) error {
	if limit < 1 {
		return s.refuse(ProfileCalls, "p:"+key)
	}
	nodes := int(s.nodes.Load())
	return s.acquire(ProfileCalls, "p:"+key, limit, (limit+nodes-1)/nodes)
}

// ReleaseKey ends a call counted by AcquireKey.
func (s *SharedLimits) ReleaseKey(key string) { s.releaseField("p:"+key, 1) }

// AllowCall takes a token from source's cluster-wide bucket, or refuses the
// call when the cluster's calls from source exceed CallsPerSecond.
func (s *SharedLimits) AllowCall(source string, now time.Time) error {
	c := s.cfg.Limits
	if c.CallsPerSecond <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	ok, err := rateScript.Run(ctx, s.cfg.Redis, []string{keyRate + source},
		c.CallsPerSecond, c.Burst, now.UnixMilli()).Int()
	s.health(err)
	switch {
	case err == nil && ok == 1:
		return nil
	case err == nil:
		return s.refuse(CallRate, "s:"+source)
	case s.cfg.RedisDown == FailClosed:
		return s.unavailable(CallRate, "s:"+source)
	}
	var r *Refusal
	if err := s.open.Load().AllowCall(source, now); errors.As(err, &r) {
		return s.refuse(CallRate, "s:"+source)
	}
	return nil
}

// GrantCredit decides credit as Limits does: it needs nothing shared.
func (s *SharedLimits) GrantCredit(radius, route Credit) (Credit, error) {
	return s.local.GrantCredit(radius, route)
}

// Refused counts the calls each kind of limit refused on this node.
func (s *SharedLimits) Refused() map[Kind]uint64 {
	out := s.local.Refused()
	for k := range numKinds {
		out[k] += s.refused[k].Load()
	}
	return out
}
