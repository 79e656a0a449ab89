package aaa

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc3576"
)

// DynAuthClient is a system allowed to send Disconnect and CoA requests: a
// billing or fraud server, known by its source address and shared secret.
type DynAuthClient struct {
	Addr        netip.Addr
	Secret      string
	MessageAuth MessageAuthPolicy
}

// DynAuthConfig configures the RFC 5176 listener.
type DynAuthConfig struct {
	Listen  string // UDP host:port, e.g. 127.0.0.1:3799
	Clients []DynAuthClient
	Logger  *slog.Logger
}

// DynAuthHandler acts on verified requests for the switch. Each method
// returns the IDs of the calls it ended or changed; none (or ErrNoSession)
// is answered with a NAK carrying Session-Context-Not-Found.
type DynAuthHandler interface {
	Disconnect(r DynAuthRequest) ([]string, error)
	Change(r DynAuthRequest) ([]string, error)
}

// ErrNoSession says that no call matches a request, or none in a state the
// request can apply to (a CoA for a call not yet connected).
var ErrNoSession = errors.New("radius: no matching session")

// DynAuthStats counts what the listener received and answered.
type DynAuthStats struct {
	Disconnects    uint64 // authentic Disconnect-Requests
	CoAs           uint64 // authentic CoA-Requests
	ACKs           uint64
	NAKs           uint64
	UnknownClients uint64 // dropped: the source is no configured client
	Forged         uint64 // dropped: wrong authenticator or Message-Authenticator
	Malformed      uint64 // dropped: not a Disconnect/CoA request that parses
	Duplicates     uint64 // retransmissions answered from the reply cache
}

// dupWindow is how long a reply is kept to answer a retransmission of its
// request the same way (RFC 5176 §2.3): a Disconnect retransmitted after
// the call ended must still get its ACK, not a NAK.
const dupWindow = 30 * time.Second

type dupKey struct {
	from netip.AddrPort
	id   byte
	auth [16]byte
}

// dupEntry is a request being handled (reply nil) or answered.
type dupEntry struct {
	reply []byte
	at    time.Time
}

// DynAuthServer is the Disconnect/CoA listener (RFC 5176).
type DynAuthServer struct {
	conn    *net.UDPConn
	clients map[netip.Addr]DynAuthClient
	h       DynAuthHandler
	log     *slog.Logger

	mu   sync.Mutex
	dups map[dupKey]*dupEntry
	wg   sync.WaitGroup

	disconnects, coas, acks, naks    atomic.Uint64
	unknown, forged, malformed, dupN atomic.Uint64
}

// ListenDynAuth opens the listener and serves it until Close.
func ListenDynAuth(cfg DynAuthConfig, h DynAuthHandler) (*DynAuthServer, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ua, err := net.ResolveUDPAddr("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("radius dynamic authorisation: %w", err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("radius dynamic authorisation: %w", err)
	}
	s := &DynAuthServer{conn: conn, clients: map[netip.Addr]DynAuthClient{}, h: h,
		log: cfg.Logger, dups: map[dupKey]*dupEntry{}}
	for _, c := range cfg.Clients {
		s.clients[c.Addr.Unmap()] = c
	}
	s.wg.Go(s.serve)
	return s, nil
}

// Addr is the listening address.
func (s *DynAuthServer) Addr() net.Addr { return s.conn.LocalAddr() }

// Stats returns a snapshot of the counters.
func (s *DynAuthServer) Stats() DynAuthStats {
	return DynAuthStats{
		Disconnects: s.disconnects.Load(), CoAs: s.coas.Load(), ACKs: s.acks.Load(), NAKs: s.naks.Load(),
		UnknownClients: s.unknown.Load(), Forged: s.forged.Load(), Malformed: s.malformed.Load(),
		Duplicates: s.dupN.Load(),
	}
}

// Close stops listening and waits for requests being handled.
func (s *DynAuthServer) Close() error {
	err := s.conn.Close()
	s.wg.Wait()
	return err
}

func (s *DynAuthServer) serve() {
	buf := make([]byte, 4096+1)
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.receive(append([]byte(nil), buf[:n]...), netip.AddrPortFrom(from.Addr().Unmap(), from.Port()))
	}
}

// receive checks one datagram and hands an authentic new request to its
// own goroutine: ending a call may wait on the switch.
func (s *DynAuthServer) receive(b []byte, from netip.AddrPort) {
	client, ok := s.clients[from.Addr()]
	if !ok {
		s.unknown.Add(1)
		s.log.Warn("radius dynamic authorisation: request from an unknown client dropped", "from", from)
		return
	}
	secret := []byte(client.Secret)
	p, err := DecodeDynAuthRequest(b, secret, client.MessageAuth)
	switch {
	case errors.Is(err, ErrDynAuthForged):
		s.forged.Add(1)
		s.log.Warn("radius dynamic authorisation: request dropped", "from", from, "error", err)
		return
	case err != nil:
		s.malformed.Add(1)
		s.log.Warn("radius dynamic authorisation: request dropped", "from", from, "error", err)
		return
	}
	key := dupKey{from: from, id: p.Identifier, auth: p.Authenticator}
	now := time.Now()
	s.mu.Lock()
	for k, e := range s.dups {
		if e.reply != nil && now.Sub(e.at) > dupWindow {
			delete(s.dups, k)
		}
	}
	if e, seen := s.dups[key]; seen {
		s.mu.Unlock()
		s.dupN.Add(1)
		if e.reply != nil {
			s.send(e.reply, from)
		}
		return
	}
	e := &dupEntry{at: now}
	s.dups[key] = e
	s.mu.Unlock()
	s.wg.Go(func() {
		reply := s.handle(b, secret, p, from)
		s.mu.Lock()
		e.reply, e.at = reply, time.Now()
		s.mu.Unlock()
		if reply != nil {
			s.send(reply, from)
		}
	})
}

// handle acts on one request and returns its encoded ACK or NAK (nil
// when it cannot be encoded, which only a bug could cause).
func (s *DynAuthServer) handle(b, secret []byte, p *radius.Packet, from netip.AddrPort) []byte {
	req, cause := ReadDynAuthRequest(p)
	req.Client = from.Addr().String()
	if req.Kind == DynAuthCoA {
		s.coas.Add(1)
	} else {
		s.disconnects.Add(1)
	}
	var calls []string
	if cause == 0 {
		var err error
		if req.Kind == DynAuthCoA {
			calls, err = s.h.Change(req)
		} else {
			calls, err = s.h.Disconnect(req)
		}
		switch {
		case err == nil && len(calls) > 0:
		case err == nil, errors.Is(err, ErrNoSession):
			cause = rfc3576.ErrorCause_Value_SessionContextNotFound
		default:
			cause = rfc3576.ErrorCause_Value_ResourcesUnavailable
			s.log.Error("radius dynamic authorisation: request failed", "from", from, "kind", req.Kind, "error", err)
		}
	}
	if cause == 0 {
		s.acks.Add(1)
	} else {
		s.naks.Add(1)
	}
	s.log.Info("radius dynamic authorisation", "from", from, "kind", req.Kind, "selector", req.Selector,
		"calls", calls, "error_cause", cause.String())
	reply, err := encodeDynAuthReply(b, secret, cause)
	if err != nil {
		s.log.Error("radius dynamic authorisation: reply not encoded", "error", err)
		return nil
	}
	return reply
}

func (s *DynAuthServer) send(b []byte, to netip.AddrPort) {
	if _, err := s.conn.WriteToUDPAddrPort(b, to); err != nil {
		s.log.Warn("radius dynamic authorisation: reply not sent", "to", to, "error", err)
	}
}
