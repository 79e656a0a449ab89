package b2bua

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// A server transaction over UDP stays after its final response to answer
// its request's retransmissions: Completed for Timer J (non-INVITE), and
// Accepted for Timer L after an INVITE's 2xx (RFC 6026). The switch keeps
// that duty in s.finished (switch/servertx) and lets sipgo's transaction go
// at once, with its parsed request and built response: kept by sipgo for
// 4 s at 4,000 calls/s, they were most of the heap the collector marked
// (docs/benchmarks.md). s.finished keeps each for completedTimer, the trade
// sipgo's timers were cut to (sipgo.go).

// wireBufs are the buffers a final response is written into before its
// exact-size copy goes to s.finished.
var wireBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// finish sends res, the final response to a non-INVITE request over UDP,
// and ends its transaction at once: the bytes written are the bytes kept,
// and a retransmission of the request gets them again from s.finished. It
// reports false, having done nothing, for a response it does not take:
// the caller sends that one through the transaction. An INVITE's is not
// taken: its non-2xx waits for its ACK (Timer H) in sipgo, and its 2xx is
// the call's (accepted). Over TCP and TLS nothing is retransmitted and
// sipgo ends the transaction itself (Timer J is zero).
func (s *Switch) finish(req *sip.Request, tx sip.ServerTransaction, res *sip.Response) bool {
	stx, ok := tx.(*sip.ServerTx)
	if !ok || req.IsInvite() || res.IsProvisional() || !strings.EqualFold(req.Transport(), "udp") {
		return false
	}
	buf := wireBufs.Get().(*bytes.Buffer)
	buf.Reset()
	res.StringWrite(buf)
	wire := bytes.Clone(buf.Bytes())
	wireBufs.Put(buf)
	s.finished.Add(stx.Key(), wire)
	if err := resend(req, stx, wire); err != nil {
		// As a lost datagram: the peer retransmits, and s.finished answers.
		s.log.Debug("response not sent", "code", res.StatusCode, "method", req.Method, "error", err)
	}
	stx.Terminate()
	return true
}

// accepted notes that the caller's INVITE over UDP got our 2xx. Until the
// ACK the call retransmits the 2xx itself and absorbs copies of the INVITE
// (onInvite); s.finished absorbs those that come after the call has ended
// too, which sipgo's transaction did for Timer L.
func (s *Switch) accepted(req *sip.Request, tx sip.ServerTransaction) {
	if strings.EqualFold(req.Transport(), "udp") {
		s.finished.Add(txKey(req, tx), nil)
	}
}

// retransmitted reports whether req is a retransmission of a finished
// transaction's request, and answers it as that transaction would have:
// its final response again, or nothing for an answered INVITE. The
// transaction sipgo made for the copy ends unused. An ACK is never one: an
// ACK of our 2xx may carry the INVITE's branch (RFC 2543 peers), and it is
// the call's to take.
func (s *Switch) retransmitted(req *sip.Request, tx sip.ServerTransaction) bool {
	if req.IsAck() {
		return false
	}
	wire, ok := s.finished.Get(txKey(req, tx))
	if !ok {
		return false
	}
	if stx, ok := tx.(*sip.ServerTx); ok && wire != nil {
		resend(req, stx, wire) //nolint:errcheck // lost like any datagram: the peer retransmits again
	}
	tx.Terminate()
	return true
}

// resend writes a finished transaction's response, on the socket its
// request came by, to where the response goes: the request's source, or
// its Via's port (responseDestination).
func resend(req *sip.Request, tx *sip.ServerTx, wire []byte) error {
	conn, ok := tx.Connection().(*sip.UDPConnection)
	if !ok {
		return errors.New("not a UDP connection")
	}
	to, err := netip.ParseAddrPort(responseDestination(req))
	if err != nil {
		return err
	}
	_, err = conn.WriteTo(wire, net.UDPAddrFromAddrPort(to))
	return err
}

// txKey is the key sipgo matches tx's requests by (RFC 3261 17.2.3): kept
// by its transaction, and made again from req for a wrapped one (natTx).
func txKey(req *sip.Request, tx sip.ServerTransaction) string {
	if k, ok := tx.(interface{ Key() string }); ok {
		return k.Key()
	}
	key, _ := sip.ServerTxKeyMake(req) // req has a Via and a CSeq: sipgo made its transaction by this key
	return key
}
