// Package servertx keeps what is left of the switch's finished server
// transactions over UDP: the key of each (RFC 3261 17.2.3) and the bytes
// of its final response, for as long as RFC 3261 17.2 keeps a transaction
// to answer its request's retransmissions.
//
// sipgo keeps the whole transaction for that time instead: the parsed
// request, the response as built, a runtime timer and channels, some 50
// to 100 heap objects per transaction, for Timer J after every BYE and
// Timer L after every answered INVITE. At 4,000 calls/s those were most of
// the two million objects the collector marked on each cycle, and its
// mark phases of up to half a second were what set off the switch's
// collapses (docs/benchmarks.md, issue #13). What a retransmission needs
// is a few hundred bytes the collector does not scan: the response's wire
// form, which is answered again byte for byte, as the transaction would
// have.
package servertx

import (
	"sync"
	"time"
)

// Finished remembers finished server transactions for at least its span
// and at most twice that. Entries are kept in two generations, young and
// old, and the old one is dropped whole every span: no timer per entry,
// no sweep, and only the maps for the collector to walk.
type Finished struct {
	span time.Duration
	now  func() time.Time // time.Now, but in this package's tests

	mu     sync.Mutex
	turned time.Time // when young became young
	young  map[string][]byte
	old    map[string][]byte
}

// New returns a Finished that keeps each transaction for at least span.
func New(span time.Duration) *Finished {
	return &Finished{span: span, now: time.Now, young: map[string][]byte{}, old: map[string][]byte{}}
}

// Add remembers the transaction key as finished, answered by wire: its
// final response as sent. A nil wire marks a transaction whose request's
// retransmissions are absorbed without an answer — an INVITE whose 2xx
// the switch's call, not the transaction, retransmits (RFC 6026 7.1).
// wire must not change afterwards.
func (f *Finished) Add(key string, wire []byte) {
	f.mu.Lock()
	f.turn()
	f.young[key] = wire
	f.mu.Unlock()
}

// Get reports whether key is a finished transaction, and the response its
// request's retransmission gets again (nil: none, absorb it).
func (f *Finished) Get(key string) (wire []byte, ok bool) {
	f.mu.Lock()
	f.turn()
	wire, ok = f.young[key]
	if !ok {
		wire, ok = f.old[key]
	}
	f.mu.Unlock()
	return wire, ok
}

// turn ages the generations, under mu: once a span has passed since young
// began, it becomes old and the former old is forgotten; after two spans
// both are. A generation's map is cleared and reused, not reallocated.
func (f *Finished) turn() {
	since := f.now().Sub(f.turned)
	if since < f.span {
		return
	}
	if since >= 2*f.span {
		clear(f.young)
	}
	clear(f.old)
	f.old, f.young = f.young, f.old
	f.turned = f.now()
}
