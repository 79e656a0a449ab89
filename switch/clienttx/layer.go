// Package clienttx is the client half of RFC 3261's transaction layer
// (17.1) for the switch, on sipgo's message types and transport.
//
// It replaces sipgo's client transactions for three reasons measured at
// 1,000 calls/s (docs/benchmarks.md, issue #13): sipgo hands every
// received response to a goroutine of its own and then blocks that
// goroutine until the transaction user reads the response from an
// unbuffered channel; it keeps a runtime timer per RFC timer (A and B, E
// and F, D, K, M) where one per transaction serves; and it delivers a
// response the user has not read yet in no particular order against the
// next one. Here a response is matched and queued on the goroutine that
// read it (the socket's reader, for UDP), in the order it arrived, into a
// buffered channel that never blocks, and a transaction has one timer.
//
// The transaction user is the switch's call logic: it reads Responses
// until a final one and then calls Terminate, as it did with sipgo's.
package clienttx

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// Layer holds the client transactions in progress and matches responses
// to them (RFC 3261 17.1.3: by the branch of the top Via, which the switch
// makes unique, and the CSeq method, which tells a CANCEL's responses from
// those of the INVITE it cancels). It implements sipgo's
// ClientTransactionRequester, so that sipgo.Client.TransactionRequest
// creates its transactions here.
type Layer struct {
	tpl *sip.TransportLayer
	// stray gets the responses no transaction wants: for the switch, 2xx
	// retransmissions of INVITEs whose transaction has ended (RFC 6026
	// leaves them to the TU). It must not block: Receive runs on a reader.
	stray func(*sip.Response)
	log   *slog.Logger

	mu  sync.Mutex
	txs map[key]*Tx
}

// key identifies a client transaction: its Via branch and method.
type key struct {
	branch string
	method sip.RequestMethod
}

// New returns a layer sending through tpl.
func New(tpl *sip.TransportLayer, stray func(*sip.Response), log *slog.Logger) *Layer {
	return &Layer{tpl: tpl, stray: stray, log: log, txs: make(map[key]*Tx)}
}

// Request sends req, which must carry a top Via with an RFC 3261 branch,
// in a new client transaction. ctx bounds finding the connection (DNS, a
// TCP or TLS connect); the transaction's own timers bound the rest.
//
// An ACK has no transaction: it is sent as it is, and the transaction
// returned is nil. (sipgo's Client.WriteRequest sends ACKs through its
// TxRequester when it has one.)
func (l *Layer) Request(ctx context.Context, req *sip.Request) (sip.ClientTransaction, error) {
	if req.IsAck() {
		return nil, l.tpl.WriteMsg(req)
	}
	k, err := keyOfRequest(req)
	if err != nil {
		return nil, err
	}
	conn, err := l.tpl.ClientRequestConnection(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("no connection for %s: %w", req.Method, err)
	}
	tx := newTx(l, k, req, conn)
	l.mu.Lock()
	if _, taken := l.txs[k]; taken {
		l.mu.Unlock()
		conn.TryClose()
		return nil, fmt.Errorf("a %s transaction with branch %q is already under way", req.Method, k.branch)
	}
	l.txs[k] = tx
	l.mu.Unlock()
	if err := tx.start(); err != nil {
		return nil, err
	}
	return tx, nil
}

// Receive hands a response to its transaction, or to stray when none
// wants it. It does not block, so that it can run on a socket's reader.
func (l *Layer) Receive(res *sip.Response) {
	if k, ok := keyOfResponse(res); ok {
		l.mu.Lock()
		tx := l.txs[k]
		l.mu.Unlock()
		if tx != nil && tx.receive(res) {
			return
		}
	}
	l.stray(res)
}

// Len is how many transactions the layer holds.
func (l *Layer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.txs)
}

// Close ends every transaction, as if each had been terminated.
func (l *Layer) Close() {
	l.mu.Lock()
	txs := make([]*Tx, 0, len(l.txs))
	for _, tx := range l.txs {
		txs = append(txs, tx)
	}
	l.mu.Unlock()
	for _, tx := range txs {
		tx.end(sip.ErrTransactionTerminated)
	}
}

// drop forgets tx, if it is still the transaction under its key.
func (l *Layer) drop(tx *Tx) {
	l.mu.Lock()
	if l.txs[tx.key] == tx {
		delete(l.txs, tx.key)
	}
	l.mu.Unlock()
}

func keyOfRequest(req *sip.Request) (key, error) {
	via := req.Via()
	if via == nil {
		return key{}, fmt.Errorf("%s without a Via", req.Method)
	}
	branch, _ := via.Params.Get("branch")
	if len(branch) <= len(sip.RFC3261BranchMagicCookie) || branch[:len(sip.RFC3261BranchMagicCookie)] != sip.RFC3261BranchMagicCookie {
		return key{}, fmt.Errorf("%s without an RFC 3261 branch in its Via", req.Method)
	}
	return key{branch: branch, method: req.Method}, nil
}

func keyOfResponse(res *sip.Response) (key, bool) {
	via, cseq := res.Via(), res.CSeq()
	if via == nil || cseq == nil {
		return key{}, false
	}
	branch, _ := via.Params.Get("branch")
	return key{branch: branch, method: cseq.MethodName}, branch != ""
}
