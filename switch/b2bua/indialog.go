package b2bua

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/rtpproxyctl"
)

// lookup finds the call and the side a request within a dialog came from.
func (s *Switch) lookup(callID, fromTag, toTag string) (c *Call, fromA bool) {
	if c := s.calls.get(keyB(callID)); c != nil {
		c.mu.Lock()
		ok := c.b != nil && c.b.d.callID == callID && c.b.d.localTag == toTag
		c.mu.Unlock()
		if ok {
			return c, false
		}
	}
	if c := s.calls.get(keyA(callID, fromTag)); c != nil && c.a.d.localTag == toTag {
		return c, true
	}
	return nil, false
}

// onInDialog handles a request that carries a To tag.
func (s *Switch) onInDialog(req *sip.Request, tx sip.ServerTransaction) {
	fromTag, _ := req.From().Params.Get("tag")
	toTag, _ := req.To().Params.Get("tag")
	c, fromA := s.lookup(req.CallID().Value(), fromTag, toTag)
	if c == nil {
		if !req.IsAck() {
			s.reply(req, tx, 481, "Call/Transaction Does Not Exist")
		}
		return
	}
	switch {
	case req.IsAck():
	case fromA:
		tx = c.natInDialog(req, tx)
	default:
		tx = c.repliesToNextHop(tx)
	}
	switch req.Method {
	case sip.ACK:
		c.onAck(req, fromA)
	case sip.BYE:
		c.onBye(req, tx, fromA)
	case sip.PRACK:
		c.relayEarly(req, tx, fromA)
	default:
		c.relay(req, tx, fromA)
	}
}

// legs returns the leg a request came from and the one it goes to. Called
// with the lock held; to is nil when the call has no current attempt.
func (c *Call) legs(fromA bool) (from, to *leg) {
	if c.b == nil {
		return &c.a, nil
	}
	if fromA {
		return &c.a, &c.b.leg
	}
	return &c.b.leg, &c.a
}

// onAck hands an ACK to the goroutine waiting for it: the caller's ACK of
// our 2xx to its INVITE, or a leg's ACK of our 2xx to its re-INVITE. An
// ACK for anything else (a retransmission, a CSeq of no INVITE we
// answered) is dropped, as RFC 3261 17.2.3 has a UAS do: it must not stop
// the 2xx retransmissions of the INVITE still unacknowledged.
func (c *Call) onAck(req *sip.Request, fromA bool) {
	c.mu.Lock()
	from, _ := c.legs(fromA)
	waiting := (fromA && c.callerAck != ackNone) || from.state == LegUpdating
	ch := from.ackCh
	match := waiting && req.CSeq().SeqNo == from.ackSeq
	c.mu.Unlock()
	if !match {
		return
	}
	select {
	case ch <- req:
	default: // a retransmitted ACK: the first one is being handled
	}
}

func (c *Call) onBye(req *sip.Request, tx sip.ServerTransaction, fromA bool) {
	c.mu.Lock()
	answered := c.answered()
	from, _ := c.legs(fromA)
	inDialog := from.state.inDialog()
	if answered && inDialog {
		// Its dialog is over: teardown sends BYE to the other leg only.
		c.move(from, legGone)
	}
	// A caller hanging up an ended call whose BYE to it waits for its ACK
	// of our 2xx: its BYE shows it has the 2xx and ends its dialog, so
	// awaitAck, woken with it in place of the ACK, sends none of ours.
	var wake chan *sip.Request
	if fromA && c.callerAck == ackAwaitedForBye {
		c.callerAck, wake = ackByeFromCaller, c.a.ackCh
	}
	c.mu.Unlock()
	if wake != nil {
		select {
		case wake <- req:
		default: // an ACK is there already: it wakes awaitAck as well
		}
	}
	if !answered {
		if fromA {
			// A BYE in the caller's early dialog abandons the call like CANCEL.
			c.sw.reply(req, tx, 200, "OK")
			c.cancelSetup(errCallerBye)
			return
		}
		c.sw.reply(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	if !inDialog {
		c.sw.reply(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.sw.reply(req, tx, 200, "OK")
	c.end(outcomeNormalBye(fromA))
}

// relayedHeaders are the headers of an in-dialog request or response that
// carry meaning for the far end and no topology, so they cross legs.
var relayedHeaders = []string{"Event", "Subscription-State", "Info-Package", "Recv-Info", "Allow-Events"}

// relay forwards a request within a connected call to the other leg and its
// final response back: re-INVITE and UPDATE (hold, unhold, codec change),
// INFO, OPTIONS, NOTIFY and the rest.
func (c *Call) relay(req *sip.Request, tx sip.ServerTransaction, fromA bool) {
	s := c.sw
	isInvite := req.Method == sip.INVITE
	isOffer := isInvite || req.Method == sip.UPDATE
	c.afterAnswer()
	c.mu.Lock()
	if req.Method == sip.UPDATE && !c.answered() && !c.over() {
		c.mu.Unlock()
		c.relayEarly(req, tx, fromA) // an UPDATE of the early dialog (RFC 3311)
		return
	}
	from, to := c.legs(fromA)
	// Only an answered call has two dialogs to relay between (a request
	// in the caller's early dialog has no far leg yet).
	if !c.answered() || !from.state.inDialog() || !to.state.inDialog() {
		c.mu.Unlock()
		s.reply(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	if r := c.chain.request(req, fromA); r != nil {
		c.mu.Unlock()
		var hdrs []sip.Header
		if r.Allow != "" {
			hdrs = append(hdrs, sip.NewHeader("Allow", r.Allow))
		}
		s.reply(req, tx, r.Code, r.Reason, hdrs...)
		return
	}
	var event string // the Event header relayed, when the switch translates it
	if req.Method == sip.NOTIFY || req.Method == sip.SUBSCRIBE {
		event = c.referEvent(req, fromA)
	}
	if req.Method == sip.NOTIFY && !c.notifyAllowed(req, fromA) {
		c.mu.Unlock()
		s.reply(req, tx, 481, "Subscription Does Not Exist")
		return
	}
	seq := req.CSeq().SeqNo
	if seq <= from.d.remoteSeq {
		c.mu.Unlock()
		if b := topBranch(req); seq == from.d.remoteSeq && b != "" && b == from.d.remoteBranch {
			// A late retransmission of the request being (or just) relayed,
			// after sipgo let its INVITE transaction go (Timer L): the
			// original's answer is on its way, or retransmitted by awaitAck.
			return
		}
		s.reply(req, tx, 500, "CSeq Out Of Order", sip.NewHeader("Retry-After", "1"))
		return
	}
	from.d.remoteSeq = seq
	from.d.remoteBranch = topBranch(req)
	if req.Method == sip.INFO && c.dtmfInfo(req, tx, fromA) {
		return
	}
	if isOffer && (from.state != LegConnected || to.state != LegConnected) {
		// An offer is in progress on the call (RFC 3261 14.2).
		c.mu.Unlock()
		s.reply(req, tx, 491, "Request Pending")
		return
	}
	var terms session // the requester's leg's session if the exchange succeeds
	if isOffer {
		var tooSmall bool
		if terms, tooSmall = from.timers.uasTerms(req); tooSmall {
			c.mu.Unlock()
			s.reply(req, tx, 422, "Session Interval Too Small", sip.NewHeader("Min-SE", secs(from.timers.cfg.MinSE)))
			return
		}
		c.move(from, legOffer)
		c.move(to, legOffer)
	}
	out := to.d.newRequest(req.Method, to.d.localSeq.Add(1))
	if isOffer {
		// The request refreshes the far leg's session too, on that leg's
		// own terms (RFC 4028 per leg, as SEMS keeps it).
		to.timers.uacHeaders(out)
	}
	c.mu.Unlock()
	// The exchange is over once its answer is relayed (for a re-INVITE's
	// 2xx, once the requester ACKs it); a response that ends it is sent
	// after the legs leave updating, since the requester may send its
	// next offer the moment it reads the answer and must not meet a 491
	// for an exchange that is over.
	exchangeOver := func() {}
	if isOffer {
		exchangeOver = sync.OnceFunc(func() { c.offerDone(from, to) })
		defer exchangeOver()
	}
	copyHeaders(req, out)
	if event != "" {
		out.ReplaceHeader(sip.NewHeader("Event", event))
	}
	if req.Method == sip.REFER {
		c.copyRefer(req, out)
	}
	copyBody(req, out)
	if isOffer {
		body, err := c.inDialogSDP(opOffer, sideOf(fromA), req)
		if err != nil {
			code, reason := mediaRefusal(err)
			s.log.Info("in-dialog offer not anchored", "call", c.ID, "code", code, "error", err)
			s.reply(req, tx, code, reason)
			return
		}
		if body != nil {
			out.SetBody(body)
		}
	}
	c.chain.inDialog(req, out, !fromA)
	var cancelled <-chan struct{} // never closed but for a re-INVITE
	if isInvite {
		// The requester may CANCEL its re-INVITE: sipgo answers it (200,
		// then 487 to the re-INVITE), and the far leg's re-INVITE must be
		// cancelled as well, or it stays pending there.
		ch := make(chan struct{})
		c.mu.Lock()
		to.offerCancel = ch
		c.mu.Unlock()
		if !tx.OnCancel(func(*sip.Request) { c.cancelOffer(to, ch) }) {
			// Cancelled before it left: sipgo has answered it 487, and
			// the far leg never hears of it.
			return
		}
		cancelled = ch
	}

	ctx, cancel := context.WithTimeout(context.Background(), 64*sip.T1)
	defer cancel()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-c.endedCh:
			stop()
		case <-ctx.Done():
		}
	}()
	subscribes := req.Method == sip.REFER || req.Method == sip.SUBSCRIBE
	var pending subscription
	if subscribes {
		c.mu.Lock()
		pending = c.subscribing(req, out, to == &c.a)
		c.mu.Unlock()
	}
	res, out, err := s.doOffer(ctx, &to.d, out, cancelled)
	c.mu.Lock()
	crossed := to.state == LegCancelling
	if err == nil && isInvite && res.IsSuccess() {
		to.inviteSeq = out.CSeq().SeqNo
	}
	if subscribes {
		c.subscribed(pending, out, err == nil && res.IsSuccess())
	}
	c.mu.Unlock()
	if err != nil {
		s.reply(req, tx, 408, "Request Timeout")
		return
	}
	if crossed && isInvite && res.IsSuccess() {
		// The far leg's 2xx crossed our CANCEL: the requester's
		// re-INVITE has ended with 487, so the far leg must be brought
		// back to the media both legs last agreed.
		s.sendAck(c, to, nil)
		c.reoffer(to, sideOf(!fromA), out.Body())
		return
	}
	back := newResponse(req, res.StatusCode, res.Reason)
	if isOffer && res.IsSuccess() {
		back.AppendHeader(from.d.contactHeader())
	}
	copyHeaders(res, back)
	copyBody(res, back)
	if isOffer && res.IsSuccess() {
		op := opAnswer
		if len(req.Body()) == 0 {
			op = opOffer // the requester made a late offer: this is the offer
		}
		body, err := c.inDialogSDP(op, sideOf(!fromA), res)
		if err != nil {
			// The requester keeps the media it had and hears that its
			// request failed; the far leg's 2xx is ACKed (it stands as
			// far as that leg knows) and then undone by offering the leg
			// the media it had before.
			code, reason := mediaRefusal(err)
			s.log.Info("in-dialog answer not anchored", "call", c.ID, "code", code, "error", err)
			if isInvite {
				s.sendAck(c, to, nil)
			}
			s.reply(req, tx, code, reason)
			c.reoffer(to, sideOf(!fromA), out.Body())
			return
		}
		if body != nil {
			back.SetBody(body)
		}
	}
	c.chain.inDialog(res, back, fromA)
	if isOffer && res.IsSuccess() && len(req.Body()) > 0 {
		c.negotiated(fromA, req.Body(), back.Body(), out.Body(), res.Body())
	}
	s.addServer(back)
	if isOffer && res.IsSuccess() {
		uasHeaders(back, terms)
		c.mu.Lock()
		if len(out.Body()) > 0 {
			to.agreed = out.Body()
		}
		if len(back.Body()) > 0 {
			from.agreed = back.Body()
		}
		// Both legs' sessions are refreshed.
		from.timers.session = terms
		to.timers.session = to.timers.uacAnswered(res)
		if !c.over() {
			c.armSession(from)
			c.armSession(to)
		}
		c.mu.Unlock()
	}
	if !isInvite || !res.IsSuccess() {
		exchangeOver()
		if err := tx.Respond(back); err != nil {
			s.log.Debug("response not relayed", "method", req.Method, "error", err)
		}
		return
	}
	// A 2xx to a re-INVITE: ACK the far leg (now, or with the answer the
	// requester puts in its ACK when it made a late offer), relay the 2xx
	// and wait for the requester's ACK. The ACK goes first, so that
	// nothing the requester sends once it has the 2xx reaches the far leg
	// before it; a BYE from the far leg waits until the 2xx is on its way
	// too (relayAnswer).
	late := len(req.Body()) == 0
	c.mu.Lock()
	from.expectAck(seq)
	c.mu.Unlock()
	c.relayAnswer(func() {
		if !late {
			s.sendAck(c, to, nil)
		}
		if err := tx.Respond(back); err != nil {
			s.log.Debug("re-INVITE 2xx not relayed", "error", err)
		}
	})
	c.awaitAck(from, tx, back, ackOfReinvite, func(ack *sip.Request) {
		if late {
			body, _ := c.ackSDP(sideOf(fromA), ack)
			c.negotiated(fromA, back.Body(), ack.Body(), res.Body(), body)
			s.sendAck(c, to, body)
		}
	})
}

// offerDone ends the offer/answer exchange relayed between legs from and
// to, unless teardown or a BYE has ended a leg meanwhile.
func (c *Call) offerDone(from, to *leg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range []*leg{from, to} {
		if l.state == LegUpdating || l.state == LegCancelling {
			c.move(l, legOfferDone)
		}
	}
}

// cancelOffer is the requester's CANCEL of its re-INVITE, whose copy to
// leg to was made with cancel: the leg moves to cancelling, and the
// goroutine relaying the re-INVITE sends our CANCEL (doOffer). It runs on
// sipgo's goroutine for the CANCEL and does not wait.
func (c *Call) cancelOffer(to *leg, cancel chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if to.offerCancel != cancel || to.state != LegUpdating || !c.move(to, legCancel) {
		return // that re-INVITE is over
	}
	close(cancel)
}

// doOffer is doAuth for a request relayed within a dialog that the
// requester may cancel: once cancel is closed, our CANCEL goes to the far
// leg, but not before the request has had a provisional response (RFC
// 3261 9.1: a CANCEL may not overtake the request it cancels).
func (s *Switch) doOffer(ctx context.Context, d *dialog, req *sip.Request, cancel <-chan struct{}) (*sip.Response, *sip.Request, error) {
	res, err := s.doCancellable(ctx, req, cancel)
	if err != nil || d.auth == nil || (res.StatusCode != 401 && res.StatusCode != 407) {
		return res, req, err
	}
	retry, err := withDigest(d, req, res, d.auth)
	if err != nil {
		s.log.Warn("challenge within the dialog not answered", "call_id", d.callID, "method", req.Method, "error", err)
		return res, req, nil
	}
	res, err = s.doCancellable(ctx, retry, cancel)
	return res, retry, err
}

// doCancellable is do, with a CANCEL of req sent once cancel is closed and
// a provisional response has come, whichever is last.
func (s *Switch) doCancellable(ctx context.Context, req *sip.Request, cancel <-chan struct{}) (*sip.Response, error) {
	tx, err := s.cli.TransactionRequest(ctx, req, prebuilt)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	provisional, wanted, sent := false, false, false
	send := func() {
		if sent || !provisional || !wanted {
			return
		}
		sent = true
		s.byesWG.Add(1)
		go func() {
			defer s.byesWG.Done()
			cctx, stop := context.WithTimeout(context.Background(), 64*sip.T1)
			defer stop()
			if _, err := s.do(cctx, cancelFor(req)); err != nil {
				s.log.Debug("CANCEL of re-INVITE failed", "call_id", req.CallID().Value(), "error", err)
			}
		}()
	}
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				provisional = true
				send()
				continue
			}
			return res, nil
		case <-cancel:
			cancel, wanted = nil, true
			send()
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

// reoffer brings leg l back to the last media it agreed to, after an
// exchange on it that the other leg never got (its answer refused by the
// switch, or its 2xx crossing our CANCEL): a new re-INVITE offering the
// SDP the leg last accepted from us, with a version above the one of the
// offer it has just answered (RFC 3264 8). When the leg does not take it,
// the legs cannot agree and the call is ended, with its record. from is
// the side l's SDP comes from, for the relay.
func (c *Call) reoffer(l *leg, from rtpproxyctl.Side, last []byte) {
	s := c.sw
	c.mu.Lock()
	if c.over() {
		c.mu.Unlock()
		return
	}
	body := nextVersion(l.agreed, last)
	req := l.d.newRequest(sip.INVITE, l.d.localSeq.Add(1))
	c.mu.Unlock()
	if len(body) > 0 {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(body)
	}
	req.AppendHeader(allowHeader)
	ctx, cancel := context.WithTimeout(context.Background(), 64*sip.T1)
	defer cancel()
	res, req, err := s.doAuth(ctx, &l.d, req)
	if err == nil && res.IsSuccess() {
		c.mu.Lock()
		l.inviteSeq = req.CSeq().SeqNo
		c.mu.Unlock()
		s.sendAck(c, l, nil)
		if _, err = c.inDialogSDP(opAnswer, from, res); err == nil {
			c.mu.Lock()
			l.agreed = body
			c.mu.Unlock()
			return
		}
	}
	s.log.Warn("leg not brought back to the agreed media: hanging up", "call", c.ID, "leg", l.name, "response", res, "error", err)
	c.end(outcomeMediaFailed())
}

func copyHeaders(from headed, to sip.Message) {
	for _, name := range relayedHeaders {
		for h := range headersNamed(from, name) {
			to.AppendHeader(sip.NewHeader(name, h.Value()))
		}
	}
}

// sendAck acknowledges the 2xx to the last INVITE we sent on leg l of
// call c; a body is the answer to the leg's late offer.
func (s *Switch) sendAck(c *Call, l *leg, body []byte) {
	c.mu.Lock()
	ack := l.d.newRequest(sip.ACK, l.inviteSeq)
	l.ackedSeq, l.ackBody = l.inviteSeq, body
	if len(body) > 0 {
		l.agreed = body
	}
	c.mu.Unlock()
	if len(body) > 0 {
		ack.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		ack.SetBody(body)
	}
	if err := s.cli.WriteRequest(ack, prebuilt); err != nil {
		s.log.Debug("ACK not sent", "call_id", l.d.callID, "error", err)
	}
}

// onStrayResponse gets, from strayResponse, the INVITE 2xx responses no
// transaction wants: chiefly retransmissions of an INVITE we already ACKed (our ACK was lost, so send
// it again), and 2xx for an attempt we gave up (ACK and BYE it).
func (s *Switch) onStrayResponse(res *sip.Response) {
	cseq := res.CSeq()
	callID := res.CallID().Value()
	toTag, _ := res.To().Params.Get("tag")
	fromTag, _ := res.From().Params.Get("tag")
	// Our requests carry our tag in From: a response's From tag is ours.
	if c, _ := s.lookup(callID, toTag, fromTag); c != nil {
		c.mu.Lock()
		var l *leg
		if c.b != nil && c.b.d.callID == callID {
			l = &c.b.leg
		} else if c.a.d.callID == callID {
			l = &c.a
		}
		resend := l != nil && l.ackedSeq == cseq.SeqNo
		var body []byte
		if resend {
			body = l.ackBody
		}
		c.mu.Unlock()
		if resend {
			s.sendAck(c, l, body)
		}
		return
	}
	s.ackAndBye(res)
}

// ackAndBye acknowledges and at once ends a dialog that a 2xx created for a
// call that is gone, from the response alone.
func (s *Switch) ackAndBye(res *sip.Response) {
	host, _ := splitHostPort(res.Source())
	transport := "udp"
	if v := res.Via(); v != nil && v.Transport != "" {
		transport = strings.ToLower(v.Transport)
	}
	l := pickListener(s.listeners, transport, strings.Contains(host, ":"))
	if l == nil {
		return
	}
	d := &dialog{
		callID:    res.CallID().Value(),
		local:     textOf(res.From().Address),
		localName: res.From().DisplayName,
		remote:    textOf(res.To().Address),
		remoteNam: res.To().DisplayName,
		listener:  l,
		transport: transport,
	}
	d.localTag, _ = res.From().Params.Get("tag")
	d.remoteTag, _ = res.To().Params.Get("tag")
	d.target = d.remote
	d.setRouting(res.Contact(), reversed(recordRoutes(res)), res.Source(), true)
	seq := res.CSeq().SeqNo
	d.localSeq.Store(seq)
	ack := d.newRequest(sip.ACK, seq)
	if err := s.cli.WriteRequest(ack, prebuilt); err != nil {
		s.log.Debug("ACK of stray 2xx not sent", "call_id", d.callID, "error", err)
	}
	s.log.Info("late answer from a gateway: hanging it up", "call_id", d.callID)
	s.sendBye(d)
}

// nextVersion returns SDP agreed with its origin's version set above both
// its own and that of last, the offer the peer has answered since: RFC
// 3264 8 wants a changed description to carry a higher version than the
// previous one the peer saw. agreed is returned as it is when it has no
// origin line to number.
func nextVersion(agreed, last []byte) []byte {
	start, end, v, ok := originVersion(agreed)
	if !ok {
		return agreed
	}
	if _, _, lv, ok := originVersion(last); ok && lv > v {
		v = lv
	}
	out := make([]byte, 0, len(agreed)+2)
	out = append(out, agreed[:start]...)
	out = strconv.AppendUint(out, v+1, 10)
	return append(out, agreed[end:]...)
}

// originVersion finds the sess-version field of an SDP's o= line
// (o=<username> <sess-id> <sess-version> ...): its offsets and value.
func originVersion(sdp []byte) (start, end int, v uint64, ok bool) {
	for i := 0; i < len(sdp); {
		eol := bytes.IndexByte(sdp[i:], '\n')
		if eol < 0 {
			eol = len(sdp)
		} else {
			eol += i
		}
		if bytes.HasPrefix(sdp[i:eol], []byte("o=")) {
			pos := i + 2
			for field := 0; field < 2; field++ {
				sp := bytes.IndexByte(sdp[pos:eol], ' ')
				if sp < 0 {
					return 0, 0, 0, false
				}
				pos += sp + 1
			}
			stop := pos
			for stop < eol && sdp[stop] >= '0' && sdp[stop] <= '9' {
				stop++
			}
			v, err := strconv.ParseUint(string(sdp[pos:stop]), 10, 64)
			return pos, stop, v, err == nil
		}
		i = eol + 1
	}
	return 0, 0, 0, false
}
