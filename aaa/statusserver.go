package aaa

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// ProbeState is what Status-Server probing (RFC 5997) knows of a server.
type ProbeState int32

// Probe states. A server is marked down by probes only once it has
// answered one: a server that does not implement Status-Server is never
// taken for dead, it is left to the failures of real requests.
const (
	ProbeOff         ProbeState = iota // probing not configured
	ProbeUnknown                       // no probe answered yet
	ProbeAnswering                     // the last probe was answered
	ProbeSilent                        // it answered probes, and the last went unanswered: down
	ProbeUnsupported                   // it answers requests but not Status-Server: no longer probed
)

var probeStateNames = [...]string{"off", "unknown", "answering", "silent", "unsupported"}

func (p ProbeState) String() string {
	if p < 0 || int(p) >= len(probeStateNames) {
		return "invalid"
	}
	return probeStateNames[p]
}

// MarshalText names the state in the health API's JSON.
func (p ProbeState) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// statusWatch probes one server at the client's StatusInterval.
type statusWatch struct {
	s     *server
	state atomic.Int32
	rtt   atomic.Int64 // of the last answered probe, in nanoseconds
}

// startStatusWatches probes every server of the client until it closes.
func (c *Client) startStatusWatches() {
	c.watches = make([]*statusWatch, len(c.servers))
	for i, s := range c.servers {
		w := &statusWatch{s: s}
		w.state.Store(int32(ProbeUnknown))
		c.watches[i] = w
		c.wg.Go(func() { c.watch(w) })
	}
}

// watch sends a Status-Server every StatusInterval. An answer marks the
// server up at once, before any call has to find out; a server that has
// answered before and now stays silent through every try is marked down,
// so calls go to the next server instead of waiting out its timeouts.
func (c *Client) watch(w *statusWatch) {
	t := time.NewTicker(c.cfg.StatusInterval)
	defer t.Stop()
	s := w.s
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		answeredBefore := s.answered.Load()
		start := time.Now()
		err := c.statusServer(s)
		state := ProbeState(w.state.Load())
		switch {
		case err == nil:
			w.rtt.Store(int64(time.Since(start)))
			w.state.Store(int32(ProbeAnswering))
			if s.down.CompareAndSwap(true, false) {
				s.failures.Store(0)
				s.log.Info("radius: server up again (Status-Server answered)")
			}
		case c.ctx.Err() != nil:
			return
		case s.answered.Load() != answeredBefore:
			// Real requests were answered while the probe was not: the
			// server does not implement Status-Server.
			w.state.Store(int32(ProbeUnsupported))
			s.down.Store(false)
			s.log.Info("radius: server does not answer Status-Server; not probed", "err", err)
			return
		case state == ProbeAnswering || state == ProbeSilent:
			w.state.Store(int32(ProbeSilent))
			if s.down.CompareAndSwap(false, true) {
				s.log.Warn("radius: server marked down: Status-Server unanswered", "err", err)
			}
		}
	}
}

// statusServer sends one Status-Server with the server's retries and
// waits for an authentic answer. It goes through the server's sockets but
// not its request counters: a probe is no request.
func (c *Client) statusServer(s *server) error {
	p := radius.New(radius.CodeStatusServer, nil)
	if c.cfg.Probe != nil {
		p = c.cfg.Probe()
	} else {
		// FreeRADIUS wants a NAS identity in Status-Server.
		_ = rfc2865.NASIdentifier_SetString(p, "tollgate")
	}
	ctx, cancel := context.WithTimeout(c.ctx, time.Duration(1+s.cfg.Retries)*s.cfg.Timeout+time.Second)
	defer cancel()
	r, err := s.send(ctx, p, time.Now())
	if err != nil {
		return err
	}
	defer r.release()
	for try := range 1 + s.cfg.Retries {
		if try == 0 || !r.c.w.stream() {
			s.write(r, try)
		}
		_, err := s.await(ctx, r)
		if err == nil {
			// An answered probe is the proof of life that lets parked
			// accounting copies be resent (resendDue).
			s.reach(r)
			return nil
		}
		if !errors.Is(err, ErrTimeout) {
			return err
		}
	}
	return ErrTimeout
}

// probeStats fills in what probing knows of server i.
func (c *Client) probeStats(i int, st *ServerStats) {
	if c.watches == nil {
		return
	}
	w := c.watches[i]
	st.Probe = ProbeState(w.state.Load())
	st.ProbeRTT = time.Duration(w.rtt.Load())
}
