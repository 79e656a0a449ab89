package relay

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Relay is the built-in RTP relay and its rtpproxy control server.
type Relay struct {
	cfg       Config
	log       *slog.Logger
	media     mediaAddrs
	ports     *portPool
	notifiers map[string]*notifier
	controls  []*control
	epoch     time.Time
	loops     []*loop // the packet loops; a session's sockets all go to one
	nextLoop  atomic.Uint32
	loopsDone sync.WaitGroup

	mu       sync.Mutex // the session table; never taken on the packet path
	sessions map[string][]*session
	nsess    int
	acc      totals // session counts, and the packet counters of destroyed sessions

	draining atomic.Bool
	cmds     cmdCounters
	cache    *replyCache
	// measured by the 1-Hz sweep
	ppsIn    atomic.Uint64 // float64 bits
	load     atomic.Uint64 // float64 bits
	busy     atomic.Uint64 // float64 bits: the busiest packet loop's share of time
	busySess atomic.Int64  // sessions when busy was measured
	refused  atomic.Uint64
	// telephone-events ended, to be told (dtmf_notify), and those dropped
	// because too many waited
	dtmfOut  chan dtmfEnded
	dtmfLost atomic.Uint64
	// the transcoder's conversions in progress, per encoding
	conversions conversions

	closeOnce sync.Once
}

// totals counts sessions over the relay's life and accumulates the packet
// counters of sessions as they are destroyed.
type totals struct {
	created, destroyed, timeouts, complete uint64
	noRTP, oneWayRTP, noRTCP, oneWayRTCP   uint64
	rcvd, relayed, dropped, discard        uint64
	rtpaSent, rtpaRcvd, rtpaDups, rtpaLost uint64
	rtpaPerrs                              uint64
	duration                               float64
}

type cmdCounters struct {
	rcvd, dups, succd, errs, repld atomic.Uint64
}

// New checks cfg, binds the control sockets (so that their addresses are
// known before Serve) and returns a relay ready for Handle and Serve.
func New(cfg Config, log *slog.Logger) (*Relay, error) {
	cfg = cfg.WithDefaults()
	media, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	r := &Relay{
		cfg:       cfg,
		log:       log,
		media:     media,
		notifiers: map[string]*notifier{},
		epoch:     time.Now(),
		sessions:  map[string][]*session{},
		cache:     newReplyCache(),
		dtmfOut:   make(chan dtmfEnded, dtmfNotices),
	}
	for _, t := range cfg.Notify {
		n, err := newNotifier(t, log)
		if err != nil {
			return nil, err
		}
		r.notifiers[t] = n
	}
	skip := map[int]bool{}
	for _, spec := range cfg.Control {
		ca, err := parseControl(spec)
		if err != nil {
			r.closeControls()
			return nil, err
		}
		c, err := listenControl(ca)
		if err != nil {
			r.closeControls()
			return nil, err
		}
		r.controls = append(r.controls, c)
		if p := c.port(); p > 0 {
			skip[p] = true
		}
	}
	r.ports = newPortPool(cfg.PortMin, cfg.PortMax, skip)
	for range runtime.GOMAXPROCS(0) {
		l, err := newLoop(r)
		if err != nil {
			r.closeControls()
			for _, l := range r.loops {
				l.shut() // not started yet
			}
			return nil, err
		}
		r.loops = append(r.loops, l)
	}
	for _, l := range r.loops {
		r.loopsDone.Add(1)
		go l.run()
	}
	return r, nil
}

// pickLoop spreads sessions over the packet loops.
func (r *Relay) pickLoop() *loop {
	return r.loops[int(r.nextLoop.Add(1))%len(r.loops)]
}

// stopLoops stops the packet loops, which close the sockets left, and waits
// for them.
func (r *Relay) stopLoops() {
	for _, l := range r.loops {
		l.halt()
	}
	r.loopsDone.Wait()
}

// ControlAddrs returns the bound address of each control socket, in the
// order of Config.Control ("udp:127.0.0.1:40000", "unix:/path", ...), with
// ports chosen by the kernel filled in.
func (r *Relay) ControlAddrs() []string {
	out := make([]string, len(r.controls))
	for i, c := range r.controls {
		out[i] = c.String()
	}
	return out
}

// Serve answers all control sockets, runs the timeout sweep and delivers
// notifications until ctx is done. Then it refuses new sessions (E99),
// closes the sockets, ends every session and returns ctx's error.
func (r *Relay) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, n := range r.notifiers {
		wg.Go(func() { n.run(ctx) })
	}
	for _, c := range r.controls {
		wg.Go(func() { c.serve(ctx, r) })
	}
	wg.Go(func() { r.sweep(ctx) })
	wg.Go(func() { r.tellDTMF(ctx) })
	<-ctx.Done()
	r.draining.Store(true)
	r.closeControls()
	wg.Wait()
	r.Close()
	return ctx.Err()
}

// Close ends every session, releases all ports and waits for the packet
// loops to exit. It is what Serve does on the way out; call it when Serve
// is not used.
func (r *Relay) Close() error {
	r.closeOnce.Do(func() {
		r.draining.Store(true)
		r.closeControls()
		r.mu.Lock()
		for _, list := range r.sessions {
			for _, s := range list {
				r.destroyLocked(s, false)
			}
		}
		r.mu.Unlock()
		r.stopLoops()
	})
	return nil
}

func (r *Relay) closeControls() {
	for _, c := range r.controls {
		c.close()
	}
}

// now is the relay's monotonic clock in nanoseconds.
func (r *Relay) now() int64 { return int64(time.Since(r.epoch)) }

// sweep is the 1-Hz timer of section 3.2: it ages sessions, ends the
// expired ones with a notification, measures the received packet rate (the
// E98 budget) and the process CPU load (Il), and purges the reply cache.
func (r *Relay) sweep(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastRcvd, lastAt := r.received(), time.Now()
	lastCPU := cpuTime()
	lastBusy := make([]int64, len(r.loops))
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			rcvd := r.age()
			dt := now.Sub(lastAt).Seconds()
			if dt > 0 {
				r.ppsIn.Store(floatBits(float64(rcvd-lastRcvd) / dt))
				cpu := cpuTime()
				r.load.Store(floatBits((cpu - lastCPU).Seconds() / dt))
				lastCPU = cpu
				r.measureBusy(lastBusy, dt)
			}
			lastRcvd, lastAt = rcvd, now
			r.cache.purge(now)
		}
	}
}

// measureBusy stores the share of the last dt seconds the busiest packet
// loop spent handling packets, and the session count it was measured with.
func (r *Relay) measureBusy(last []int64, dt float64) {
	busiest := 0.0
	for i, l := range r.loops {
		b := l.busy.Load()
		busiest = max(busiest, float64(b-last[i])/1e9/dt)
		last[i] = b
	}
	r.mu.Lock()
	n := r.nsess
	r.mu.Unlock()
	r.busy.Store(floatBits(busiest))
	r.busySess.Store(int64(n))
}

// busyMinRate is the packet rate (per second) below which the loops' busy
// share does not refuse sessions: so few packets cannot saturate a loop, and
// a loop made slow by other programs on the machine is not helped by
// refusing calls.
const busyMinRate = 1000

// projectedBusyLocked is the busiest loop's share of time with the sessions
// there are now, extrapolated from the last measurement: sessions set up
// since then have not sent much media yet, but will. r.mu is held.
func (r *Relay) projectedBusyLocked() float64 {
	b := float64From(r.busy.Load())
	if n := r.busySess.Load(); n > 0 && int64(r.nsess) > n {
		b = b * float64(r.nsess) / float64(n)
	}
	return b
}

// age runs one TTL tick over all sessions and returns the packets received
// so far (destroyed sessions included).
func (r *Relay) age() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	rcvd := r.acc.rcvd
	for _, list := range r.sessions {
		for _, s := range list {
			s.mu.Lock()
			if s.active && s.complete {
				s.ttl = s.streamTTL
			} else {
				s.ttl--
			}
			s.active = false
			s.logDTMF()
			expired := s.ttl <= 0
			for i := range s.legs {
				rcvd += s.legs[i].pipes[kindRTP].npkts + s.legs[i].pipes[kindRTCP].npkts
			}
			s.mu.Unlock()
			if expired {
				r.destroyLocked(s, true)
			}
		}
	}
	return rcvd
}

func (r *Relay) received() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	rcvd := r.acc.rcvd
	for _, list := range r.sessions {
		for _, s := range list {
			s.mu.Lock()
			for i := range s.legs {
				rcvd += s.legs[i].pipes[kindRTP].npkts + s.legs[i].pipes[kindRTCP].npkts
			}
			s.mu.Unlock()
		}
	}
	return rcvd
}

// destroyLocked removes s from the table, folds its counters into the
// totals and releases its ports. r.mu is held.
func (r *Relay) destroyLocked(s *session, timedOut bool) {
	list := r.sessions[s.callID]
	for i, x := range list {
		if x == s {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(r.sessions, s.callID)
	} else {
		r.sessions[s.callID] = list
	}
	r.nsess--
	s.mu.Lock()
	defer s.mu.Unlock()
	g := &r.acc
	g.destroyed++
	g.duration += time.Since(s.created).Seconds()
	g.discard += s.ndiscard
	rtp0, rtp1 := s.legs[0].pipes[kindRTP].npkts, s.legs[1].pipes[kindRTP].npkts
	rtcp0, rtcp1 := s.legs[0].pipes[kindRTCP].npkts, s.legs[1].pipes[kindRTCP].npkts
	switch {
	case rtp0 == 0 && rtp1 == 0:
		g.noRTP++
	case rtp0 == 0 || rtp1 == 0:
		g.oneWayRTP++
	}
	switch {
	case rtcp0 == 0 && rtcp1 == 0:
		g.noRTCP++
	case rtcp0 == 0 || rtcp1 == 0:
		g.oneWayRTCP++
	}
	for i := range s.legs {
		l := &s.legs[i]
		for k := range l.pipes {
			p := &l.pipes[k]
			g.rcvd += p.npkts
			g.relayed += p.nrelayed
			g.dropped += p.ndropped + p.nignored
		}
		g.rtpaSent += l.rtpa.expected()
		g.rtpaRcvd += l.rtpa.prevRcvd + l.rtpa.received
		g.rtpaDups += l.rtpa.dups
		g.rtpaLost += l.rtpa.lost()
		g.rtpaPerrs += l.rtpa.perrs
	}
	if timedOut {
		g.timeouts++
		if s.notify != nil {
			s.notify.send(s.notifyTag)
		}
	}
	s.closeLocked()
}

func floatBits(f float64) uint64 { return math.Float64bits(f) }

func float64From(b uint64) float64 { return math.Float64frombits(b) }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Stats is a snapshot of the relay's counters, for metrics.
type Stats struct {
	ActiveSessions    int
	SessionsCreated   uint64
	SessionsDestroyed uint64
	SessionsTimedOut  uint64
	SessionsComplete  uint64
	SessionsRefused   uint64 // E98 and E71/E72: overload or no ports
	DTMFNoticesLost   uint64 // dtmf_notify notices dropped: too many waited to be told
	ActiveStreams     int    // legs holding a port pair
	PortPairsFree     int
	PacketsReceived   uint64 // by complete sessions, RTP and RTCP
	PacketsRelayed    uint64
	PacketsDropped    uint64 // no destination yet, refused by latching, or send failed
	PacketsDiscarded  uint64 // arrived before the session was complete
	PacketsPerSecond  float64
	Load              float64 // process CPU seconds per second, last sweep
	Busy              float64 // busiest packet loop's share of time spent relaying, last sweep
	Commands          uint64
	CommandErrors     uint64
	Transcoder        []CodecStats // per encoding; zero counts until a session transcodes
}

// Stats returns the current counters.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.acc
	st := Stats{
		ActiveSessions:    r.nsess,
		SessionsCreated:   g.created,
		SessionsDestroyed: g.destroyed,
		SessionsTimedOut:  g.timeouts,
		SessionsComplete:  g.complete,
		SessionsRefused:   r.refused.Load(),
		DTMFNoticesLost:   r.dtmfLost.Load(),
		PortPairsFree:     r.ports.available(),
		PacketsReceived:   g.rcvd,
		PacketsRelayed:    g.relayed,
		PacketsDropped:    g.dropped,
		PacketsDiscarded:  g.discard,
		PacketsPerSecond:  float64From(r.ppsIn.Load()),
		Load:              float64From(r.load.Load()),
		Busy:              float64From(r.busy.Load()),
		Commands:          r.cmds.rcvd.Load(),
		CommandErrors:     r.cmds.errs.Load(),
		Transcoder:        r.transcoderStats(),
	}
	for _, list := range r.sessions {
		for _, s := range list {
			s.mu.Lock()
			st.PacketsDiscarded += s.ndiscard
			for i := range s.legs {
				l := &s.legs[i]
				if l.port != 0 {
					st.ActiveStreams++
				}
				for k := range l.pipes {
					p := &l.pipes[k]
					st.PacketsReceived += p.npkts
					st.PacketsRelayed += p.nrelayed
					st.PacketsDropped += p.ndropped + p.nignored
				}
			}
			s.mu.Unlock()
		}
	}
	return st
}

// replyAddr formats the "<port> <addr>" of a U/L reply for a port of
// family f, with rtpproxy's " 6" after an IPv6 address.
//
// A leg bound on an interface's address (the l modifier) names that
// address: the switch that asked for it writes its own advertised one.
func (r *Relay) replyAddr(lp legPort) string {
	port, f := lp.port, lp.fam
	adv := r.media.advertise[f]
	if lp.bound.IsValid() {
		adv = lp.bound.String()
	}
	switch {
	case adv == "":
		return strconv.Itoa(port)
	case f == ipv6:
		return strconv.Itoa(port) + " " + adv + " 6"
	}
	return strconv.Itoa(port) + " " + adv
}

func (c *control) String() string {
	switch {
	case c.pc != nil:
		return c.kind + ":" + c.pc.LocalAddr().String()
	case c.ln != nil && c.ca.network == "unix":
		return c.kind + ":" + c.ca.addr
	case c.ln != nil:
		return c.kind + ":" + c.ln.Addr().String()
	}
	return fmt.Sprintf("%s:%s", c.kind, c.ca.addr)
}

func (c *control) port() int {
	switch {
	case c.pc != nil:
		return c.pc.LocalAddr().(*net.UDPAddr).Port
	case c.ln != nil:
		if a, ok := c.ln.Addr().(*net.TCPAddr); ok {
			return a.Port
		}
	}
	return 0
}
