package main

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/goccy/go-json"
	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/b2bua"
)

// Redis keys of the connected-calls journal shared by a cluster.
const (
	keyNodes    = "tollgate:nodes"     // billing.SharedLimits' heartbeats
	keyJournal  = "tollgate:journal:"  // + node: hash call ID -> cdr.Orphan JSON
	keyTakeover = "tollgate:takeover:" // + node:last-heartbeat-ms: who writes its calls
	keyTaken    = "tollgate:taken:"    // + node: set of the call IDs a survivor wrote
)

// takenFor is how long the IDs of calls a survivor wrote are kept for the
// dead node's restart to skip: longer than any outage before a restart.
const takenFor = 7 * 24 * time.Hour

// sharedJournal mirrors the node's connected calls into Redis, where the
// survivors of its death find them, and takes over the calls of dead
// nodes. The mirror is written in the background, never on a call's path;
// a call whose mirror write was lost is written by its own node when it
// restarts, from its local journal.
type sharedJournal struct {
	*cdrPipe
	rdb       *redis.Client
	node      string
	heartbeat time.Duration
	deadAfter time.Duration
	acct      *aaa.Accountant
	log       *slog.Logger
	ops       chan journalOp
	// reachable is since when Redis has answered every look for dead nodes.
	// A node is judged dead only after dead_after of that: once Redis is
	// back from an outage, every node's heartbeat there is stale until its
	// next beat, and none of them is dead.
	reachable time.Time
}

type journalOp struct {
	id    string
	entry []byte // nil: the call ended
}

// Connected notes the call in the local journal, then in Redis.
func (j *sharedJournal) Connected(rec *cdr.Record, accounting json.RawMessage) error {
	if err := j.cdrPipe.Connected(rec, accounting); err != nil {
		return err
	}
	b, err := json.Marshal(&cdr.Orphan{Record: *rec, Accounting: accounting})
	if err == nil {
		j.send(journalOp{id: rec.ID, entry: b})
	}
	return nil
}

// Write makes the record durable, then takes the call out of Redis.
func (j *sharedJournal) Write(ctx context.Context, rec *cdr.Record) error {
	if err := j.cdrPipe.Write(ctx, rec); err != nil {
		return err
	}
	if !rec.ConnectTime.IsZero() {
		j.send(journalOp{id: rec.ID})
	}
	return nil
}

func (j *sharedJournal) send(op journalOp) {
	select {
	case j.ops <- op:
	default:
		j.log.Warn("cluster journal queue full: call not mirrored in Redis", "id", op.id)
	}
}

// run writes the mirror and, every heartbeat, looks for dead nodes.
func (j *sharedJournal) run(ctx context.Context) {
	t := time.NewTicker(j.heartbeat)
	defer t.Stop()
	key := keyJournal + j.node
	for {
		select {
		case <-ctx.Done():
			return
		case op := <-j.ops:
			wctx, cancel := context.WithTimeout(ctx, j.heartbeat)
			var err error
			if op.entry != nil {
				err = j.rdb.HSet(wctx, key, op.id, op.entry).Err()
			} else {
				err = j.rdb.HDel(wctx, key, op.id).Err()
			}
			cancel()
			if err != nil {
				j.log.Debug("cluster journal: redis write failed", "id", op.id, "error", err)
			}
		case <-t.C:
			j.takeOver(ctx)
		}
	}
}

// takeOver writes the calls of every node whose heartbeat stopped more
// than dead_after ago: exactly one survivor wins each death (SET NX on the
// node and its last heartbeat) and writes one CDR and the RADIUS Stops of
// each call, then forgets the node.
func (j *sharedJournal) takeOver(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, j.heartbeat)
	defer cancel()
	now := time.Now()
	dead, err := j.rdb.ZRangeByScoreWithScores(cctx, keyNodes, &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.Add(-j.deadAfter).UnixMilli(), 10)}).Result()
	if err != nil {
		j.reachable = time.Time{}
		return
	}
	if j.reachable.IsZero() {
		j.reachable = now
	}
	if now.Sub(j.reachable) < j.deadAfter {
		return
	}
	for _, z := range dead {
		node := z.Member.(string)
		if node == j.node {
			continue
		}
		last := int64(z.Score)
		won, err := j.rdb.SetNX(cctx, keyTakeover+node+":"+strconv.FormatInt(last, 10), j.node, 24*time.Hour).Result()
		if err != nil || !won {
			continue
		}
		j.writeLost(ctx, node, time.UnixMilli(last))
		j.rdb.ZRem(cctx, keyNodes, node)
	}
}

// writeLost writes the calls node had connected, ending at lastAlive.
func (j *sharedJournal) writeLost(ctx context.Context, node string, lastAlive time.Time) {
	cctx, cancel := context.WithTimeout(ctx, 10*j.heartbeat)
	defer cancel()
	calls, err := j.rdb.HGetAll(cctx, keyJournal+node).Result()
	if err != nil {
		j.log.Error("node lost: its calls could not be read from Redis", "lost_node", node, "error", err)
		return
	}
	j.log.Warn("node lost: writing the records of its connected calls", "lost_node", node, "calls", len(calls), "last_alive", lastAlive)
	for id, v := range calls {
		var o cdr.Orphan
		if err := json.Unmarshal([]byte(v), &o); err != nil {
			j.log.Error("node lost: a call's entry does not parse", "lost_node", node, "id", id, "error", err)
			continue
		}
		o.Record = cdr.NodeLost(o.Record, lastAlive)
		o.Record.Node = node
		if err := j.spool.Append(&o.Record); err != nil {
			j.log.Error("node lost: record not written", "lost_node", node, "id", id, "error", err)
			continue
		}
		j.rdb.SAdd(cctx, keyTaken+node, id)
		j.rdb.Expire(cctx, keyTaken+node, takenFor)
		if err := recoveredStops(ctx, j.acct, o); err != nil {
			j.log.Error("node lost: Stops not sent", "lost_node", node, "id", id, "error", err)
		}
		j.rdb.HDel(cctx, keyJournal+node, id)
	}
}

// claimOwnCalls runs at start, before this node's first heartbeat: when the
// node died (its last heartbeat is still in Redis) it races the survivors
// for its own calls. Won: it writes them from its local journal, as after
// any crash. Lost: a survivor writes its connected calls, which it drops
// from its recovery. When a survivor has already finished (and forgotten
// the heartbeat), the calls it wrote are skipped by ID. Calls that were
// still in setup are not in Redis and it writes them itself.
func claimOwnCalls(ctx context.Context, c config.Cluster, p *cdrPipe, log *slog.Logger) {
	rdb, node := newRedis(c), c.Node
	defer rdb.Close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	defer rdb.Del(cctx, keyJournal+node)
	taken := func(o cdr.Orphan) bool { return !o.Record.ConnectTime.IsZero() }
	score, err := rdb.ZScore(cctx, keyNodes, node).Result()
	switch {
	case errors.Is(err, redis.Nil):
		// Not in the heartbeats: a clean stop, the first start, or a
		// survivor wrote its calls and forgot it: skip those it wrote.
		ids, err := rdb.SMembers(cctx, keyTaken+node).Result()
		if err != nil || len(ids) == 0 {
			return
		}
		wrote := map[string]bool{}
		for _, id := range ids {
			wrote[id] = true
		}
		taken = func(o cdr.Orphan) bool { return wrote[o.Record.ID] }
	case err != nil:
		return // no Redis: recover as after any crash
	default:
		won, err := rdb.SetNX(cctx, keyTakeover+node+":"+strconv.FormatInt(int64(score), 10), node, 24*time.Hour).Result()
		if err != nil || won {
			return
		}
	}
	kept := p.orphans[:0]
	dropped := 0
	for _, o := range p.orphans {
		if !taken(o) {
			kept = append(kept, o)
			continue
		}
		dropped++
		if err := p.journal.Ended(o.Record.ID); err != nil {
			log.Error("journal entry of a call taken over not closed", "id", o.Record.ID, "error", err)
		}
	}
	p.orphans = kept
	log.Info("calls taken over by a surviving node: not written again here", "calls", dropped)
}

// recordsSink is where the switch hands its records and journal entries.
type recordsSink interface {
	b2bua.RecordSink
	b2bua.Journal
}

// startSharedJournal mirrors connected calls and takes over dead nodes'
// when cluster.redis is configured; otherwise the pipe is the journal as is.
func startSharedJournal(ctx context.Context, cfg *config.Config, p *cdrPipe, acct *aaa.Accountant, log *slog.Logger) (recordsSink, func()) {
	c := cfg.Cluster
	if !c.Shared() {
		return p, func() {}
	}
	rdb := newRedis(c)
	j := &sharedJournal{cdrPipe: p, rdb: rdb, node: c.Node, heartbeat: c.Heartbeat, deadAfter: c.DeadAfter,
		acct: acct, log: log.With("component", "cluster-journal"), ops: make(chan journalOp, 65536)}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); j.run(runCtx) }()
	return j, func() { stop(); <-done; rdb.Close() }
}
