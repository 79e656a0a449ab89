package aaa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// ErrNoServer is returned when no server of a client answered.
var ErrNoServer = errors.New("radius: no server answered")

// ClientConfig is one group of servers (the auth servers, or the
// accounting servers) and how to use them.
type ClientConfig struct {
	Servers []ServerConfig
	// RoundRobin starts each request at the next server instead of the
	// first; the others remain the failover order either way.
	RoundRobin bool
	// DownAfter consecutive unanswered requests mark a server down; it is
	// then skipped while another is up, and probed every ProbeInterval.
	DownAfter     int           // default 3
	ProbeInterval time.Duration // default 5 s
	// Probe builds the health-check request; nil sends Status-Server
	// (RFC 5997). Any authentic reply, even a reject, means the server is up.
	Probe func() *radius.Packet
	// StatusInterval, when set, probes every server with Status-Server
	// (RFC 5997) at this interval, up or down, so that a dead server is
	// known before a call waits on it (statusserver.go).
	StatusInterval time.Duration
	Logger         *slog.Logger
}

// Client sends RADIUS requests to a group of servers with long-lived
// sockets, retries, failover and background health checks. It is safe for
// concurrent use.
type Client struct {
	cfg     ClientConfig
	servers []*server
	next    atomic.Uint32
	log     *slog.Logger
	watches []*statusWatch // per server, when StatusInterval is set

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewClient makes a client; sockets open on first use.
func NewClient(cfg ClientConfig) (*Client, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("radius: no servers configured")
	}
	if cfg.DownAfter <= 0 {
		cfg.DownAfter = 3
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Client{cfg: cfg, log: cfg.Logger}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for _, sc := range cfg.Servers {
		s, err := newServer(sc, cfg.Logger)
		if err != nil {
			return nil, err
		}
		c.servers = append(c.servers, s)
	}
	if cfg.StatusInterval > 0 {
		c.startStatusWatches()
	}
	return c, nil
}

// Exchange sends p and returns the verified reply. p.Identifier,
// p.Authenticator and p.Secret are ignored: each server gets its own. A
// User-Password attribute is given in clear and hidden per server. A reply
// that fails verification is an error for this request, not a failover.
func (c *Client) Exchange(ctx context.Context, p *radius.Packet) (*radius.Packet, error) {
	reply, _, err := c.ExchangeServer(ctx, p)
	return reply, err
}

// ExchangeServer is Exchange that also names the server that answered,
// for the call's record.
func (c *Client) ExchangeServer(ctx context.Context, p *radius.Packet) (*radius.Packet, string, error) {
	reply, from, parked, err := c.exchange(ctx, p, time.Now(), nil)
	releaseAll(parked)
	if err != nil {
		return nil, "", err
	}
	return reply, from.cfg.Addr, nil
}

// exchange is Exchange for a packet first produced at created, from which
// Acct-Delay-Time is counted; it returns the server that answered. held are the copies of this request parked on
// servers by an earlier exchange: each is resent as it was. When no server
// answers, the copies parked now are returned with the error, for the
// caller to keep until the next try or to release; a server tried after
// another one failed gets the packet with its Acct-Delay-Time, the mark of
// a possible second copy elsewhere.
func (c *Client) exchange(ctx context.Context, p *radius.Packet, created time.Time, held []*sent) (*radius.Packet, *server, []*sent, error) {
	var (
		errs   []error
		parked []*sent
	)
	for _, s := range c.order() {
		reply, r, err := s.exchange(ctx, p, created, 0, takeHeld(held, s))
		if r != nil {
			parked = append(parked, r)
		}
		if err == nil {
			releaseAll(parked)
			releaseAll(held)
			return reply, s, nil, nil
		}
		if ctx.Err() != nil {
			return nil, nil, append(parked, remaining(held)...), fmt.Errorf("radius: %v: %w", p.Code, ctx.Err())
		}
		if !errors.Is(err, ErrTimeout) {
			return nil, nil, append(parked, remaining(held)...), err
		}
		errs = append(errs, err)
		if s.failures.Load() >= int32(c.cfg.DownAfter) {
			c.markDown(s)
		}
	}
	return nil, nil, append(parked, remaining(held)...), fmt.Errorf("%w: %w", ErrNoServer, errors.Join(errs...))
}

// takeHeld returns the copy parked on s, if any, and removes it from held.
func takeHeld(held []*sent, s *server) *sent {
	for i, r := range held {
		if r != nil && r.s == s {
			held[i] = nil
			return r
		}
	}
	return nil
}

// remaining is what takeHeld left: copies on servers not tried this time.
func remaining(held []*sent) []*sent {
	var out []*sent
	for _, r := range held {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// releaseAll frees the identifiers of parked copies once the request is
// delivered (or abandoned): a late reply to them is then known as late.
func releaseAll(rs []*sent) {
	for _, r := range rs {
		if r != nil {
			r.release()
		}
	}
}

// order lists the servers to try: the up ones first, in configured order
// (rotated when round robin), then the down ones, which are tried only
// when no up server answers — the health check may not have caught up.
func (c *Client) order() []*server {
	n := len(c.servers)
	start := 0
	if c.cfg.RoundRobin {
		start = int(c.next.Add(1)-1) % n
	}
	out := make([]*server, 0, n)
	for i := range n {
		if s := c.servers[(start+i)%n]; !s.down.Load() {
			out = append(out, s)
		}
	}
	for i := range n {
		if s := c.servers[(start+i)%n]; s.down.Load() {
			out = append(out, s)
		}
	}
	return out
}

func (c *Client) markDown(s *server) {
	if !s.down.CompareAndSwap(false, true) {
		return
	}
	s.log.Warn("radius: server marked down", "after", c.cfg.DownAfter)
	c.wg.Add(1)
	go c.probe(s)
}

// probe health-checks a down server until it answers or the client closes.
func (c *Client) probe(s *server) {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		p := radius.New(radius.CodeStatusServer, nil)
		if c.cfg.Probe != nil {
			p = c.cfg.Probe()
		} else {
			// FreeRADIUS wants a NAS identity in Status-Server.
			rfc2865.NASIdentifier_SetString(p, "tollgate")
		}
		ctx, cancel := context.WithTimeout(c.ctx, s.cfg.Timeout*2)
		_, _, err := s.exchange(ctx, p, time.Now(), 1, nil)
		cancel()
		if err == nil {
			s.down.Store(false)
			s.failures.Store(0)
			s.log.Info("radius: server up again")
			return
		}
		s.log.Debug("radius: health check failed", "err", err)
	}
}

// Stats returns a snapshot of every server's counters, in configured order.
func (c *Client) Stats() []ServerStats {
	out := make([]ServerStats, len(c.servers))
	for i, s := range c.servers {
		out[i] = s.stats()
		c.probeStats(i, &out[i])
	}
	return out
}

// Close stops health checks and closes the sockets; requests in flight fail.
func (c *Client) Close() error {
	c.cancel()
	c.wg.Wait()
	for _, s := range c.servers {
		s.close()
	}
	return nil
}
