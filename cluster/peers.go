// Package cluster lets the nodes of a Tollgate cluster see and act on one
// another's calls through the Redis they already share for their limits and
// heartbeats: any node's web UI and API list every node's calls and health
// and kill a call on whichever node holds it. No node needs another's
// address or a second secret: whoever may use the cluster's Redis is one of
// its nodes.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/billing"
	"github.com/tollgate/tollgate/switch/b2bua"
)

// Redis channels and keys. A question goes to every node (channelAll) or to
// one (channelAll + ":" + node) by PUBLISH; each node that heard it pushes
// its answer on the question's reply list, which the asker pops. Asked
// only when someone looks, never with the heartbeat: a node with 100,000
// calls up publishes nothing until a page asks.
const (
	channelAll  = "tollgate:ask"
	replyPrefix = "tollgate:reply:"
	// replyTTL bounds how long an answer nobody pops stays in Redis (the
	// asker gave up).
	replyTTL = 30 * time.Second
)

// Switch is what a node answers about itself (*b2bua.Switch satisfies it).
type Switch interface {
	Snapshot() []b2bua.CallInfo
	Hangup(id string) error
	Admission() b2bua.Admission
	Stats() *b2bua.Stats
}

// Node is one node's health and calls as it answered a List.
type Node struct {
	Name string `json:"node"`
	// Admission is whether it takes new calls: admitting, draining or
	// shutting down; "" when it did not answer.
	Admission string `json:"admission"`
	// Calls is how many calls it has up; CallsPerSecond how many it
	// started per second over the last ten seconds: its load.
	Calls          int     `json:"calls"`
	CallsPerSecond float64 `json:"calls_per_second"`
	// Listed are its calls matching the question, newest first, at most
	// the question's limit.
	Listed []b2bua.CallInfo `json:"listed"`
	// Error says why a node seen alive by its heartbeat did not answer.
	Error string `json:"error,omitempty"`
}

// ErrNoNode is Kill's answer when no node of that name is listening.
var ErrNoNode = errors.New("cluster: no such node answering")

// question is what one node asks the others.
type question struct {
	Op    string `json:"op"` // opList or opKill
	Q     string `json:"q,omitempty"`
	Limit int    `json:"limit,omitempty"`
	ID    string `json:"id,omitempty"` // the call to kill
	Reply string `json:"reply"`        // the list to push the answer on
}

const (
	opList = "list"
	opKill = "kill"
)

// killAnswer is a node's answer to a kill.
type killAnswer struct {
	Node   string `json:"node"`
	Result string `json:"result"` // killed, no such call, or why it failed
}

const (
	killed     = "killed"
	noSuchCall = "no such call"
)

// Options configure Peers.
type Options struct {
	Redis redis.UniversalClient
	Node  string
	// DeadAfter is how long after its last heartbeat a node counts as gone
	// (cluster.dead_after): the nodes a List expects answers from.
	DeadAfter time.Duration
	// Timeout bounds how long a List or a Kill waits for answers; default 2s.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Peers is this node's side of the cluster view: it answers the other
// nodes' questions (Run) and asks them (List, Kill).
type Peers struct {
	opt Options
	sw  Switch
	log *slog.Logger

	mu      sync.Mutex
	started [11]uint64 // calls started, sampled each second, oldest first
}

// New returns the node's Peers; start it with Run.
func New(sw Switch, opt Options) *Peers {
	if opt.Timeout <= 0 {
		opt.Timeout = 2 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Peers{opt: opt, sw: sw, log: opt.Logger.With("component", "cluster-view")}
}

// Node is this node's name.
func (p *Peers) Node() string { return p.opt.Node }

// Run answers the other nodes' questions until ctx ends; a lost Redis
// connection is re-established by the client, which subscribes again.
func (p *Peers) Run(ctx context.Context) {
	sub := p.opt.Redis.Subscribe(ctx, channelAll, channelAll+":"+p.opt.Node)
	defer sub.Close()
	msgs := sub.Channel()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			p.sample()
		case m, ok := <-msgs:
			if !ok {
				return
			}
			go p.answer(ctx, m.Payload)
		}
	}
}

func (p *Peers) sample() {
	n := p.sw.Stats().CallsStarted.Load()
	p.mu.Lock()
	defer p.mu.Unlock()
	copy(p.started[:], p.started[1:])
	p.started[len(p.started)-1] = n
}

func (p *Peers) callsPerSecond() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	first, last := p.started[0], p.started[len(p.started)-1]
	if first == 0 || last < first {
		return 0 // fewer than ten seconds sampled
	}
	return float64(last-first) / float64(len(p.started)-1)
}

// answer handles one question. A question that does not parse, or whose
// reply list is not one of ours, is dropped: only nodes write to these
// channels, and a bad one must not make this node write anywhere else.
func (p *Peers) answer(ctx context.Context, payload string) {
	var q question
	if err := json.Unmarshal([]byte(payload), &q); err != nil || !strings.HasPrefix(q.Reply, replyPrefix) {
		p.log.Warn("cluster question dropped: not understood", "error", err)
		return
	}
	var ans any
	switch q.Op {
	case opList:
		ans = p.list(q.Q, q.Limit)
	case opKill:
		ans = p.kill(q.ID)
	default:
		p.log.Warn("cluster question dropped: unknown operation", "op", q.Op)
		return
	}
	b, err := json.Marshal(ans)
	if err != nil {
		p.log.Error("cluster answer not encoded", "error", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, p.opt.Timeout)
	defer cancel()
	_, err = p.opt.Redis.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		pl.RPush(ctx, q.Reply, b)
		pl.PExpire(ctx, q.Reply, replyTTL)
		return nil
	})
	if err != nil {
		p.log.Warn("cluster answer not sent", "op", q.Op, "error", err)
	}
}

func (p *Peers) list(q string, limit int) Node {
	calls := p.sw.Snapshot()
	n := Node{Name: p.opt.Node, Admission: p.sw.Admission().String(), Calls: len(calls),
		CallsPerSecond: p.callsPerSecond(), Listed: []b2bua.CallInfo{}}
	q = strings.ToLower(strings.TrimSpace(q))
	slices.SortFunc(calls, func(a, b b2bua.CallInfo) int { return b.Setup.Compare(a.Setup) })
	for _, c := range calls {
		if len(n.Listed) >= limit {
			break
		}
		if q == "" || Matches(c, q) {
			n.Listed = append(n.Listed, c)
		}
	}
	return n
}

// Matches says whether any of c's caller, called number, account, source,
// route, gateway, media relay, codec or ID contains q (lower case): the
// calls page's filter, the same on every node.
func Matches(c b2bua.CallInfo, q string) bool {
	for _, f := range []string{c.ID, c.Caller, c.Called, c.Account, c.Source, c.Route, c.Gateway, c.MediaRelay, c.Codec} {
		if strings.Contains(strings.ToLower(f), q) {
			return true
		}
	}
	return false
}

func (p *Peers) kill(id string) killAnswer {
	a := killAnswer{Node: p.opt.Node, Result: killed}
	switch err := p.sw.Hangup(id); {
	case errors.Is(err, b2bua.ErrNoSuchCall):
		a.Result = noSuchCall
	case err != nil:
		a.Result = err.Error()
	default:
		p.log.Info("call killed at another node's request", "id", id)
	}
	return a
}

// ask publishes q on channel and returns the answers of the nodes that
// heard it, as they came, waiting at most the timeout for them.
func (p *Peers) ask(ctx context.Context, channel string, q question) ([]string, error) {
	var rnd [16]byte
	rand.Read(rnd[:])
	q.Reply = replyPrefix + hex.EncodeToString(rnd[:])
	b, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.opt.Timeout)
	defer cancel()
	heard, err := p.opt.Redis.Publish(ctx, channel, b).Result()
	if err != nil {
		return nil, fmt.Errorf("cluster: ask: %w", err)
	}
	defer p.opt.Redis.Del(context.WithoutCancel(ctx), q.Reply)
	var out []string
	deadline, _ := ctx.Deadline()
	for int64(len(out)) < heard {
		wait := time.Until(deadline)
		if wait < time.Millisecond {
			break
		}
		res, err := p.opt.Redis.BLPop(ctx, wait, q.Reply).Result()
		if err != nil {
			break // timed out: the nodes that did not answer are reported so
		}
		out = append(out, res[1])
	}
	return out, nil
}

// List asks every node for its health and its calls matching q (at most
// limit each, newest first), and returns one Node per node seen alive by
// its heartbeat or answering, sorted by name; a node alive but silent has
// its Error set.
func (p *Peers) List(ctx context.Context, q string, limit int) ([]Node, error) {
	live, err := billing.LiveNodes(ctx, p.opt.Redis, p.opt.DeadAfter)
	if err != nil {
		return nil, fmt.Errorf("cluster: nodes: %w", err)
	}
	answers, err := p.ask(ctx, channelAll, question{Op: opList, Q: q, Limit: limit})
	if err != nil {
		return nil, err
	}
	byName := map[string]Node{}
	for _, a := range answers {
		var n Node
		if err := json.Unmarshal([]byte(a), &n); err != nil || n.Name == "" {
			p.log.Warn("cluster answer dropped: not understood", "error", err)
			continue
		}
		byName[n.Name] = n
	}
	for _, name := range live {
		if _, ok := byName[name]; !ok {
			byName[name] = Node{Name: name, Listed: []b2bua.CallInfo{}, Error: "no answer within " + p.opt.Timeout.String()}
		}
	}
	out := make([]Node, 0, len(byName))
	for _, n := range byName {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Kill asks node to hang up call id: nil once it did, b2bua.ErrNoSuchCall
// when it has no such call, ErrNoNode when no node of that name listens.
func (p *Peers) Kill(ctx context.Context, node, id string) error {
	answers, err := p.ask(ctx, channelAll+":"+node, question{Op: opKill, ID: id})
	if err != nil {
		return err
	}
	if len(answers) == 0 {
		return ErrNoNode
	}
	var a killAnswer
	if err := json.Unmarshal([]byte(answers[0]), &a); err != nil {
		return fmt.Errorf("cluster: kill: answer not understood: %w", err)
	}
	switch a.Result {
	case killed:
		return nil
	case noSuchCall:
		return b2bua.ErrNoSuchCall
	}
	return fmt.Errorf("cluster: kill on %s: %s", node, a.Result)
}
