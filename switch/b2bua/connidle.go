package b2bua

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Idle TCP and TLS connections (sip.connection_idle). sipgo keeps a
// connection per peer for as long as both ends leave it open, so a peer
// that vanished without a FIN, or a phone that connected once, would hold
// a socket and its goroutine forever. The front door notes when each
// stream connection last carried anything (RFC 5626 keepalives included),
// and a sweep closes those idle past the limit. A connection that breaks
// takes only its own transactions with it: sipgo fails the requests that
// were to go over it, and the calls they belong to end on their own path.

// connActivity is when each stream connection last read something, by
// transport and remote address: a sync.Map of atomic times, so that the
// reads of different connections share no lock.
type connActivity struct {
	last sync.Map // connKey → *atomic.Int64 (Unix nanoseconds)
}

type connKey struct {
	transport string // "tcp" or "tls"
	remote    string
}

// saw notes traffic on a stream connection.
func (a *connActivity) saw(transport string, remote net.Addr) {
	if remote == nil {
		return
	}
	k := connKey{strings.ToLower(transport), remote.String()}
	now := time.Now().UnixNano()
	if v, ok := a.last.Load(k); ok {
		v.(*atomic.Int64).Store(now)
		return
	}
	t := new(atomic.Int64)
	t.Store(now)
	if v, loaded := a.last.LoadOrStore(k, t); loaded {
		v.(*atomic.Int64).Store(now)
	}
}

// idle removes and returns the connections quiet since before cutoff.
func (a *connActivity) idle(cutoff time.Time) []connKey {
	var out []connKey
	a.last.Range(func(k, v any) bool {
		t := v.(*atomic.Int64)
		if t.Load() >= cutoff.UnixNano() || !a.last.CompareAndDelete(k, v) {
			return true
		}
		if t.Load() >= cutoff.UnixNano() {
			// A read between the check and the delete: it stays.
			a.last.LoadOrStore(k, t)
			return true
		}
		out = append(out, k.(connKey))
		return true
	})
	return out
}

// sweepIdleConnections closes the stream connections idle longer than
// sip.connection_idle, checking a quarter of it apart, until ctx ends.
func (s *Switch) sweepIdleConnections(ctx context.Context) {
	for {
		idle := s.Config().SIP.ConnectionIdle
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(idle/4, 250*time.Millisecond)):
		}
		for _, k := range s.conns.idle(time.Now().Add(-idle)) {
			pool := s.ua.TransportLayer().Pool(k.transport)
			if pool == nil {
				continue
			}
			c := pool.Get(k.remote)
			if c == nil {
				continue // closed already, by the peer or a failure
			}
			s.log.Info("idle connection closed", "transport", k.transport, "peer", k.remote, "idle", idle)
			if err := c.Close(); err != nil {
				s.log.Debug("idle connection close", "peer", k.remote, "error", err)
			}
		}
	}
}
