package b2bua

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Reliable provisional responses (RFC 3262). sipgo has no 100rel of its
// own, so RSeq, RAck and PRACK are handled here. How a gateway's 18x
// crosses to the caller depends on which sides do 100rel, one row of
// reliabilityOf: relayed with its RSeq and the caller's PRACK relayed with
// its RAck translated (transparent, as SEMS does), or reliability ended on
// the one leg that has it: the switch PRACKs the gateway and relays the
// 18x unreliably, or sends the caller that requires 100rel its own
// reliable 18x, retransmitted until the caller's PRACK.

// reliability is how one provisional response crosses the call.
type reliability uint8

const (
	relUnreliable  reliability = iota // relayed as it came, neither side reliable
	relTransparent                    // both reliable: RSeq relayed, PRACK relayed
	relGatewayOnly                    // the switch PRACKs the gateway; unreliable to the caller
	relCallerOnly                     // the switch's own reliable 18x to the caller
)

// callerRel is what a caller's INVITE says of 100rel.
type callerRel uint8

const (
	callerNo100rel callerRel = iota
	callerSupports100rel
	callerRequires100rel
	numCallerRel
)

// reliabilityOf is indexed by whether the gateway's 18x is reliable, then
// by the caller's callerRel.
var reliabilityOf = [2][numCallerRel]reliability{
	{relUnreliable, relUnreliable, relCallerOnly},
	{relGatewayOnly, relTransparent, relTransparent},
}

// reliableProvisionals is a call's state of RFC 3262 on the caller's leg.
// Guarded by the call's lock.
type reliableProvisionals struct {
	caller callerRel
	// lastB is the gateway's last RSeq: a 18x with it again is a
	// retransmission.
	lastB uint32
	// rseq is the RSeq of our own reliable 18x to the caller; pending is
	// the one not yet PRACKed (RFC 3262 3 allows one at a time), queued
	// the latest one waiting for it.
	rseq       uint32
	pending    *sip.Response
	queued     *sip.Response
	retransmit *time.Timer
}

// stop ends our retransmissions: the INVITE has its final response, or the
// call is ending.
func (r *reliableProvisionals) stop() {
	if r.retransmit != nil {
		r.retransmit.Stop()
	}
	r.pending, r.queued = nil, nil
}

// callerReliability reads what the caller's INVITE says of 100rel.
func callerReliability(inv *sip.Request) callerRel {
	switch {
	case listHas(inv, "Require", "100rel"):
		return callerRequires100rel
	case listHas(inv, "Supported", "100rel") || listHas(inv, "k", "100rel"):
		return callerSupports100rel
	}
	return callerNo100rel
}

// rseqOf is a reliable provisional's RSeq; ok false when res is not one.
func rseqOf(res *sip.Response) (uint32, bool) {
	h := headerNamed(res, "RSeq")
	if h == nil || !listHas(res, "Require", "100rel") {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	return uint32(n), err == nil && n > 0
}

// rackOf reads a PRACK's RAck: the RSeq it acknowledges.
func rackOf(req *sip.Request) (uint32, bool) {
	hs := req.GetHeaders("RAck")
	if len(hs) == 0 {
		return 0, false
	}
	f := strings.Fields(hs[0].Value())
	if len(f) != 3 {
		return 0, false
	}
	n, err := strconv.ParseUint(f[0], 10, 32)
	return uint32(n), err == nil
}

// provisionalMode decides how the gateway's 18x res crosses the call; dup
// is a retransmission of a reliable one already seen. Called with the
// lock held.
func (c *Call) provisionalMode(res *sip.Response) (mode reliability, rseq uint32, dup bool) {
	rseq, reliable := rseqOf(res)
	row := 0
	if reliable {
		row = 1
		dup = rseq <= c.rel.lastB && c.rel.lastB != 0
		if !dup {
			c.rel.lastB = rseq
		}
	}
	return reliabilityOf[row][c.rel.caller], rseq, dup
}

// prackGateway acknowledges the gateway's reliable 18x with RSeq rseq on
// the attempt's early dialog; the PRACK transaction runs on its own.
func (c *Call) prackGateway(b *attemptLeg, rseq uint32) {
	s := c.sw
	c.mu.Lock()
	req := b.d.newRequest(sip.PRACK, b.d.localSeq.Add(1))
	req.AppendHeader(sip.NewHeader("RAck", strconv.FormatUint(uint64(rseq), 10)+" "+strconv.FormatUint(uint64(b.inviteSeq), 10)+" INVITE"))
	c.mu.Unlock()
	s.byesWG.Add(1)
	go func() {
		defer s.byesWG.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 64*sip.T1)
		defer cancel()
		if res, err := s.do(ctx, req); err != nil || !res.IsSuccess() {
			s.log.Debug("PRACK to the gateway failed", "call", c.ID, "response", res, "error", err)
		}
	}()
}

// sendReliable sends the caller our own reliable 18x out, or queues it
// behind the one the caller has not yet PRACKed. Retransmissions double
// from T1 and stop at the PRACK or the INVITE's final response; after
// 64*T1 without the PRACK the switch gives up, as RFC 3262 3 says: the
// call's setup is cancelled (the gateway's INVITE with it) and the
// caller's INVITE answered 5xx.
func (c *Call) sendReliable(out *sip.Response) {
	c.mu.Lock()
	if c.rel.pending != nil {
		c.rel.queued = out
		c.mu.Unlock()
		return
	}
	tx := c.markReliable(out)
	c.mu.Unlock()
	if err := tx.Respond(out); err != nil {
		c.sw.log.Debug("reliable provisional not sent", "call", c.ID, "error", err)
	}
}

// markReliable numbers out as our next reliable 18x, pending its PRACK,
// and starts its retransmissions. Called with the lock held.
func (c *Call) markReliable(out *sip.Response) sip.ServerTransaction {
	if c.rel.rseq == 0 {
		c.rel.rseq = rand.Uint32N(1<<31-1) + 1 // RFC 3262 3: a random start
	} else {
		c.rel.rseq++
	}
	out.AppendHeader(sip.NewHeader("Require", "100rel"))
	out.AppendHeader(sip.NewHeader("RSeq", strconv.FormatUint(uint64(c.rel.rseq), 10)))
	c.rel.pending = out
	// elapsed is the time since out was first sent, as of the wait in
	// progress ending; the last wait is cut to end at 64*T1.
	tx, interval, elapsed := c.txA, sip.T1, sip.T1
	var again func()
	again = func() {
		c.mu.Lock()
		if c.rel.pending != out || c.over() || c.answered() {
			c.mu.Unlock()
			return
		}
		if elapsed >= 64*sip.T1 {
			c.rel.stop()
			cancel := c.cancelSetup
			c.mu.Unlock()
			c.sw.log.Info("caller never PRACKed our reliable provisional: giving up", "call", c.ID)
			cancel(errNoPRACK)
			return
		}
		interval = min(2*interval, 64*sip.T1-elapsed)
		elapsed += interval
		c.rel.retransmit = time.AfterFunc(interval, again)
		c.mu.Unlock()
		if err := tx.Respond(out); err != nil {
			c.sw.log.Debug("reliable provisional not retransmitted", "call", c.ID, "error", err)
		}
	}
	c.rel.retransmit = time.AfterFunc(interval, again)
	return tx
}

// callerPRACK takes the caller's PRACK of our own reliable 18x: it stops
// the retransmissions and sends the 18x queued behind it. ok false: the
// PRACK is for a 18x of the gateway's (relayed) or of nothing.
func (c *Call) callerPRACK(req *sip.Request, tx sip.ServerTransaction) (ok bool) {
	rseq, _ := rackOf(req)
	c.mu.Lock()
	if c.rel.pending == nil || rseq != c.rel.rseq {
		c.mu.Unlock()
		return false
	}
	c.rel.retransmit.Stop()
	c.rel.pending = nil
	next := c.rel.queued
	c.rel.queued = nil
	var ntx sip.ServerTransaction
	if next != nil {
		ntx = c.markReliable(next)
	}
	c.mu.Unlock()
	c.sw.reply(req, tx, 200, "OK")
	if next != nil {
		if err := ntx.Respond(next); err != nil {
			c.sw.log.Debug("reliable provisional not sent", "call", c.ID, "error", err)
		}
	}
	return true
}

// relayEarly relays a request of the early dialog — the caller's PRACK of
// a relayed reliable 18x, an UPDATE either way — to the other leg, and its
// final response back, the SDP anchored as within the dialog. A PRACK's
// RAck names the gateway's INVITE, not the caller's.
func (c *Call) relayEarly(req *sip.Request, tx sip.ServerTransaction, fromA bool) {
	s := c.sw
	if req.Method == sip.PRACK && fromA && c.callerPRACK(req, tx) {
		return
	}
	c.mu.Lock()
	from, to := c.legs(fromA)
	if c.answered() || c.over() || to == nil || from.state != LegRinging || to.state != LegRinging ||
		(req.Method == sip.PRACK && !fromA) {
		c.mu.Unlock()
		s.reply(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	seq := req.CSeq().SeqNo
	if seq <= from.d.remoteSeq {
		c.mu.Unlock()
		s.reply(req, tx, 500, "CSeq Out Of Order", sip.NewHeader("Retry-After", "1"))
		return
	}
	from.d.remoteSeq = seq
	out := to.d.newRequest(req.Method, to.d.localSeq.Add(1))
	if req.Method == sip.PRACK {
		rseq, ok := rackOf(req)
		if !ok {
			c.mu.Unlock()
			s.reply(req, tx, 400, "Bad RAck")
			return
		}
		out.AppendHeader(sip.NewHeader("RAck", strconv.FormatUint(uint64(rseq), 10)+" "+strconv.FormatUint(uint64(to.inviteSeq), 10)+" INVITE"))
	}
	late := c.offerWay == lateOffer
	c.mu.Unlock()

	// An UPDATE is a new offer; a PRACK's body answers the offer in the
	// gateway's 18x (a late offer), else it is an offer itself.
	op := opOffer
	if req.Method == sip.PRACK && late {
		op = opAnswer
	}
	copyHeaders(req, out)
	copyBody(req, out)
	body, err := c.inDialogSDP(op, sideOf(fromA), req)
	if err != nil {
		code, reason := mediaRefusal(err)
		s.reply(req, tx, code, reason)
		return
	}
	if body != nil {
		out.SetBody(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 64*sip.T1)
	defer cancel()
	res, _, err := s.doAuth(ctx, &to.d, out)
	if err != nil {
		s.reply(req, tx, 408, "Request Timeout")
		return
	}
	back := newResponse(req, res.StatusCode, res.Reason)
	copyHeaders(res, back)
	copyBody(res, back)
	if res.IsSuccess() && len(req.Body()) > 0 {
		body, err := c.inDialogSDP(opAnswer, sideOf(!fromA), res)
		if err != nil {
			code, reason := mediaRefusal(err)
			s.reply(req, tx, code, reason)
			return
		}
		if body != nil {
			back.SetBody(body)
		}
	}
	s.addServer(back)
	if err := tx.Respond(back); err != nil {
		s.log.Debug("early-dialog response not relayed", "method", req.Method, "error", err)
	}
}
