package b2bua

import (
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// allowed is what Tollgate accepts within a dialog, advertised in Allow.
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, NOTIFY, REFER, MESSAGE"

// supported lists the option tags Tollgate implements; a Require naming any
// other is refused with 420.
var supported = []string{}

// onRequest is the one entry point for every request sipgo hands us.
func (s *Switch) onRequest(req *sip.Request, tx sip.ServerTransaction) {
	if rej := s.check(req); rej != nil {
		if !req.IsAck() {
			s.stats.Malformed.Add(1)
			s.reply(req, tx, rej.code, rej.reason, rej.headers...)
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

// rejection is a response the front door checks chose for a request.
type rejection struct {
	code    int
	reason  string
	headers []sip.Header
}

// check makes the checks a UAS core makes before anything else (RFC 3261
// 8.2): hop count, required extensions.
func (s *Switch) check(req *sip.Request) *rejection {
	if req.Method == sip.INVITE || req.Method == sip.OPTIONS {
		if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
			if req.Method == sip.OPTIONS {
				return nil // RFC 3261 11: a UAS answers an OPTIONS with Max-Forwards 0
			}
			return &rejection{code: 483, reason: "Too Many Hops"}
		}
	}
	if req.IsAck() || req.IsCancel() {
		return nil
	}
	var unsupported []string
	for _, h := range req.GetHeaders("Require") {
		for _, tag := range strings.Split(h.Value(), ",") {
			tag = strings.TrimSpace(tag)
			if tag != "" && !isSupported(tag) {
				unsupported = append(unsupported, tag)
			}
		}
	}
	if len(unsupported) > 0 {
		return &rejection{code: 420, reason: "Bad Extension",
			headers: []sip.Header{sip.NewHeader("Unsupported", strings.Join(unsupported, ", "))}}
	}
	return nil
}

func isSupported(tag string) bool {
	for _, t := range supported {
		if strings.EqualFold(t, tag) {
			return true
		}
	}
	return false
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

// frontDoor sees every UDP datagram before sipgo parses it.
func (s *Switch) frontDoor(_ sip.TransportReadProps, data []byte) ([]byte, error) {
	return data, nil
}
