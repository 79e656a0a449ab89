package b2bua

import (
	"iter"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/switch/sipcheck"
)

// This file holds what the switch does because of how sipgo behaves: its
// process-wide overrides, the timers that replace sipgo's, and the front
// door in front of its parser. They were written for sipgo v1.7.2 and
// checked again against sipgoVersion; TestSipgoVersion fails when go.mod
// moves to another, so that each is checked again before it is kept.
//
// v1.7.4 (from v1.7.2) makes none of them unnecessary: messages are still
// handed to a goroutine each, Timers L and M are still not stopped when a
// transaction terminates, UDPMTUSize still refuses large datagrams, and
// the parser is unchanged but for a limit of 100 parameters per header or
// URI (ParseMaxHeaderParams, a denial-of-service guard). What it fixes
// that the switch gains from: non-INVITE client transactions (BYE, INFO,
// UPDATE...) wait Timer K (T4) instead of Timer D (32 s) once completed,
// so they are freed sooner; TCP and TLS connections are no longer found
// by their local address, which could hand a request a connection to
// another peer; Max-Forwards no longer wraps below zero.
//
// The switch's client transactions are its own (switch/clienttx, wired as
// sipgo.Client's TxRequester): sipgo's hand each response to a goroutine
// and block it until the transaction user reads the response, keep a
// runtime timer per RFC timer, and keep an answered INVITE transaction for
// Timer M without stopping it when terminated.
//
// Workarounds that live with the call logic they shape, and must be
// checked too:
//   - onStrayResponse (indialog.go): 2xx retransmissions of client INVITE
//     transactions the switch terminated, answered with the ACK.
//   - awaitAck and the 2xx retransmission (invite.go): sipgo's server
//     transaction does not retransmit a 2xx over UDP (RFC 3261 13.3.1.4).
//   - onInvite (invite.go) returns only once the call's setup is over:
//     sipgo ends the transaction when its handler returns.
//   - per-route no-progress and ring timers (hunt): there is no Timer C.
//   - listenUDP (udpsockets.go): sipgo reads each socket on one goroutine.
//   - wireOrder and keepEarlySDP (earlysdp.go): over TCP and TLS sipgo
//     still hands each received response to a goroutine of its own, so a
//     200 can overtake its 183 (sipgo issue #306).
const sipgoVersion = "v1.7.4"

// The overrides are sipgo package variables, so they are set once, before
// any goroutine runs.
//
// UDPMTUSize: sipgo refuses to send a UDP message within 200 bytes of it
// (1500) instead of letting IP fragment it, so a 200 with a large SDP, or
// a response echoing many Vias, would vanish: responses cannot change
// transport, and carriers send such datagrams every day. Large requests
// are not left to it: RFC 3261 18.1.1 moves an INVITE over 1300 bytes to
// TCP unless its gateway is udp_only (sendInvite, bigrequest.go).
func init() {
	sip.UDPMTUSize = 65535
	sip.Timer_L = acceptedTimer
	sip.Timer_J = completedTimer
}

// acceptedTimer replaces sipgo's Timer L (RFC 6026: 64×T1, how long a
// server INVITE transaction stays "Accepted" after its 2xx). sipgo (v1.7.2
// to v1.7.4) does not stop it when a transaction is terminated, and a
// pending timer keeps its transaction — the INVITE, its responses, some 100
// heap objects — alive until it fires. The switch does what the Accepted
// state is for without it: as UAS it retransmits its 2xx straight to the
// transport and takes the ACK as an in-dialog request (awaitAck), absorbs
// late retransmissions of an INVITE by their branch while the call is up
// (onInvite, relay), and after that from s.finished (finished.go), for
// completedTimer. So the timer is only the time sipgo still answers a
// CANCEL that crosses our 2xx with 200 rather than 481 (RFC 3261 9.2
// allows either): T1, 500 ms. At 4 s, at 4,000 calls/s, these transactions were a
// third of the heap the collector marked. The timer starts only on a 2xx,
// so it never cuts short a transaction still waiting for its answer.
// (Timer M, its client twin, is not sipgo's to run any more: see
// switch/clienttx.)
const acceptedTimer = 500 * time.Millisecond

// completedTimer is how long a server transaction's final response still
// answers its request's retransmissions: s.finished's span for the
// responses the switch makes itself (reply: every BYE's 200, the 481s,
// OPTIONS), and sipgo's Timer J (RFC 3261 17.2.2: 64×T1 over UDP) for
// those it relays. sipgo keeps the parsed request and response with its
// transaction, ~4 kB, so at 1,000 calls/s the BYEs of the last 32 s were
// half the live heap (RSS 577 → 244 MB with 4 s; docs/benchmarks.md).
// A peer retransmits a request only while none of the responses reaches
// it; after 4 s of that (eight retransmissions at T1 = 500 ms) the next
// one is a new request: a BYE then gets 481 (the call is already over,
// and ends once), any other in-dialog request is handled again. Kamailio's
// tm keeps a completed transaction for its wait timer (wt_timer), 5 s by
// default, for the same trade.
const completedTimer = 4 * time.Second

// prebuilt tells sipgo's client that a request is complete: Tollgate builds
// every header itself, so nothing of one leg can leak into the other.
func prebuilt(*sipgo.Client, *sip.Request) error { return nil }

// frontDoor sees every UDP datagram before sipgo parses it (sipgo runs
// the filter on raw TCP chunks too, which are not whole messages: those
// pass untouched and get only sipcheck.Request's checks). What sipgo
// would drop in silence or misread gets its stateless 400/505/416 here, or
// is dropped when no response can be formed; either way it is counted and
// never reaches a call. A well-formed response never reaches sipgo: it is
// handed to its client transaction here (readResponse). It must never
// return an error: that would stop sipgo's read loop for the socket.
func (s *Switch) frontDoor(p sip.TransportReadProps, data []byte) ([]byte, error) {
	s.onDatagram()
	if s.arrivals != nil {
		s.arrivals.note(p.Transport, p.LocalAddr, p.RemoteAddr)
	}
	if !strings.EqualFold(p.Transport, "udp") {
		s.conns.saw(p.Transport, p.RemoteAddr)
		s.pongs.got(p.RemoteAddr, data)
		return data, nil
	}
	// Folded lines and spaces around ';' and '=' are valid SIP that sipgo
	// misreads: msg is data normalised, or data itself when all is plain.
	msg, reply, ok := sipcheck.Datagram(data)
	if ok && isResponse(msg) {
		s.readResponse(p, msg)
		return nil, nil
	}
	if ok {
		return msg, nil
	}
	s.stats.Malformed.Add(1)
	if reply != nil && p.LocalAddr != nil {
		if conn := s.udpConns[p.LocalAddr.String()]; conn != nil {
			if _, err := conn.WriteTo(reply, p.RemoteAddr); err != nil {
				s.log.Debug("stateless reply not sent", "to", p.RemoteAddr, "error", err)
			}
		}
	}
	return nil, nil
}

// isResponse tells a response's datagram from a request's by its start
// line; sipcheck.Datagram has checked which it is.
func isResponse(msg []byte) bool {
	return len(msg) >= 4 && (string(msg[:4]) == "SIP/" || string(msg[:4]) == "sip/")
}

// readResponse parses a UDP response and hands it to its client
// transaction here, on the socket's reader goroutine, instead of letting
// sipgo start a goroutine for it. Responses thus reach a transaction in
// the order they came, and a call costs four goroutines fewer
// (switch/clienttx).
func (s *Switch) readResponse(p sip.TransportReadProps, data []byte) {
	m, err := s.parser.ParseSIP(data)
	res, ok := m.(*sip.Response)
	if err != nil || !ok {
		s.stats.Malformed.Add(1)
		s.log.Debug("response not parsed", "from", p.RemoteAddr, "error", err)
		return
	}
	res.SetTransport("UDP")
	res.SetSource(p.RemoteAddr.String())
	s.wireOrder(res)
	s.txl.Receive(res)
}

// onResponse gets the responses sipgo reads over TCP, TLS and WebSocket:
// sipgo's transaction layer has none of the switch's client transactions
// and hands each on as unmatched, in a goroutine of its own.
func (s *Switch) onResponse(res *sip.Response) { s.txl.Receive(res) }

// strayResponse gets the responses no client transaction wants. Only an
// INVITE's 2xx calls for work (onStrayResponse); that work may send, so
// it leaves the reader goroutine.
func (s *Switch) strayResponse(res *sip.Response) {
	if cseq := res.CSeq(); cseq == nil || cseq.MethodName != sip.INVITE || !res.IsSuccess() || res.CallID() == nil {
		return
	}
	go s.onStrayResponse(res)
}

// headed is a message whose headers can be walked in order: *sip.Request
// and *sip.Response (sip.Message itself has no such method).
type headed interface {
	sip.Message
	Headers() []sip.Header
}

// headersNamed yields m's headers called name, compared case-insensitively
// (RFC 3261 7.3.1); compact forms are names of their own. It replaces
// sipgo's GetHeaders and GetHeader on the call's path: they lower-case the
// name of every header they pass, which allocates for each name outside
// sipgo's short table of common ones (Supported, Allow, User-Agent,
// Session-Expires...), and GetHeaders collects its answer in a new slice —
// a dozen allocations for one look at a carrier's INVITE.
func headersNamed(m headed, name string) iter.Seq[sip.Header] {
	return func(yield func(sip.Header) bool) {
		for _, h := range m.Headers() {
			if strings.EqualFold(h.Name(), name) && !yield(h) {
				return
			}
		}
	}
}

// headerNamed is m's first header called name, or nil.
func headerNamed(m headed, name string) sip.Header {
	for h := range headersNamed(m, name) {
		return h
	}
	return nil
}
