package b2bua

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
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
		if rc.NATKeepaliveMethod == config.NATKeepaliveCRLF && b.Flow.Transport != "udp" {
			go s.crlfKeepalive(b, every)
			continue
		}
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
	from.Params.Add("tag", newTag())
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
	s.deadFlow(b)
}

// crlfKeepalive sends one RFC 5626 ping (a double CRLF) over a client's
// TCP or TLS connection (4.4.1). Its pong, a single CRLF, within the
// interval is a live flow; none is a dead one, dropped as natKeepalive
// drops it. The connection gone is a dead flow at once.
func (s *Switch) crlfKeepalive(b registrar.Binding, within time.Duration) {
	s.stats.NATKeepalives.Add(1)
	pong := s.pongs.expect(b.Flow.Source)
	defer s.pongs.forget(b.Flow.Source, pong)
	conn, err := s.ua.TransportLayer().GetConnection(b.Flow.Transport, b.Flow.Source.String())
	w, ok := conn.(io.Writer)
	if err != nil || !ok {
		s.deadFlow(b)
		return
	}
	if _, err := w.Write(crlfPing); err != nil {
		s.deadFlow(b)
		return
	}
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case <-pong:
	case <-t.C:
		s.deadFlow(b)
	}
}

// crlfPing is RFC 5626's keepalive ping on a connection; its pong is one
// CRLF.
var crlfPing = []byte("\r\n\r\n")

// deadFlow drops a binding whose keepalive went unanswered.
func (s *Switch) deadFlow(b registrar.Binding) {
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

// pongs are the CRLF keepalives waiting for their pong, by the client's
// address: the transport's read filter sees the pong (sipgo swallows it)
// and wakes the keepalive.
type pongs struct {
	mu sync.Mutex
	m  map[netip.AddrPort]chan struct{}
}

// expect registers a ping to peer; the channel is closed by its pong.
func (p *pongs) expect(peer netip.AddrPort) chan struct{} {
	ch := make(chan struct{})
	p.mu.Lock()
	if p.m == nil {
		p.m = map[netip.AddrPort]chan struct{}{}
	}
	p.m[peer] = ch
	p.mu.Unlock()
	return ch
}

// forget drops the ping of ch, answered or not.
func (p *pongs) forget(peer netip.AddrPort, ch chan struct{}) {
	p.mu.Lock()
	if p.m[peer] == ch {
		delete(p.m, peer)
	}
	p.mu.Unlock()
}

// got tells a read of data from peer over a connection: a lone CRLF
// answers the ping waiting for it, if any.
func (p *pongs) got(peer net.Addr, data []byte) {
	if len(data) > 4 || len(bytes.Trim(data, "\r\n")) != 0 {
		return
	}
	a := addrPort(peer)
	p.mu.Lock()
	if ch := p.m[a]; ch != nil {
		close(ch)
		delete(p.m, a)
	}
	p.mu.Unlock()
}
