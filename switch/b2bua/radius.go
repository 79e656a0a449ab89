package b2bua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/billing"
	"github.com/tollgate/tollgate/config"
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

// Limiter holds the per-account, per-gateway and per-source limits and
// decides credit (billing.Limits satisfies it).
type Limiter interface {
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

// AAA is what the switch asks about each call: limits and credit always,
// RADIUS authorisation and accounting when servers are configured. RADIUS
// changes need a restart; the modes, timers and credit limits in force are
// read from the configuration of the moment.
type AAA struct {
	log    *slog.Logger
	auth   Authorizer // nil: no auth servers
	nonces DigestNonces
	acct   Accountant // nil: no accounting servers
	queue  *aaa.Queue // the accounting records waiting for a server
	limits Limiter

	// Accounting records are sent in the background, in order per call;
	// sendCtx ends those still waiting when Close's grace runs out, which
	// puts them in the durable queue.
	sendCtx     context.Context
	cancelSends context.CancelFunc
	sends       sync.WaitGroup

	stopRun context.CancelFunc
	runDone chan struct{}
	closers []func() error
	clients []*aaa.Client // auth, then accounting: their counters for the UI
}

// ServerStats are the counters of every RADIUS server, auth servers first.
func (a *AAA) ServerStats() []aaa.ServerStats {
	var out []aaa.ServerStats
	for _, c := range a.clients {
		out = append(out, c.Stats()...)
	}
	return out
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

// newLimitsOnly is the AAA of a switch without RADIUS: limits and credit.
func newLimitsOnly(cfg *config.Config, log *slog.Logger) *AAA {
	a := &AAA{log: log, limits: billing.NewLimits(LimitsConfig(cfg))}
	a.sendCtx, a.cancelSends = context.WithCancel(context.Background())
	return a
}

// StartAAA builds the RADIUS clients of the configuration and starts
// resending the accounting records an earlier run queued. Close it after
// the switch has shut down.
func StartAAA(ctx context.Context, cfg *config.Config, log *slog.Logger) (*AAA, error) {
	a := newLimitsOnly(cfg, log)
	r := cfg.Radius
	nas, _ := netip.ParseAddr(r.NASIPAddress) // validated by config
	if len(r.AuthServers) > 0 {
		c, err := aaa.NewClient(aaa.ClientConfig{Servers: radiusServers(r.AuthServers), RoundRobin: r.RoundRobin,
			ProbeInterval: r.ProbeInterval, Logger: log.With("component", "radius-auth")})
		if err != nil {
			return nil, fmt.Errorf("radius auth: %w", err)
		}
		a.closers = append(a.closers, c.Close)
		a.clients = append(a.clients, c)
		codes := aaa.DefaultReturnCodes()
		for rc, s := range r.ReturnCodes {
			codes[rc] = aaa.SIPStatus{Code: s.Code, Reason: s.Reason}
		}
		a.auth = aaa.NewAuthorizer(c, aaa.AuthConfig{IPPassword: r.IPPassword, NASIPAddress: nas, ReturnCodes: codes})
		a.nonces = aaa.NewNonces(aaa.NonceConfig{Lifetime: r.NonceLifetime})
	}
	if len(r.AcctServers) > 0 {
		c, err := aaa.NewClient(aaa.ClientConfig{Servers: radiusServers(r.AcctServers), RoundRobin: r.RoundRobin,
			ProbeInterval: r.ProbeInterval, Logger: log.With("component", "radius-acct")})
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("radius accounting: %w", err)
		}
		a.closers = append(a.closers, c.Close)
		a.clients = append(a.clients, c)
		q, err := aaa.OpenQueue(r.Accounting.QueueDir)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("radius accounting: %w", err)
		}
		a.closers = append(a.closers, q.Close)
		a.queue = q
		acct := aaa.NewAccountant(c, q, aaa.AccountingConfig{SessionIDPerLeg: r.Accounting.SessionIDPerLeg,
			NASIPAddress: nas, Logger: log.With("component", "radius-acct")})
		a.acct = acct
		var runCtx context.Context
		runCtx, a.stopRun = context.WithCancel(ctx)
		a.runDone = make(chan struct{})
		go func() {
			defer close(a.runDone)
			acct.Run(runCtx)
		}()
		if n := q.Len(); n > 0 {
			log.Info("radius: resending accounting records queued by an earlier run", "records", n)
		}
	}
	return a, nil
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

// radiusServers converts configured servers; secrets pass through, never logged.
func radiusServers(in []config.RadiusServer) []aaa.ServerConfig {
	out := make([]aaa.ServerConfig, len(in))
	for i, s := range in {
		out[i] = aaa.ServerConfig{Addr: s.Address, Secret: s.Secret, Timeout: s.Timeout, Retries: s.Retries,
			RequireMessageAuthenticator: s.RequireMessageAuthenticator}
	}
	return out
}

// Close waits for accounting records in flight (queueing on disk those no
// server took within a grace period), stops the resender and closes the
// RADIUS sockets and the queue.
func (a *AAA) Close() error {
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
	if a.stopRun != nil {
		a.stopRun()
		<-a.runDone
	}
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
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
