// Package b2bua is Tollgate's switch: a SIP back-to-back user agent built on
// sipgo's transaction and transport layers. Each call owns two legs — the
// caller's and one attempt at a time toward a gateway — with explicit states,
// one lock per call, and a single teardown path that produces exactly one
// call record whatever ended the call.
//
// (The design names this package "switch"; that is a Go keyword, so the
// package is b2bua.)
package b2bua

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/callctl"
	"github.com/tollgate/tollgate/switch/clienttx"
	"github.com/tollgate/tollgate/switch/registrar"
	"github.com/tollgate/tollgate/switch/servertx"
)

// Switch is the running B2BUA.
type Switch struct {
	// tls is SIP over TLS's certificate and CAs, swapped on reload.
	tls atomic.Pointer[tlsState]
	// conns is when each TCP and TLS connection last carried a message
	// (connidle.go).
	conns connActivity
	log   *slog.Logger
	cfg   atomic.Pointer[config.Config] // file plus dbRoutes: what new calls read
	// routesMu orders Reload and SetRoutes, each of which builds cfg from
	// both the file's configuration and the database's routes.
	routesMu sync.Mutex
	// health is what the OPTIONS probes found of the gateways (probe.go).
	health health
	// unreach are the exchanges an ICMP unreachable ends (unreachable.go).
	unreach unreachables
	loads   gatewayLoads
	// draw is Options.GroupDraw.
	draw     func(n int) int
	file     *config.Config
	dbRoutes []config.Route
	sink     RecordSink
	journal  Journal
	gate     RecordGate  // nil: calls are taken whatever the spool's disk
	media    MediaRelays // empty: every call in mode none
	aaa      *AAA

	// modules is what every call's profile modules share; their per-key
	// call counts are the AAA's limiter's, kept for the life of the switch
	// across reloads and, in a cluster, shared in Redis.
	modules callctl.Switch

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	cli *sipgo.Client
	// txl holds the client transactions, in place of sipgo's: UDP
	// responses reach them on the socket's reader, in order (frontDoor).
	txl *clienttx.Layer
	// onDatagram is Options.OnDatagram, or a no-op.
	onDatagram func()
	// finished answers retransmissions of requests whose server
	// transactions have ended (finished.go).
	finished *servertx.Finished
	// parser parses those UDP responses.
	parser *sip.Parser

	listeners []*listener
	// arrivals finds the listener a request came to, when a transport
	// has several (arrivals.go); nil otherwise.
	arrivals *arrivals
	// udpConns are the UDP sockets by local address, so the front door can
	// answer a datagram sipgo must never see from the socket it came to.
	udpConns map[string]net.PacketConn
	calls    *callTable
	// regs are the registrations: cached toward the upstream registrar
	// (register.go) or held by the local registrar (localreg.go); empty
	// while registration.mode is off.
	regs *registrar.Cache
	// subscribers are the local registrar's accounts from the database:
	// HA1 by user name (localreg.go); never nil.
	subscribers atomic.Pointer[map[string]string]
	// product is our Server and User-Agent headers (requests.go).
	product atomic.Pointer[productHeaders]
	// pongs are the CRLF keepalives waiting for their pong (natkeepalive.go).
	pongs pongs
	// regNonces challenge REGISTERs to the local registrar.
	regNonces DigestNonces
	// transcoderUse is Options.TranscoderUse (transcoderstats.go).
	transcoderUse func() []CodecUse
	// regRate is registration.register_rate per source, nil without one;
	// set at start, a reload does not change it.
	regRate   *registrar.Rate
	active    atomic.Int64   // calls holding a slot of limits.max_calls
	admission atomic.Int32   // an Admission
	callsWG   sync.WaitGroup // one per call still up, for the drain
	byesWG    sync.WaitGroup // BYEs still in flight, for shutdown
	closing   chan struct{}  // closed by Close: records still held get a last write
	// cores is GOMAXPROCS when the switch was made: the cores it may use,
	// which size its per-core resources (a UDP listener's sockets). Read
	// once, because the runtime's GOMAXPROCS may be lowered later while
	// the switch is lightly loaded (cmd/tollgate's procs tuner).
	cores  int
	heldWG sync.WaitGroup // one per record held in memory, for Close

	stats Stats
}

// Stats are the switch's counters since start.
type Stats struct {
	CallsStarted  atomic.Uint64
	CallsAnswered atomic.Uint64
	CallsEnded    atomic.Uint64
	Refused       atomic.Uint64 // 503 for overload, drain or records not durable
	// RefusedNoSpace counts the calls refused because their record could
	// not have been made durable (the CDR spool's disk is full).
	RefusedNoSpace atomic.Uint64
	Malformed      atomic.Uint64 // requests answered 4xx by the front door checks
	// RecordErrors counts failed attempts to hand a record to the sink (a
	// full disk under the spool): an alarm. RecordsPending are the records
	// held in memory meanwhile, retried until the sink takes them.
	RecordErrors   atomic.Uint64
	RecordsPending atomic.Int64
	// RegistersRelayed and RegistersCached count the REGISTERs sent to
	// the upstream registrar and those the cache answered itself.
	RegistersRelayed atomic.Uint64
	RegistersCached  atomic.Uint64
	// NATKeepalives are the OPTIONS sent over registered clients' flows;
	// DeadFlows the bindings dropped because one went unanswered.
	NATKeepalives atomic.Uint64
	DeadFlows     atomic.Uint64
	// RegistersLimited are the REGISTERs refused by a registration limit.
	RegistersLimited atomic.Uint64
	// Registrations is how many bindings the registration table holds, as
	// of the sweeper's last pass (at most a second old): read by /metrics
	// without taking the table's lock.
	Registrations atomic.Int64

	attempts attemptCounters
}

// Options are the switch's collaborators.
type Options struct {
	Log     *slog.Logger
	Sink    RecordSink  // where call records go; default: LogSink on Log
	Journal Journal     // notes connected calls; optional
	Gate    RecordGate  // refuses new calls while records cannot be made durable; optional
	Media   MediaRelays // relays for media anchoring; empty: mode none only
	AAA     *AAA        // limits, credit and RADIUS (NewAAA); required
	// RegistrarNonces challenge REGISTERs when registration.mode is local
	// (localreg.go); required then.
	RegistrarNonces DigestNonces
	// TranscoderUse tells the built-in relay's transcoder use, for the
	// OPTIONS reply headers sip.options_transcoder_*_stats_hdr; nil: none.
	TranscoderUse func() []CodecUse
	// GroupDraw is the random source of the gateway groups' weighted
	// draws (gatewaygroup.go), called from any call's goroutine: it
	// returns a number in [0, n). nil: math/rand/v2's IntN. Tests give a
	// seeded one, so that a spread over many calls is always the same.
	GroupDraw func(n int) int
	// OnDatagram, when set, runs on a socket's reader for each datagram or
	// stream chunk read, before anything else, and must return at once:
	// the procs tuner's look at the load (cmd/tollgate/procs.go), which a
	// goroutine of its own would get late on one saturated P.
	OnDatagram func()
}

// New builds a switch for a configuration. It does not listen yet.
func New(cfg *config.Config, o Options) (*Switch, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.OnDatagram == nil {
		o.OnDatagram = func() {}
	}
	if o.Sink == nil {
		o.Sink = LogSink{Log: o.Log}
	}
	if o.AAA == nil {
		return nil, errors.New("b2bua: no AAA: limits and credit apply to every call")
	}
	s := &Switch{log: o.Log, sink: o.Sink, journal: o.Journal, gate: o.Gate, aaa: o.AAA, calls: newCallTable(),
		health: health{m: map[string]*GatewayHealth{}}, loads: gatewayLoads{m: map[string]*gatewayLoad{}}, regs: registrar.NewCache(),
		onDatagram: o.OnDatagram, finished: servertx.New(completedTimer), closing: make(chan struct{}), cores: runtime.GOMAXPROCS(0)}
	if cfg.Registration.Mode == config.RegistrationLocal && o.RegistrarNonces == nil {
		return nil, errors.New("b2bua: a local registrar needs its digest nonces")
	}
	s.regNonces = o.RegistrarNonces
	if s.draw = o.GroupDraw; s.draw == nil {
		s.draw = rand.IntN
	}
	s.subscribers.Store(&map[string]string{})
	s.transcoderUse = o.TranscoderUse
	if rc := cfg.Registration; rc.RegisterRate > 0 {
		s.regRate = registrar.NewRate(rc.RegisterRate, float64(rc.RegisterBurst))
	}
	s.modules = callctl.Switch{Allowed: allowed, Calls: o.AAA.limits}
	s.file = cfg
	s.cfg.Store(cfg)
	if err := s.useMedia(cfg, o.Media); err != nil {
		return nil, err
	}
	for _, l := range cfg.SIP.Listeners() {
		s.listeners = append(s.listeners, newListener(l))
	}
	if len(s.listeners) == 0 {
		return nil, errors.New("b2bua: no SIP listen address configured")
	}
	s.arrivals = newArrivals(s.listeners)
	if len(cfg.SIP.InterfaceNames()) > 1 {
		// Each interface's connections leave from its own address, as
		// its UDP requests do from its socket.
		for _, l := range s.listeners {
			l.pinSource = true
		}
	}
	st, err := loadTLS(cfg.SIP)
	if err != nil {
		return nil, fmt.Errorf("b2bua: %w", err)
	}
	s.tls.Store(st)
	sipLog := o.Log.With("component", "sipgo")
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgenTLSConfig(s.clientTLS()),
		sipgo.WithUserAgent(cfg.SIP.UserAgent),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipLog),
			// Every response over TCP, TLS or WebSocket: no client
			// transaction of sipgo's exists (see s.txl).
			sip.WithTransactionLayerUnhandledResponseHandler(s.onResponse),
		),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(sipLog),
			sip.WithTransportLayerReadFilter(s.frontDoor),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("b2bua: %w", err)
	}
	s.ua = ua
	if s.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog)); err != nil {
		return nil, fmt.Errorf("b2bua: %w", err)
	}
	if s.cli, err = sipgo.NewClient(ua, sipgo.WithClientLogger(sipLog)); err != nil {
		return nil, fmt.Errorf("b2bua: %w", err)
	}
	s.parser = sip.NewParser()
	s.txl = clienttx.New(ua.TransportLayer(), s.strayResponse, sipLog)
	s.cli.TxRequester = s.txl
	for _, m := range []sip.RequestMethod{sip.INVITE, sip.ACK, sip.BYE, sip.CANCEL, sip.OPTIONS,
		sip.INFO, sip.UPDATE, sip.NOTIFY, sip.MESSAGE, sip.REFER, sip.PRACK, sip.SUBSCRIBE,
		sip.REGISTER, sip.PUBLISH} {
		s.srv.OnRequest(m, s.onRequest)
	}
	s.srv.OnNoRoute(s.onRequest)
	ua.TransportLayer().OnMessage(s.wireOrder)
	return s, nil
}

// Config is the configuration in force.
func (s *Switch) Config() *config.Config { return s.cfg.Load() }

// Reload swaps in a new configuration. Calls in progress keep the route they
// were given; new calls use the new one. Listen addresses are not changed by
// a reload; the SIP TLS certificate, key and CAs are read again.
func (s *Switch) Reload(cfg *config.Config) {
	s.routesMu.Lock()
	defer s.routesMu.Unlock()
	s.checkMediaReload(cfg)
	s.reloadTLS(cfg.SIP)
	s.file = cfg
	s.cfg.Store(cfg.WithRoutes(s.dbRoutes))
	s.log.Info("configuration reloaded", "file", cfg.Path(), "routes", len(cfg.Routes))
}

// SetRoutes replaces the routes that come from outside the file (the
// routing tables in PostgreSQL) and applies them to new calls at once:
// a call takes its configuration, and so its route, when it starts, so
// calls in progress keep theirs. Config.WithRoutes says which route wins.
func (s *Switch) SetRoutes(routes []config.Route) {
	s.routesMu.Lock()
	defer s.routesMu.Unlock()
	s.dbRoutes = routes
	s.cfg.Store(s.file.WithRoutes(routes))
	s.log.Info("routes applied", "database_routes", len(routes))
}

// Serve listens on every configured address until ctx is done or a
// listener fails. It binds every address before serving any, so a port in
// use is reported at once.
func (s *Switch) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	var serves []func() error
	s.udpConns = map[string]net.PacketConn{}
	for _, l := range s.listeners {
		addr := net.JoinHostPort(l.ip.String(), strconv.Itoa(l.port))
		switch l.transport {
		case "udp":
			conns, err := listenUDP(ctx, "udp"+ipVersion(l), addr, udpSockets(s.Config().SIP.UDPSockets, l.port, s.cores), s.onUnreachable, s.log)
			if err != nil {
				return fmt.Errorf("b2bua: listen udp %s: %w", addr, err)
			}
			for _, conn := range conns {
				closers = append(closers, conn)
				// The front door answers from any of them: they share the address.
				s.udpConns[conn.LocalAddr().String()] = conn
				serves = append(serves, func() error { return s.srv.ServeUDP(conn) })
			}
		case "tcp":
			ln, err := net.Listen("tcp"+ipVersion(l), addr)
			if err != nil {
				return fmt.Errorf("b2bua: listen tcp %s: %w", addr, err)
			}
			closers = append(closers, ln)
			serves = append(serves, func() error { return s.srv.ServeTCP(ln) })
		case "tls":
			ln, err := net.Listen("tcp"+ipVersion(l), addr)
			if err != nil {
				return fmt.Errorf("b2bua: listen tls %s: %w", addr, err)
			}
			closers = append(closers, ln)
			tln := tls.NewListener(ln, s.serverTLS(l))
			serves = append(serves, func() error { return s.srv.ServeTLS(tln) })
		}
	}
	go s.sweepRegistrations(ctx)
	go s.sweepIdleConnections(ctx)
	errc := make(chan error, len(serves))
	for _, serve := range serves {
		go func() { errc <- serve() }()
	}
	go func() {
		s.udpServed(ctx)
		s.probe(ctx)
	}()
	s.log.Info("SIP listening", "addresses", s.Config().SIP.Listen)
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("listener stopped")
		}
		return fmt.Errorf("b2bua: %w", err)
	}
}

// udpBuffer is the socket buffer size asked for on SIP UDP listeners.
const udpBuffer = 8 << 20

// udpServed waits until sipgo holds every UDP socket, which it takes on
// the serving goroutines: a request sent from a socket before that fails
// (sipgo tries to bind the address anew), and a first probe round sent
// then counted every gateway as silent.
func (s *Switch) udpServed(ctx context.Context) {
	tl := s.ua.TransportLayer()
	for addr := range s.udpConns {
		for {
			if _, err := tl.GetConnection("udp", addr); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Millisecond):
			}
		}
	}
}

func ipVersion(l *listener) string {
	if l.v6 {
		return "6"
	}
	return "4"
}

// Close releases the SIP stack. Call it after Shutdown.
//
// Records still held in memory (the sink failed) get a last write attempt
// first, and Close waits for each: written, or logged whole with the reason
// it was not.
func (s *Switch) Close() error {
	close(s.closing)
	s.heldWG.Wait()
	s.txl.Close()
	return s.ua.Close()
}

// Shutdown stops taking new calls (they get 503), lets calls in progress
// finish for up to the configured drain time or until ctx is done, then
// hangs up the rest with the reason "shutdown".
func (s *Switch) Shutdown(ctx context.Context) {
	s.admission.Store(int32(ShuttingDown))
	drain := s.Config().Timers.Drain
	s.log.Info("draining calls", "active", s.active.Load(), "drain", drain)
	done := make(chan struct{})
	go func() { s.callsWG.Wait(); close(done) }()
	t := time.NewTimer(drain)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
	s.calls.each(func(c *Call) { c.kill(cdr.ReasonShutdown) })
	select {
	case <-done:
	case <-ctx.Done():
	}
	byes := make(chan struct{})
	go func() { s.byesWG.Wait(); close(byes) }()
	select {
	case <-byes:
	case <-ctx.Done():
	}
}

// CallInfo is a read-only view of one active call, for the UI and API.
type CallInfo struct {
	ID       string
	Caller   string
	Called   string
	Source   string
	Route    string
	Gateway  string
	State    string
	Attempts int
	Setup    time.Time
	Connect  time.Time
	// Account is the RADIUS User-Name ("" without RADIUS authorisation).
	Account string
	// MediaRelay names the relay anchoring the media ("" when none), and
	// Codec is the codec the gateway leg negotiated (else the caller's),
	// once the call is answered (codecs.go).
	MediaRelay string
	Codec      string
}

// Snapshot lists the calls up right now.
func (s *Switch) Snapshot() []CallInfo {
	var out []CallInfo
	s.calls.each(func(c *Call) {
		c.mu.Lock()
		out = append(out, c.info())
		c.mu.Unlock()
	})
	return out
}

// info is the call's line in Snapshot. Called with the lock held.
func (c *Call) info() CallInfo {
	ci := CallInfo{
		ID: c.ID, Caller: c.caller, Called: c.called,
		Source: net.JoinHostPort(c.srcIP, strconv.Itoa(c.srcPort)),
		State:  c.a.state.String(), Attempts: len(c.attempts),
		Setup: c.setupT, Connect: c.connectT,
		Account: c.account(), Codec: c.codecB,
	}
	if ci.Codec == "" {
		ci.Codec = c.codecA
	}
	if c.media != nil {
		ci.MediaRelay = c.media.name
		if c.media.name == config.MediaRTPProxy {
			ci.MediaRelay = c.media.relay.Name()
		}
	}
	if c.route != nil {
		ci.Route = c.route.Name
	}
	if c.b != nil {
		ci.Gateway = c.b.gateway.Address
	}
	return ci
}

// ErrNoSuchCall is returned by Hangup for an ID that is not up.
var ErrNoSuchCall = errors.New("no such call")

// Hangup ends a call by ID, as an administrator's kill.
func (s *Switch) Hangup(id string) error {
	c := s.calls.get(keyID(id))
	if c == nil {
		return ErrNoSuchCall
	}
	c.kill(cdr.ReasonAdminKill)
	return nil
}

// ActiveCalls is the number of calls up.
func (s *Switch) ActiveCalls() int64 { return s.active.Load() }

// ClientTransactions is how many client transactions the switch holds:
// requests awaiting their final response, and rejected INVITEs kept for
// Timer D. It follows the calls being set up; one that only grows is a
// leak.
func (s *Switch) ClientTransactions() int { return s.txl.Len() }

// Stats are the switch's counters.
func (s *Switch) Stats() *Stats { return &s.stats }

// admit takes a slot for a new call, or reports the switch full.
func (s *Switch) admit() bool {
	limit := int64(s.Config().Limits.MaxCalls)
	if n := s.active.Add(1); limit > 0 && n > limit {
		s.active.Add(-1)
		return false
	}
	s.callsWG.Add(1)
	return true
}

func (s *Switch) release() {
	s.active.Add(-1)
	s.callsWG.Done()
	s.stats.CallsEnded.Add(1)
}

// emit hands a call's record to the sink. When the sink fails (the spool's
// disk is full) the record is kept in memory and retried with backoff until
// it is taken, and the failure is counted for the alarm: a full disk must
// not crash the switch, nor lose the record while the process lives. The
// call's journal entry stays meanwhile, so a crash does not lose it either.
func (s *Switch) emit(r *cdr.Record) {
	err := s.writeRecord(r)
	if err == nil {
		return
	}
	s.stats.RecordErrors.Add(1)
	s.stats.RecordsPending.Add(1)
	s.log.Error("call record not written; holding it and retrying", "id", r.ID, "error", err)
	s.heldWG.Add(1)
	go func() {
		defer s.heldWG.Done()
		defer s.stats.RecordsPending.Add(-1)
		for wait := time.Second; ; wait = min(2*wait, maxHeldRetry) {
			closing := false
			select {
			case <-time.After(wait):
			case <-s.closing:
				closing = true
			}
			err := s.writeRecord(r)
			if err == nil {
				s.log.Info("held call record written", "id", r.ID)
				return
			}
			s.stats.RecordErrors.Add(1)
			if closing {
				// Last resort: the whole record in the log, for an operator
				// to replay, and why it is there.
				LogSink{Log: s.log}.Write(context.Background(), r)
				s.log.Error("call record not written before exit: it is in the log line above", "id", r.ID, "error", err)
				return
			}
		}
	}()
}

// maxHeldRetry bounds the wait between writes of a held record: once the
// disk has room, held records go to it within seconds.
const maxHeldRetry = 5 * time.Second

func (s *Switch) writeRecord(r *cdr.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.sink.Write(ctx, r)
}

// newCallID is a random (version 4) UUID, written in one allocation:
// uuid.NewString reads its random bytes through an io.Reader, into an
// array that escapes to the heap, for every call and attempt.
func newCallID() string {
	var u uuid.UUID
	crand.Read(u[:])        // crypto/rand: never fails (Go 1.24 and later)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // variant RFC 4122
	return u.String()
}

// newTag makes a From or To tag of ours: 64 random bits (RFC 3261 19.3 asks
// for at least 32) as 16 lowercase hex digits. Not sipgo's GenerateTagN:
// its mixed-case letters can spell "CSeq", and SIPp takes a response's CSeq
// method from the first "CSeq" anywhere in the message, so it refused every
// response carrying such a tag and aborted the call, about one in a million
// (13 places in a tag, each 62^-4). Hex digits cannot spell a header name,
// so no peer that searches a message for one can be misled by our tags.
func newTag() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// sendBye ends one leg's dialog. It does not wait: the BYE's transaction
// runs on its own, tracked for shutdown.
func (s *Switch) sendBye(d *dialog) {
	s.byesWG.Add(1)
	go s.bye(d)
}

// bye sends a BYE within d and waits for its answer; the caller has added
// it to byesWG, which it leaves when done.
func (s *Switch) bye(d *dialog) {
	defer s.byesWG.Done()
	req := d.newRequest(sip.BYE, d.localSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 64*sip.T1)
	defer cancel()
	res, _, err := s.doAuth(ctx, d, req)
	if err != nil {
		s.log.Debug("BYE failed", "call_id", d.callID, "error", err)
	} else if res.StatusCode >= 300 {
		s.log.Debug("BYE refused", "call_id", d.callID, "code", res.StatusCode)
	}
}

// do sends a non-INVITE request built by us and waits for its final response.
func (s *Switch) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	tx, err := s.cli.TransactionRequest(ctx, req, prebuilt)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, err
			}
			return nil, errors.New("transaction ended without a response")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
