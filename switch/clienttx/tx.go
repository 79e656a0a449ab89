package clienttx

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// state is where a client transaction stands (RFC 3261 17.1.1 and
// 17.1.2, with RFC 6026's change for an INVITE's 2xx).
type state uint8

const (
	// calling: the request is sent and nothing is heard. Over UDP it is
	// retransmitted, T1 doubling (Timer A; Timer E capped at T2); it fails
	// after 64×T1 (Timer B, Timer F).
	calling state = iota
	// proceeding: a provisional response came. An INVITE now waits for its
	// final response without a timer (the switch's ring timers bound it);
	// a non-INVITE is retransmitted every T2 until Timer F.
	proceeding
	// completed: an INVITE's non-2xx final response came and was ACKed.
	// Over UDP the transaction stays for Timer D (32 s) to
	// ACK each retransmission of that response, even once the TU is done.
	completed
	// answered: the final response is queued for the TU and the
	// transaction has left the layer: an INVITE's 2xx (RFC 6026: its
	// retransmissions go to the TU, here through Layer's stray handler,
	// which ACKs them), any non-INVITE's final response (Timer K would only
	// absorb its retransmissions, which reach the stray handler instead and
	// are ignored there), or a non-2xx over TCP or TLS (no Timer D). Only
	// the TU's Terminate is awaited.
	answered
	// terminated: the TU called Terminate, or the transaction failed
	// (Timer B or F, a transport error). Done is closed.
	terminated
)

// responseQueue is how many responses a transaction holds for its TU. The
// last place is kept for the final response, so a final is never lost;
// provisional responses beyond the rest are dropped (a peer sending that
// many 1xx that fast to a busy TU is broken or hostile).
const responseQueue = 8

// Tx is one client transaction. It implements sip.ClientTransaction.
type Tx struct {
	layer    *Layer
	key      key
	req      *sip.Request // nil once completed
	conn     sip.Connection
	invite   bool
	reliable bool

	// responses is written only under mu, and never blocks.
	responses chan *sip.Response
	// done is closed, under mu, when the TU terminates the transaction or
	// it fails; never merely because a final response was queued, so that
	// a TU selecting on Responses and Done cannot take the end for the
	// answer.
	done chan struct{}

	mu       sync.Mutex
	state    state
	err      error
	timer    *time.Timer   // the one timer: A/E and B/F, or D
	next     time.Time     // when timer is meant to fire
	interval time.Duration // the next retransmission's interval (A, E)
	deadline time.Time     // Timer B or F
	ack      *sip.Request  // the ACK of an INVITE's non-2xx final response
	onEnd    []sip.FnTxTerminate
	onRetr   []sip.FnTxResponse
}

func newTx(l *Layer, k key, req *sip.Request, conn sip.Connection) *Tx {
	return &Tx{
		layer:     l,
		key:       k,
		req:       req,
		conn:      conn,
		invite:    req.IsInvite(),
		reliable:  sip.IsReliable(req.Transport()),
		responses: make(chan *sip.Response, responseQueue),
		done:      make(chan struct{}),
	}
}

// start sends the request and sets the timer: Timer A or E over UDP,
// which fires first; Timer B or F over TCP and TLS.
func (tx *Tx) start() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.conn.WriteMsg(tx.req); err != nil {
		tx.leave()
		tx.finish(err)
		return fmt.Errorf("%s not sent: %w", tx.req.Method, err)
	}
	timeout, interval := sip.Timer_F, sip.Timer_E
	if tx.invite {
		timeout, interval = sip.Timer_B, sip.Timer_A
	}
	tx.deadline = time.Now().Add(timeout)
	if tx.reliable {
		tx.arm(timeout)
	} else {
		tx.interval = interval
		tx.arm(interval)
	}
	return nil
}

// arm sets the timer to fire in d, under mu.
func (tx *Tx) arm(d time.Duration) {
	tx.next = time.Now().Add(d)
	if tx.timer == nil {
		tx.timer = time.AfterFunc(d, tx.fire)
		return
	}
	tx.timer.Reset(d)
}

// Responses are the responses for the TU, in the order they came.
func (tx *Tx) Responses() <-chan *sip.Response { return tx.responses }

// Done is closed when the TU has terminated the transaction or it failed.
func (tx *Tx) Done() <-chan struct{} { return tx.done }

// Err is why the transaction failed, or sip.ErrTransactionTerminated once
// the TU terminated it; nil before.
func (tx *Tx) Err() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.err
}

// Terminate tells the transaction that its TU is done with it: it stops
// retransmitting and leaves the layer, but for an INVITE's non-2xx over
// UDP, which stays completed until Timer D to ACK retransmissions.
func (tx *Tx) Terminate() {
	tx.mu.Lock()
	hooks := tx.end(sip.ErrTransactionTerminated)
	tx.mu.Unlock()
	tx.runHooks(hooks)
}

// OnTerminate registers f to run when the transaction terminates; false
// when it already has.
func (tx *Tx) OnTerminate(f sip.FnTxTerminate) bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.state == terminated {
		return false
	}
	tx.onEnd = append(tx.onEnd, f)
	return true
}

// OnRetransmission registers f to see each retransmission of the final
// response that a completed transaction absorbs; false when the
// transaction has ended.
func (tx *Tx) OnRetransmission(f sip.FnTxResponse) bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.state == terminated {
		return false
	}
	tx.onRetr = append(tx.onRetr, f)
	return true
}

// receive takes a response matched to tx; false when tx no longer wants
// it (it has just left the layer), and the layer's stray handler should.
func (tx *Tx) receive(res *sip.Response) bool {
	tx.mu.Lock()
	switch tx.state {
	case calling, proceeding:
	case completed:
		var hooks []sip.FnTxResponse
		if res.StatusCode >= 300 {
			tx.sendAck()
			hooks = tx.onRetr
		}
		tx.mu.Unlock()
		for _, f := range hooks {
			f(res)
		}
		return true
	default:
		tx.mu.Unlock()
		return false
	}
	defer tx.mu.Unlock()
	if res.StatusCode < 200 {
		if tx.state == calling {
			tx.state = proceeding
			if tx.invite {
				tx.timer.Stop()
			} else {
				tx.interval = sip.T2
			}
		}
		if len(tx.responses) < cap(tx.responses)-1 {
			tx.responses <- res
		} else {
			tx.layer.log.Debug("provisional response dropped: the transaction's queue is full", "method", tx.req.Method, "code", res.StatusCode)
		}
		return true
	}
	switch {
	case tx.invite && res.StatusCode >= 300:
		tx.ack = ackFor(tx.req, res)
		tx.req = nil // Timer D's 32 s need only the ACK, not the INVITE and its SDP
		tx.sendAck()
		if tx.reliable {
			tx.state = answered
			tx.leave()
		} else {
			tx.state = completed
			tx.arm(sip.Timer_D)
		}
	default:
		tx.state = answered
		tx.leave()
	}
	tx.responses <- res // the queue's last place is the final's
	return true
}

// fire is the transaction's timer: a retransmission or Timer B/F while
// calling (or proceeding, for a non-INVITE), Timer D once completed.
func (tx *Tx) fire() {
	tx.mu.Lock()
	now := time.Now()
	var hooks []sip.FnTxTerminate
	switch {
	case now.Before(tx.next):
		// A firing that the last arm came too late to prevent.
	case tx.state == calling || tx.state == proceeding && !tx.invite:
		if !now.Before(tx.deadline) {
			hooks = tx.end(fmt.Errorf("%w: no final response to %s", sip.ErrTransactionTimeout, tx.req.Method))
			break
		}
		if tx.reliable { // nothing to retransmit: wait for the deadline
			tx.arm(tx.deadline.Sub(now))
			break
		}
		if err := tx.conn.WriteMsg(tx.req); err != nil {
			hooks = tx.end(fmt.Errorf("%s not retransmitted: %w", tx.req.Method, err))
			break
		}
		if tx.invite {
			tx.interval *= 2
		} else if tx.state == calling {
			tx.interval = min(2*tx.interval, sip.T2)
		} else {
			tx.interval = sip.T2
		}
		tx.arm(min(tx.interval, tx.deadline.Sub(now)))
	case tx.state == completed:
		tx.leave()
		hooks = tx.finish(tx.err)
	}
	tx.mu.Unlock()
	tx.runHooks(hooks)
}

// end is the end of the TU's interest, or the transaction's failure (err),
// under mu. It returns the hooks to run once mu is released.
func (tx *Tx) end(err error) []sip.FnTxTerminate {
	switch tx.state {
	case terminated:
		return nil
	case completed:
		// It stays for Timer D, to ACK the final response's
		// retransmissions; for the TU it is over.
		if tx.err == nil {
			tx.err = err
			close(tx.done)
		}
		hooks := tx.onEnd
		tx.onEnd = nil
		return hooks
	case calling, proceeding:
		tx.leave()
	}
	return tx.finish(err)
}

// finish moves tx to terminated with err and closes done if it is open,
// under mu.
func (tx *Tx) finish(err error) []sip.FnTxTerminate {
	tx.state = terminated
	tx.err = err
	select {
	case <-tx.done:
	default:
		close(tx.done)
	}
	hooks := tx.onEnd
	tx.onEnd, tx.onRetr = nil, nil
	return hooks
}

// leave stops the timer and takes tx out of the layer, under mu: later
// responses of its branch go to the stray handler.
func (tx *Tx) leave() {
	if tx.timer != nil {
		tx.timer.Stop()
	}
	tx.layer.drop(tx)
	tx.conn.TryClose()
}

func (tx *Tx) runHooks(hooks []sip.FnTxTerminate) {
	if len(hooks) == 0 {
		return
	}
	name := tx.key.branch + sip.TxSeperator + string(tx.key.method)
	tx.mu.Lock()
	err := tx.err
	tx.mu.Unlock()
	for _, f := range hooks {
		f(name, err)
	}
}

// sendAck sends the ACK of an INVITE's non-2xx final response, under mu,
// on the connection the INVITE went by.
func (tx *Tx) sendAck() {
	if err := tx.conn.WriteMsg(tx.ack); err != nil {
		tx.layer.log.Debug("ACK of a non-2xx final response not sent", "branch", tx.key.branch, "error", err)
	}
}

// ackFor builds the ACK of inv's non-2xx final response res (RFC 3261
// 17.1.1.3): inv's Request-URI, top Via, Route, From, Call-ID and CSeq
// number, res's To. It goes where inv went: to inv's destination, or, when
// that is a name sent over UDP, to the address res came from (what the
// name resolved to, found without a DNS query on the reader goroutine).
func ackFor(inv *sip.Request, res *sip.Response) *sip.Request {
	ack := sip.NewRequest(sip.ACK, inv.Recipient)
	ack.SipVersion = inv.SipVersion
	if via := inv.Via(); via != nil {
		ack.AppendHeader(via.Clone())
	}
	sip.CopyHeaders("Route", inv, ack)
	mf := sip.MaxForwardsHeader(70)
	ack.AppendHeader(&mf)
	if h := inv.From(); h != nil {
		ack.AppendHeader(sip.HeaderClone(h))
	}
	if h := res.To(); h != nil {
		ack.AppendHeader(sip.HeaderClone(h))
	}
	if h := inv.CallID(); h != nil {
		ack.AppendHeader(sip.HeaderClone(h))
	}
	if cseq := inv.CSeq(); cseq != nil {
		ack.AppendHeader(&sip.CSeqHeader{SeqNo: cseq.SeqNo, MethodName: sip.ACK})
	}
	ack.SetBody(nil)
	ack.SetTransport(inv.Transport())
	ack.SetDestination(inv.Destination())
	if host, _, err := net.SplitHostPort(inv.Destination()); err == nil && !sip.IsReliable(inv.Transport()) {
		if _, err := netip.ParseAddr(host); err != nil {
			ack.SetDestination(res.Source())
		}
	}
	ack.Laddr = inv.Laddr
	return ack
}
