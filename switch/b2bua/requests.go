package b2bua

import (
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/switch/sipcheck"
)

// allowed is what Tollgate accepts within a dialog, advertised in Allow.
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, NOTIFY, REFER, MESSAGE"

// supported lists the option tags Tollgate implements; a Require naming any
// other is refused with 420.
var supported = []string{}

// onRequest is the one entry point for every request sipgo hands us.
func (s *Switch) onRequest(req *sip.Request, tx sip.ServerTransaction) {
	if rej := s.check(req); rej != nil {
		s.stats.Malformed.Add(1)
		if !req.IsAck() {
			s.reply(req, tx, rej.Code, rej.Reason, rej.Headers...)
		}
		return
	}
	to := req.To()
	if _, inDialog := to.Params.Get("tag"); inDialog {
		s.onInDialog(req, tx)
		return
	}
	switch req.Method {
	case sip.INVITE:
		s.onInvite(req, tx)
	case sip.OPTIONS:
		s.reply(req, tx, 200, "OK",
			sip.NewHeader("Allow", allowed), sip.NewHeader("Accept", "application/sdp"))
	case sip.ACK:
		// An ACK outside any dialog has nothing to acknowledge.
	case sip.BYE, sip.CANCEL, sip.UPDATE, sip.INFO, sip.PRACK, sip.NOTIFY:
		// CANCEL of a pending INVITE is matched by sipgo before reaching us.
		s.reply(req, tx, 481, "Call/Transaction Does Not Exist")
	case sip.REGISTER, sip.SUBSCRIBE, sip.PUBLISH, sip.MESSAGE, sip.REFER:
		s.reply(req, tx, 405, "Method Not Allowed", sip.NewHeader("Allow", allowed))
	default:
		s.reply(req, tx, 501, "Not Implemented", sip.NewHeader("Allow", allowed))
	}
}

// check makes the checks a UAS core owes a request before anything else
// (RFC 3261 8.2): version, URI scheme, mandatory headers, hop count,
// required extensions, body type.
func (s *Switch) check(req *sip.Request) *sipcheck.Rejection {
	return sipcheck.Request(req, supported)
}

// reply answers a request with a response built only from the request and
// our own headers.
func (s *Switch) reply(req *sip.Request, tx sip.ServerTransaction, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	s.addServer(res)
	if err := tx.Respond(res); err != nil {
		s.log.Debug("response not sent", "code", code, "method", req.Method, "error", err)
	}
}

// respondBusy answers 503 with Retry-After: the cheap refusal under overload
// or while draining.
func (s *Switch) respondBusy(req *sip.Request, tx sip.ServerTransaction, reason string) {
	s.stats.Refused.Add(1)
	ra := int(s.Config().Limits.RetryAfter.Seconds())
	s.reply(req, tx, 503, reason, sip.NewHeader("Retry-After", strconv.Itoa(ra)))
}

func (s *Switch) addServer(m *sip.Response) {
	m.AppendHeader(sip.NewHeader("Server", s.Config().SIP.UserAgent))
}

// frontDoor sees every UDP datagram before sipgo parses it (sipgo runs
// the filter on raw TCP chunks too, which are not whole messages: those
// pass untouched and get only sipcheck.Request's checks). What sipgo
// would drop in silence or misread gets its stateless 400/505/416 here, or
// is dropped when no response can be formed; either way it is counted and
// never reaches a call. It must never return an error: that would stop
// sipgo's read loop for the socket.
func (s *Switch) frontDoor(p sip.TransportReadProps, data []byte) ([]byte, error) {
	if !strings.EqualFold(p.Transport, "udp") {
		return data, nil
	}
	reply, ok := sipcheck.Datagram(data)
	if ok {
		// Folded lines and spaces around ';' and '=' are valid SIP that
		// sipgo misreads; Normalize returns data itself when all is plain.
		return sipcheck.Normalize(data), nil
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
