package billing

import "fmt"

// Kind names the limit that refused a call, for metrics and logs.
type Kind int

// Refusal kinds.
const (
	AccountCalls Kind = iota // parallel calls of one account
	GatewayCalls             // parallel calls to one gateway
	CallRate                 // calls per second from one source
	NoCredit                 // credit time 0
	ProfileCalls             // parallel calls of one call profile's limit key
	numKinds
)

func (k Kind) String() string {
	return [...]string{"account_calls", "gateway_calls", "call_rate", "no_credit", "profile_calls"}[k]
}

// Cause is why a limit refused a call.
type Cause int

const (
	// OverLimit: the limit's calls are up (or its rate spent).
	OverLimit Cause = iota
	// Unchecked: the cluster-wide count could not be read in time (Redis
	// down) and the limits fail closed. A profile's limit answers it with
	// the refusal's 503, not with its own over-the-limit reply.
	Unchecked
)

// Status is the SIP response a refusal gets.
type Status struct {
	Code   int
	Reason string
}

// Refusal is a call refused by a limit, with the response the caller gets.
type Refusal struct {
	Kind   Kind
	Key    string // the account, gateway, source or profile limit key
	Cause  Cause
	Status Status
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("billing: %s limit for %q: %d %s", r.Kind, r.Key, r.Status.Code, r.Status.Reason)
}

// DefaultStatuses are the responses per refusal kind.
func DefaultStatuses() map[Kind]Status {
	return map[Kind]Status{
		AccountCalls: {403, "Too Many Parallel Calls"},
		GatewayCalls: {503, "Gateway Call Limit Reached"},
		CallRate:     {503, "Call Rate Limit Exceeded"},
		NoCredit:     {402, "No Credit"},
		ProfileCalls: {402, "Too Many Simultaneous Calls"}, // SEMS's; a profile's refuse_with replaces it
	}
}
