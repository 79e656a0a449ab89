package b2bua

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/registrar"
)

// keepNATsOpen sends the due keepalives: an OPTIONS over each NATed
// client's flow, every registration.nat_keepalive. Called by the sweeper.
func (s *Switch) keepNATsOpen(now time.Time, rc config.Registration) {
	if rc.Mode == config.RegistrationOff || rc.NATKeepalive <= 0 {
		return
	}
	every := time.Duration(rc.NATKeepalive) * time.Second
	for _, b := range s.regs.Keepalives(now, every, behindNAT) {
		go s.natKeepalive(b, every)
	}
}

// behindNAT tells whether a binding's Contact is not the address its
// REGISTER came from. A Contact naming a host rather than an address
// cannot be compared, and is kept open too.
func behindNAT(b registrar.Binding) bool {
	var u sip.Uri
	if err := sip.ParseUri(b.Contact, &u); err != nil {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
	if err != nil {
		return true
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return b.BehindNAT(netip.AddrPortFrom(ip.Unmap(), uint16(port)))
}

// natKeepalive sends one OPTIONS to a client over its flow. Any response
// is a live flow; none within the interval is a dead one, and the binding
// goes as if it had expired.
func (s *Switch) natKeepalive(b registrar.Binding, within time.Duration) {
	l := flowListener(s.listeners, b.Flow.Local)
	if l == nil {
		return
	}
	var target sip.Uri
	if err := sip.ParseUri(b.Contact, &target); err != nil {
		return
	}
	req := sip.NewRequest(sip.OPTIONS, target)
	req.AppendHeader(l.via())
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", Host: l.host, Port: l.adPort}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: target, Params: sip.NewParams()})
	cid := sip.CallIDHeader(newCallID())
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(sip.NewHeader("User-Agent", s.Config().SIP.UserAgent))
	req.SetBody(nil)
	req.SetTransport(b.Flow.Transport)
	req.SetDestination(b.Flow.Source.String())
	l.bind(req)
	s.stats.NATKeepalives.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if _, err := s.sendRequest(ctx, req); err == nil {
		return
	}
	// Drop it only if the binding is still the one probed: a REGISTER
	// meanwhile may have moved the client to a new flow.
	if cur, ok := s.regs.Get(b.AoR, b.Contact); !ok || cur.Flow != b.Flow {
		return
	}
	s.regs.Remove(b.AoR, b.Contact)
	s.stats.DeadFlows.Add(1)
	s.log.Info("registered client's flow dead", "aor", b.AoR, "contact", b.Contact, "flow", b.Flow.Source)
	s.unregisterUpstream(b) // with the cache: the alias goes too
}
