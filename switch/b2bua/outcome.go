package b2bua

import "sync/atomic"

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
