package b2bua

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/registrar"
)

// This file is the registration cache's SIP side (SEMS's
// enable_reg_caching): a client's REGISTER goes to the upstream registrar
// with each Contact replaced by an alias pointing at Tollgate, and the
// cache (switch/registrar) keeps what the alias stands for: the client's
// contact and the flow it registered over. Requests from the registrar's
// side to an alias are retargeted to that contact over that flow
// (registeredHops).

// defaultExpires is the lifetime a REGISTER asks for when it names none
// (RFC 3261 10.2.1.1 leaves it to the registrar; 3600 is the usual one).
const defaultExpires = 3600

// registerTimeout bounds the wait for the upstream registrar's answer:
// Timer F, 64×T1.
const registerTimeout = 32 * time.Second

// sweepEvery is how often the one sweeper drops the bindings whose client
// stopped refreshing them.
const sweepEvery = time.Second

// register is a REGISTER as read: who, which contacts for how long, and
// the flow it came on.
type register struct {
	req      *sip.Request
	aor      string // user@host of To
	callID   string
	cseq     uint32
	wildcard bool // Contact: * with Expires: 0, every binding removed
	contacts []asked
	flow     registrar.Flow
}

// asked is one Contact of a REGISTER and the lifetime it asks for, 0 to
// remove it.
type asked struct {
	uri     string
	expires int
}

// onRegister answers a REGISTER from the cache, or relays it upstream.
func (s *Switch) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	rc := s.Config().Registration
	if rc.Mode == config.RegistrationOff {
		s.reply(req, tx, 405, "Method Not Allowed", allowHeader)
		return
	}
	if !s.registerAllowed(req, rc) {
		s.stats.RegistersLimited.Add(1)
		s.reply(req, tx, 503, "Too Many REGISTERs", s.retryAfter())
		return
	}
	r, why := s.readRegister(req)
	if why != "" {
		s.reply(req, tx, 400, why)
		return
	}
	if why := s.overBindingLimits(r, rc); why != "" {
		s.stats.RegistersLimited.Add(1)
		s.reply(req, tx, 403, why)
		return
	}
	if rc.Mode == config.RegistrationLocal {
		// The local registrar's AoRs are its users in its realm, whatever
		// domain a client puts in To.
		r.aor = r.req.To().Address.User + "@" + rc.Realm
	}
	if err := s.regs.CheckOrder(r.aor, r.callID, r.cseq); err != nil {
		s.reply(req, tx, 500, "Out Of Order REGISTER")
		return
	}
	if rc.Mode == config.RegistrationLocal {
		s.registerLocally(r, tx, rc)
		return
	}
	now := time.Now()
	if s.fromCache(r, tx, rc, now) {
		s.stats.RegistersCached.Add(1)
		return
	}
	s.stats.RegistersRelayed.Add(1)
	s.relayRegister(r, tx, rc)
}

// readRegister reads a REGISTER's AoR, contacts and flow; a non-empty
// reason is a 400's.
func (s *Switch) readRegister(req *sip.Request) (*register, string) {
	to := req.To()
	if to == nil || to.Address.Host == "" || to.Address.User == "" {
		return nil, "Bad To: Not An Address Of Record"
	}
	r := &register{req: req, aor: aorOf(to.Address), callID: req.CallID().Value(), cseq: req.CSeq().SeqNo}
	expires := defaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || n < 0 {
			return nil, "Bad Expires"
		}
		expires = n
	}
	for _, h := range req.GetHeaders("Contact") {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			return nil, "Bad Contact"
		}
		if ch.Address.Wildcard {
			r.wildcard = true
			continue
		}
		e := expires
		if v, ok := ch.Params.Get("expires"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, "Bad Contact Expires"
			}
			e = n
		}
		r.contacts = append(r.contacts, asked{uri: ch.Address.String(), expires: e})
	}
	// RFC 3261 10.3 step 6: "*" only alone and only with Expires: 0.
	if r.wildcard && (len(r.contacts) > 0 || expires != 0 || req.GetHeader("Expires") == nil) {
		return nil, "Bad Wildcard Contact"
	}
	src, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return nil, "Bad Source"
	}
	tr := strings.ToLower(req.Transport())
	r.flow = registrar.Flow{Transport: tr, Source: src}
	l := s.arrivalListener(req)
	r.flow.Local = l.transport + ":" + netip.AddrPortFrom(addrOf(l), uint16(l.port)).String()
	return r, ""
}

// aorOf is the key of an address of record: user@host, the host in lower
// case (RFC 3261 10.3 step 5 compares AoRs as URIs).
func aorOf(u sip.Uri) string {
	return u.User + "@" + strings.ToLower(u.Host)
}

func addrOf(l *listener) netip.Addr {
	a, _ := netip.AddrFromSlice(l.ip)
	return a.Unmap()
}

// uaExpires is the lifetime a client gets: what it asked, at most
// max_ua_expires, so it comes back soon enough to keep its NAT pinhole
// open and to be found gone.
func uaExpires(rc config.Registration, asked int) int {
	return min(asked, rc.MaxUAExpires)
}

// fromCache answers a refresh without going upstream when every contact it
// names is cached and the upstream binding outlives the lifetime the
// client is about to get. Removals, "*" and new contacts go upstream.
func (s *Switch) fromCache(r *register, tx sip.ServerTransaction, rc config.Registration, now time.Time) bool {
	if r.wildcard {
		return false
	}
	bs := make([]registrar.Binding, 0, len(r.contacts))
	for _, a := range r.contacts {
		b, ok := s.regs.Get(r.aor, a.uri)
		ua := time.Duration(uaExpires(rc, a.expires)) * time.Second
		if !ok || a.expires == 0 || b.Upstream.Sub(now) < ua {
			return false
		}
		b.Expires = now.Add(ua)
		b.Flow, b.CallID, b.CSeq = r.flow, r.callID, r.cseq
		b.UserAgent = userAgent(r.req)
		bs = append(bs, b)
	}
	for _, b := range bs {
		s.regs.Put(b)
	}
	s.replyBindings(r, tx, now)
	return true
}

// relayRegister sends the REGISTER upstream with aliases for contacts and
// the upstream lifetime, and answers the client from the registrar's
// answer: a 2xx fills the cache, anything else (a 401/407 challenge
// above all) is relayed with what the client needs to act on it.
func (s *Switch) relayRegister(r *register, tx sip.ServerTransaction, rc config.Registration) {
	l := upstreamListener(s.listeners, rc)
	if l == nil {
		s.reply(r.req, tx, 503, "No Listener For "+rc.UpstreamTransport)
		return
	}
	up := s.upstreamRegister(r, l, rc)
	ctx, cancel := context.WithTimeout(context.Background(), registerTimeout)
	defer cancel()
	res, err := s.sendRequest(ctx, up)
	if err != nil {
		s.log.Warn("registrar unreachable", "upstream", rc.Upstream, "error", err)
		s.reply(r.req, tx, 504, "Registrar Unreachable")
		return
	}
	if res.StatusCode < 200 || res.StatusCode >= 300 {
		var hdrs []sip.Header
		for _, name := range []string{"WWW-Authenticate", "Proxy-Authenticate", "Min-Expires", "Retry-After"} {
			for _, h := range res.GetHeaders(name) {
				hdrs = append(hdrs, sip.NewHeader(h.Name(), h.Value()))
			}
		}
		s.reply(r.req, tx, res.StatusCode, res.Reason, hdrs...)
		return
	}
	now := time.Now()
	if r.wildcard {
		s.regs.RemoveAoR(r.aor)
	}
	granted := grantedExpires(res)
	for _, a := range r.contacts {
		if a.expires == 0 {
			s.regs.Remove(r.aor, a.uri)
			continue
		}
		alias := registrar.Alias(r.aor, a.uri)
		up, ok := granted[alias]
		if !ok {
			up = max(a.expires, rc.MinRegExpires)
		}
		s.regs.Put(registrar.Binding{AoR: r.aor, Contact: a.uri, Alias: alias, Flow: r.flow,
			CallID: r.callID, CSeq: r.cseq, UserAgent: userAgent(r.req),
			Expires:  now.Add(time.Duration(min(uaExpires(rc, a.expires), up)) * time.Second),
			Upstream: now.Add(time.Duration(up) * time.Second)})
	}
	s.replyBindings(r, tx, now)
}

// upstreamListener is the listener REGISTERs to the registrar leave
// through: one of registration.upstream_transport and the registrar's
// address family on registration.upstream_interface (any interface, the
// default first, when not set); nil when there is none.
func upstreamListener(ls []*listener, rc config.Registration) *listener {
	host, _ := splitHostPort(rc.Upstream)
	return pickListenerOn(ls, rc.UpstreamInterface, rc.UpstreamTransport, strings.Contains(host, ":"))
}

// upstreamRegister is the REGISTER sent upstream for r: the client's
// Request-URI, From, To, Call-ID, CSeq and credentials (its digest response
// covers the Request-URI, and the registrar orders REGISTERs by Call-ID
// and CSeq), Tollgate's Via, and aliases for contacts.
func (s *Switch) upstreamRegister(r *register, l *listener, rc config.Registration) *sip.Request {
	in := r.req
	up := sip.NewRequest(sip.REGISTER, *in.Recipient.Clone())
	up.AppendHeader(l.via())
	for _, h := range []sip.Header{in.From(), in.To(), in.CallID(), in.CSeq()} {
		up.AppendHeader(sip.HeaderClone(h))
	}
	mf := sip.MaxForwardsHeader(70)
	if m := in.MaxForwards(); m != nil && m.Val() > 0 {
		mf = sip.MaxForwardsHeader(m.Val() - 1)
	}
	up.AppendHeader(&mf)
	if r.wildcard {
		up.AppendHeader(sip.NewHeader("Contact", "*"))
		up.AppendHeader(sip.NewHeader("Expires", "0"))
	}
	for _, a := range r.contacts {
		e := 0
		if a.expires > 0 {
			e = max(a.expires, rc.MinRegExpires)
		}
		up.AppendHeader(aliasContact(l, registrar.Alias(r.aor, a.uri), e))
	}
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		for _, h := range in.GetHeaders(name) {
			up.AppendHeader(sip.NewHeader(h.Name(), h.Value()))
		}
	}
	up.AppendHeader(sip.NewHeader("User-Agent", s.Config().SIP.UserAgent))
	up.SetBody(nil)
	up.SetTransport(rc.UpstreamTransport)
	up.SetDestination(rc.Upstream)
	l.bind(up)
	return up
}

// aliasContact is the Contact registered upstream for a client's contact:
// the alias at Tollgate's own address, with the lifetime asked.
func aliasContact(l *listener, alias string, expires int) *sip.ContactHeader {
	ch := l.contact()
	ch.Address.User = alias
	ch.Params = sip.NewParams()
	ch.Params.Add("expires", strconv.Itoa(expires))
	return ch
}

// sendRequest sends a non-INVITE request and returns its final response.
func (s *Switch) sendRequest(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	tx, err := s.cli.TransactionRequest(ctx, req, prebuilt)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.StatusCode >= 200 {
				return res, nil
			}
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, err
			}
			return nil, context.DeadlineExceeded
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// grantedExpires reads the lifetime the registrar gave each alias from its
// 2xx: the Contact's expires, else the Expires header.
func grantedExpires(res *sip.Response) map[string]int {
	def := -1
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil {
			def = n
		}
	}
	out := map[string]int{}
	for _, h := range res.GetHeaders("Contact") {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			continue
		}
		e := def
		if v, ok := ch.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				e = n
			}
		}
		if e >= 0 {
			out[ch.Address.User] = e
		}
	}
	return out
}

// replyBindings answers 200 with every binding of the AoR and what is left
// of its client lifetime (RFC 3261 10.3 step 8).
func (s *Switch) replyBindings(r *register, tx sip.ServerTransaction, now time.Time) {
	var hdrs []sip.Header
	for _, b := range s.regs.Bindings(r.aor) {
		left := int(b.Expires.Sub(now).Round(time.Second) / time.Second)
		hdrs = append(hdrs, sip.NewHeader("Contact", "<"+b.Contact+">;expires="+strconv.Itoa(max(left, 0))))
	}
	s.reply(r.req, tx, 200, "OK", hdrs...)
}

func userAgent(req *sip.Request) string {
	if h := req.GetHeader("User-Agent"); h != nil {
		return h.Value()
	}
	return ""
}

// sweepRegistrations is the one sweeper of the cache: each binding whose
// client stopped refreshing it is dropped, and its alias removed upstream
// so the registrar stops sending calls Tollgate can no longer deliver; and
// the NAT keepalives that are due are sent (natkeepalive.go).
func (s *Switch) sweepRegistrations(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, b := range s.regs.Sweep(now) {
				s.log.Info("registration expired", "aor", b.AoR, "contact", b.Contact)
				go s.unregisterUpstream(b)
			}
			s.keepNATsOpen(now, s.Config().Registration)
			if s.regRate != nil {
				s.regRate.Sweep(now)
			}
			s.stats.Registrations.Store(int64(s.regs.Len()))
			if s.arrivals != nil {
				s.arrivals.sweep(now)
			}
		}
	}
}

// unregisterUpstream removes an alias at the registrar, under a Call-ID of
// its own: a different Call-ID with expires 0 removes a binding whatever
// CSeq the client last used (RFC 3261 10.3 step 7). A registrar that
// challenges it keeps the alias until its own expiry: Tollgate holds no
// credentials of the client's.
func (s *Switch) unregisterUpstream(b registrar.Binding) {
	rc := s.Config().Registration
	if rc.Mode != config.RegistrationCache {
		return
	}
	l := upstreamListener(s.listeners, rc)
	if l == nil {
		return
	}
	user, domain, _ := strings.Cut(b.AoR, "@")
	aor := sip.Uri{Scheme: "sip", User: user, Host: domain}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: domain})
	req.AppendHeader(l.via())
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", newTag())
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	cid := sip.CallIDHeader(newCallID())
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.REGISTER})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(aliasContact(l, b.Alias, 0))
	req.AppendHeader(sip.NewHeader("User-Agent", s.Config().SIP.UserAgent))
	req.SetBody(nil)
	req.SetTransport(rc.UpstreamTransport)
	req.SetDestination(rc.Upstream)
	l.bind(req)
	ctx, cancel := context.WithTimeout(context.Background(), registerTimeout)
	defer cancel()
	res, err := s.sendRequest(ctx, req)
	switch {
	case err != nil:
		s.log.Warn("alias not removed upstream", "alias", b.Alias, "error", err)
	case res.StatusCode >= 300:
		s.log.Warn("alias not removed upstream", "alias", b.Alias, "code", res.StatusCode)
	}
}

// registeredHops retargets a call to an alias: the client's contact is
// its Request-URI, the flow it registered over is where it goes. isAlias
// with no hops is an alias no longer cached: the client is gone, 480.
//
// With the local registrar, a call to one of its users goes to each of the
// user's contacts in turn (isAlias: the user is registered-to, no route
// applies; no hops: not registered now, 480).
func (c *Call) registeredHops(cfg *config.Config, route *config.Route) (hops []hop, isAlias bool) {
	var bs []registrar.Binding
	switch rc := cfg.Registration; {
	case rc.Mode == config.RegistrationCache && strings.HasPrefix(c.called, registrar.AliasPrefix):
		if b, found := c.sw.regs.ByAlias(c.called); found {
			bs = append(bs, b)
		}
	case rc.Mode == config.RegistrationLocal:
		if !c.sw.isSubscriber(rc, c.called) {
			return nil, false
		}
		bs = c.sw.regs.Bindings(c.called + "@" + rc.Realm)
	default:
		return nil, false
	}
	for _, b := range bs {
		var u sip.Uri
		if err := sip.ParseUri(b.Contact, &u); err != nil {
			continue
		}
		// A UDP flow stays UDP whatever the INVITE's size: a client behind
		// NAT has no address a new TCP connection could reach.
		gw := config.Gateway{Address: b.Flow.Source.String(), Transport: b.Flow.Transport, UDPOnly: true}
		hops = append(hops, hop{route: baseRoute(cfg, route), gw: gw, target: &u, contact: &u,
			local: flowListener(c.sw.listeners, b.Flow.Local)})
	}
	return hops, true
}

// registerAllowed is the REGISTER rate per source: the first thing asked
// of a REGISTER, so a flood is refused for the cost of a map lookup and
// never reaches the cache or the registrar upstream.
func (s *Switch) registerAllowed(req *sip.Request, rc config.Registration) bool {
	if s.regRate == nil {
		return true
	}
	src, err := netip.ParseAddrPort(req.Source())
	return err == nil && s.regRate.Allow(src.Addr().Unmap(), time.Now())
}

// overBindingLimits names the limit a REGISTER's new contacts would pass:
// bindings per AoR or per client address. Refreshes and removals pass.
func (s *Switch) overBindingLimits(r *register, rc config.Registration) string {
	if rc.MaxPerAoR == 0 && rc.MaxPerSource == 0 {
		return ""
	}
	added := 0
	for _, a := range r.contacts {
		if _, ok := s.regs.Get(r.aor, a.uri); !ok && a.expires > 0 {
			added++
		}
	}
	if added == 0 {
		return ""
	}
	perAoR, perSource := s.regs.Counts(r.aor, r.flow.Source)
	switch {
	case rc.MaxPerAoR > 0 && perAoR+added > rc.MaxPerAoR:
		return "Too Many Contacts For This AoR"
	case rc.MaxPerSource > 0 && perSource+added > rc.MaxPerSource:
		return "Too Many Registrations From This Address"
	}
	return ""
}
