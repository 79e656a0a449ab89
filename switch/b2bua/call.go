package b2bua

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
)

// leg is one side of a call: its dialog and where it stands.
//
// Its small fields sit side by side (state beside ackSeq) so that the
// struct has no padding: 8 bytes less per leg put an attempt's leg in the
// 448-byte size class rather than 480.
type leg struct {
	name string // "a" or "b", for the logs
	d    dialog
	// ackSeq is the CSeq of the peer's INVITE whose 2xx of ours it must
	// ACK; an ACK with another CSeq acknowledges nothing of ours (RFC 3261
	// 13.2.2.4 has the ACK carry the INVITE's CSeq number). ackCh hands the
	// ACK to the goroutine waiting for it; nil when none waits.
	ackSeq uint32
	state  LegState
	ackCh  chan *sip.Request
	// inviteSeq is the CSeq of the last INVITE we sent on the leg;
	// ackedSeq and ackBody rebuild our ACK of its 2xx when the peer
	// retransmits the 2xx (our ACK was lost).
	inviteSeq uint32
	ackedSeq  uint32
	ackBody   []byte
	// offerCancel is closed when the requester cancels the re-INVITE we
	// relayed to this leg, for the goroutine relaying it to send our
	// CANCEL as soon as it may (RFC 3261 9.1); it is made per re-INVITE.
	offerCancel chan struct{}
	// agreed is the last SDP this leg's peer accepted from us (in its 2xx
	// or ACK), to offer again when an exchange the switch refused has left
	// the peer on media the other leg never agreed to.
	agreed []byte
	// timers are the leg's session timer and keepalive (sessiontimer.go).
	timers legTimers
}

// attemptLeg is one outgoing try of one gateway.
type attemptLeg struct {
	leg
	gateway attemptGateway
	invite  *sip.Request // kept until the attempt ends, for CANCEL
	index   int          // into Call.attempts
}

// attemptGateway is what an attempt reads of its gateway once the INVITE
// is built: where requests go and the record's gateway. The gateway's
// whole configuration (168 bytes, credentials and limits among them) stays
// with the hunt, not in every held call.
type attemptGateway struct {
	Address, Transport, Proxy string
	UDPOnly                   bool
}

// Call is one call through the switch: the caller's leg (a) and the
// current attempt toward a gateway (b). Its lock serialises every event of
// the call; no lock is shared between calls.
type Call struct {
	ID     string
	sw     *Switch
	mu     sync.Mutex
	setupT time.Time

	// What the caller asked for, fixed at setup.
	caller, callerName, called string
	calledSent                 string
	srcIP                      string
	srcPort                    int
	userAgentA                 string
	route                      *config.Route
	codecA                     string
	inviteA                    *sip.Request // until the caller ACKs our 2xx
	inviteCSeq                 uint32       // of the caller's INVITE, to spot merged requests
	inviteBranch               string       // its top Via branch, to spot its late retransmissions
	txA                        sip.ServerTransaction
	offerWay                   offerWay
	// timersB are the dialog timers each attempt's leg starts with,
	// shared with the profile's other calls (config.CallLegTimers).
	timersB *config.LegTimers
	// rel is RFC 3262 on the caller's leg (prack.go).
	rel reliableProvisionals

	a        leg
	b        *attemptLeg
	attempts []cdr.Attempt
	ringT    time.Time
	connectT time.Time
	codecB   string
	userAgtB string

	// setupCtx is cancelled, with a cause, when the caller or the switch
	// abandons the call before it is answered.
	setupCtx    context.Context
	cancelSetup context.CancelCauseFunc
	phase       Phase
	callerAck   callerAck     // the caller's ACK of our 2xx to its INVITE
	endedCh     chan struct{} // closed as the call starts ending: wakes its waiters
	maxTimer    *time.Timer
	media       *callMedia // nil when the route's media mode is none
	// dtmfOut are the digits waiting to go as INFOs, sent in order by one
	// goroutine while dtmfSending is dtmfBusy (dtmf.go).
	dtmfOut     []dtmfOut
	dtmfSending dtmfSendState
	// journaled is closed once the journal holds the call's latest entry;
	// the record waits for it, so that the journal never sees "ended"
	// first. nil when no entry is being written: a held call does not keep
	// a closed channel (96 bytes) for nothing.
	journaled chan struct{}
	// relaying is held while an answer is relayed: the ACK of one leg's
	// 2xx and our 2xx to the other (relayAnswer). A leg that has our ACK
	// may send a request at once — a BYE, an INFO, a re-INVITE — and it
	// reaches the switch on another goroutine; end and relay pass through
	// relaying before they send it on, so that the other leg never gets a
	// request of a dialog before the 2xx that confirms it.
	relaying sync.Mutex
	aaa      callAAA // authorisation, limits, credit and accounting (aaa.go)
	// chain runs the call profile's modules (chain.go); nil: no profile.
	chain *callChain
	// early is the SDP of the latest provisional of an attempt, in the
	// order the gateway sent it (earlysdp.go); set without the lock.
	early atomic.Pointer[earlyAnswer]
	// subs are the event subscriptions relayed within the call
	// (transfer.go); nil until a REFER or SUBSCRIBE succeeds.
	subs subscriptions
}

// offerWay is where the call's first SDP offer is: in the caller's INVITE,
// or (a late offer) in the gateway's 2xx, answered in the caller's ACK.
type offerWay uint8

const (
	earlyOffer offerWay = iota
	lateOffer
)

// callerAck is where the caller's ACK of our 2xx to its INVITE stands.
// RFC 3261 15 has the callee — the switch, on the caller's leg — send no
// BYE before that ACK (or before giving up on it): a call that ends
// meanwhile, the gateway hanging up as soon as it has our ACK, leaves its
// BYE to the caller to awaitAck.
type callerAck uint8

const (
	ackNone          callerAck = iota // no 2xx of ours awaits the caller's ACK
	ackAwaited                        // our 2xx sent, its ACK not in
	ackAwaitedForBye                  // and the call has ended: the BYE follows the ACK
	ackByeFromCaller                  // the caller's BYE came instead: it ended its dialog itself
)

// State is the call's state as the caller's leg sees it.
func (c *Call) State() LegState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.a.state
}

// end is the single teardown path of every call: BYE the legs whose
// dialog is still up, stop the timers, leave the call table and hand
// exactly one record to the record sink. Later calls are no-ops, so racing
// causes (a BYE crossing a timer) produce one record. A leg that ended its
// own dialog (its BYE, our 487) is disconnected before end is called, so
// it gets no BYE.
func (c *Call) end(o outcome) {
	c.mu.Lock()
	unacked := c.phase == PhaseAwaitingACK // the caller has not ACKed our 2xx
	if c.over() || !c.to(evEnd) {
		c.mu.Unlock()
		return
	}
	close(c.endedCh)
	now := time.Now()
	if c.maxTimer != nil {
		c.maxTimer.Stop()
	}
	c.a.timers.stop()
	c.rel.stop()
	var byes []*dialog
	// A late offer's 2xx is ACKed with the caller's answer, which comes in
	// the caller's ACK; ending before it, the gateway's 2xx still gets its
	// ACK (RFC 3261 13.2.2.4), without an answer, ahead of its BYE.
	var ackB *leg
	if b := c.b; b != nil && c.offerWay == lateOffer && unacked &&
		b.state.inDialog() && b.ackedSeq != b.inviteSeq {
		ackB = &b.leg
	}
	switch {
	case !c.a.state.inDialog():
		c.callerAck = ackNone // nothing to hang up: awaitAck stops with the call
	case c.callerAck == ackAwaited:
		// awaitAck sends the caller's BYE after its ACK. Counted now, under
		// the lock it reads callerAck with, and before release: Shutdown
		// waits for it like the others.
		c.callerAck = ackAwaitedForBye
		c.sw.byesWG.Add(1)
	default:
		byes = append(byes, &c.a.d)
	}
	byeOnAck := c.callerAck == ackAwaitedForBye
	if b := c.b; b != nil {
		if b.state.inDialog() {
			byes = append(byes, &b.d)
		}
		c.finishAttempt(now, 0, "")
		b.timers.stop()
		if b.state != LegDisconnected {
			c.move(&b.leg, legGone)
		}
	}
	if c.a.state != LegDisconnected {
		c.move(&c.a, legGone)
	}
	c.chain.ended()
	rec := c.record(o, now)
	c.endAAA(o, now, rec)
	journaled := c.journaled
	c.mu.Unlock()
	if journaled != nil {
		<-journaled
	}
	c.afterAnswer()

	if ackB != nil {
		c.sw.sendAck(c, ackB, nil)
	}
	for _, d := range byes {
		c.sw.sendBye(d)
	}
	c.closeMedia(rec)
	if byeOnAck {
		c.sw.calls.removeButCaller(c) // the ACK must still find the call
	} else {
		c.sw.calls.remove(c)
	}
	c.sw.emit(rec)
	c.sw.release()
	c.mu.Lock()
	c.to(evReleased)
	c.mu.Unlock()
}

// finishAttempt closes the current attempt's entry, keeping a code already
// recorded. Called with the lock held.
func (c *Call) finishAttempt(at time.Time, code int, reason string) {
	if c.b == nil {
		return
	}
	a := &c.attempts[c.b.index]
	if a.End.IsZero() {
		a.End = at
	}
	if a.SIPCode == 0 && code != 0 {
		a.SIPCode, a.SIPReason = code, reason
	}
}

// relayAnswer runs send, which relays an answer (the ACK of one leg's 2xx,
// our 2xx to the other leg), holding relaying. Called without the lock:
// send takes it.
func (c *Call) relayAnswer(send func()) {
	c.relaying.Lock()
	defer c.relaying.Unlock()
	send()
}

// afterAnswer returns once no answer is being relayed: a request that a
// leg sent once it had our ACK or our 2xx is then sent on behind that
// answer. Called without the lock.
func (c *Call) afterAnswer() {
	c.relaying.Lock()
	//lint:ignore SA2001 a barrier: what was sent under relaying has left
	c.relaying.Unlock()
}
