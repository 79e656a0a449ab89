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
// Workarounds that live with the call logic they shape, and must be
// checked too:
//   - onStrayResponse (indialog.go): 2xx retransmissions of client INVITE
//     transactions the switch terminated, answered with the ACK.
//   - awaitAck and the 2xx retransmission (invite.go): sipgo's server
//     transaction does not retransmit a 2xx over UDP (RFC 3261 13.3.1.4).
//   - onInvite (invite.go) returns only once the call's setup is over:
//     sipgo ends the transaction when its handler returns.
//   - per-route no-progress and ring timers (hunt): sipgo has no Timer C.
//   - listenUDP (udpsockets.go): sipgo reads each socket on one goroutine.
//   - wireOrder and keepEarlySDP (earlysdp.go): sipgo hands each received
//     message to a goroutine of its own, so a 200 can overtake its 183,
//     which the client transaction then drops (sipgo issue #306).
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
	sip.Timer_M = acceptedTimer
	sip.Timer_J = completedTimer
}

// acceptedTimer replaces sipgo's Timers L and M (RFC 6026: 64×T1, how long
// an INVITE transaction stays "Accepted" after its 2xx). sipgo (v1.7.2 to
// v1.7.4) does not stop them when a transaction is terminated, and a pending timer keeps
// its transaction — the INVITE, its responses, ~5 kB a leg — alive until it
// fires: with 64×T1, every call's set-up messages stayed in memory for 32 s
// after the answer, about half of what a held call cost during a build-up.
// The switch does what the Accepted state is for without them: it
// terminates each client INVITE transaction as soon as it reads the 2xx
// and answers the 2xx's retransmissions itself (onStrayResponse); as UAS it
// retransmits its 2xx straight to the transport and takes the ACK as an
// in-dialog request (awaitAck), and absorbs late retransmissions of an
// INVITE by their branch (onInvite, relay). Both timers start only on a
// 2xx, so neither cuts short a transaction still waiting for its answer.
const acceptedTimer = 4 * time.Second

// completedTimer replaces sipgo's Timer J (RFC 3261 17.2.2: 64×T1 over
// UDP), how long a server non-INVITE transaction — every BYE, OPTIONS,
// INFO, UPDATE, PRACK — stays "Completed" to answer retransmissions of its
// request with the same response. sipgo keeps the parsed request and
// response with it, ~4 kB, so at 1,000 calls/s the BYEs of the last 32 s
// were half the live heap (RSS 577 → 244 MB with 4 s; docs/benchmarks.md).
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
// never reaches a call. It must never return an error: that would stop
// sipgo's read loop for the socket.
func (s *Switch) frontDoor(p sip.TransportReadProps, data []byte) ([]byte, error) {
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
