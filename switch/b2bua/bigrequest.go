package b2bua

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"
)

// bigRequest is RFC 3261 18.1.1's limit: with the path MTU unknown, a
// request larger than 1300 bytes must go over a congestion-controlled
// transport (TCP) rather than UDP, where IP would fragment it and one lost
// fragment would lose it whole.
const bigRequest = 1300

// tcpConnectTimeout bounds the TCP try of a large INVITE, leaving the rest
// of the attempt's setup time to the UDP fallback: a firewall that drops
// TCP in silence must not cost the gateway.
const tcpConnectTimeout = 2 * time.Second

// sendInvite sends an attempt's INVITE. One larger than bigRequest to a
// udp gateway goes over TCP unless the gateway is udp_only. When TCP
// cannot reach the gateway (refused or reset) the INVITE is sent again
// over UDP, as 18.1.1 asks, and the log says so: the operator should then
// mark the gateway udp_only. A TCP connection that is not made within
// tcpConnectTimeout counts as refused.
func (c *Call) sendInvite(ctx context.Context, b *attemptLeg, inv *sip.Request) (sip.ClientTransaction, error) {
	s := c.sw
	c.mu.Lock()
	udp, size := c.bigOverTCP(b, inv)
	c.mu.Unlock()
	if udp == nil {
		return s.cli.TransactionRequest(ctx, inv, prebuilt)
	}
	tctx, cancel := context.WithTimeout(ctx, tcpConnectTimeout)
	tx, err := s.cli.TransactionRequest(tctx, inv, prebuilt)
	cancel()
	if err == nil || ctx.Err() != nil {
		return tx, err
	}
	s.log.Warn("large INVITE: TCP to the gateway failed, falling back to UDP (RFC 3261 18.1.1); "+
		"set udp_only on a gateway that speaks only UDP",
		"call", c.ID, "gateway", b.gateway.Address, "bytes", size, "error", err)
	c.mu.Lock()
	b.d.moveTo(udp, inv)
	c.mu.Unlock()
	return s.cli.TransactionRequest(ctx, inv, prebuilt)
}

// bigOverTCP moves b's INVITE to TCP when 18.1.1 asks for it, returning
// the UDP listener it leaves (nil when it stays) and the INVITE's size.
// Without a TCP listener of the gateway's address family it stays on UDP.
// Called with the call's lock held.
func (c *Call) bigOverTCP(b *attemptLeg, inv *sip.Request) (udp *listener, size int) {
	if b.d.transport != "udp" || b.gateway.UDPOnly {
		return nil, 0
	}
	var n byteCount
	inv.StringWrite(&n)
	if int(n) <= bigRequest {
		return nil, int(n)
	}
	tcp := pickListenerOn(c.sw.listeners, b.d.listener.iface, "tcp", b.d.listener.v6)
	if tcp == nil {
		c.sw.log.Debug("large INVITE stays on UDP: no TCP listener", "call", c.ID, "bytes", int(n))
		return nil, int(n)
	}
	udp = b.d.listener
	b.d.moveTo(tcp, inv)
	return udp, int(n)
}

// moveTo sends the dialog's requests, inv first, through l: its
// transport, and our Via and Contact on it.
func (d *dialog) moveTo(l *listener, inv *sip.Request) {
	d.listener, d.transport = l, l.transport
	inv.ReplaceHeader(l.via())
	inv.ReplaceHeader(l.contact())
	inv.SetTransport(l.transport)
	inv.Laddr = sip.Addr{}
	l.bind(inv)
}

// byteCount counts what a message's StringWrite writes, to size it
// without building the string.
type byteCount int

func (n *byteCount) WriteString(s string) (int, error) {
	*n += byteCount(len(s))
	return len(s), nil
}
