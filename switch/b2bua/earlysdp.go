package b2bua

import (
	"bytes"

	"github.com/emiago/sipgo/sip"
)

// earlyAnswer is a gateway's SDP from a provisional response to one
// attempt's INVITE (callID is the attempt's dialog).
type earlyAnswer struct {
	callID      string
	body        []byte
	contentType string
}

// wireOrder sees every response, in the order it came on its connection or
// socket: over TCP and TLS before sipgo hands each to a goroutine of its
// own, over UDP before readResponse hands it to its transaction. sipgo's
// hand-off is why a 183 and the 200 right behind it (one TCP segment) can
// reach the attempt in either order, and a client transaction ignores a
// provisional that comes after the final (sipgo issue #306): its SDP, the
// gateway's early answer, would be lost. So the SDP of each gateway's
// provisionals is kept here, in wire order, for keepEarlySDP. It runs on
// a read loop: it takes no lock of a call and copies what it keeps, since
// the message is also being handled elsewhere.
func (s *Switch) wireOrder(msg sip.Message) {
	res, ok := msg.(*sip.Response)
	if !ok || res.StatusCode <= 100 || res.StatusCode >= 200 || len(res.Body()) == 0 {
		return
	}
	cseq, cid := res.CSeq(), res.CallID()
	if cseq == nil || cseq.MethodName != sip.INVITE || cid == nil {
		return
	}
	c := s.calls.get(keyB(cid.Value()))
	if c == nil {
		return
	}
	e := &earlyAnswer{callID: cid.Value(), body: bytes.Clone(res.Body())}
	if ct := res.ContentType(); ct != nil {
		e.contentType = ct.Value()
	}
	c.early.Store(e)
}

// keepEarlySDP gives a gateway's 2xx without a body the SDP of the
// attempt's latest provisional. Given in an unreliable provisional, that
// SDP is the gateway's answer, which RFC 3261 13.2.1 wants repeated in the
// 2xx; gateways often leave it out, and when the 2xx overtook its 183 the
// switch never relayed the 183 either: without this the caller would get
// a 2xx with no answer at all. b's dialog Call-ID is fixed for the
// attempt, so no lock is needed.
func (c *Call) keepEarlySDP(b *attemptLeg, res *sip.Response) {
	if len(res.Body()) > 0 {
		return
	}
	e := c.early.Load()
	if e == nil || e.callID != b.d.callID {
		return
	}
	res.SetBody(e.body)
	if e.contentType != "" && res.ContentType() == nil {
		res.AppendHeader(sip.NewHeader("Content-Type", e.contentType))
	}
}
