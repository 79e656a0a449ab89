package b2bua

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// Dialog keepalives, after Sippy B2BUA's keepalive_ans and keepalive_orig:
// every interval the switch sends the leg's peer an in-dialog OPTIONS (or
// a re-INVITE offering the media the leg last agreed to). A 408 or 481, or
// no answer at all, means the peer has lost the dialog, and the call is
// ended on both legs rather than left to run until max_duration. Any
// other answer, an error included, shows the peer is there.

// armKeepalive schedules leg l's next keepalive. Called with the lock held.
func (c *Call) armKeepalive(l *leg) {
	if l.timers.cfg.Keepalive <= 0 || c.over() {
		return
	}
	l.timers.keepalive = time.AfterFunc(l.timers.cfg.Keepalive, func() { c.keepalive(l) })
}

// peerLost disconnects leg l when its peer's answer res says it has no
// such dialog (481): teardown then sends a BYE to the other leg only.
// Called with the lock held.
func (c *Call) peerLost(l *leg, res *sip.Response) {
	if res != nil && res.StatusCode == 481 && l.state.inDialog() {
		c.move(l, legGone)
	}
}

// keepalive sends one keepalive on leg l and acts on its answer. A
// re-INVITE keepalive waits for an exchange already in progress on the
// leg: that exchange shows the peer is there.
func (c *Call) keepalive(l *leg) {
	s := c.sw
	c.mu.Lock()
	if c.over() {
		c.mu.Unlock()
		return
	}
	method := sip.OPTIONS
	if l.timers.cfg.KeepaliveMethod == config.KeepaliveInvite {
		if c.phase != PhaseConnected || l.state != LegConnected {
			c.armKeepalive(l)
			c.mu.Unlock()
			return
		}
		method = sip.INVITE
		c.move(l, legOffer)
	}
	req := l.d.newRequest(method, l.d.localSeq.Add(1))
	body := l.agreed
	c.mu.Unlock()
	if method == sip.INVITE && len(body) > 0 {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(body)
	}
	req.AppendHeader(allowHeader)
	ctx, cancel := context.WithTimeout(context.Background(), 64*sip.T1)
	defer cancel()
	res, req, err := s.doAuth(ctx, &l.d, req)
	if err == nil && method == sip.INVITE && res.IsSuccess() {
		c.mu.Lock()
		l.inviteSeq = req.CSeq().SeqNo
		c.mu.Unlock()
		s.sendAck(c, l, nil)
	}
	c.mu.Lock()
	if l.state == LegUpdating {
		c.move(l, legOfferDone)
	}
	if err != nil || res.StatusCode == 408 || res.StatusCode == 481 {
		c.peerLost(l, res)
		c.mu.Unlock()
		s.log.Info("keepalive failed: hanging up", "call", c.ID, "leg", l.name, "response", res, "error", err)
		c.end(outcomeKeepaliveFailed())
		return
	}
	c.armKeepalive(l)
	c.mu.Unlock()
}
