package b2bua

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/rtpproxyctl"
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// mediaTimeout bounds one relay operation (its own retransmissions are
// bounded by the relay settings; this is the backstop). Relay operations do
// not use the call's setup context: a U aborted half-way would leave a
// session on the relay that the call no longer knows about.
const mediaTimeout = 10 * time.Second

// callMedia is the media plumbing of one call whose route anchors media on
// a relay. A call in mode none has none, and its SDP is never parsed.
type callMedia struct {
	relay rtpproxyctl.MediaRelay
	name  string // for the CDR: "builtin", or the rtpproxy's address
	// offer is the caller's offer as anchored for the first attempt;
	// later attempts anchor it again, which also restarts the relay's
	// setup timer while the hunt goes on.
	offer    []byte
	attempts int
	// offerFamily is the address of the first endpoint the relay gave
	// the caller's offer (for its family only); gateway is the current
	// attempt's gateway address. An offer anchored for a gateway of the
	// other family is anchored again for this one (docs/ipv6.md).
	offerFamily netip.Addr
	gateway     netip.Addr
	// origin is, per side an SDP goes to, the relay address the last
	// SDP toward it got: a hold (whose endpoint is 0.0.0.0 or ::) moved
	// to that side's family gets it in o= too, so that o= stays the
	// same across the call's offers.
	origin [2]netip.Addr
}

type mediaOp uint8

const (
	opOffer  mediaOp = iota // rtpproxy U
	opAnswer                // rtpproxy L
)

// errNotSDP is a body a relay cannot anchor: neither SDP nor a
// multipart/mixed body with an SDP part.
var errNotSDP = errors.New("body is not application/sdp")

// sideOf names the side a message of the call comes from.
func sideOf(fromA bool) rtpproxyctl.Side {
	if fromA {
		return rtpproxyctl.Caller
	}
	return rtpproxyctl.Callee
}

// startMedia opens the call's relay session for the media mode of its
// first attempt (hopMode: the first gateway's, else the route's) and
// anchors the caller's offer, before any gateway is tried. When the call
// cannot go on it answers the caller itself (488 for bad SDP, 503 when the
// relay refuses) and returns false.
func (c *Call) startMedia(route *config.Route, first hop) bool {
	mode := c.hopMode(first)
	if mode == config.MediaNone || mode == "" {
		return true
	}
	if first.gw.Media != "" && c.sw.media.pool(mode) == nil {
		// A gateway of the routing tables may name a relay that does
		// not run: hopMedia anchors it on one that does, and says so.
		return true
	}
	err := c.openMedia(mode)
	if err == nil {
		return true
	}
	s := c.sw
	if errors.Is(err, errCallEnded) {
		return false
	}
	code, reason := mediaRefusal(err)
	var hdrs []sip.Header
	switch {
	case errors.Is(err, errNoRelay):
		s.log.Error("route needs a media relay that is not running (media changes need a restart)",
			"route", route.Name, "mode", mode)
		code, reason = 503, "Media Relay Unavailable"
		hdrs = append(hdrs, s.retryAfter())
	case code == 415:
		s.log.Info("caller's offer not anchored", "call", c.ID, "code", code, "error", err)
		hdrs = append(hdrs, sip.NewHeader("Accept", "application/sdp"))
	case code == 503:
		s.log.Info("caller's offer not anchored", "call", c.ID, "code", code, "error", err)
		hdrs = append(hdrs, s.retryAfter())
	default:
		s.log.Info("caller's offer not anchored", "call", c.ID, "code", code, "error", err)
	}
	c.failA(code, reason, cdr.ReasonRejected, cdr.ReleasedBySwitch, hdrs...)
	return false
}

// errNoRelay is a media mode whose relay is not running.
var errNoRelay = errors.New("media relay not running")

// errCallEnded is returned for a call that ended meanwhile.
var errCallEnded = errors.New("call ended")

// openMedia opens a relay session of the given mode for the call and
// anchors the caller's offer (none yet with a late offer). On error the
// call has no media session.
func (c *Call) openMedia(mode string) error {
	pool := c.sw.media.pool(mode)
	if pool == nil {
		return errNoRelay
	}
	c.mu.Lock()
	if c.over() {
		c.mu.Unlock()
		return errCallEnded
	}
	m := &callMedia{
		relay: pool.Open(rtpproxyctl.Dialog{CallID: c.a.d.callID, CallerTag: c.a.d.remoteTag, CalleeTag: c.a.d.localTag}),
		name:  mode,
	}
	c.media = m
	inA := c.inviteA
	c.mu.Unlock()
	if len(inA.Body()) == 0 {
		return nil // late offer: the gateway's 200 carries it
	}
	body, fam, err := c.anchorFor(opOffer, rtpproxyctl.Caller, inA)
	if err != nil {
		c.dropMedia()
		return err
	}
	m.offer, m.offerFamily = body, fam
	return nil
}

// dropMedia deletes the call's relay session before the call ends: the
// next gateway gets the caller's SDP as it is.
func (c *Call) dropMedia() {
	c.mu.Lock()
	m := c.media
	c.media = nil
	c.mu.Unlock()
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), mediaTimeout)
	defer cancel()
	if _, err := m.relay.Delete(ctx); err != nil {
		c.sw.log.Warn("media session not cleanly deleted", "call", c.ID, "error", err)
	}
}

// attemptOffer returns the caller's offer anchored for the next gateway
// attempt, to gateway gw reached from listener l (nil: send the caller's
// body as it is), or the result that ends the hunt when the relay no
// longer takes it.
func (c *Call) attemptOffer(gw config.Gateway, l *listener) ([]byte, *attemptResult) {
	c.mu.Lock()
	m, inA := c.media, c.inviteA
	if m != nil {
		m.gateway = gatewayAddr(gw, l)
	}
	c.mu.Unlock()
	if m == nil || m.offer == nil {
		return nil, nil
	}
	m.attempts++
	if m.attempts == 1 && !otherFamily(m.gateway, m.offerFamily) {
		return m.offer, nil
	}
	body, err := c.anchor(opOffer, rtpproxyctl.Caller, inA)
	if err != nil {
		c.sw.log.Warn("caller's offer not anchored for the next gateway", "call", c.ID, "error", err)
		code, reason := mediaRefusal(err)
		return nil, &attemptResult{code: code, reason: reason, stop: true}
	}
	return body, nil
}

// calleeSDP anchors the SDP of a gateway's 18x or 2xx during setup: the
// answer to the caller's offer, or the gateway's own offer when the caller
// made none (late offer). It returns nil when there is nothing to rewrite.
func (c *Call) calleeSDP(res *sip.Response) ([]byte, error) {
	c.mu.Lock()
	m, late := c.media, c.offerWay == lateOffer
	c.mu.Unlock()
	if m == nil || len(res.Body()) == 0 {
		return nil, nil
	}
	op := opAnswer
	if late {
		op = opOffer
	}
	return c.anchor(op, rtpproxyctl.Callee, res)
}

// attemptFailure is how an attempt ends when the gateway's SDP could not be
// anchored: bad SDP fails that gateway only (the hunt goes on, as for any
// broken response); a relay that refuses or fails ends the hunt with 503.
func attemptFailure(err error) *attemptResult {
	if errors.Is(err, sdpedit.ErrMalformed) || errors.Is(err, errNotSDP) {
		return &attemptResult{code: 502, reason: "Bad Gateway"}
	}
	return &attemptResult{code: 503, reason: "Media Relay Unavailable", stop: true}
}

// rejectAnswer gets rid of a gateway's 2xx whose SDP could not be anchored:
// ACK and BYE it, so the gateway does not bill a call nobody hears.
func (s *Switch) rejectAnswer(c *Call, b *attemptLeg, res *sip.Response, err error) *attemptResult {
	s.log.Info("gateway answer not anchored: hanging it up", "call", c.ID, "gateway", b.gateway.Address, "error", err)
	s.calls.del(keyB(b.d.callID), c)
	s.ackAndBye(res)
	return c.attemptOver(b, attemptFailure(err))
}

// ackSDP anchors the SDP of an ACK (the answer to a late offer) from side
// from, for the ACK sent on the other leg. ok is false when it could not:
// the ACK then goes without a body.
func (c *Call) ackSDP(from rtpproxyctl.Side, ack *sip.Request) (body []byte, ok bool) {
	c.mu.Lock()
	m := c.media
	c.mu.Unlock()
	if m == nil || len(ack.Body()) == 0 {
		return ack.Body(), true
	}
	body, err := c.anchor(opAnswer, from, ack)
	if err != nil {
		c.sw.log.Warn("SDP answer in ACK not anchored", "call", c.ID, "error", err)
		return nil, false
	}
	return body, true
}

// inDialogSDP anchors the SDP of a re-INVITE or UPDATE, or of its 2xx,
// travelling from side from. It returns nil when there is nothing to
// rewrite.
func (c *Call) inDialogSDP(op mediaOp, from rtpproxyctl.Side, msg headed) ([]byte, error) {
	c.mu.Lock()
	m := c.media
	c.mu.Unlock()
	if m == nil || len(msg.Body()) == 0 {
		return nil, nil
	}
	return c.anchor(op, from, msg)
}

// anchor runs one SDP through the relay and returns it rewritten to the
// relay's address and ports.
func (c *Call) anchor(op mediaOp, from rtpproxyctl.Side, msg headed) ([]byte, error) {
	body, _, err := c.anchorFor(op, from, msg)
	return body, err
}

// anchorFor is anchor, which also returns the address of the first
// endpoint the relay gave (invalid when none), for its family. Each
// stream is anchored toward the party the SDP goes to: the relay answers
// in that party's address family, which is how an IPv4 caller and an IPv6
// gateway (or the reverse) hear each other.
func (c *Call) anchorFor(op mediaOp, from rtpproxyctl.Side, msg headed) ([]byte, netip.Addr, error) {
	var ct string
	if h := headerNamed(msg, "Content-Type"); h != nil {
		ct = h.Value()
	}
	// The SDP itself, or the SDP part of a multipart body (SIP-I/SIP-T),
	// whose other parts cross as they are.
	body, err := sdpedit.FindSDP(ct, msg.Body())
	if err != nil {
		return nil, netip.Addr{}, err
	}
	if body == nil {
		return nil, netip.Addr{}, errNotSDP
	}
	sd, err := sdpedit.Parse(body.SDP())
	if err != nil {
		return nil, netip.Addr{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), mediaTimeout)
	defer cancel()
	c.mu.Lock()
	m := c.media
	relay, chain := m.relay, c.chain
	toward := m.gateway
	if from == rtpproxyctl.Callee {
		toward, _ = netip.ParseAddr(c.srcIP)
	}
	c.mu.Unlock()
	streams := anchorableStreams(sd, toward)
	chain.relayStreams(from, sd, streams)
	bind, advertise := c.sw.Config().SIP.MediaInterface(chain.mediaInterface(facing(from)))
	for i := range streams {
		streams[i].Local = bind
	}
	var eps []rtpproxyctl.Endpoint
	if op == opOffer {
		eps, err = relay.Offer(ctx, from, streams)
	} else {
		eps, err = relay.Answer(ctx, from, streams)
	}
	if err != nil {
		return nil, netip.Addr{}, err
	}
	if advertise.IsValid() {
		for i := range eps {
			if eps[i].Addr.IsValid() && !eps[i].Addr.IsUnspecified() {
				eps[i].Addr = advertise
			}
		}
	}
	if err := rewriteStreams(sd, streams, eps); err != nil {
		return nil, netip.Addr{}, err
	}
	var first netip.Addr
	for _, ep := range eps {
		if ep.Port != 0 {
			first = ep.Addr
			break
		}
	}
	to := rtpproxyctl.Caller
	if from == rtpproxyctl.Caller {
		to = rtpproxyctl.Callee
	}
	c.mu.Lock()
	switch {
	case !first.IsValid():
	case first.IsUnspecified():
		sd.MoveOrigin(m.origin[to])
	default:
		m.origin[to] = first
	}
	c.mu.Unlock()
	return body.With(sd.Bytes()), first, nil
}

// otherFamily reports whether a and b are valid addresses of different
// families.
func otherFamily(a, b netip.Addr) bool {
	return a.IsValid() && b.IsValid() && a.Unmap().Is4() != b.Unmap().Is4()
}

// gatewayAddr is the address of a gateway for choosing its media's
// address family: its host when that is an IP literal, else the address
// of the listener its requests leave from, or for a listener on a
// wildcard address the unspecified address of its family (a relay reads
// only the family from it).
func gatewayAddr(gw config.Gateway, l *listener) netip.Addr {
	host, _ := splitHostPort(gw.Address)
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return a.WithZone("")
	}
	if a, ok := netip.AddrFromSlice(l.ip); ok && !a.Unmap().IsUnspecified() {
		return a.Unmap()
	}
	if l.v6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// mediaRefusal is the answer to a request whose SDP could not be anchored.
func mediaRefusal(err error) (int, string) {
	switch {
	case errors.Is(err, errNotSDP):
		return 415, "Unsupported Media Type"
	case errors.Is(err, sdpedit.ErrMalformed):
		return 488, "Not Acceptable Here"
	}
	return 503, "Media Relay Unavailable"
}

// closeMedia ends the call's relay session at teardown and puts its RTP
// counters into the record, per direction: A to B is what the relay
// received from the caller. What the relay does not keep stays unknown
// (bytes on rtpproxy; loss and jitter on rtpproxy before 20230205/20230424;
// see rtpproxyctl.Stats), NULL in the record. Called once, from end,
// without the lock.
func (c *Call) closeMedia(rec *cdr.Record) {
	c.mu.Lock()
	m := c.media
	c.mu.Unlock()
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), mediaTimeout)
	defer cancel()
	st, err := m.relay.Delete(ctx)
	if err != nil {
		c.sw.log.Warn("media session not cleanly deleted", "call", c.ID, "error", err)
	}
	rec.MediaRelay = m.name
	if m.name == config.MediaRTPProxy {
		rec.MediaRelay = m.relay.Name()
	}
	rec.RTPAtoB = st.CallerToCallee
	rec.RTPBtoA = st.CalleeToCaller
	rec.EstimateQuality()
}

// MediaTimedOut is told by a relay that a call's media stopped: the call
// ends like any other, both legs hung up, with the reason "media timeout".
// It must not block (it runs on the notification reader).
func (s *Switch) MediaTimedOut(d rtpproxyctl.Dialog) {
	c := s.callOfDialog(d)
	if c == nil {
		return
	}
	s.log.Info("media timeout: hanging up", "call", c.ID)
	go c.kill(cdr.ReasonMediaTimeout)
}

func (s *Switch) retryAfter() sip.Header {
	return sip.NewHeader("Retry-After", strconv.Itoa(int(s.Config().Limits.RetryAfter.Seconds())))
}
