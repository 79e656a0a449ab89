package b2bua

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// The profile's hop options (config.HopOptions: SEMS's next_hop_1st_req,
// patch_ruri_next_hop, next_hop_for_replies, force_outbound_proxy,
// Contact, dlg_contact_params) bend RFC 3261's routing of the gateway
// leg for peers that need it, and name the switch in its Contact as the
// profile says. Without a profile, or with none of them set, nothing here
// changes a message.

// nextHop is where the attempt's INVITE went: its outbound proxy, else
// the gateway.
func (b *attemptLeg) nextHop() string {
	if b.gateway.Proxy != "" {
		return b.gateway.Proxy
	}
	return b.gateway.Address
}

// routeGatewayDialog sets the routing of b's dialog from a response that
// establishes it (RFC 3261 12.1.2: the gateway's Contact through its
// Record-Route), then applies force_outbound_proxy, which keeps the
// outbound proxy in front of that route, and next_hop_1st_req false,
// which sends every request where the INVITE went. Called with the lock
// held.
func (c *Call) routeGatewayDialog(b *attemptLeg, res *sip.Response) {
	b.d.setRouting(res.Contact(), reversed(recordRoutes(res)), b.gateway.Address, true)
	p := c.profile()
	if p == nil {
		return
	}
	if p.ForceOutboundProxy && b.gateway.Proxy != "" {
		b.d.routeSet = append([]string{proxyRoute(b.gateway.Proxy, b.gateway.Transport)}, b.d.routeSet...)
		b.d.dest = b.gateway.Proxy
	}
	if !p.FollowsDialogRouting() {
		b.d.dest = b.nextHop()
	}
}

// repliesToNextHop makes the responses to a request from the gateway leg
// go to the gateway's next hop rather than its Via, when the profile says
// next_hop_for_replies. It returns the transaction to answer on.
func (c *Call) repliesToNextHop(tx sip.ServerTransaction) sip.ServerTransaction {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.profile(); p == nil || !p.NextHopForReplies || c.b == nil {
		return tx
	}
	return natTx{tx, c.b.nextHop()}
}

// patchRURI sets the Request-URI's host and port to the gateway the
// INVITE goes to (patch_ruri_next_hop), after the profile's ruri and
// ruri_host.
func patchRURI(u *sip.Uri, gwAddress string) {
	host, port := splitHostPort(gwAddress)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	u.Host, u.Port = host, port
}

// legContact is the Contact the switch gives one leg of a call with
// profile p: the profile's contact (the gateway leg only) or the
// listener's, with that leg's dialog contact parameters. nil: the
// listener's own, as without a profile. A contact pattern that expands
// to no URI is logged and the listener's used.
func (cc *callChain) legContact(l *listener, toGateway bool) *sip.ContactHeader {
	if cc == nil {
		return nil
	}
	p := cc.profile
	params := p.DlgContactParams
	if toGateway {
		params = p.BLegDlgContactParams
	}
	if params == "" && (!toGateway || p.ContactPattern == nil) {
		return nil
	}
	h := l.contact()
	if toGateway && p.ContactPattern != nil {
		v := p.ContactPattern.Expand(cc.req)
		if own, err := config.ParseContact(v); err != nil {
			cc.log().Warn("contact: not an address: the listener's used", "value", v, "error", err)
		} else {
			if l.transport != "udp" && !own.Address.UriParams.Has("transport") {
				if own.Address.UriParams == nil {
					own.Address.UriParams = sip.NewParams()
				}
				own.Address.UriParams.Add("transport", l.transport)
			}
			h = own
		}
	}
	if params != "" {
		extra, err := config.ParseURIParams(params)
		if err == nil {
			if h.Address.UriParams == nil {
				h.Address.UriParams = sip.NewParams()
			}
			for _, kv := range extra {
				h.Address.UriParams.Add(kv.K, kv.V)
			}
		}
	}
	return h
}

// contactHeader is the Contact of our messages in the dialog: the one the
// call's profile made for this leg, else the listener's.
func (d *dialog) contactHeader() *sip.ContactHeader {
	if d.contact != nil {
		return d.contact.Clone()
	}
	return d.listener.contact()
}
