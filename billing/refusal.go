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
	numKinds
)

func (k Kind) String() string {
	return [...]string{"account_calls", "gateway_calls", "call_rate", "no_credit"}[k]
}

// Status is the SIP response a refusal gets.
type Status struct {
	Code   int
	Reason string
}

// Refusal is a call refused by a limit, with the response the caller gets.
type Refusal struct {
	Kind   Kind
	Key    string // the account, gateway or source
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
	}
}
