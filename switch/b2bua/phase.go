package b2bua

// Where a call stands is explicit, after Sippy B2BUA's one-state-per-UA
// design: a phase for the call as a whole and a state per leg, each changed
// only through its transition function, which refuses (and logs) a move
// the tables do not allow. Code that needs to know where a call is asks
// the phase or a leg's state, never a flag or a nil pointer, so a new
// feature adds a row to a table rather than another boolean.

// Phase is where a call as a whole stands.
type Phase uint8

// Call phases, in the order a successful call passes through them.
const (
	PhaseSetup       Phase = iota // INVITE received: authorising, routing, hunting
	PhaseEarly                    // a provisional relayed to the caller: early dialog
	PhaseAwaitingACK              // our 2xx sent to the caller, its ACK not yet in
	PhaseConnected                // the caller ACKed: the call holds no goroutine
	PhaseEnding                   // teardown has begun: later causes are no-ops
	PhaseEnded                    // released: record written, call table left
	numPhases
)

var phaseNames = [numPhases]string{"setup", "early", "awaiting_ack", "connected", "ending", "ended"}

func (p Phase) String() string {
	if p >= numPhases {
		return "invalid"
	}
	return phaseNames[p]
}

// callEvent is what moves a call from one phase to the next.
type callEvent uint8

const (
	evProgress callEvent = iota // a provisional response relayed to the caller
	evAnswer                    // our 2xx sent to the caller
	evAck                       // the caller's ACK of that 2xx
	evEnd                       // a teardown cause, whichever
	evReleased                  // teardown finished
	numCallEvents
)

var callEventNames = [numCallEvents]string{"progress", "answer", "ack", "end", "released"}

func (e callEvent) String() string { return callEventNames[e] }

// phaseMoves is the call's transition table; a missing entry is an
// impossible move. A call may end from any phase before ending (the caller
// cancels, a timer fires, an admin kills it), but only once.
var phaseMoves = map[Phase]map[callEvent]Phase{
	PhaseSetup:       {evProgress: PhaseEarly, evAnswer: PhaseAwaitingACK, evEnd: PhaseEnding},
	PhaseEarly:       {evProgress: PhaseEarly, evAnswer: PhaseAwaitingACK, evEnd: PhaseEnding},
	PhaseAwaitingACK: {evAck: PhaseConnected, evEnd: PhaseEnding},
	PhaseConnected:   {evEnd: PhaseEnding},
	PhaseEnding:      {evReleased: PhaseEnded},
}

// nextPhase is the phase event ev leads to from p; ok is false when the
// move is impossible.
func nextPhase(p Phase, ev callEvent) (next Phase, ok bool) {
	next, ok = phaseMoves[p][ev]
	return next, ok
}

// LegState is where one user agent of a call stands, after Sippy B2BUA's
// explicit UA states: every event is handled by looking at one of these.
type LegState uint8

// Leg states, in the order a successful leg passes through them.
const (
	LegIdle         LegState = iota
	LegTrying                // INVITE sent or received, no provisional yet
	LegRinging               // 180/183 seen: early dialog
	LegConnected             // 2xx exchanged
	LegUpdating              // a re-INVITE or UPDATE is in progress on the leg
	LegCancelling            // CANCEL sent for the leg's pending INVITE
	LegDisconnected          // BYE sent or received, or the attempt failed
	numLegStates
)

var legStateNames = [numLegStates]string{"idle", "trying", "ringing", "connected", "updating", "cancelling", "disconnected"}

func (s LegState) String() string {
	if s >= numLegStates {
		return "invalid"
	}
	return legStateNames[s]
}

// inDialog reports whether the leg's dialog is confirmed: requests within
// it (BYE, INFO, ...) are relayed, whatever offer is in progress.
func (s LegState) inDialog() bool {
	return s == LegConnected || s == LegUpdating || s == LegCancelling
}

// legEvent is what moves a leg from one state to the next.
type legEvent uint8

const (
	legInvite      legEvent = iota // the INVITE that starts the leg
	legProvisional                 // a 180/183 on the leg
	legAnswer                      // a 2xx to the leg's INVITE
	legOffer                       // a re-INVITE or UPDATE starts on the leg
	legOfferDone                   // that offer's transaction is over (answered, refused, cancelled)
	legCancel                      // CANCEL of the leg's pending INVITE or re-INVITE
	legGone                        // BYE, failure or teardown: the leg is over
	numLegEvents
)

var legEventNames = [numLegEvents]string{"invite", "provisional", "answer", "offer", "offer_done", "cancel", "gone"}

func (e legEvent) String() string { return legEventNames[e] }

// legMoves is the legs' transition table; a missing entry is an impossible
// move. A 2xx crossing our CANCEL is not an answer of the leg: it is ACKed
// and hung up where it arrives (abandon), so cancelling only ends or, for a
// re-INVITE, returns to connected.
var legMoves = map[LegState]map[legEvent]LegState{
	LegIdle:       {legInvite: LegTrying, legGone: LegDisconnected},
	LegTrying:     {legProvisional: LegRinging, legAnswer: LegConnected, legCancel: LegCancelling, legGone: LegDisconnected},
	LegRinging:    {legProvisional: LegRinging, legAnswer: LegConnected, legCancel: LegCancelling, legGone: LegDisconnected},
	LegConnected:  {legOffer: LegUpdating, legGone: LegDisconnected},
	LegUpdating:   {legOfferDone: LegConnected, legCancel: LegCancelling, legGone: LegDisconnected},
	LegCancelling: {legOfferDone: LegConnected, legGone: LegDisconnected},
}

// nextLegState is the state event ev leads to from s; ok is false when the
// move is impossible.
func nextLegState(s LegState, ev legEvent) (next LegState, ok bool) {
	next, ok = legMoves[s][ev]
	return next, ok
}

// to moves the call to the phase ev leads to. An impossible move leaves
// the phase as it is, is logged, and returns false: the caller drops the
// event. Called with the lock held.
func (c *Call) to(ev callEvent) bool {
	next, ok := nextPhase(c.phase, ev)
	if !ok {
		c.sw.log.Warn("impossible call transition refused", "call", c.ID, "phase", c.phase, "event", ev)
		return false
	}
	c.phase = next
	return true
}

// over reports whether teardown has begun. Called with the lock held.
func (c *Call) over() bool { return c.phase >= PhaseEnding }

// answered reports whether the caller has our 2xx and teardown has not
// begun: the call has two dialogs to hang up. Called with the lock held.
func (c *Call) answered() bool {
	return c.phase == PhaseAwaitingACK || c.phase == PhaseConnected
}

// move moves leg l of call c to the state ev leads to, like Call.to.
// Called with the call's lock held.
func (c *Call) move(l *leg, ev legEvent) bool {
	next, ok := nextLegState(l.state, ev)
	if !ok {
		c.sw.log.Warn("impossible leg transition refused", "call", c.ID, "leg", l.name, "state", l.state, "event", ev)
		return false
	}
	l.state = next
	return true
}
