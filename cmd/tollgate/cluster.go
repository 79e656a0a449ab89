package main

import (
	"context"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/billing"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/b2bua"
)

// newRedis is a client of cluster.redis. No retries: a new call waits for
// one try within the timeout, then is decided by when_down. Pool timeouts
// as short, so a call never queues behind a dead connection.
func newRedis(c config.Cluster) *redis.Client {
	r := c.Redis
	if len(r.Sentinels) > 0 {
		return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: r.SentinelMaster, SentinelAddrs: r.Sentinels,
			Password: r.Password, DB: r.DB, MaxRetries: -1, DialTimeout: c.Heartbeat, PoolTimeout: r.Timeout})
	}
	return redis.NewClient(&redis.Options{Addr: r.Address, Password: r.Password, DB: r.DB,
		MaxRetries: -1, DialTimeout: c.Heartbeat, PoolTimeout: r.Timeout})
}

// limiter is the switch's Limiter: billing.Limits on one node, or, with
// cluster.redis, billing.SharedLimits holding the limits cluster-wide. The
// returned function stops the heartbeat (taking this node's counts out of
// Redis) and closes the client; call it after the switch has shut down.
func limiter(ctx context.Context, cfg *config.Config, log *slog.Logger) (b2bua.Limiter, func()) {
	limits := b2bua.LimitsConfig(cfg)
	c := cfg.Cluster
	if !c.Shared() {
		return billing.NewLimits(limits), func() {}
	}
	r := c.Redis
	rdb := newRedis(c)
	down := billing.FailOpen
	if r.WhenDown == config.RedisDownClosed {
		down = billing.FailClosed
	}
	s := billing.NewShared(billing.SharedConfig{Limits: limits, Redis: rdb, Node: c.Node, Timeout: r.Timeout,
		Heartbeat: c.Heartbeat, DeadAfter: c.DeadAfter, RedisDown: down, Logger: log.With("component", "cluster-limits")})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); s.Run(runCtx) }()
	log.Info("limits held cluster-wide in Redis", "redis", r.Address, "sentinels", r.Sentinels, "when_down", r.WhenDown)
	return s, func() {
		stop()
		<-done
		rdb.Close()
	}
}
