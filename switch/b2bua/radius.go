package b2bua

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/billing"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/callctl"
)

// Authorizer asks the billing back-end whether a call may go on, and where
// (aaa.Authorizer satisfies it).
type Authorizer interface {
	Authorize(ctx context.Context, req aaa.AuthRequest) (*aaa.AuthResult, error)
}

// Accountant records the legs of calls (aaa.Accountant satisfies it). Its
// methods may wait on the servers; the switch calls them off the call path.
type Accountant interface {
	Start(ctx context.Context, leg aaa.Leg) error
	Interim(ctx context.Context, leg aaa.Leg, now time.Time) error
	Stop(ctx context.Context, leg aaa.Leg, stop aaa.StopInfo) error
}

// DigestNonces issues digest challenges and checks the answers' nonces
// (aaa.Nonces satisfies it).
type DigestNonces interface {
	Challenge(realm string, stale bool) string
	CheckAuthorization(header, method string) (*aaa.DigestCredentials, error)
}

// Limiter holds the per-account, per-gateway, per-source and per-profile
// limit key limits and decides credit (billing.Limits satisfies it on one
// node, billing.SharedLimits across a cluster).
type Limiter interface {
	callctl.KeyLimiter
	AllowCall(source string, now time.Time) error
	AcquireAccount(account string) error
	ReleaseAccount(account string)
	AcquireGateway(gateway string) error
	ReleaseGateway(gateway string)
	GrantCredit(radius, route billing.Credit) (billing.Credit, error)
	// Refused counts the calls each kind of limit refused, for metrics.
	Refused() map[billing.Kind]uint64
}

// sendGrace is how long Close lets accounting records in flight reach a
// server before queueing them on disk for the next start.
const sendGrace = 10 * time.Second

// AccountingQueue is the durable queue of accounting records no server
// has taken yet (aaa.Queue satisfies it), counted for the call's result.
type AccountingQueue interface {
	Len() int
}

// AAAOptions are the back-ends cmd/tollgate builds for the switch's AAA:
// the switch declares what it needs of them and builds none, so it
// depends on no RADIUS client or limiter implementation.
type AAAOptions struct {
	Limits Limiter         // required: limits and credit apply with or without RADIUS
	Auth   Authorizer      // nil: no RADIUS authorisation
	Nonces DigestNonces    // with Auth: the digest challenges
	Acct   Accountant      // nil: no RADIUS accounting
	Queue  AccountingQueue // with Acct
}

// AAA is what the switch asks about each call: limits and credit always,
// RADIUS authorisation and accounting when their back-ends are given.
// RADIUS changes need a restart; the modes, timers and credit limits in
// force are read from the configuration of the moment.
type AAA struct {
	log    *slog.Logger
	auth   Authorizer // nil: no auth servers
	nonces DigestNonces
	acct   Accountant // nil: no accounting servers
	queue  AccountingQueue
	limits Limiter

	// Accounting records are sent in the background, in order per call;
	// sendCtx ends those still waiting when Close's grace runs out, which
	// puts them in the durable queue.
	sendCtx     context.Context
	cancelSends context.CancelFunc
	sends       sync.WaitGroup
}

// LimitsConfig is the billing configuration of a switch configuration.
func LimitsConfig(cfg *config.Config) billing.Config {
	l := cfg.Limits.CallLimits
	return billing.Config{
		AccountCalls:   l.AccountCalls,
		GatewayCalls:   l.GatewayCalls,
		CallsPerSecond: l.CallsPerSecond,
		Burst:          l.Burst,
		MaxCredit:      cfg.Prepaid.MaxCredit,
		Statuses: map[billing.Kind]billing.Status{
			billing.NoCredit: {Code: cfg.Prepaid.NoCredit.Code, Reason: cfg.Prepaid.NoCredit.Reason},
		},
	}
}

// NewAAA is the switch's AAA on the back-ends o. Close it after the
// switch has shut down, before closing the back-ends.
func NewAAA(log *slog.Logger, o AAAOptions) *AAA {
	a := &AAA{log: log, limits: o.Limits, auth: o.Auth, nonces: o.Nonces, acct: o.Acct, queue: o.Queue}
	a.sendCtx, a.cancelSends = context.WithCancel(context.Background())
	return a
}

// LimitRefusals counts the calls each kind of limit refused since start.
func (a *AAA) LimitRefusals() map[billing.Kind]uint64 { return a.limits.Refused() }

// QueuedAccounting is how many accounting records wait for a server.
func (a *AAA) QueuedAccounting() int {
	if a.queue == nil {
		return 0
	}
	return a.queue.Len()
}

// Close waits for accounting records in flight, ending those no server
// took within a grace period: the Accountant queues them on disk.
func (a *AAA) Close() {
	done := make(chan struct{})
	go func() { a.sends.Wait(); close(done) }()
	t := time.NewTimer(sendGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		a.cancelSends()
		<-done
	}
	a.cancelSends()
}

// sendChain runs one call's accounting sends in order, on one goroutine
// that lives only while records wait: a call keeps none while idle.
type sendChain struct {
	mu   sync.Mutex
	q    []func(context.Context)
	busy bool
}

// send queues f on the chain, never waiting.
func (a *AAA) send(ch *sendChain, f func(context.Context)) {
	ch.mu.Lock()
	ch.q = append(ch.q, f)
	if ch.busy {
		ch.mu.Unlock()
		return
	}
	ch.busy = true
	ch.mu.Unlock()
	a.sends.Go(func() {
		for {
			ch.mu.Lock()
			if len(ch.q) == 0 {
				ch.busy = false
				ch.mu.Unlock()
				return
			}
			next := ch.q[0]
			ch.q = ch.q[1:]
			ch.mu.Unlock()
			next(a.sendCtx)
		}
	})
}

// refusedStop accounts a call refused before it became a Call (overload or
// drain): the answer leg's Stop, never answered, released by the switch.
// It is queued like any record, so a RADIUS outage loses none of them.
func (a *AAA) refusedStop(req *sip.Request, id, srcIP string, now time.Time) {
	if a.acct == nil {
		return
	}
	conf, _ := aaa.ParseConfID(confID(id)) // id is a UUID: it always parses
	callID := req.CallID().Value()
	leg := aaa.Leg{Origin: aaa.OriginAnswer, UserName: srcIP, CallingNumber: req.From().Address.User,
		CalledNumber: req.Recipient.User, RemoteAddress: srcIP, CallID: callID, LegCallID: callID,
		ConfID: conf, SetupTime: now}
	stop := aaa.StopInfo{Time: now, SIPCode: 503, ReleaseSource: aaa.ReleasedBySwitch}
	a.send(&sendChain{}, func(ctx context.Context) {
		if err := a.acct.Stop(ctx, leg, stop); err != nil {
			a.log.Error("radius accounting record lost", "call", id, "error", err)
		}
	})
}
