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
	"layeh.com/radius/rfc2866"
)

// ErrTimeout is returned when a server did not answer any try.
var ErrTimeout = errors.New("radius: no answer")

// ServerConfig is one RADIUS server.
type ServerConfig struct {
	Addr    string        // host:port
	Secret  string        // shared secret
	Timeout time.Duration // per try; default 2 s
	Retries int           // tries after the first; default 2, negative for none
	// RequireMessageAuthenticator refuses replies without attribute 80.
	// FreeRADIUS 3.2 does not sign its Access-Accepts, so it is off by default.
	RequireMessageAuthenticator bool
	MaxSockets                  int // sockets of 256 identifiers each; default 4
}

// ServerStats is a snapshot of one server's counters.
type ServerStats struct {
	Addr        string
	Up          bool
	Requests    uint64 // requests sent (retransmissions not counted)
	Accepts     uint64 // Access-Accept and Accounting-Response
	Rejects     uint64 // Access-Reject
	Timeouts    uint64 // requests no try of which was answered
	BadReplies  uint64 // requests failed by an invalid reply
	MeanLatency time.Duration
}

type server struct {
	cfg    ServerConfig
	secret []byte
	log    *slog.Logger

	mu    sync.Mutex
	conns []*conn
	slots chan struct{} // one token per identifier the sockets may hold

	down      atomic.Bool
	failures  atomic.Int32 // consecutive unanswered requests
	requests  atomic.Uint64
	accepts   atomic.Uint64
	rejects   atomic.Uint64
	timeouts  atomic.Uint64
	bad       atomic.Uint64
	answered  atomic.Uint64
	latencyNS atomic.Uint64
}

func newServer(cfg ServerConfig, log *slog.Logger) (*server, error) {
	if cfg.Addr == "" || cfg.Secret == "" {
		return nil, fmt.Errorf("radius: server needs an address and a secret (got %q)", cfg.Addr)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 2
	} else if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.MaxSockets <= 0 {
		cfg.MaxSockets = 4
	}
	return &server{
		cfg:    cfg,
		secret: []byte(cfg.Secret),
		log:    log.With("server", cfg.Addr),
		slots:  make(chan struct{}, 256*cfg.MaxSockets),
	}, nil
}

// acquire finds a socket with a free identifier, opening another socket when
// all are full and waiting (bounded by ctx) when MaxSockets are all full.
func (s *server) acquire(ctx context.Context) (*conn, byte, chan []byte, error) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		if id, ch, ok := c.acquire(); ok {
			return c, id, ch, nil
		}
	}
	c, err := dialConn(s.cfg.Addr, s.log)
	if err != nil {
		<-s.slots
		return nil, 0, nil, fmt.Errorf("radius: %s: %w", s.cfg.Addr, err)
	}
	s.conns = append(s.conns, c)
	id, ch, _ := c.acquire()
	return c, id, ch, nil
}

func (s *server) release(c *conn, id byte) {
	c.release(id)
	<-s.slots
}

// exchange sends p with retries and returns the checked reply. Access
// requests are retransmitted byte for byte (the server may answer from its
// duplicate cache); accounting requests are re-encoded with a fresh
// identifier because Acct-Delay-Time changes (RFC 2866 §5.2).
func (s *server) exchange(ctx context.Context, p *radius.Packet, created time.Time, tries int) (*radius.Packet, error) {
	if tries <= 0 {
		tries = 1 + s.cfg.Retries
	}
	s.requests.Add(1)
	start := time.Now()
	var (
		c   *conn
		id  byte
		ch  chan []byte
		req []byte
	)
	defer func() {
		if c != nil {
			s.release(c, id)
		}
	}()
	for try := range tries {
		if c == nil || p.Code == radius.CodeAccountingRequest {
			if c != nil {
				s.release(c, id)
				c = nil
			}
			var err error
			if c, id, ch, err = s.acquire(ctx); err != nil {
				return nil, err
			}
			if p.Code == radius.CodeAccountingRequest {
				delay := uint32(time.Since(created) / time.Second)
				rfc2866.AcctDelayTime_Set(p, rfc2866.AcctDelayTime(delay))
			}
			if req, err = encodeRequest(p, id, s.secret); err != nil {
				return nil, err
			}
		}
		if err := c.write(req); err != nil {
			s.log.Debug("radius: send failed", "try", try, "err", err)
		}
		reply, err := s.await(ctx, ch, req)
		if err == nil {
			s.answeredAfter(time.Since(start), reply.Code)
			return reply, nil
		}
		if !errors.Is(err, ErrTimeout) {
			if ctx.Err() == nil {
				s.bad.Add(1)
				s.failures.Store(0)
			}
			return nil, err
		}
	}
	s.timeouts.Add(1)
	s.failures.Add(1)
	return nil, fmt.Errorf("%w from %s after %d tries", ErrTimeout, s.cfg.Addr, tries)
}

// await waits one try's timeout for a valid reply. An invalid one does not
// end the wait (it may be a late reply to an earlier user of the
// identifier); if nothing valid follows, it is the request's error.
func (s *server) await(ctx context.Context, ch chan []byte, req []byte) (*radius.Packet, error) {
	timer := time.NewTimer(s.cfg.Timeout)
	defer timer.Stop()
	var bad error
	for {
		select {
		case b := <-ch:
			reply, err := DecodeReply(b, req, s.secret, s.cfg.RequireMessageAuthenticator)
			if err == nil {
				return reply, nil
			}
			s.log.Warn("radius: invalid reply", "err", err)
			bad = err
		case <-timer.C:
			if bad != nil {
				return nil, bad
			}
			return nil, ErrTimeout
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *server) answeredAfter(d time.Duration, code radius.Code) {
	s.failures.Store(0)
	s.answered.Add(1)
	s.latencyNS.Add(uint64(d))
	switch code {
	case radius.CodeAccessAccept, radius.CodeAccountingResponse:
		s.accepts.Add(1)
	case radius.CodeAccessReject:
		s.rejects.Add(1)
	}
}

func (s *server) stats() ServerStats {
	st := ServerStats{
		Addr:       s.cfg.Addr,
		Up:         !s.down.Load(),
		Requests:   s.requests.Load(),
		Accepts:    s.accepts.Load(),
		Rejects:    s.rejects.Load(),
		Timeouts:   s.timeouts.Load(),
		BadReplies: s.bad.Load(),
	}
	if n := s.answered.Load(); n > 0 {
		st.MeanLatency = time.Duration(s.latencyNS.Load() / n)
	}
	return st
}

func (s *server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.close()
	}
	s.conns = nil
}
