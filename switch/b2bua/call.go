package b2bua

import (
	"context"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
)

// LegState is where one user agent of a call stands, after Sippy B2BUA's
// explicit UA states: every event is handled by looking at one of these.
type LegState int

// Leg states, in the order a successful leg passes through them.
const (
	LegIdle         LegState = iota
	LegTrying                // INVITE sent or received, no provisional yet
	LegRinging               // 180/183 seen
	LegConnected             // 2xx exchanged
	LegDisconnected          // BYE sent or received, or the attempt failed
)

var legStateNames = [...]string{"idle", "trying", "ringing", "connected", "disconnected"}

func (s LegState) String() string { return legStateNames[s] }

// leg is one side of a call: its dialog and where it stands.
type leg struct {
	state LegState
	d     dialog
	// ackCh receives the ACK for the 2xx we sent on this leg while we wait
	// for it; nil otherwise.
	ackCh chan *sip.Request
	// inviteSeq and ackBody rebuild our ACK to this leg's 2xx when the peer
	// retransmits the 2xx (our ACK was lost).
	inviteSeq uint32
	ackBody   []byte
	ackSent   bool
}

// attemptLeg is one outgoing try of one gateway.
type attemptLeg struct {
	leg
	gateway config.Gateway
	invite  *sip.Request // kept until the attempt ends, for CANCEL
	index   int          // into Call.attempts
	gotProv bool         // any provisional, 100 included: CANCEL is allowed
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
	offerA                     bool // the caller's INVITE carried SDP

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
	setupDone   chan struct{} // closed when setup has finished one way or another
	ended       bool
	endedCh     chan struct{}
	maxTimer    *time.Timer
	reinviting  bool       // an INVITE/UPDATE transaction is being relayed
	media       *callMedia // nil when the route's media mode is none
	// journaled is closed once the journal holds the connected call; the
	// record waits for it, so that the journal never sees "ended" first.
	journaled chan struct{}
	aaa       callAAA // authorisation, limits, credit and accounting (aaa.go)
	// chain runs the call profile's modules (chain.go); nil: no profile.
	chain *callChain
}

// State is the call's state as the caller's leg sees it.
func (c *Call) State() LegState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.a.state
}

// outcome is how a call ended: everything teardown needs to release the
// legs and write the record.
type outcome struct {
	reason     string // cdr.Reason*
	releasedBy string // cdr.ReleasedBy*
	code       int    // final SIP code the caller saw (200 once answered)
	sipReason  string
	byeA, byeB bool // send BYE to a connected leg
}

// end is the single teardown path of every call: BYE the legs still up,
// stop the timers, leave the call table and hand exactly one record to
// the record sink. Later calls are no-ops, so racing causes (a BYE
// crossing a timer) produce one record.
func (c *Call) end(o outcome) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	close(c.endedCh)
	now := time.Now()
	if c.maxTimer != nil {
		c.maxTimer.Stop()
	}
	var byes []*dialog
	if o.byeA && c.a.state == LegConnected {
		byes = append(byes, &c.a.d)
	}
	if b := c.b; b != nil {
		if o.byeB && b.state == LegConnected {
			byes = append(byes, &b.d)
		}
		c.finishAttempt(now, 0, "")
		b.state = LegDisconnected
	}
	c.a.state = LegDisconnected
	c.chain.ended()
	rec := c.record(o, now)
	c.endAAA(o, now, &rec)
	journaled := c.journaled
	c.mu.Unlock()
	if journaled != nil {
		<-journaled
	}

	for _, d := range byes {
		c.sw.sendBye(d)
	}
	c.closeMedia(&rec)
	c.sw.calls.remove(c)
	c.sw.emit(rec)
	c.sw.release()
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
