package b2bua

import (
	"sync/atomic"

	"github.com/tollgate/tollgate/cdr"
)

// AttemptOutcome is how one attempt toward a gateway ended, the label of
// the attempts metric: operators watch per-outcome rates to see a gateway
// turn busy or unreachable before ASR shows it.
type AttemptOutcome int

// Attempt outcomes. OutcomeError is a failure on our side (the media relay
// refused, no listener for the gateway's transport).
const (
	OutcomeError AttemptOutcome = iota
	OutcomeAnswered
	OutcomeBusy        // 486, 600
	OutcomeNoAnswer    // 408/480 from the gateway, or our no-progress / max-ring timers
	OutcomeRejected    // any other final failure from the gateway
	OutcomeUnreachable // no response at all: transport error or transaction timeout
	OutcomeCancelled   // the caller (or a kill) cancelled it
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"error", "answered", "busy", "no_answer", "rejected", "unreachable", "cancelled"}

func (o AttemptOutcome) String() string { return outcomeNames[o] }

// attemptCounters counts attempts by outcome.
type attemptCounters [numOutcomes]atomic.Uint64

// AttemptsByOutcome returns the number of attempts that ended each way
// since start, every outcome present.
func (s *Stats) AttemptsByOutcome() map[AttemptOutcome]uint64 {
	out := make(map[AttemptOutcome]uint64, numOutcomes)
	for o := range numOutcomes {
		out[o] = s.attempts[o].Load()
	}
	return out
}

// outcomeOf classifies a failed attempt.
func outcomeOf(r *attemptResult) AttemptOutcome {
	if !r.real {
		return r.local
	}
	switch r.code {
	case 486, 600:
		return OutcomeBusy
	case 408, 480:
		return OutcomeNoAnswer
	}
	return OutcomeRejected
}

// outcome is how a call ended: everything teardown needs to write the
// record. Each cause has its constructor below, so that a cause reads the
// same wherever it is detected and its record fields are set in one place.
type outcome struct {
	reason     string // cdr.Reason*
	releasedBy string // cdr.ReleasedBy*
	code       int    // final SIP code the caller saw (200 once answered)
	sipReason  string
}

// answered is the outcome of a call the caller got our 2xx for, ended by
// the switch for reason.
func answered(reason string) outcome {
	return outcome{reason: reason, releasedBy: cdr.ReleasedBySwitch, code: 200, sipReason: "OK"}
}

// outcomeNormalBye: one side's BYE ended the connected call.
func outcomeNormalBye(fromA bool) outcome {
	by := cdr.ReleasedByCallee
	if fromA {
		by = cdr.ReleasedByCaller
	}
	return outcome{reason: cdr.ReasonNormal, releasedBy: by, code: 200, sipReason: "OK"}
}

// outcomeCancelled: the caller abandoned the call before it was answered
// (CANCEL, or BYE in its early dialog); its INVITE got 487.
func outcomeCancelled() outcome {
	return outcome{reason: cdr.ReasonCancelled, releasedBy: cdr.ReleasedByCaller,
		code: 487, sipReason: "Request Terminated"}
}

// outcomeRefused: the caller's INVITE got the final failure code/sipReason
// for reason, decided by by.
func outcomeRefused(code int, sipReason, reason, by string) outcome {
	return outcome{reason: reason, releasedBy: by, code: code, sipReason: sipReason}
}

// outcomeACKTimeout: the caller never acknowledged our 2xx.
func outcomeACKTimeout() outcome { return answered(cdr.ReasonACKTimeout) }

// outcomeMaxDuration: the route's or the profile's call timer ran out.
func outcomeMaxDuration() outcome { return answered(cdr.ReasonMaxDuration) }

// outcomeCreditExpired: the prepaid credit the authorisation granted ran out.
func outcomeCreditExpired() outcome { return answered(cdr.ReasonCreditExpired) }

// outcomeMediaFailed: an answered call whose SDP the relay could not anchor
// (a late offer's answer, or a leg that could not be brought back to the
// media both legs agreed) cannot carry media: it is hung up.
func outcomeMediaFailed() outcome { return answered(cdr.ReasonFailed) }

// outcomeSessionExpired: a leg's session timer ran out (RFC 4028 10): its
// peer's refresh never came, or ours got no answer.
func outcomeSessionExpired() outcome { return answered(cdr.ReasonSessionTimer) }

// outcomeKeepaliveFailed: a leg's in-dialog keepalive found its peer gone.
func outcomeKeepaliveFailed() outcome { return answered(cdr.ReasonKeepalive) }

// outcomeKilled: the switch ended an answered call for reason (admin kill,
// shutdown, media timeout).
func outcomeKilled(reason string) outcome { return answered(reason) }

// outcomeCrashed is the record the journal keeps for a connected call: what
// its record says if Tollgate dies before the call ends.
func outcomeCrashed() outcome { return answered(cdr.ReasonCrashed) }

// outcomeCrashedInSetup is the same for a call the journal notes as it
// reaches the switch, before any answer: the caller heard nothing final.
func outcomeCrashedInSetup() outcome {
	return outcome{reason: cdr.ReasonCrashed, releasedBy: cdr.ReleasedBySwitch, code: 500, sipReason: "Switch Restart"}
}
