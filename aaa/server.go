package aaa

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	// Retries are the tries after the first; default 2, negative for none.
	// An Accounting-Request is written again in a try only once the server
	// has shown that it is running past the first copy (see resendStage).
	Retries int
	// RequireMessageAuthenticator refuses replies without attribute 80.
	// FreeRADIUS 3.2 does not sign its Access-Accepts, so it is off by default.
	RequireMessageAuthenticator bool
	MaxSockets                  int // sockets of 256 identifiers each; default 4 (1 over TLS)
	// Transport is UDP, or RadSec over TLS with the client side of TLS
	// (roots, certificate, server name) from TLS (radsec.go).
	Transport Transport
	TLS       *tls.Config
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
	LateReplies uint64 // replies to requests already answered or given up on
	MeanLatency time.Duration
	// Probe is what Status-Server probing knows (ProbeOff when it is not
	// configured); ProbeRTT the last answered probe's round trip.
	Probe    ProbeState
	ProbeRTT time.Duration
}

type server struct {
	cfg    ServerConfig
	secret []byte
	log    *slog.Logger

	mu    sync.Mutex
	conns []*conn
	slots chan struct{} // one token per identifier the sockets may hold

	down     atomic.Bool
	failures atomic.Int32 // consecutive unanswered requests
	// writes numbers every datagram written to the server, and reached is
	// the highest number, taken before its first write, of a request the
	// server answered: the server has read at least that far. Together
	// they tell whether an unanswered accounting copy may be resent.
	writes    atomic.Uint64
	reached   atomic.Uint64
	requests  atomic.Uint64
	accepts   atomic.Uint64
	rejects   atomic.Uint64
	timeouts  atomic.Uint64
	bad       atomic.Uint64
	late      atomic.Uint64
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
	if cfg.Transport == TransportTLS {
		if cfg.TLS == nil {
			return nil, fmt.Errorf("radius: RadSec server %s without a TLS configuration", cfg.Addr)
		}
		cfg.MaxSockets = 1 // one long-lived connection, as RFC 6614 expects
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
// all are full. When MaxSockets are all full it waits one try's timeout at
// most: identifiers held by parked requests of a hung server must not stall
// the caller, who fails over or queues instead.
func (s *server) acquire(ctx context.Context) (*conn, byte, chan []byte, error) {
	timer := time.NewTimer(s.cfg.Timeout)
	defer timer.Stop()
	select {
	case s.slots <- struct{}{}:
	case <-timer.C:
		return nil, 0, nil, fmt.Errorf("%w: every identifier of %s is in use", ErrTimeout, s.cfg.Addr)
	case <-ctx.Done():
		return nil, 0, nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns = slices.DeleteFunc(s.conns, (*conn).dead)
	for _, c := range s.conns {
		if id, ch, ok := c.acquire(); ok {
			return c, id, ch, nil
		}
	}
	c, err := s.dial()
	if err != nil {
		<-s.slots
		return nil, 0, nil, fmt.Errorf("radius: %s: %w", s.cfg.Addr, err)
	}
	s.conns = append(s.conns, c)
	id, ch, _ := c.acquire()
	return c, id, ch, nil
}

// sent is one request as one server was sent it: the socket and identifier
// it holds and its exact bytes. An accounting request that no try answered
// keeps all three (it is parked) until it is delivered, so that resending it
// to this server is a retransmission, never a second record with a new
// identity.
//
// A retransmission is absorbed by the server only while it still remembers
// the request, and FreeRADIUS 3 remembers an Accounting-Request only until
// about 2/3 s after it read it (cleanup_delay is for Access-Requests only),
// by its own clock. A server stopped (SIGSTOP, a VM paused, a swap storm)
// after reading a request and before its reply reached us forgets it the
// moment it runs again, before it reads the copies we wrote meanwhile: each
// is then a second record. So an accounting copy is written again only when
// the server has shown, twice, that it is running past it (resendStage).
type sent struct {
	s   *server
	c   *conn
	id  byte
	ch  chan []byte
	req []byte

	first uint64 // the server's write number before the first write
	last  uint64 // the server's write number after the latest write
	stage resendStage
	mark  uint64 // in stageServerPast: the write number when that was seen
}

// resendStage is what the server is known to have done since a copy of an
// unanswered accounting request was last written.
type resendStage uint8

const (
	// stageUnknown: the server answered nothing written after the copy; it
	// may be stopped with the copy read and its reply not yet sent, and a
	// resend would wait in its socket until it has forgotten the copy.
	stageUnknown resendStage = iota
	// stageServerPast: it answered a request written after the copy, so it
	// has read past it. The copy is resent only if it also answers a request
	// written after that was seen: it was then running a whole try after
	// reading past the copy, time enough for the copy's own reply, had it
	// one; the copy or its reply was lost.
	stageServerPast
)

// release frees the identifier; the conn remembers the request so that a
// reply to it arriving later is known as late.
func (r *sent) release() {
	r.c.release(r.id, r.req)
	<-r.s.slots
}

// send takes an identifier and encodes p for this server. Acct-Delay-Time
// is the delay at this first send and stays so in every retransmission.
func (s *server) send(ctx context.Context, p *radius.Packet, created time.Time) (*sent, error) {
	c, id, ch, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	r := &sent{s: s, c: c, id: id, ch: ch}
	if p.Code == radius.CodeAccountingRequest {
		delay := uint32(time.Since(created) / time.Second)
		rfc2866.AcctDelayTime_Set(p, rfc2866.AcctDelayTime(delay))
	}
	if r.req, err = encodeRequest(p, id, s.secret); err != nil {
		r.release()
		return nil, err
	}
	return r, nil
}

// exchange sends p with retries and returns the checked reply. Every try is
// the same datagram, byte for byte: a server that is merely slow answers the
// first it processes and drops the others as duplicates (RFC 5080 §2.2.2).
// RFC 2866 would have Acct-Delay-Time updated on each try, but that makes
// each try a new record to the server, which is how a hung server doubled
// records. An accounting request is written again only as resendDue allows,
// a try without it being a wait for the reply. held, when not nil, is this
// request parked on this server by an earlier exchange: it is resent as it
// was, as resendDue allows. An accounting request that no try answered comes
// back parked (with its error); any other ends released.
func (s *server) exchange(ctx context.Context, p *radius.Packet, created time.Time, tries int, held *sent) (*radius.Packet, *sent, error) {
	if tries <= 0 {
		tries = 1 + s.cfg.Retries
	}
	start := time.Now()
	r := held
	if r != nil && r.c.isClosed() {
		// Its RadSec connection is gone: what was sent on it can be
		// neither answered nor retransmitted, so it goes out anew.
		r.release()
		r = nil
	}
	fresh := r == nil
	if fresh {
		var err error
		if r, err = s.send(ctx, p, created); err != nil {
			return nil, nil, err
		}
		s.requests.Add(1)
	} else if reply := s.answeredWhileParked(r); reply != nil {
		s.answeredAfter(0, reply.Code)
		s.reach(r)
		r.release()
		return reply, nil, nil
	}
	for try := range tries {
		switch {
		case fresh && try == 0:
			s.write(r, try)
		case r.c.w.stream() && try > 0:
			// Never retransmitted on a reliable transport (RFC 6613 §2.6.1).
		case p.Code != radius.CodeAccountingRequest || s.resendDue(r):
			s.write(r, try)
		}
		reply, err := s.await(ctx, r)
		if err == nil {
			s.answeredAfter(time.Since(start), reply.Code)
			s.reach(r)
			r.release()
			return reply, nil, nil
		}
		if ctx.Err() != nil {
			break
		}
		if !errors.Is(err, ErrTimeout) {
			s.bad.Add(1)
			s.failures.Store(0)
			r.release()
			return nil, nil, err
		}
	}
	err := ctx.Err()
	if err == nil {
		s.timeouts.Add(1)
		s.failures.Add(1)
		err = fmt.Errorf("%w from %s after %d tries", ErrTimeout, s.cfg.Addr, tries)
	}
	if p.Code == radius.CodeAccountingRequest {
		return nil, r, err
	}
	r.release()
	return nil, nil, err
}

// write sends r's datagram, numbering the write before and after it so that
// an answer to a request numbered after r.last was written after r was.
func (s *server) write(r *sent, try int) {
	before := s.writes.Add(1)
	if r.first == 0 {
		r.first = before
	}
	if err := r.c.write(r.req); err != nil {
		s.log.Debug("radius: send failed", "try", try, "err", err)
	}
	r.last, r.stage = s.writes.Add(1), stageUnknown
}

// reach records that the server answered r: it has read at least as far as
// r's first write.
func (s *server) reach(r *sent) {
	for {
		cur := s.reached.Load()
		if r.first <= cur || s.reached.CompareAndSwap(cur, r.first) {
			return
		}
	}
}

// resendDue reports whether the unanswered accounting copy r is to be
// written again now, moving it through its resendStage. Called once per try,
// so the two proofs of life it wants are at least a try apart.
func (s *server) resendDue(r *sent) bool {
	reached := s.reached.Load()
	switch r.stage {
	case stageUnknown:
		if reached > r.last {
			r.stage, r.mark = stageServerPast, s.writes.Load()
		}
		return false
	case stageServerPast:
		return reached > r.mark
	}
	return false
}

// answeredWhileParked returns the reply that came for a parked request while
// nobody waited for it, if one did, looking past late replies to the
// identifier's previous request.
func (s *server) answeredWhileParked(r *sent) *radius.Packet {
	for {
		select {
		case b := <-r.ch:
			reply, err := DecodeReply(b, r.req, s.secret, s.cfg.RequireMessageAuthenticator)
			if err == nil {
				return reply
			}
		default:
			return nil
		}
	}
}

// await waits one try's timeout for a valid reply. A reply to the request
// that held the identifier before (the server answering a retransmission it
// had already answered, or answering after we gave up) is late, not forged:
// it is counted and ignored. Any other invalid reply does not end the wait
// either; if nothing valid follows, it is the request's error.
func (s *server) await(ctx context.Context, r *sent) (*radius.Packet, error) {
	timer := time.NewTimer(s.cfg.Timeout)
	defer timer.Stop()
	var bad error
	for {
		select {
		case b := <-r.ch:
			reply, err := DecodeReply(b, r.req, s.secret, s.cfg.RequireMessageAuthenticator)
			if err == nil {
				return reply, nil
			}
			if prev := r.c.previousRequest(r.id); prev != nil {
				if _, lateErr := DecodeReply(b, prev, s.secret, false); lateErr == nil {
					s.late.Add(1)
					s.log.Debug("radius: late reply to an earlier request ignored", "id", r.id)
					continue
				}
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
		Addr:        s.cfg.Addr,
		Up:          !s.down.Load(),
		Requests:    s.requests.Load(),
		Accepts:     s.accepts.Load(),
		Rejects:     s.rejects.Load(),
		Timeouts:    s.timeouts.Load(),
		BadReplies:  s.bad.Load(),
		LateReplies: s.late.Load(),
	}
	if n := s.answered.Load(); n > 0 {
		st.MeanLatency = time.Duration(s.latencyNS.Load() / n)
	}
	return st
}

// dial opens a socket, or a RadSec connection, to the server.
func (s *server) dial() (*conn, error) {
	if s.cfg.Transport == TransportTLS {
		return dialTLSConn(s.cfg.Addr, s.cfg.TLS, s.cfg.Timeout, s.log)
	}
	return dialConn(s.cfg.Addr, s.log)
}

func (s *server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.close()
	}
	s.conns = nil
}
