package b2bua

import (
	"strconv"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/switch/sipcheck"
)

// allowed is what Tollgate accepts within a dialog, advertised in Allow.
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, NOTIFY, REFER, MESSAGE"

// allowHeader is the Allow header of our messages. sipgo's generic header
// is an unexported type, so nothing outside sipgo can change one, and
// sipgo changes none once made: one serves every message, where a header
// of its own cost each INVITE and 2xx an allocation.
var allowHeader = sip.NewHeader("Allow", allowed)

// productHeaders are the Server and User-Agent headers that name us, made
// once for the configured product string and shared by every message as
// allowHeader is.
type productHeaders struct {
	product   string
	server    sip.Header
	userAgent sip.Header
}

// identity returns our Server and User-Agent headers, made again
// when a reload has changed the product string.
func (s *Switch) identity() *productHeaders {
	ua := s.Config().SIP.UserAgent
	if p := s.product.Load(); p != nil && p.product == ua {
		return p
	}
	p := &productHeaders{product: ua, server: sip.NewHeader("Server", ua), userAgent: sip.NewHeader("User-Agent", ua)}
	s.product.Store(p)
	return p
}

// supported lists the option tags Tollgate implements; a Require naming any
// other is refused with 420. timer: RFC 4028 session timers
// (sessiontimer.go); replaces: RFC 3891 (transfer.go); 100rel: RFC 3262
// reliable provisionals (prack.go).
var supported = []string{"timer", "replaces", "100rel"}

// onRequest is the one entry point for every request sipgo hands us.
func (s *Switch) onRequest(req *sip.Request, tx sip.ServerTransaction) {
	if s.retransmitted(req, tx) {
		return
	}
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
		s.onOptions(req, tx)
	case sip.ACK:
		// An ACK outside any dialog has nothing to acknowledge.
	case sip.BYE, sip.CANCEL, sip.UPDATE, sip.INFO, sip.PRACK, sip.NOTIFY:
		// CANCEL of a pending INVITE is matched by sipgo before reaching us.
		s.reply(req, tx, 481, "Call/Transaction Does Not Exist")
	case sip.REGISTER:
		s.onRegister(req, tx)
	case sip.SUBSCRIBE, sip.PUBLISH, sip.MESSAGE, sip.REFER:
		s.reply(req, tx, 405, "Method Not Allowed", allowHeader)
	default:
		s.reply(req, tx, 501, "Not Implemented", allowHeader)
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
	res := newResponse(req, code, reason)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	s.addServer(res)
	if s.finish(req, tx, res) {
		return
	}
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
	m.AppendHeader(s.identity().server)
}
