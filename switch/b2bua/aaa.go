package b2bua

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/billing"
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
)

// callAAA is what limits and credit decided for one call, and through
// rad what RADIUS did. Guarded by the call's lock, except where noted.
type callAAA struct {
	gatewayHeld string // the gateway whose limit the current attempt holds
	// loadHeld is the gateway (health key) whose max_calls the current
	// attempt or connected call counts toward; "" when it has none.
	loadHeld    string
	credit      billing.Credit // granted for the current (or answering) attempt
	creditTimer *time.Timer
	// hopRadius and hopContact are what the current attempt's hop adds to
	// its gateway: the Access-Accept's route (numbers, billing,
	// credentials, re-authorisation) and a registered client's Contact;
	// nil for none. The hop itself is not kept: its gateway's
	// configuration is 168 bytes that a held call does not read.
	hopRadius  *aaa.Route
	hopContact *sip.Uri
	// rad is the part only RADIUS servers give work to; nil when none is
	// configured, so that a switch without RADIUS does not carry it in
	// every held call.
	rad *callRadius
}

// callRadius is a call's RADIUS side: its authorisation's grant, its
// accounting sessions and their timers, and what the servers said for the
// record. Guarded by the call's lock, except where noted.
type callRadius struct {
	account     string // RADIUS User-Name once authorised; "" before
	accountHeld bool   // counts toward limits.account_calls
	// Accounting: on for every call when accounting servers are
	// configured, unless its profile turns it off or it is only a digest
	// challenge.
	accounting bool
	radius     billing.Credit
	// The caller's number and name as the Access-Accept overrides them
	// (CLI and CNAM). Written and read by the setup goroutine only.
	cli, cnam    string
	confID       aaa.ConfID
	claimed      string // the digest user a refused caller claimed to be
	stopped      int    // attempts (a prefix of Call.attempts) whose Stop is sent
	interimTimer *time.Timer
	// interimEvery is the call's Interim-Update interval: the server's
	// (Access-Accept or CoA) within the configured bounds, else the
	// configured one; 0 until connect when the server set none.
	interimEvery time.Duration
	reauth       callReauth // asking for more credit mid-call (reauth.go)
	chain        sendChain

	result cdr.RADIUS // what RADIUS said, for the record (radius_result.go)
}

// accounting reports whether the call sends accounting records.
func (c *Call) accounting() bool { return c.aaa.rad != nil && c.aaa.rad.accounting }

// account is the call's RADIUS User-Name; "" before authorisation or
// without RADIUS.
func (c *Call) account() string {
	if c.aaa.rad == nil {
		return ""
	}
	return c.aaa.rad.account
}

// h323ConfID is the call's h323-conf-id: kept from setup when RADIUS is
// configured, else made again for the rare asker (a CoA's selector).
func (c *Call) h323ConfID() aaa.ConfID {
	if c.aaa.rad != nil {
		return c.aaa.rad.confID
	}
	id, _ := aaa.ParseConfID(confID(c.ID)) // the ID is a UUID: it always parses
	return id
}

// radiusCredit is the credit the Access-Accept granted; unset without one.
func (c *Call) radiusCredit() billing.Credit {
	if c.aaa.rad == nil {
		return billing.Credit{}
	}
	return c.aaa.rad.radius
}

// hop is one gateway of a call's hunt with the route parameters it is
// tried with: a static route's gateway, or a route from the Access-Accept.
type hop struct {
	route  *config.Route // timers and hunt-stop codes for this gateway
	gw     config.Gateway
	radius *aaa.Route // nil for a static gateway
	// target is the Contact of a redirect the hunt follows (redirect.go):
	// its user is the number the INVITE asks for.
	target *sip.Uri
	// contact is a registered client's Contact (register.go): the
	// Request-URI of the INVITE, which goes to gw, the client's flow.
	contact *sip.Uri
	// local is the listener a registered client's flow came to, which
	// requests to it leave through; nil for any other hop.
	local *listener
}

// routeQuery is what the route table chooses the call's route by: the
// numbers, the real source that IP authorisation uses too, the interface
// the INVITE arrived on, and selected, the profile the selectors chose
// ("" for none; profileChoice). They are fixed at setup.
func (c *Call) routeQuery(selected string) config.RouteQuery {
	q := config.RouteQuery{Called: c.called, Caller: c.caller, Source: c.callerAddrPort().Addr(), SelectedProfile: selected}
	c.mu.Lock()
	if l := c.a.d.listener; l != nil {
		q.Interface = l.iface
	}
	c.mu.Unlock()
	return q
}

// authorize applies the limits and authorisation to a new call and works
// out its route: the Access-Accept's routes, else static, the route from
// the table. It answers the caller itself and returns ok false when the
// call cannot go on; route is nil when there is nowhere to send it.
func (c *Call) authorize(ctx context.Context, cfg *config.Config, static *config.Route) (route *config.Route, hops []hop, ok bool) {
	a := c.sw.aaa
	if err := a.limits.AllowCall(c.srcIP, c.setupT); err != nil {
		c.refuseLimit(err)
		return nil, nil, false
	}
	c.mu.Lock()
	req := c.authRequest()
	c.mu.Unlock()
	mode := cfg.Radius.Auth
	if static != nil {
		mode = static.Auth
	}
	mode = c.authMode(mode)
	var grant *aaa.AuthResult
	var account string
	switch mode {
	case config.AuthIP, config.AuthDigest:
		if grant, account, ok = c.radiusAuthorize(ctx, cfg, mode, req); !ok {
			return nil, nil, false
		}
	}
	radiusCredit := billing.Credit{}
	if grant != nil && grant.HasCreditTime && c.prepaid() {
		radiusCredit = billing.Limit(grant.CreditTime)
	}
	credit, err := a.limits.GrantCredit(radiusCredit, billing.Credit{})
	if err != nil {
		c.refuseLimit(err)
		return nil, nil, false
	}
	if account != "" {
		if err := a.limits.AcquireAccount(account); err != nil {
			c.refuseLimit(err)
			return nil, nil, false
		}
	}
	c.mu.Lock()
	c.aaa.credit = credit
	// account and grant come from RADIUS only, so rad is there.
	if r := c.aaa.rad; r != nil {
		r.account, r.accountHeld = account, account != ""
		r.radius = radiusCredit
		if grant != nil {
			r.cli, r.cnam = grant.CLI, grant.CNAM
			r.interimEvery = interimWithin(cfg.Radius.Accounting, grant.Interim)
		}
	}
	c.mu.Unlock()

	if grant != nil && len(grant.Routes) > 0 {
		base := baseRoute(cfg, static)
		route, hops = base, make([]hop, 0, len(grant.Routes))
		for i := range grant.Routes {
			hops = append(hops, radiusHop(base, &grant.Routes[i]))
		}
		return route, hops, true
	}
	if static == nil || len(static.Gateways) == 0 {
		return nil, nil, true
	}
	if hops = c.routeHops(static); len(hops) == 0 {
		return nil, nil, true
	}
	return static, hops, true
}

// radiusAuthorize asks RADIUS about the call, by source IP or by the digest
// of the caller's Proxy-Authorization (challenging it when it has none or a
// stale one).
func (c *Call) radiusAuthorize(ctx context.Context, cfg *config.Config, mode string, req aaa.AuthRequest) (*aaa.AuthResult, string, bool) {
	a := c.sw.aaa
	if a.auth == nil {
		c.sw.log.Error("route needs RADIUS authorisation but no auth server runs (radius changes need a restart)", "call", c.ID)
		c.failA(503, "Authorization Unavailable", cdr.ReasonRejected, cdr.ReleasedBySwitch, c.sw.retryAfter())
		return nil, "", false
	}
	c.mu.Lock()
	inA := c.inviteA
	c.mu.Unlock()
	account := c.srcIP
	if mode == config.AuthDigest {
		cred, stale, found := c.digestCredentials(inA)
		if cred == nil {
			if found {
				c.sw.log.Info("digest credentials refused: challenging again", "call", c.ID, "stale", stale)
			}
			// A challenge is a step of the call's authentication, not a
			// call: accounting it would bill every digest caller twice.
			c.mu.Lock()
			c.aaa.rad.accounting = false
			c.mu.Unlock()
			c.failA(407, "Proxy Authentication Required", cdr.ReasonRejected, cdr.ReleasedBySwitch,
				sip.NewHeader("Proxy-Authenticate", a.nonces.Challenge(cfg.Radius.Realm, stale)))
			return nil, "", false
		}
		req.Digest, account = cred, cred.Username
		c.mu.Lock()
		c.aaa.rad.claimed = cred.Username
		c.mu.Unlock()
	}
	sent := time.Now()
	grant, err := a.auth.Authorize(ctx, req)
	c.noteAuth(mode, time.Since(sent), grant, err)
	var rej *aaa.RejectError
	switch {
	case err == nil:
		return grant, account, true
	case ctx.Err() != nil:
		c.cancelled(context.Cause(ctx))
	case errors.As(err, &rej):
		c.sw.log.Info("call not authorised", "call", c.ID, "account", account, "return_code", rej.ReturnCode,
			"code", rej.Status.Code, "server_message", rej.ServerMessage)
		c.failA(rej.Status.Code, rej.Status.Reason, cdr.ReasonRejected, cdr.ReleasedBySwitch)
	case cfg.Radius.AuthUnavailable == config.AuthUnavailableAccept:
		c.sw.log.Warn("authorisation unavailable: call accepted unauthorised (radius.auth_unavailable: accept)",
			"call", c.ID, "account", account, "error", err)
		c.mu.Lock()
		c.aaa.rad.result.Auth = cdr.AuthUnavailable
		c.mu.Unlock()
		return nil, account, true
	default:
		c.sw.log.Warn("authorisation failed", "call", c.ID, "account", account, "error", err)
		c.failA(503, "Authorization Unavailable", cdr.ReasonRejected, cdr.ReleasedBySwitch, c.sw.retryAfter())
	}
	return nil, "", false
}

// digestCredentials finds the caller's answer to our challenge. found says
// the INVITE carried one; stale that its only fault is an expired nonce.
func (c *Call) digestCredentials(inv *sip.Request) (cred *aaa.DigestCredentials, stale, found bool) {
	for _, h := range inv.GetHeaders("Proxy-Authorization") {
		v := h.Value()
		if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "digest") {
			continue
		}
		found = true
		cred, err := c.sw.aaa.nonces.CheckAuthorization(v, string(sip.INVITE))
		if err == nil {
			return cred, false, true
		}
		stale = stale || errors.Is(err, aaa.ErrNonceStale)
	}
	return nil, stale, found
}

// authRequest describes the call to RADIUS. Called with the lock held.
func (c *Call) authRequest() aaa.AuthRequest {
	src, _ := netip.ParseAddr(c.srcIP)
	// confID renders the call's UUID, which always parses.
	conf, _ := aaa.ParseConfID(confID(c.ID))
	return aaa.AuthRequest{SourceIP: src, CallingNumber: c.caller, CalledNumber: c.called,
		CallID: c.a.d.callID, ConfID: conf}
}

// refuseLimit answers a call a limit refused.
func (c *Call) refuseLimit(err error) {
	var r *billing.Refusal
	if !errors.As(err, &r) {
		c.failA(500, "Server Internal Error", cdr.ReasonRejected, cdr.ReleasedBySwitch)
		return
	}
	c.sw.log.Info("call refused by a limit", "call", c.ID, "limit", r.Kind.String(), "key", r.Key, "code", r.Status.Code)
	var hdrs []sip.Header
	if r.Status.Code == 503 {
		hdrs = append(hdrs, c.sw.retryAfter())
	}
	c.failA(r.Status.Code, r.Status.Reason, cdr.ReasonRejected, cdr.ReleasedBySwitch, hdrs...)
}

// baseRoute is what RADIUS routes inherit: the static route's timers, media
// and credit, else the switch-wide defaults.
func baseRoute(cfg *config.Config, static *config.Route) *config.Route {
	if static != nil {
		r := *static
		return &r
	}
	t := cfg.Timers
	return &config.Route{Name: "radius", HuntStop: config.DefaultHuntStop, NoProgress: t.NoProgress,
		MaxRing: t.MaxRing, MaxDuration: t.MaxDuration, Media: cfg.Media.Mode, Auth: cfg.Radius.Auth}
}

// radiusHop turns one Routing: entry into a gateway with its own timers.
func radiusHop(base *config.Route, rr *aaa.Route) hop {
	port := rr.Port
	if port == 0 {
		port = 5060
	}
	r := *base
	r.Gateways = []config.Gateway{{Address: net.JoinHostPort(rr.Host, strconv.Itoa(port)), Transport: "udp"}}
	if rr.NoProgressExpires > 0 {
		r.NoProgress = rr.NoProgressExpires
	}
	if rr.Expires > 0 {
		r.MaxRing = rr.Expires
	}
	if len(rr.HuntStopCodes) > 0 {
		r.HuntStop = rr.HuntStopCodes
	}
	return hop{route: &r, gw: r.Gateways[0], radius: rr}
}

// attempt tries one hop: the gateway's limit and the route's credit first,
// then the INVITE; afterwards it releases what a failed attempt held and
// sends its accounting Stop.
func (c *Call) attempt(ctx context.Context, h hop) *attemptResult {
	if r := c.beginHop(h); r != nil {
		return r
	}
	c.hopMedia(h)
	c.mu.Lock()
	before := len(c.attempts)
	c.mu.Unlock()
	r := c.try(ctx, h.route, h.gw, h.local)
	if r.kind == attemptAnswered {
		return r
	}
	c.mu.Lock()
	c.releaseGateway()
	sent := len(c.attempts) > before
	if r.kind == attemptFailed && sent {
		c.stopAttempt(len(c.attempts)-1, r)
	}
	c.mu.Unlock()
	return r
}

// beginHop takes the gateway's call slot, grants the hop's credit and sets
// the numbers and headers its INVITE carries; a refusal fails the hop.
func (c *Call) beginHop(h hop) *attemptResult {
	lim := c.sw.aaa.limits
	routeCredit := billing.Credit{}
	switch {
	case h.radius != nil && h.radius.HasCreditTime && c.prepaid():
		routeCredit = billing.Limit(h.radius.CreditTime)
	case h.route.CreditTime > 0:
		routeCredit = billing.Limit(h.route.CreditTime)
	}
	c.mu.Lock()
	radius := c.radiusCredit()
	c.mu.Unlock()
	loadHeld := ""
	if limited(h.gw) {
		if skip := c.sw.loads.take(h.gw, time.Now()); skip != "" {
			c.sw.log.Info("gateway skipped", "call", c.ID, "gateway", h.gw.Address, "why", skip)
			return &attemptResult{code: 503, reason: skip}
		}
		loadHeld = healthKey(h.gw)
	}
	credit, err := lim.GrantCredit(radius, routeCredit)
	if err == nil {
		err = lim.AcquireGateway(h.gw.Address)
	}
	var refusal *billing.Refusal
	if errors.As(err, &refusal) {
		if loadHeld != "" {
			c.sw.loads.give(loadHeld)
		}
		c.sw.log.Info("gateway skipped by a limit", "call", c.ID, "gateway", h.gw.Address, "limit", refusal.Kind.String())
		return &attemptResult{code: refusal.Status.Code, reason: refusal.Status.Reason}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.aaa.gatewayHeld, c.aaa.loadHeld, c.aaa.credit = h.gw.Address, loadHeld, credit
	c.aaa.hopRadius, c.aaa.hopContact = h.radius, h.contact
	c.calledSent = c.called
	if rr := h.radius; rr != nil {
		switch rr.CalledMode {
		case aaa.CalledReplace:
			c.calledSent = rr.Called
		case aaa.CalledNone:
			c.calledSent = ""
		}
	}
	if h.target != nil {
		c.calledSent = h.target.User
	}
	return nil
}

// releaseGateway gives back the gateway slot the current attempt holds.
// Called with the lock held.
func (c *Call) releaseGateway() {
	if c.aaa.gatewayHeld != "" {
		c.sw.aaa.limits.ReleaseGateway(c.aaa.gatewayHeld)
		c.aaa.gatewayHeld = ""
	}
	if c.aaa.loadHeld != "" {
		c.sw.loads.give(c.aaa.loadHeld)
		c.aaa.loadHeld = ""
	}
}

// fromUser and fromName are the caller as the gateway sees it: the
// route's cli/cnam, else the Access-Accept's CLI/CNAM, else as received.
func (c *Call) fromUser() string {
	if h := c.aaa.hopRadius; h != nil && h.CLI != "" {
		return h.CLI
	}
	if r := c.aaa.rad; r != nil && r.cli != "" {
		return r.cli
	}
	return c.caller
}

func (c *Call) fromName() string {
	if h := c.aaa.hopRadius; h != nil && h.CNAM != "" {
		return h.CNAM
	}
	if r := c.aaa.rad; r != nil && r.cnam != "" {
		return r.cnam
	}
	return c.callerName
}

// addRouteHeaders adds the RADIUS route's extra headers (ash) to an INVITE.
func (c *Call) addRouteHeaders(inv *sip.Request) {
	rr := c.aaa.hopRadius
	if rr == nil {
		return
	}
	for _, h := range rr.ExtraHeaders {
		name, value, _ := strings.Cut(h, ":")
		inv.AppendHeader(sip.NewHeader(strings.TrimSpace(name), strings.TrimSpace(value)))
	}
}

// connectedAAA starts the credit timer, the accounting Start records and
// the interim timer as the call connects. Called with the lock held, before
// the 200 goes to the caller: a BYE right after it then finds them, and its
// Stop records follow the Starts.
func (c *Call) connectedAAA(now time.Time) {
	if c.aaa.credit.Set {
		c.armCredit(now)
		c.armReauth()
	}
	if !c.accounting() {
		return
	}
	acct := c.sw.Config().Radius.Accounting
	if acct.StartRecords() {
		answer, out := c.answerLeg(), c.originateLeg(c.b.index)
		c.sendAcct(func(ctx context.Context, a Accountant) error { return a.Start(ctx, answer) })
		c.sendAcct(func(ctx context.Context, a Accountant) error { return a.Start(ctx, out) })
	}
	r := c.aaa.rad
	if r.interimEvery == 0 {
		r.interimEvery = acct.Interim
	}
	if every := r.interimEvery; every > 0 {
		r.interimTimer = time.AfterFunc(every, c.interim)
	}
}

// interim sends the Interim-Update of both legs and re-arms the call's one
// timer, at the call's interval of the moment (a CoA may change it).
func (c *Call) interim() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over() || c.b == nil {
		return
	}
	now := time.Now()
	answer, out := c.answerLeg(), c.originateLeg(c.b.index)
	c.sendAcct(func(ctx context.Context, a Accountant) error { return a.Interim(ctx, answer, now) })
	c.sendAcct(func(ctx context.Context, a Accountant) error { return a.Interim(ctx, out, now) })
	c.aaa.rad.interimTimer.Reset(c.aaa.rad.interimEvery)
}

// endAAA is the teardown's part: stop the timers, release the limits, send
// the Stop records not yet sent and note the account and credit in the
// record. Called by Call.end with the lock held.
func (c *Call) endAAA(o outcome, now time.Time, rec *cdr.Record) {
	if c.aaa.creditTimer != nil {
		c.aaa.creditTimer.Stop()
	}
	c.releaseGateway()
	if c.aaa.credit.Set {
		rec.CreditGranted = c.aaa.credit.Time
	}
	r := c.aaa.rad
	if r == nil {
		return
	}
	defer c.radiusRecord(rec) // after the Stops below are counted
	for _, t := range []*time.Timer{r.interimTimer, r.reauth.timer} {
		if t != nil {
			t.Stop()
		}
	}
	if r.accountHeld {
		c.sw.aaa.limits.ReleaseAccount(r.account)
		r.accountHeld = false
	}
	rec.Account = r.account
	if !r.accounting {
		return
	}
	stop := aaa.StopInfo{Time: now, ReleaseSource: releaseSource(o.releasedBy)}
	if c.connectT.IsZero() && o.reason != cdr.ReasonCancelled {
		stop.SIPCode = o.code // a BYE, CANCEL or timer reports below 200
	}
	answer := c.answerLeg()
	c.sendAcct(func(ctx context.Context, a Accountant) error { return a.Stop(ctx, answer, stop) })
	if b := c.b; b != nil && b.index >= r.stopped {
		// The attempt up at the end: answered, or cancelled by the hunt's end.
		out := c.originateLeg(b.index)
		bstop := stop
		bstop.SIPCode = 0
		r.stopped = b.index + 1
		c.sendAcct(func(ctx context.Context, a Accountant) error { return a.Stop(ctx, out, bstop) })
	}
}

// stopAttempt sends the Stop of a failed attempt. Called with the lock held.
func (c *Call) stopAttempt(i int, r *attemptResult) {
	if !c.accounting() || i < c.aaa.rad.stopped {
		return
	}
	c.aaa.rad.stopped = i + 1
	at := c.attempts[i]
	stop := aaa.StopInfo{Time: at.End, SIPCode: at.SIPCode, ReleaseSource: aaa.ReleasedByCallee}
	if !r.real {
		// Our own timers cancelled it, or the gateway was unreachable.
		stop.ReleaseSource = aaa.ReleasedBySwitch
		if r.code != 503 {
			stop.SIPCode = 0
		}
	}
	out := c.originateLeg(i)
	c.sendAcct(func(ctx context.Context, a Accountant) error { return a.Stop(ctx, out, stop) })
}

// answerLeg is the caller's accounting session. Called with the lock held.
func (c *Call) answerLeg() aaa.Leg {
	user, claimed := c.account(), ""
	if c.aaa.rad != nil {
		claimed = c.aaa.rad.claimed
	}
	if user == "" {
		user = claimed
	}
	if user == "" {
		user = c.srcIP
	}
	return aaa.Leg{Origin: aaa.OriginAnswer, UserName: user, CallingNumber: c.caller, CalledNumber: c.called,
		RemoteAddress: c.srcIP, CallID: c.a.d.callID, LegCallID: c.a.d.callID, ConfID: c.h323ConfID(),
		SetupTime: c.setupT, ConnectTime: c.connectT}
}

// originateLeg is attempt i's accounting session: the route's bill-to,
// bill-cli and bill-cld when given, else the account and the numbers as
// sent. Called with the lock held; attempt i is the current hop's.
func (c *Call) originateLeg(i int) aaa.Leg {
	at := c.attempts[i]
	leg := aaa.Leg{Origin: aaa.OriginOriginate, UserName: c.account(), CallingNumber: c.fromUser(),
		CalledNumber: c.calledSent, RemoteAddress: at.Gateway, CallID: c.a.d.callID, LegCallID: at.CallID,
		ConfID: c.h323ConfID(), SetupTime: at.Start}
	if leg.UserName == "" {
		leg.UserName = c.srcIP
	}
	if at.Answered {
		leg.ConnectTime = c.connectT
	}
	if rr := c.aaa.hopRadius; rr != nil {
		if rr.BillTo != "" {
			leg.UserName = rr.BillTo
		}
		if rr.BillCLI != "" {
			leg.CallingNumber = rr.BillCLI
		}
		if rr.BillCLD != "" {
			leg.CalledNumber = rr.BillCLD
		}
	}
	return leg
}

// sendAcct hands one record to the call's send chain: it never waits, and
// the call's records reach the server in the order they were made.
func (c *Call) sendAcct(f func(context.Context, Accountant) error) {
	a := c.sw.aaa
	id := c.ID
	c.countAcct(f)
	a.send(&c.aaa.rad.chain, func(ctx context.Context) {
		if err := f(ctx, a.acct); err != nil {
			a.log.Error("radius accounting record lost", "call", id, "error", err)
		}
	})
}

func releaseSource(by string) aaa.ReleaseSource {
	switch by {
	case cdr.ReleasedByCaller:
		return aaa.ReleasedByCaller
	case cdr.ReleasedByCallee:
		return aaa.ReleasedByCallee
	}
	return aaa.ReleasedBySwitch
}
