package rtpproxyctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config is the set of rtpproxies the B2BUA anchors media on.
type Config struct {
	Relays []RelayConfig
	Options
	// ProbeInterval is how often a relay that stopped answering is probed
	// (V and VF) until it is back; 0 = 5 s.
	ProbeInterval time.Duration
	// HealthInterval is how often a relay in service is asked V, each probe
	// bounded by the interval itself (and at least Options.Timeout): a
	// relay that dies between two calls' commands is noticed within the
	// interval plus that bound, not at its calls' next command. 0 = 2 s;
	// negative = never (a relay is then seen dead only when a command
	// times out).
	HealthInterval time.Duration
	// NotifyListen is where Tollgate receives timeout notifications:
	// "tcp:host:port" or "unix:/path"; "" = none.
	NotifyListen string
	// NotifySocket is the target U commands carry; it must equal one of the
	// relay's -n options. "" = NotifyListen.
	NotifySocket string
	// OnTimeout is called once per call whose media timed out on the relay.
	// It must not block (hand the event to the call's goroutine).
	OnTimeout func(Dialog)
	// OnRelayLost is called once for each call anchored on a relay when
	// that relay goes out of service (a health probe or a command got no
	// answer): its media no longer flows. It must not block.
	OnRelayLost func(Dialog)
	// OnDTMF is called for each digit a party sent as RFC 4733 events in
	// a stream with RTPOptions.DTMFNotify, once the event ended, with the
	// side that sent it. It must not block.
	OnDTMF func(Dialog, Side, DTMFEvent)
	// AnchorHold writes the relay address even into an SDP that holds with
	// 0.0.0.0; by default such a stream keeps 0.0.0.0, so the hold stays
	// a hold for the far end.
	AnchorHold bool
	// CounterInterval is how often the counters of the calls up are read
	// (Q, without deleting): rtpproxy deletes a timed-out session before
	// it notifies, and a dead relay answers nothing, so what the last
	// reading saw is what such a call's record gets. Kept below the
	// relay's media timeout (rtpproxy -T, 60 s by default), a reading
	// falls after the media stopped and the counts are exact. 0 = 30 s;
	// negative = never.
	CounterInterval time.Duration
	Logger          *slog.Logger
}

// RelayConfig is one rtpproxy.
type RelayConfig struct {
	// Address as rtpproxy's -s: udp:host[:port] (port 22222 by default),
	// udp6:host[:port], unix:/path (one command per connection),
	// cunix:/path or tcp:host:port (persistent).
	Address string
	Weight  int // share of new calls; 0 = 1
	// Advertise is the address put into SDP when the relay replies with a
	// port alone (it is bound to a wildcard address); Advertise6 is the
	// same for a port asked in IPv6 (an IPv6 party's SDP, or r/l naming
	// an IPv6 address).
	Advertise, Advertise6 netip.Addr
}

// relay is one configured rtpproxy and its health.
type relay struct {
	cfg    RelayConfig
	client *Client
	health atomic.Int32 // a relayHealth
}

// relayHealth is where a relay stands for the pool.
type relayHealth int32

const (
	// relayDown: it did not answer; it takes no new calls, its calls' BYEs
	// and re-INVITEs do not wait for it, and it is probed every
	// ProbeInterval until it answers again. Relays start here.
	relayDown relayHealth = iota
	// relayUp: it answers; it takes new calls and is probed every
	// HealthInterval.
	relayUp
)

func (r *relay) up() bool { return relayHealth(r.health.Load()) == relayUp }

// moveTo changes the relay's health and reports whether it changed, so
// that of several goroutines seeing the same failure one acts on it.
func (r *relay) moveTo(h relayHealth) bool {
	from := relayUp
	if h == relayUp {
		from = relayDown
	}
	return r.health.CompareAndSwap(int32(from), int32(h))
}

// Pool is the set of relays; it opens one MediaRelay per call. It is safe
// for concurrent use.
type Pool struct {
	cfg    Config
	log    *slog.Logger
	relays []*relay
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	notify    *NotifyListener
	tagPrefix string
	tagSeq    atomic.Uint64
	mu        sync.Mutex
	byTag     map[string]*Session
	// open are the calls anchored and not deleted, with their relay: for
	// the counter polls, and the calls to tell when a relay is lost.
	open map[*Session]*relay
}

// New opens a Pool and probes every relay (in parallel, bounded by the
// retransmission settings). Relays that do not answer start out of service
// and are probed in the background; New fails only on bad configuration.
func New(ctx context.Context, cfg Config) (*Pool, error) {
	if len(cfg.Relays) == 0 {
		return nil, errors.New("rtpproxy: no relay configured")
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = 5 * time.Second
	}
	if cfg.NotifySocket == "" {
		cfg.NotifySocket = cfg.NotifyListen
	}
	if cfg.CounterInterval == 0 {
		cfg.CounterInterval = 30 * time.Second
	}
	if cfg.HealthInterval == 0 {
		cfg.HealthInterval = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Pool{cfg: cfg, log: cfg.Logger.With("component", "rtpproxyctl"),
		tagPrefix: "tg" + strconv.FormatUint(uint64(rand.Uint32()), 36) + "-", byTag: make(map[string]*Session), open: make(map[*Session]*relay)}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	for _, rc := range cfg.Relays {
		if rc.Weight < 0 {
			p.Close()
			return nil, fmt.Errorf("rtpproxy %s: negative weight", rc.Address)
		}
		if rc.Weight == 0 {
			rc.Weight = 1
		}
		c, err := NewClient(rc.Address, cfg.Options)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.relays = append(p.relays, &relay{cfg: rc, client: c})
	}
	if cfg.NotifyListen != "" {
		n, err := ListenNotify(cfg.NotifyListen, p.notified)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.notify = n
	}
	var wg sync.WaitGroup
	for _, r := range p.relays {
		wg.Go(func() {
			if err := r.client.Probe(ctx); err != nil {
				p.log.Warn("rtpproxy not usable at start, probing in the background", "relay", r.cfg.Address, "err", err)
				return
			}
			r.moveTo(relayUp)
			p.log.Info("rtpproxy in service", "relay", r.cfg.Address, "features", r.client.Features())
		})
	}
	wg.Wait()
	for _, r := range p.relays {
		p.wg.Go(func() { p.monitor(r) })
	}
	if cfg.CounterInterval > 0 {
		p.wg.Go(p.pollCounters)
	}
	return p, nil
}

// pollCounters reads the counters of every call up, one call after the
// other (a sweep slower than the interval just makes the next one later),
// in one goroutine for all calls.
func (p *Pool) pollCounters() {
	t := time.NewTicker(p.cfg.CounterInterval)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		calls := make([]*Session, 0, len(p.open))
		for s := range p.open {
			calls = append(calls, s)
		}
		p.mu.Unlock()
		for _, s := range calls {
			if p.ctx.Err() != nil {
				return
			}
			s.poll(p.ctx)
		}
	}
}

func (p *Pool) track(s *Session, r *relay) {
	p.mu.Lock()
	p.open[s] = r
	p.mu.Unlock()
}

func (p *Pool) untrack(s *Session) {
	p.mu.Lock()
	delete(p.open, s)
	p.mu.Unlock()
}

// Close stops the background probes and the notify listener and closes
// every relay's transport. Sessions still open fail their next command.
func (p *Pool) Close() error {
	p.cancel()
	var err error
	if p.notify != nil {
		err = p.notify.Close()
	}
	for _, r := range p.relays {
		err = errors.Join(err, r.client.Close())
	}
	p.wg.Wait()
	return err
}

// Open returns the MediaRelay for a new call. The relay is chosen on the
// first Offer; nothing is sent before.
func (p *Pool) Open(d Dialog) MediaRelay {
	return &Session{pool: p, d: d, streams: make(map[int]*streamState)}
}

// RelayStatus describes one relay for the admin UI.
type RelayStatus struct {
	Address  string
	Weight   int
	InUse    bool // answering and taking new calls
	Features Features
}

// Status returns the state of every configured relay.
func (p *Pool) Status() []RelayStatus {
	out := make([]RelayStatus, len(p.relays))
	for i, r := range p.relays {
		out[i] = RelayStatus{Address: r.cfg.Address, Weight: r.cfg.Weight, InUse: r.up(), Features: r.client.Features()}
	}
	return out
}

// pick chooses a relay for a new call, weighted, among those in service and
// not yet tried for it.
func (p *Pool) pick(tried []*relay) *relay {
	total := 0
	for _, r := range p.relays {
		if r.up() && !contains(tried, r) {
			total += r.cfg.Weight
		}
	}
	if total == 0 {
		return nil
	}
	n := rand.IntN(total)
	for _, r := range p.relays {
		if !r.up() || contains(tried, r) {
			continue
		}
		if n < r.cfg.Weight {
			return r
		}
		n -= r.cfg.Weight
	}
	return nil
}

func contains(rs []*relay, r *relay) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// failed takes a relay out of service after a transport failure (no
// reply, connection refused) and tells each call anchored on it.
func (p *Pool) failed(r *relay, err error) {
	if !r.moveTo(relayDown) {
		return
	}
	p.mu.Lock()
	var lost []Dialog
	for s, on := range p.open {
		if on == r {
			lost = append(lost, s.d)
		}
	}
	p.mu.Unlock()
	p.log.Warn("rtpproxy out of service", "relay", r.cfg.Address, "calls", len(lost), "err", err)
	if p.cfg.OnRelayLost != nil {
		for _, d := range lost {
			p.cfg.OnRelayLost(d)
		}
	}
}

// monitor watches one relay for the pool's life: in service, a V every
// HealthInterval (a V costs the relay nothing, and a dead relay is then
// found without waiting for a call's command to time out); out of
// service, a full probe (V and the VFs, since a restarted relay may be
// another version) every ProbeInterval until it answers.
func (p *Pool) monitor(r *relay) {
	t := time.NewTimer(p.nextCheck(r))
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		if r.up() {
			if err := p.checkHealth(r); err != nil && p.ctx.Err() == nil {
				p.failed(r, fmt.Errorf("health probe: %w", err))
			}
		} else if err := r.client.Probe(p.ctx); err != nil {
			p.log.Debug("rtpproxy still out of service", "relay", r.cfg.Address, "err", err)
		} else if r.moveTo(relayUp) {
			p.log.Info("rtpproxy back in service", "relay", r.cfg.Address, "features", r.client.Features())
		}
		t.Reset(p.nextCheck(r))
	}
}

// nextCheck is how long monitor waits before looking at r again; a relay
// in service is not health-probed when HealthInterval is negative, but is
// still looked at then, in case it goes out of service meanwhile.
func (p *Pool) nextCheck(r *relay) time.Duration {
	if r.up() && p.cfg.HealthInterval > 0 {
		return p.cfg.HealthInterval
	}
	return p.cfg.ProbeInterval
}

// checkHealth asks r for its version, within one HealthInterval (at least
// one command timeout). A relay in service that is not health-probed
// passes.
func (p *Pool) checkHealth(r *relay) error {
	if p.cfg.HealthInterval < 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(p.ctx, max(p.cfg.HealthInterval, p.cfg.Timeout))
	defer cancel()
	v, err := r.client.Command(ctx, "V")
	if err == nil && v != capBasic {
		err = fmt.Errorf("version %q: %w", v, ErrUnsupported)
	}
	return err
}

// newTag returns a notify tag unique to this process's life.
func (p *Pool) newTag(s *Session) string {
	tag := p.tagPrefix + strconv.FormatUint(p.tagSeq.Add(1), 10)
	p.mu.Lock()
	p.byTag[tag] = s
	p.mu.Unlock()
	return tag
}

func (p *Pool) dropTag(tag string) {
	p.mu.Lock()
	delete(p.byTag, tag)
	p.mu.Unlock()
}

// notified handles one notification line: a digit a party sent
// (dtmf_notify), or a media timeout's bare tag.
func (p *Pool) notified(line string) {
	tag, fromTag, party, ev, ok := parseDTMFNotice(line)
	if !ok {
		p.timedOut(line)
		return
	}
	p.mu.Lock()
	s := p.byTag[tag]
	p.mu.Unlock()
	if s == nil {
		p.log.Debug("rtpproxy DTMF notification for no current call", "tag", tag)
		return
	}
	from, ok := s.dtmfFrom(fromTag, party)
	if !ok {
		p.log.Warn("rtpproxy DTMF notification for a session the call does not have", "call_id", s.d.CallID, "from_tag", fromTag)
		return
	}
	if p.cfg.OnDTMF != nil {
		p.cfg.OnDTMF(s.d, from, ev)
	}
}

// timedOut handles a timeout notification. Each media session of a call
// notifies on its own; the call hears about the first one only.
func (p *Pool) timedOut(tag string) {
	p.mu.Lock()
	s := p.byTag[tag]
	delete(p.byTag, tag)
	p.mu.Unlock()
	if s == nil {
		p.log.Debug("rtpproxy notification for no current call", "tag", tag)
		return
	}
	p.log.Info("media timeout", "call_id", s.d.CallID, "relay", s.Name())
	if p.cfg.OnTimeout != nil {
		p.cfg.OnTimeout(s.d)
	}
}
