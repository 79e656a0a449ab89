package b2bua

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/goccy/go-json"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/rtpproxyctl"
)

// errCallerCancel is the setup's cancel cause when the caller sent CANCEL
// (sipgo has already answered it and the INVITE with 487).
var errCallerCancel = errors.New("caller cancelled")

// errCallerBye is the cause when the caller sent BYE in the early dialog;
// the INVITE still needs its 487.
var errCallerBye = errors.New("caller hung up before answer")

// errNoPRACK is the cause when the caller has not PRACKed our reliable
// 18x for 64*T1 (RFC 3262 3): the INVITE gets a 5xx.
var errNoPRACK = errors.New("no PRACK of a reliable provisional response")

// killCause ends a call from inside the switch: admin kill, shutdown.
type killCause struct{ reason string }

func (k killCause) Error() string { return k.reason }

// onInvite runs one call from its INVITE to the caller's ACK. sipgo runs it
// on the INVITE's own goroutine, which must not return before the final
// response is sent; once the call is connected and ACKed nothing of the
// call keeps a goroutine.
func (s *Switch) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	// RFC 3261 8.2.2.2: an INVITE with the Call-ID, From tag and CSeq of a
	// call already up is not a new call. With the branch of that call's
	// INVITE it is a late retransmission, arriving after sipgo let the
	// transaction go (the ACK, or Timer L): the call answers it already by
	// retransmitting its 2xx, so it is absorbed as the transaction would
	// have absorbed it. With another branch it is a merged request: 482.
	// (A retry after a 407 has a new CSeq.)
	fromTag, _ := req.From().Params.Get("tag")
	if c := s.calls.get(keyA(req.CallID().Value(), fromTag)); c != nil && c.inviteCSeq == req.CSeq().SeqNo {
		if topBranch(req) != c.inviteBranch {
			s.reply(req, tx, 482, "Loop Detected")
		}
		return
	}
	switch s.Admission() {
	case Draining:
		s.refuse(req, tx, "Draining")
		return
	case ShuttingDown:
		s.refuse(req, tx, "Shutting Down")
		return
	}
	if !s.recordsDurable() {
		// No record of this refusal either: it could not be made durable
		// any more than the call's, and would only eat the spool's reserve.
		s.stats.RefusedNoSpace.Add(1)
		s.respondBusy(req, tx, "Call Records Not Durable")
		return
	}
	if !s.admit() {
		s.refuse(req, tx, "Too Many Calls")
		return
	}
	s.stats.CallsStarted.Add(1)
	// Our tag goes on the request's To so that every response built from
	// it, sipgo's own 487 included, carries the same tag.
	tag := newTag()
	req.To().Params.Add("tag", tag)
	trying := newResponse(req, 100, "Trying")
	if err := tx.Respond(trying); err != nil {
		s.log.Debug("100 Trying not sent", "error", err)
	}
	c := s.newCall(req, tx, tag)
	s.calls.add(c)
	c.journalSetup()
	// The callback holds the setup's cancel function, not the call: sipgo
	// v1.7.2 keeps a terminated INVITE transaction (and so this callback)
	// until its Timer L fires (acceptedTimer), and the call must not be held
	// with it.
	cancel := c.cancelSetup
	if !tx.OnCancel(func(*sip.Request) { cancel(errCallerCancel) }) {
		cancel(errCallerCancel)
	}
	c.setup()
}

func (s *Switch) newCall(req *sip.Request, tx sip.ServerTransaction, tag string) *Call {
	from, to := req.From(), req.To()
	// What the call keeps of the INVITE's From, Via and request line is
	// copied: a substring would keep the whole header's text as long as the
	// call is up, after the INVITE itself is gone.
	fromTag, _ := from.Params.Get("tag")
	fromTag = strings.Clone(fromTag)
	called := strings.Clone(req.Recipient.User)
	host, port := s.callerAddr(req)
	transport := strings.ToLower(req.Transport())
	l := s.arrivalListener(req)
	c := &Call{
		ID:           newCallID(),
		sw:           s,
		setupT:       time.Now(),
		caller:       strings.Clone(from.Address.User),
		callerName:   strings.Clone(from.DisplayName),
		called:       called,
		calledSent:   called,
		srcIP:        host,
		srcPort:      port,
		inviteA:      req,
		txA:          tx,
		inviteCSeq:   req.CSeq().SeqNo,
		inviteBranch: strings.Clone(topBranch(req)),
		endedCh:      make(chan struct{}),
	}
	if h := headerNamed(req, "User-Agent"); h != nil {
		c.userAgentA = h.Value()
	}
	// Every call that reaches the switch is accounted (DESIGN.md's hard
	// rule), refused ones too: their Stop is the billing side's record
	// of the attempt. The profile or a digest challenge may turn it off.
	if s.aaa.auth != nil || s.aaa.acct != nil {
		c.aaa.rad = &callRadius{accounting: s.aaa.acct != nil}
		c.aaa.rad.confID, _ = aaa.ParseConfID(confID(c.ID)) // the ID is a UUID: it always parses
	}
	if len(req.Body()) == 0 {
		c.offerWay = lateOffer
	}
	c.rel.caller = callerReliability(req)
	c.setupCtx, c.cancelSetup = context.WithCancelCause(context.Background())
	c.a.name = "a"
	c.a.timers.cfg, c.timersB = &noLegTimers, &noLegTimers
	c.move(&c.a, legInvite)
	c.a.d = dialog{
		callID:    req.CallID().Value(),
		local:     textOf(to.Address),
		localName: to.DisplayName,
		localTag:  tag,
		remote:    textOf(from.Address),
		remoteNam: from.DisplayName,
		remoteTag: fromTag,
		listener:  l,
		transport: transport,
		remoteSeq: req.CSeq().SeqNo,
	}
	// Requests to the caller follow its Record-Route, else go back where the
	// INVITE came from: callers behind NAT put unreachable addresses in
	// Contact.
	c.a.d.setRouting(req.Contact(), recordRoutes(req), req.Source(), false)
	return c
}

// setup hunts through the route's gateways until one answers, every one
// has failed, or the caller gives up, then waits for the caller's ACK.
func (c *Call) setup() {
	ctx := c.setupCtx
	defer c.cancelSetup(nil)

	cfg := c.sw.Config()
	preq, choice := c.profileChoice(cfg)
	static := cfg.Route(c.routeQuery(choice.Name))
	if !c.selectProfile(cfg, static, preq, choice) {
		return
	}
	c.natCaller()
	if !c.callerSession(cfg) {
		return
	}
	route, hops, ok := c.authorize(ctx, cfg, static)
	if !ok {
		return
	}
	route, hops = c.profileRouting(cfg, route, hops)
	if reg, isAlias := c.registeredHops(cfg, route); isAlias {
		if len(reg) == 0 {
			c.failA(480, "Temporarily Unavailable", cdr.ReasonRejected, cdr.ReleasedBySwitch)
			return
		}
		route, hops = reg[0].route, reg
	}
	if route == nil || len(hops) == 0 {
		c.failA(404, "No Route To Destination", cdr.ReasonRejected, cdr.ReleasedBySwitch)
		return
	}
	c.mu.Lock()
	c.route = route
	c.mu.Unlock()
	if !c.startMedia(route, hops[0]) {
		return
	}

	end, best := c.hunt(ctx, hops)
	switch {
	case end == nil:
	case end.kind == attemptAnswered:
		c.awaitAck(&c.a, c.txA, end.res200, ackOfInvite, func(ack *sip.Request) {
			c.mu.Lock()
			b, late := c.b, c.offerWay == lateOffer
			if !c.over() { // else a teardown crossed the ACK
				c.to(evAck)
			}
			// The caller has its answer: the INVITE transaction needs
			// no 32 s of Timer L, and ending it now frees its messages
			// (a late copy of the INVITE meets onInvite's merged-request
			// check instead).
			c.txA.Terminate()
			c.inviteA, c.txA = nil, nil // the connected call keeps no messages
			offerA := c.a.agreed
			c.mu.Unlock()
			if late {
				body, ok := c.ackSDP(rtpproxyctl.Caller, ack)
				// The gateway's own offer is not kept: the one the caller
				// got stands for it.
				c.negotiated(true, offerA, ack.Body(), offerA, body)
				c.sw.sendAck(c, &b.leg, body)
				if !ok {
					c.end(outcomeMediaFailed())
				}
			}
		})
		return
	default:
		c.cancelled(context.Cause(ctx))
		return
	}
	reason := cdr.ReasonFailed
	switch best.code {
	case 486, 600:
		reason = cdr.ReasonBusy
	case 408, 480:
		reason = cdr.ReasonNoAnswer
	}
	by := cdr.ReleasedByCallee
	if !best.real {
		by = cdr.ReleasedBySwitch
	}
	var hdrs []sip.Header
	if best.stop {
		hdrs = append(hdrs, c.sw.retryAfter()) // the media relay is full
	}
	code, why := c.chain.finalReply(best.code, best.reason)
	hdrs = append(hdrs, best.relayedContacts(code)...)
	c.failA(code, why, reason, by, hdrs...)
}

type attemptKind int

const (
	attemptFailed attemptKind = iota
	attemptAnswered
	attemptCancelled
)

type attemptResult struct {
	kind   attemptKind
	code   int
	reason string
	real   bool           // the code came from the gateway, not from our timers
	stop   bool           // trying another gateway cannot help (the media relay refused)
	local  AttemptOutcome // the outcome when not real
	res200 *sip.Response  // the 2xx sent to the caller, for retransmission
	// contacts are a 3xx's Contact headers, to follow or relay (redirect.go).
	contacts []sip.ContactHeader
}

// newAttempt builds an attempt toward gw through listener l and its
// INVITE: a dialog of its own, the caller's body (or the anchored offer),
// and nothing else of the caller's message. Called with the lock held.
func (c *Call) newAttempt(gw config.Gateway, l *listener, inA *sip.Request, offer []byte) (*attemptLeg, *sip.Request) {
	host, port := splitHostPort(gw.Address)
	b := &attemptLeg{gateway: attemptGateway{Address: gw.Address, Transport: gw.Transport, Proxy: gw.Proxy, UDPOnly: gw.UDPOnly}}
	b.name = "b"
	c.move(&b.leg, legInvite)
	b.inviteSeq = 1
	local := sip.Uri{Scheme: "sip", User: c.fromUser(), Host: l.host}
	remote := sip.Uri{Scheme: "sip", User: c.calledSent, Host: host, Port: port}
	b.d = dialog{
		callID:    newCallID(),
		local:     textOf(local),
		localName: c.fromName(),
		localTag:  newTag(),
		remote:    textOf(remote),
		listener:  l,
		transport: gw.Transport,
		dest:      gw.Address,
	}
	b.d.contact = c.chain.legContact(l, true)
	target := remote
	b.d.target = b.d.remote
	if reg := c.aaa.hopContact; reg != nil {
		target = *reg.Clone()
		b.d.target = textOf(target)
	} else if gw.Transport != "udp" {
		target.UriParams = sip.NewParams()
		target.UriParams.Add("transport", gw.Transport)
		b.d.target = textOf(target)
	}
	if gw.Proxy != "" {
		// RFC 3261 8.1.2: a loose-routing outbound proxy goes in Route, the
		// request goes to it, the Request-URI stays the gateway.
		b.d.routeSet = []string{proxyRoute(gw.Proxy, gw.Transport)}
		b.d.dest = gw.Proxy
	}
	b.d.localSeq.Store(1)
	inv, h := b.d.request(sip.INVITE, 1)
	inv.Recipient, h.from.Address, h.to.Address = target, local, remote
	if c.rel.caller != callerNo100rel || (c.chain != nil && c.chain.profile.Offer100rel) {
		inv.AppendHeader(sip.NewHeader("Supported", "100rel"))
	}
	if b.timers.cfg = c.timersB; b.timers.cfg.SessionTimer {
		b.timers.interval = b.timers.cfg.SessionExpires
		b.timers.uacHeaders(inv)
	}
	if mf := inA.MaxForwards(); mf != nil && mf.Val() > 0 {
		v := sip.MaxForwardsHeader(mf.Val() - 1)
		inv.ReplaceHeader(&v)
	}
	copyBody(inA, inv)
	if offer != nil {
		inv.SetBody(offer)
	}
	inv.AppendHeader(c.sw.identity().userAgent)
	inv.AppendHeader(allowHeader)
	return b, inv
}

// try sends the INVITE to one gateway and follows it to its end.
//
// local, when not nil, is the listener the gateway must be reached
// through: a registered client's flow.
func (c *Call) try(ctx context.Context, route *config.Route, gw config.Gateway, local *listener) *attemptResult {
	s := c.sw
	l := c.outboundListener(gw, local)
	if l == nil {
		return &attemptResult{code: 503, reason: "No Listener For " + gw.Transport}
	}
	offer, refused := c.attemptOffer(gw, l)
	if refused != nil {
		return refused
	}
	c.mu.Lock()
	inA := c.inviteA
	b, inv := c.newAttempt(gw, l, inA, offer)
	b.d.auth = c.gatewayCredentials(gw)
	c.addRouteHeaders(inv)
	c.chain.gatewayInvite(b, inv)
	b.invite = inv
	b.index = len(c.attempts)
	c.attempts = append(c.attempts, cdr.Attempt{Gateway: gw.Address, CallID: b.d.callID, Start: time.Now()})
	c.b = b
	c.mu.Unlock()
	// Outside the lock: it may look up, and lock, the call replaced.
	c.fixReplacesInvite(inA, inv)
	s.calls.put(keyB(b.d.callID), c)
	c.journalSetup()

	// Watched before the INVITE leaves: on loopback its ICMP error comes
	// back before the send returns. (b.d's transport and destination
	// change only on this goroutine until the INVITE is out.)
	var unreach <-chan string
	var w *unreachWatch
	if b.d.transport == "udp" {
		ch := make(chan string, 1)
		w, unreach = s.unreach.watch(b.d.dest, func(why string) { ch <- why }), ch
	}
	defer s.unreach.stop(w)
	// Sending waits only to resolve a name or to connect (TCP, TLS, or an
	// INVITE too large for UDP, which sendInvite bounds itself): to an IP
	// address over UDP it cannot wait, and needs no bound of its own (a
	// context and a runtime timer per attempt).
	sendCtx, stop := ctx, context.CancelFunc(func() {})
	if _, err := netip.ParseAddrPort(b.d.dest); err != nil || b.d.transport != "udp" {
		sendCtx, stop = context.WithTimeout(ctx, 5*time.Second)
	}
	tx, err := c.sendInvite(sendCtx, b, inv)
	stop()
	if err != nil {
		s.log.Warn("gateway unreachable", "gateway", gw.Address, "error", err)
		return c.attemptOver(b, &attemptResult{code: 503, reason: "Gateway Unreachable", local: OutcomeUnreachable})
	}
	if b.d.transport != "udp" { // moved to TCP (bigrequest.go): its failure is sendInvite's error
		s.unreach.stop(w)
		unreach = nil
	}

	challenged := false // a second challenge means the credentials are wrong
	retried := false    // a 422 is retried once
	np := time.NewTimer(route.NoProgress)
	ring := time.NewTimer(route.MaxRing)
	defer np.Stop()
	defer ring.Stop()
	for {
		select {
		case res := <-tx.Responses():
			code := res.StatusCode
			switch {
			case code < 200:
				c.mu.Lock()
				// Any provisional, 100 included, lets us CANCEL (RFC 3261 9.1).
				if b.state == LegTrying {
					c.move(&b.leg, legProvisional)
				}
				c.mu.Unlock()
				if code > 100 {
					np.Stop()
					if err := c.onProvisional(b, res); err != nil {
						s.log.Info("gateway SDP not anchored: next gateway", "call", c.ID, "gateway", gw.Address, "error", err)
						c.abandon(b, tx)
						return c.attemptOver(b, attemptFailure(err))
					}
				}
			case code < 300:
				tx.Terminate() // 2xx retransmissions reach onStrayResponse
				c.keepEarlySDP(b, res)
				return c.onAnswer(b, res)
			default:
				tx.Terminate()
				if code == 422 && !retried {
					retried = true
					ntx, ok, err := c.retryInterval(ctx, b, res)
					if ok && err == nil {
						tx = ntx
						continue
					}
				}
				if (code == 401 || code == 407) && !challenged {
					challenged = true
					ntx, ok, err := c.authenticate(ctx, b, res)
					if ok && err == nil {
						tx = ntx
						continue
					}
					if err != nil {
						s.log.Warn("gateway challenge not answered", "call", c.ID, "gateway", gw.Address, "error", err)
					}
				}
				return c.attemptOver(b, &attemptResult{code: code, reason: res.Reason, real: true, contacts: redirectContacts(res)})
			}
		case <-tx.Done():
			r := &attemptResult{code: 503, reason: "Gateway Unreachable", local: OutcomeUnreachable}
			if errors.Is(tx.Err(), sip.ErrTransactionTimeout) {
				r = &attemptResult{code: 408, reason: "Request Timeout", local: OutcomeUnreachable}
			}
			return c.attemptOver(b, r)
		case why := <-unreach:
			s.log.Warn("gateway unreachable", "call", c.ID, "gateway", gw.Address, "icmp", why)
			c.mu.Lock()
			heard := b.state != LegTrying
			c.mu.Unlock()
			if heard {
				c.abandon(b, tx) // it answered before: it may still, and be CANCELled
			} else {
				tx.Terminate() // no INVITE retransmissions to a closed port
			}
			return c.attemptOver(b, &attemptResult{code: 503, reason: "Gateway Unreachable (ICMP " + why + ")", local: OutcomeUnreachable})
		case <-np.C:
			c.abandon(b, tx)
			return c.attemptOver(b, &attemptResult{code: 408, reason: "No Progress", local: OutcomeNoAnswer})
		case <-ring.C:
			c.abandon(b, tx)
			return c.attemptOver(b, &attemptResult{code: 408, reason: "No Answer", local: OutcomeNoAnswer})
		case <-ctx.Done():
			c.abandon(b, tx)
			if errors.Is(context.Cause(ctx), errGroupTimeout) && c.setupCtx.Err() == nil {
				return c.attemptOver(b, &attemptResult{code: 408, reason: "Group Timeout", local: OutcomeNoAnswer})
			}
			c.attemptOver(b, &attemptResult{code: 487, reason: "Request Terminated", local: OutcomeCancelled})
			return &attemptResult{kind: attemptCancelled}
		}
	}
}

// attemptOver records a failed attempt and forgets its dialog.
func (c *Call) attemptOver(b *attemptLeg, r *attemptResult) *attemptResult {
	c.mu.Lock()
	abandoned := b.state == LegCancelling
	if b.state != LegDisconnected {
		c.move(&b.leg, legGone)
	}
	c.finishAttempt(time.Now(), r.code, r.reason)
	c.mu.Unlock()
	if !abandoned {
		// The attempt's dialog is over: its key must not keep the call
		// (and the memory it holds) once the hunt has moved on. An
		// abandoned attempt's key stays until abandon's CANCEL is done.
		c.sw.calls.del(keyB(b.d.callID), c)
	}
	c.sw.stats.attempts[outcomeOf(r)].Add(1)
	return r
}

// abandon gives up on an attempt that has no final response: CANCEL it (once
// it has sent a provisional, RFC 3261 9.1) and, should a 2xx cross the
// CANCEL, ACK and BYE that answer so the gateway does not bill a call
// nobody hears. It runs in the background; the hunt goes on at once.
func (c *Call) abandon(b *attemptLeg, tx sip.ClientTransaction) {
	s := c.sw
	c.mu.Lock()
	inv := b.invite
	b.invite = nil
	provisional := b.state == LegRinging
	c.move(&b.leg, legCancel)
	c.mu.Unlock()
	s.byesWG.Add(1)
	go func() {
		defer s.byesWG.Done()
		defer tx.Terminate()
		defer s.calls.del(keyB(b.d.callID), c)
		cancelled := false
		sendCancel := func() {
			if cancelled {
				return
			}
			cancelled = true
			creq := cancelFor(inv)
			ctx, stop := context.WithTimeout(context.Background(), 64*sip.T1)
			defer stop()
			if _, err := s.do(ctx, creq); err != nil {
				s.log.Debug("CANCEL failed", "call_id", b.d.callID, "error", err)
			}
		}
		if provisional {
			sendCancel()
		}
		deadline := time.NewTimer(64 * sip.T1)
		defer deadline.Stop()
		for {
			select {
			case res := <-tx.Responses():
				switch {
				case res.StatusCode < 200:
					sendCancel()
				case res.StatusCode < 300:
					s.ackAndBye(res)
					return
				default:
					return
				}
			case <-tx.Done():
				return
			case <-deadline.C:
				return
			}
		}
	}()
}

// onProvisional relays a 180/183 (with its SDP, anchored) to the caller.
// An error means the SDP could not be anchored and the attempt fails.
func (c *Call) onProvisional(b *attemptLeg, res *sip.Response) error {
	c.mu.Lock()
	mode, rseq, dup := c.provisionalMode(res)
	c.mu.Unlock()
	if dup && mode != relTransparent {
		// A retransmission of a reliable 18x we have PRACKed (our PRACK's
		// transaction resends it): nothing new for the caller. Relayed
		// transparently, it is the caller's retransmission too.
		return nil
	}
	body, err := c.calleeSDP(res)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.phase != PhaseSetup && c.phase != PhaseEarly {
		// The call is ending, or answered by a 2xx that sipgo handed
		// over before this provisional: a late 18x changes nothing.
		c.mu.Unlock()
		return nil
	}
	c.to(evProgress)
	if tag, ok := res.To().Params.Get("tag"); ok {
		b.d.remoteTag = tag
		// The early dialog's requests (PRACK, UPDATE) go to its Contact
		// through its Record-Route (RFC 3261 12.1.2).
		if res.Contact() != nil {
			c.routeGatewayDialog(b, res)
		}
	}
	c.move(&b.leg, legProvisional)
	c.move(&c.a, legProvisional)
	if c.ringT.IsZero() {
		c.ringT = time.Now()
	}
	c.attempts[b.index].Ringing = true
	inA, txA, contact := c.inviteA, c.txA, c.a.d.contactHeader()
	c.mu.Unlock()
	out := newResponse(inA, res.StatusCode, res.Reason)
	out.AppendHeader(contact)
	copyBody(res, out)
	if body != nil {
		out.SetBody(body)
	}
	c.chain.reply(res, out)
	c.sw.addServer(out)
	switch mode {
	case relTransparent:
		out.AppendHeader(sip.NewHeader("Require", "100rel"))
		out.AppendHeader(sip.NewHeader("RSeq", strconv.FormatUint(uint64(rseq), 10)))
	case relCallerOnly:
		c.sendReliable(out)
		return nil
	}
	if err := txA.Respond(out); err != nil {
		c.sw.log.Debug("provisional not relayed", "code", res.StatusCode, "error", err)
	}
	if mode == relGatewayOnly {
		// Only now: the PRACK frees the gateway to answer, and its 2xx,
		// handled on another goroutine, must not reach the caller before
		// this 18x does.
		c.prackGateway(b, rseq)
	}
	return nil
}

// onAnswer connects the call: ACK the gateway (at once, unless the caller
// made a late offer whose answer will come in its ACK), then 200 to the
// caller.
func (c *Call) onAnswer(b *attemptLeg, res *sip.Response) *attemptResult {
	s := c.sw
	body, err := c.calleeSDP(res)
	if err != nil {
		return s.rejectAnswer(c, b, res, err)
	}
	now := time.Now()
	c.mu.Lock()
	if !c.to(evAnswer) {
		// Teardown began while the 2xx was on its way: it is not the
		// call's answer, and the gateway must not bill it.
		c.mu.Unlock()
		s.calls.del(keyB(b.d.callID), c)
		s.ackAndBye(res)
		c.attemptOver(b, &attemptResult{code: 487, reason: "Request Terminated", local: OutcomeCancelled})
		return &attemptResult{kind: attemptCancelled}
	}
	if tag, ok := res.To().Params.Get("tag"); ok {
		b.d.remoteTag = tag
	}
	c.routeGatewayDialog(b, res)
	c.move(&b.leg, legAnswer)
	b.agreed = b.invite.Body()
	b.invite = nil
	at := &c.attempts[b.index]
	at.Answered, at.SIPCode, at.SIPReason = true, res.StatusCode, res.Reason
	if h := headerNamed(res, "Server"); h != nil {
		c.userAgtB = h.Value()
	} else if h := headerNamed(res, "User-Agent"); h != nil {
		c.userAgtB = h.Value()
	}
	c.connectT = now
	c.move(&c.a, legAnswer)
	if d := c.route.MaxDuration; d > 0 {
		c.maxTimer = time.AfterFunc(d, func() { c.end(outcomeMaxDuration()) })
	}
	c.connectedAAA(now)
	c.chain.connected()
	c.startLegTimers(b, res)
	c.rel.stop() // the final response ends our 18x's retransmissions
	inA, txA, way, contact, offerB := c.inviteA, c.txA, c.offerWay, c.a.d.contactHeader(), b.agreed
	c.mu.Unlock()
	s.stats.CallsAnswered.Add(1)
	s.stats.attempts[OutcomeAnswered].Add(1)

	ok := newResponse(inA, 200, "OK")
	ok.AppendHeader(contact)
	ok.AppendHeader(allowHeader)
	copyBody(res, ok)
	if body != nil {
		ok.SetBody(body)
	}
	c.chain.reply(res, ok)
	if way == earlyOffer {
		c.negotiated(true, inA.Body(), ok.Body(), offerB, res.Body())
	}
	s.addServer(ok)
	c.mu.Lock()
	uasHeaders(ok, c.a.timers.session)
	c.a.agreed = ok.Body()
	c.a.expectAck(c.inviteCSeq)
	c.callerAck = ackAwaited
	c.mu.Unlock()
	// The gateway's ACK goes first: the caller may send anything once it
	// has its 200, and an OPTIONS or INFO of the caller relayed from
	// another goroutine must not reach the gateway before our ACK. A BYE
	// from the gateway, which may come once it has the ACK, waits until
	// the caller's 200 is on its way too (relayAnswer).
	var respondErr error
	c.relayAnswer(func() {
		if way == earlyOffer {
			s.sendAck(c, &b.leg, nil)
		}
		respondErr = txA.Respond(ok)
	})
	if respondErr == nil {
		s.accepted(inA, txA)
	} else {
		// The caller's CANCEL won the race: sipgo answered it 487, which
		// ended the caller's dialog; the gateway's is hung up.
		c.mu.Lock()
		c.move(&c.a, legGone)
		c.callerAck = ackNone
		c.mu.Unlock()
		c.end(outcomeCancelled())
		return &attemptResult{kind: attemptCancelled}
	}
	c.journal(now)
	return &attemptResult{kind: attemptAnswered, res200: ok}
}

// expectAck readies leg l to take the ACK of our 2xx to its INVITE with
// CSeq seq, before that 2xx is sent: the ACK may overtake the goroutine
// that waits for it. Each exchange has a channel of its own, which its
// awaitAck drops when done: a held call keeps none, and an ACK of an
// earlier exchange can never reach a later one's waiter. Called with the
// lock held.
func (l *leg) expectAck(seq uint32) {
	l.ackSeq = seq
	l.ackCh = make(chan *sip.Request, 1)
}

// ackOf is which INVITE's 2xx awaitAck waits to see acknowledged.
type ackOf uint8

const (
	ackOfInvite   ackOf = iota // the caller's INVITE: the call's BYE to it may wait too (callerAck)
	ackOfReinvite              // a re-INVITE: the call's end ends the wait
)

// awaitAck waits for the ACK of a 2xx we sent on leg l, retransmitting the
// 2xx over UDP as RFC 3261 13.3.1.4 asks of the UAS core (sipgo leaves it
// to us). No ACK in time ends the call. The ACK comes through the
// transaction (tx.Acks) while sipgo keeps it, else as an in-dialog request
// (onAck, into l.ackCh, readied by expectAck); only one with the INVITE's
// CSeq acknowledges the 2xx. The caller's ACK of its INVITE's 2xx is
// awaited even after the call has ended, when the BYE to the caller waits
// for it (ackAwaitedForBye): then awaitAck sends that BYE, not onAck, unless
// the caller's own BYE came instead (ackByeFromCaller, which onBye hands
// over in place of the ACK).
func (c *Call) awaitAck(l *leg, tx sip.ServerTransaction, res *sip.Response, of ackOf, onAck func(*sip.Request)) {
	c.mu.Lock()
	ch, seq := l.ackCh, l.ackSeq
	c.mu.Unlock()
	ended := c.endedCh
	// acked ends the wait: true when it is the call's to go on, false when
	// the call ended meanwhile, and the caller's BYE that end left to
	// awaitAck is sent now — or not at all, the caller having hung up.
	acked := func() bool {
		if of != ackOfInvite {
			return true
		}
		c.mu.Lock()
		was := c.callerAck
		c.callerAck = ackNone
		c.mu.Unlock()
		switch was {
		case ackAwaitedForBye:
			go c.sw.bye(&c.a.d) // in byesWG since end
		case ackByeFromCaller:
			c.sw.byesWG.Done() // the BYE end counted: not needed
		default:
			return true
		}
		c.sw.calls.del(keyA(c.a.d.callID, c.a.d.remoteTag), c)
		return false
	}
	defer func() {
		c.mu.Lock()
		if l.ackCh == ch {
			l.ackCh = nil // onAck finds no waiter: a late ACK is dropped
		}
		c.mu.Unlock()
	}()
	interval := sip.T1
	retransmit := time.NewTimer(interval)
	defer retransmit.Stop()
	if l.d.transport != "udp" {
		retransmit.Stop()
	}
	deadline := time.NewTimer(c.sw.Config().Timers.ACKTimeout)
	defer deadline.Stop()
	for {
		select {
		case ack := <-ch:
			if acked() {
				onAck(ack)
			}
			return
		case ack := <-tx.Acks():
			if ack.CSeq().SeqNo != seq {
				continue
			}
			if acked() {
				onAck(ack)
			}
			return
		case <-retransmit.C:
			// Straight to the transport, as RFC 3261 13.3.1.4 has the UAS
			// core do: the transaction may be gone already (Timer L).
			if err := c.sw.srv.WriteResponse(res); err != nil {
				c.sw.log.Debug("2xx retransmission failed", "error", err)
			}
			interval = min(2*interval, sip.T2)
			retransmit.Reset(interval)
		case <-deadline.C:
			c.sw.log.Warn("no ACK for our 2xx: hanging up", "call", c.ID)
			if acked() {
				c.end(outcomeACKTimeout())
			}
			return
		case <-ended:
			c.mu.Lock()
			byeWaits := of == ackOfInvite && c.callerAck != ackNone
			c.mu.Unlock()
			if !byeWaits {
				return
			}
			ended = nil // our BYE to the caller waits for this ACK (or its BYE)
		}
	}
}

// cancelled finishes a call whose setup was cancelled.
func (c *Call) cancelled(cause error) {
	var k killCause
	switch {
	case errors.As(cause, &k):
		code, reason := 480, "Call Killed"
		if k.reason == cdr.ReasonShutdown {
			code, reason = 503, "Shutting Down"
		}
		c.failA(code, reason, k.reason, cdr.ReleasedBySwitch)
	case errors.Is(cause, errCallerBye):
		c.failA(487, "Request Terminated", cdr.ReasonCancelled, cdr.ReleasedByCaller)
	case errors.Is(cause, errNoPRACK):
		c.failA(504, "No PRACK", cdr.ReasonNoPRACK, cdr.ReleasedBySwitch)
	default:
		// sipgo already answered the CANCEL and the INVITE (487).
		c.end(outcomeCancelled())
	}
}

// failA answers the caller's INVITE with a final failure and ends the call.
func (c *Call) failA(code int, reason, why, by string, hdrs ...sip.Header) {
	c.mu.Lock()
	inA, txA := c.inviteA, c.txA
	c.mu.Unlock()
	res := newResponse(inA, code, reason)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	c.sw.addServer(res)
	if err := txA.Respond(res); err != nil {
		c.sw.log.Debug("final response not sent", "code", code, "error", err)
	}
	c.end(outcomeRefused(code, reason, why, by))
}

// kill ends a call from inside the switch, whatever its state.
func (c *Call) kill(reason string) {
	c.mu.Lock()
	answered := c.answered()
	cancel := c.cancelSetup
	c.mu.Unlock()
	if answered {
		c.end(outcomeKilled(reason))
		return
	}
	cancel(killCause{reason: reason})
}

// copyBody carries a message body and its type from one leg to the other;
// nothing else of the message crosses.
func copyBody(from headed, to sip.Message) {
	body := from.Body()
	if len(body) == 0 {
		return
	}
	for _, name := range [...]string{"Content-Type", "Content-Disposition", "Content-Language"} {
		if h := headerNamed(from, name); h != nil {
			to.AppendHeader(sip.NewHeader(name, h.Value()))
		}
	}
	to.SetBody(body)
}

// cancelFor builds the CANCEL of an INVITE we sent (RFC 3261 9.1): same
// Request-URI, top Via, From, To, Call-ID and CSeq number.
func cancelFor(inv *sip.Request) *sip.Request {
	c := sip.NewRequest(sip.CANCEL, inv.Recipient)
	c.AppendHeader(inv.Via().Clone())
	sip.CopyHeaders("Route", inv, c)
	mf := sip.MaxForwardsHeader(70)
	c.AppendHeader(&mf)
	c.AppendHeader(sip.HeaderClone(inv.From()))
	c.AppendHeader(sip.HeaderClone(inv.To()))
	c.AppendHeader(sip.HeaderClone(inv.CallID()))
	c.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	c.SetTransport(inv.Transport())
	c.SetDestination(inv.Destination())
	c.Laddr = inv.Laddr
	return c
}

func splitHostPort(hp string) (string, int) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return hp, 0
	}
	p, _ := strconv.Atoi(ps)
	return host, p
}

// journal notes the connected call in the switch's journal, after the 200
// is on its way so that the fsync does not delay the answer.
func (c *Call) journal(now time.Time) {
	j := c.sw.journal
	if j == nil {
		return
	}
	c.mu.Lock()
	if c.over() {
		c.mu.Unlock()
		return
	}
	rec := c.record(outcomeCrashed(), now)
	// The journal keeps the record; the call goes on changing its attempts.
	rec.Attempts = slices.Clone(rec.Attempts)
	legs := c.accountingSessions()
	c.journaled = make(chan struct{})
	done := c.journaled
	c.mu.Unlock()
	if err := j.Connected(rec, legs); err != nil {
		c.sw.log.Error("connected call not journaled", "id", c.ID, "error", err)
	}
	c.journalWritten(done)
}

// journalSetup notes the call in the journal as it reaches the switch, and
// again as each attempt starts, so that a crash before it ends still gives
// it a record and its legs their Stops. The entry is written without a
// sync: it costs the call no wait for the disk.
func (c *Call) journalSetup() {
	j := c.sw.journal
	if j == nil {
		return
	}
	c.mu.Lock()
	if c.over() {
		c.mu.Unlock()
		return
	}
	rec := c.record(outcomeCrashedInSetup(), c.setupT)
	rec.Attempts = slices.Clone(rec.Attempts)
	legs := c.accountingSessions()
	// The call's end waits for this entry, so that the journal never sees
	// "ended" before it.
	c.journaled = make(chan struct{})
	done := c.journaled
	c.mu.Unlock()
	if err := j.Setup(rec, legs); err != nil {
		c.sw.log.Error("call in setup not journaled", "id", c.ID, "error", err)
	}
	c.journalWritten(done)
}

// journalWritten wakes whoever waits for the entry done stood for, and
// lets the call drop the channel unless a later entry has replaced it.
func (c *Call) journalWritten(done chan struct{}) {
	close(done)
	c.mu.Lock()
	if c.journaled == done {
		c.journaled = nil
	}
	c.mu.Unlock()
}

// accountingSessions are the legs whose Stop is still owed, as JSON for the
// journal: the caller's, and the current attempt's (a failed attempt has
// had its Stop). Nil when the call is not accounted. Called with the lock
// held.
func (c *Call) accountingSessions() json.RawMessage {
	if !c.accounting() {
		return nil
	}
	legs := []aaa.Leg{c.answerLeg()}
	if b := c.b; b != nil && b.index >= c.aaa.rad.stopped {
		legs = append(legs, c.originateLeg(b.index))
	}
	out, err := json.Marshal(legs)
	if err != nil {
		c.sw.log.Error("accounting sessions not journaled", "id", c.ID, "error", err)
		return nil
	}
	return out
}

// refuse answers a new call 503 with Retry-After — the cheap refusal under
// overload or while draining — and still writes its record: billing and
// ASR figures count refused calls too.
func (s *Switch) refuse(req *sip.Request, tx sip.ServerTransaction, reason string) {
	s.respondBusy(req, tx, reason)
	now := time.Now()
	host, port := s.callerAddr(req)
	id := newCallID()
	s.aaa.refusedStop(req, id, host, now)
	s.emit(&cdr.Record{
		ID: id, ConfID: confID(id), CallIDA: req.CallID().Value(),
		CallerNumber: req.From().Address.User, CallerName: req.From().DisplayName,
		CalledReceived: req.Recipient.User, CalledSent: req.Recipient.User,
		SourceIP: host, SourcePort: port,
		SetupTime: now, DisconnectTime: now,
		SIPCode: 503, SIPReason: reason, Q850Cause: q850(503, cdr.ReasonRejected),
		ReleasedBy: cdr.ReleasedBySwitch, DisconnectReason: cdr.ReasonRejected,
	})
}

// topBranch is the branch of a request's top Via: with the CSeq, what tells
// a retransmission from a new request with the same CSeq.
func topBranch(req *sip.Request) string {
	v := req.Via()
	if v == nil || v.Params == nil {
		return ""
	}
	b, _ := v.Params.Get("branch")
	return b
}
