package b2bua

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
)

// RFC 4028 session timers, per leg as SEMS keeps them: each leg negotiates
// its own interval and refresher with its peer, the switch refreshes the
// legs where it is the refresher, and a session that is not refreshed in
// time ends the call on both legs. The timers are time.AfterFunc timers,
// so a connected call still holds no goroutine between refreshes.

// refresher is who keeps a leg's session alive: nobody (no session timer
// on the leg), the switch, or the leg's peer.
type refresher uint8

const (
	refreshNone refresher = iota
	refreshUs
	refreshPeer
)

// session is what a leg's peer and the switch agreed: the session
// interval, and who refreshes it.
type session struct {
	interval  time.Duration
	refresher refresher
}

// legTimers are a leg's session timer and keepalive (keepalive.go).
// Guarded by the call's lock.
type legTimers struct {
	// cfg is the profile's resolved timers, shared by its calls and never
	// written through (config.CallLegTimers); noLegTimers until the call's
	// profile is known.
	cfg *config.LegTimers
	session
	timer     *time.Timer // our next refresh, or the peer's deadline
	keepalive *time.Timer
	// allowsUpdate: the peer listed UPDATE in its Allow, so an
	// UPDATE_FALLBACK_INVITE refresh can be an UPDATE.
	allowsUpdate bool
}

// noLegTimers are the timers of a call whose profile is not chosen yet
// (or never, as in a preview): none.
var noLegTimers config.LegTimers

// stop stops the leg's timers; the call is ending.
func (t *legTimers) stop() {
	if t.timer != nil {
		t.timer.Stop()
	}
	if t.keepalive != nil {
		t.keepalive.Stop()
	}
}

// uasTerms is the session a leg would have after its peer's request req
// (INVITE, re-INVITE or UPDATE), as RFC 4028 9 has a UAS decide; tooSmall
// when the interval asked for is below the leg's minimum_timer. A peer
// that asks for no session leaves the leg as it is, unless the switch
// enforces one there: then the switch refreshes, as a peer that did not
// ask cannot be counted on to.
func (t *legTimers) uasTerms(req *sip.Request) (s session, tooSmall bool) {
	se, ref, ok := sessionExpires(req)
	if !ok {
		s = t.session
		if t.cfg.SessionTimer && s.refresher == refreshNone {
			s = session{interval: t.cfg.SessionExpires, refresher: refreshUs}
		}
		return s, false
	}
	if se < t.cfg.MinSE {
		return session{}, true
	}
	if t.cfg.MaxSE > 0 && se > t.cfg.MaxSE {
		// A UAS may lower the interval, never below the peer's Min-SE.
		se = max(t.cfg.MaxSE, minSE(req))
	}
	s.interval = se
	switch {
	case ref == "uas":
		s.refresher = refreshUs
	case ref == "uac" || hasOptionTag(req, "timer"):
		s.refresher = refreshPeer
	default:
		s.refresher = refreshUs
	}
	return s, false
}

// uasHeaders puts session s into our 2xx to the peer's request: the
// refresher named from the peer's side of that transaction, and Require:
// timer when the peer is to refresh (RFC 4028 9).
func uasHeaders(res *sip.Response, s session) {
	if s.refresher == refreshNone {
		return
	}
	who := "uas"
	if s.refresher == refreshPeer {
		who = "uac"
		res.AppendHeader(sip.NewHeader("Require", "timer"))
	}
	res.AppendHeader(sip.NewHeader("Supported", "timer"))
	res.AppendHeader(sip.NewHeader("Session-Expires", secs(s.interval)+";refresher="+who))
}

// uacHeaders puts the leg's session into a request the switch sends on it
// (RFC 4028 7.1 and 7.4): the interval, the refresher kept as it is
// (named from our side of the transaction), and our Min-SE.
func (t *legTimers) uacHeaders(req *sip.Request) {
	if t.interval == 0 {
		return
	}
	v := secs(t.interval)
	switch t.refresher {
	case refreshUs:
		v += ";refresher=uac"
	case refreshPeer:
		v += ";refresher=uas"
	}
	req.AppendHeader(sip.NewHeader("Supported", "timer"))
	req.AppendHeader(sip.NewHeader("Session-Expires", v))
	if t.cfg.SessionTimer {
		req.AppendHeader(sip.NewHeader("Min-SE", secs(t.cfg.MinSE)))
	}
}

// uacAnswered is the leg's session after the peer's 2xx to a request of
// ours that asked for the leg's current session (RFC 4028 7.2). A peer
// that does not do session timers answers without Session-Expires; where
// the switch enforces them it then refreshes itself, as SEMS does, which
// also finds a peer that has vanished.
func (t *legTimers) uacAnswered(res *sip.Response) session {
	se, ref, ok := sessionExpires(res)
	if !ok {
		if t.cfg.SessionTimer && t.interval > 0 {
			return session{interval: t.interval, refresher: refreshUs}
		}
		return session{}
	}
	if ref == "uas" {
		return session{interval: se, refresher: refreshPeer}
	}
	return session{interval: se, refresher: refreshUs}
}

// armSession (re)starts leg l's session timer: our refresh at half the
// interval, or the deadline of the peer's, the interval less a third of it
// or 32 s, whichever is less (RFC 4028 10). Called with the lock held.
func (c *Call) armSession(l *leg) {
	t := &l.timers
	if t.timer != nil {
		t.timer.Stop()
	}
	switch t.refresher {
	case refreshUs:
		t.timer = time.AfterFunc(t.interval/2, func() { c.refresh(l) })
	case refreshPeer:
		t.timer = time.AfterFunc(t.interval-min(32*time.Second, t.interval/3), func() { c.sessionExpired(l) })
	}
}

// sessionExpired ends the call whose leg l's peer did not refresh in time.
func (c *Call) sessionExpired(l *leg) {
	c.sw.log.Info("session not refreshed: hanging up", "call", c.ID, "leg", l.name)
	c.end(outcomeSessionExpired())
}

// refresh sends our refresh of leg l's session: an UPDATE without a body or
// a re-INVITE offering the media the leg last agreed to, as
// session_refresh_method says. While an exchange is in progress on the leg
// (which refreshes the session when it succeeds) or the caller has not yet
// ACKed, it tries again a little later.
func (c *Call) refresh(l *leg) {
	c.mu.Lock()
	if c.over() {
		c.mu.Unlock()
		return
	}
	if c.phase != PhaseConnected || l.state != LegConnected {
		l.timers.timer = time.AfterFunc(min(time.Second, l.timers.interval/4), func() { c.refresh(l) })
		c.mu.Unlock()
		return
	}
	c.move(l, legOffer)
	method := sip.INVITE
	if m := l.timers.cfg.RefreshMethod; m == config.RefreshUpdate || (m == config.RefreshUpdateFallbackInvite && l.timers.allowsUpdate) {
		method = sip.UPDATE
	}
	deadline := time.Now().Add(l.timers.interval / 2)
	c.mu.Unlock()

	res, err := c.sendRefresh(l, method, deadline, 0)
	if err == nil && res.StatusCode == 422 {
		// RFC 4028 7.3: again, with the peer's Min-SE as the interval.
		if floor := minSE(res); floor > 0 {
			res, err = c.sendRefresh(l, method, deadline, floor)
		}
	}
	if err == nil && method == sip.UPDATE && (res.StatusCode == 501 || res.StatusCode == 405) &&
		l.timers.cfg.RefreshMethod == config.RefreshUpdateFallbackInvite {
		c.mu.Lock()
		l.timers.allowsUpdate = false
		c.mu.Unlock()
		res, err = c.sendRefresh(l, sip.INVITE, deadline, 0)
	}
	c.mu.Lock()
	if l.state == LegUpdating {
		c.move(l, legOfferDone)
	}
	switch {
	case c.over():
	case err != nil || res.StatusCode == 408 || res.StatusCode == 481:
		c.peerLost(l, res)
		c.mu.Unlock()
		c.sw.log.Info("session refresh not answered: hanging up", "call", c.ID, "leg", l.name, "response", res, "error", err)
		c.end(outcomeSessionExpired())
		return
	case res.IsSuccess():
		l.timers.session = l.timers.uacAnswered(res)
		c.armSession(l)
	case res.StatusCode == 501 && l.timers.cfg.Accept501:
		c.armSession(l) // the peer is there, and says so
	default:
		// Refused: the session lasts what is left of it.
		l.timers.timer = time.AfterFunc(time.Until(deadline), func() { c.sessionExpired(l) })
	}
	c.mu.Unlock()
}

// sendRefresh sends one refresh request on leg l and waits for its final
// response until deadline, when the session would expire; interval, when
// not 0, is the new session interval a 422 asked for. A re-INVITE's 2xx
// is ACKed.
func (c *Call) sendRefresh(l *leg, method sip.RequestMethod, deadline time.Time, interval time.Duration) (*sip.Response, error) {
	s := c.sw
	c.mu.Lock()
	if interval > 0 {
		l.timers.interval = interval
	}
	req := l.d.newRequest(method, l.d.localSeq.Add(1))
	l.timers.uacHeaders(req)
	body := l.agreed
	c.mu.Unlock()
	if method == sip.INVITE && len(body) > 0 {
		// The same description, version and all: nothing changes (RFC 3264 8).
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(body)
	}
	req.AppendHeader(sip.NewHeader("Allow", allowed))
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	res, req, err := s.doAuth(ctx, &l.d, req)
	if err == nil && method == sip.INVITE && res.IsSuccess() {
		c.mu.Lock()
		l.inviteSeq = req.CSeq().SeqNo
		c.mu.Unlock()
		s.sendAck(c, l, nil)
	}
	return res, err
}

// retryInterval answers a gateway's 422 to our INVITE (RFC 4028 7.3): the
// same INVITE as a new transaction of the dialog, asking for the
// gateway's Min-SE. ok false: the 422 is an ordinary failure (no session
// timer asked for, no usable Min-SE, or one above our maximum_timer).
func (c *Call) retryInterval(ctx context.Context, b *attemptLeg, res *sip.Response) (tx sip.ClientTransaction, ok bool, err error) {
	floor := minSE(res)
	c.mu.Lock()
	t := &b.timers
	if !t.cfg.SessionTimer || b.invite == nil || floor <= t.interval || (t.cfg.MaxSE > 0 && floor > t.cfg.MaxSE) {
		c.mu.Unlock()
		return nil, false, nil
	}
	t.interval = floor
	inv := b.invite.Clone()
	inv.RemoveHeader("Session-Expires")
	inv.RemoveHeader("Min-SE")
	inv.AppendHeader(sip.NewHeader("Session-Expires", secs(floor)))
	inv.AppendHeader(sip.NewHeader("Min-SE", secs(floor)))
	inv.ReplaceHeader(b.d.listener.via())
	inv.CSeq().SeqNo = b.d.localSeq.Add(1)
	b.invite, b.inviteSeq = inv, inv.CSeq().SeqNo
	c.mu.Unlock()
	tx, err = c.sw.cli.TransactionRequest(ctx, inv, prebuilt)
	return tx, true, err
}

// sessionExpires reads a message's Session-Expires (or its compact form
// x): the interval and the refresher parameter.
func sessionExpires(m headed) (d time.Duration, refresher string, ok bool) {
	h := headerNamed(m, "Session-Expires")
	if h == nil {
		if h = headerNamed(m, "x"); h == nil {
			return 0, "", false
		}
	}
	v, params, _ := strings.Cut(h.Value(), ";")
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0, "", false
	}
	for p := range strings.SplitSeq(params, ";") {
		if k, val, _ := strings.Cut(p, "="); strings.EqualFold(strings.TrimSpace(k), "refresher") {
			refresher = strings.ToLower(strings.TrimSpace(val))
		}
	}
	return time.Duration(n) * time.Second, refresher, true
}

// minSE reads a message's Min-SE; 0 when it has none.
func minSE(m headed) time.Duration {
	h := headerNamed(m, "Min-SE")
	if h == nil {
		return 0
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// hasOptionTag reports whether a message lists tag in its Supported (or
// compact k) or Require headers.
func hasOptionTag(m headed, tag string) bool {
	for _, name := range [...]string{"Supported", "k", "Require"} {
		if listHas(m, name, tag) {
			return true
		}
	}
	return false
}

// listHas reports whether one of a message's name headers, comma lists,
// holds token (case-insensitive).
func listHas(m headed, name, token string) bool {
	for h := range headersNamed(m, name) {
		for v := range strings.SplitSeq(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(v), token) {
				return true
			}
		}
	}
	return false
}

func secs(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

// callerSession resolves the call's dialog timers under its profile and
// negotiates the caller's session from its INVITE; an interval below the
// caller leg's floor is answered 422 with our Min-SE (RFC 4028 9) and ends
// the call.
func (c *Call) callerSession(cfg *config.Config) bool {
	c.mu.Lock()
	var p *config.Profile
	if c.chain != nil {
		p = c.chain.profile
	}
	t := &c.a.timers
	t.cfg, c.timersB = cfg.CallLegTimers(p)
	s, tooSmall := t.uasTerms(c.inviteA)
	t.session = s
	if s.refresher != refreshNone {
		t.allowsUpdate = listHas(c.inviteA, "Allow", "UPDATE")
	}
	floor := t.cfg.MinSE
	c.mu.Unlock()
	if tooSmall {
		c.failA(422, "Session Interval Too Small", cdr.ReasonRejected, cdr.ReleasedBySwitch,
			sip.NewHeader("Min-SE", secs(floor)))
		return false
	}
	return true
}

// startLegTimers starts both legs' timers as the call is answered by the
// gateway's 2xx res. Called with the lock held.
func (c *Call) startLegTimers(b *attemptLeg, res *sip.Response) {
	b.timers.session = b.timers.uacAnswered(res)
	if b.timers.refresher != refreshNone {
		b.timers.allowsUpdate = listHas(res, "Allow", "UPDATE")
	}
	for _, l := range []*leg{&c.a, &b.leg} {
		c.armSession(l)
		c.armKeepalive(l)
	}
}
