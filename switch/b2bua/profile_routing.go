package b2bua

import (
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/profile"
)

// The profile options below shape how a call is authorised and routed
// rather than what its messages carry, so the switch consults them while
// it routes instead of through module hooks: next_hop and outbound_proxy
// change the hunt, auth, accounting, prepaid, media and redirect override
// the route's AAA, media and redirect settings.

// profile returns the call's profile, nil without one. The chain is set
// once, by the setup goroutine that also calls this.
func (c *Call) profile() *config.Profile {
	if c.chain == nil {
		return nil
	}
	return c.chain.profile
}

// authMode is the RADIUS authorisation mode: the profile's, else the
// route's.
func (c *Call) authMode(routeMode string) string {
	if p := c.profile(); p != nil && p.Auth != "" {
		return p.Auth
	}
	return routeMode
}

// prepaid reports whether RADIUS credit times bound the call.
func (c *Call) prepaid() bool {
	p := c.profile()
	return p == nil || p.Prepaid == nil || *p.Prepaid
}

// accountingAllowed reports whether the profile lets the call be accounted.
func (c *Call) accountingAllowed() bool {
	p := c.profile()
	return p == nil || p.Accounting == nil || *p.Accounting
}

// profileRouting applies the profile's next hops, outbound proxy and media
// mode to the route and hunt authorize worked out. RADIUS routes keep
// precedence over next_hop: the billing back-end decides where a call it
// rates may go. A next hop whose pattern expands to garbage is skipped and
// logged; with none left the call has no route.
func (c *Call) profileRouting(cfg *config.Config, route *config.Route, hops []hop) (*config.Route, []hop) {
	p := c.profile()
	if p == nil {
		return route, hops
	}
	req := c.chain.req
	fromRADIUS := len(hops) > 0 && hops[0].radius != nil
	if len(p.NextHop) > 0 && !fromRADIUS {
		if route == nil {
			route = baseRoute(cfg, nil)
			route.Name = "profile " + p.Name
		}
		hops = nil
		for _, pat := range p.NextHop {
			addr, transport, err := config.ParseNextHop(pat.Expand(req))
			if err != nil {
				c.chain.log().Warn("next hop skipped", "error", err)
				continue
			}
			hops = append(hops, hop{route: route, gw: config.Gateway{Address: addr, Transport: transport}})
		}
		if len(hops) == 0 {
			return nil, nil
		}
	}
	if p.OutboundProxy != nil && len(hops) > 0 {
		addr, transport, err := config.ParseOutboundProxy(p.OutboundProxy.Expand(req))
		if err != nil {
			c.chain.log().Warn("outbound proxy not used", "error", err)
		} else {
			// Copy: hops may share the static route's gateway slice.
			hops = append([]hop(nil), hops...)
			for i := range hops {
				hops[i].gw.Proxy, hops[i].gw.Transport = addr, transport
			}
		}
	}
	if p.Media != "" && route != nil && route.Media != p.Media {
		r := *route
		r.Media = p.Media
		route = &r
	}
	if p.Redirect != "" && route != nil && route.Redirect != p.Redirect {
		r := *route
		r.Redirect = p.Redirect
		if r.MaxRedirects == 0 { // a route built for RADIUS or a next hop
			r.MaxRedirects = config.DefaultMaxRedirects
		}
		route = &r
	}
	return route, hops
}

// gatewayCredentials is who the switch says it is when gateway gw
// challenges a request: the RADIUS route's auth=user:pass, else the
// gateway's own auth_user, else the profile's gateway_auth; nil when there
// is none. Called with the lock held.
func (c *Call) gatewayCredentials(gw config.Gateway) *credentials {
	if rr := c.aaa.hopRadius; rr != nil && rr.AuthUser != "" {
		return &credentials{user: rr.AuthUser, password: rr.AuthPass}
	}
	if gw.AuthUser != "" {
		return &credentials{user: gw.AuthUser, password: gw.AuthPassword}
	}
	if p := c.profile(); p != nil && p.GatewayUser != nil {
		return c.chain.credentials(p.GatewayUser, p.GatewayPassword)
	}
	return nil
}

// callerCredentials answer the caller's challenges to requests the switch
// sends it within the dialog (SEMS auth_aleg): the profile's caller_auth.
func (c *Call) callerCredentials() *credentials {
	if p := c.profile(); p != nil && p.CallerUser != nil {
		return c.chain.credentials(p.CallerUser, p.CallerPassword)
	}
	return nil
}

func (cc *callChain) credentials(user, password *profile.Pattern) *credentials {
	cred := &credentials{user: user.Expand(cc.req)}
	if password != nil {
		cred.password = password.Expand(cc.req)
	}
	return cred
}

// proxyRoute is the Route value that sends a request through gw's proxy.
func proxyRoute(proxy, transport string) string {
	if transport != "udp" {
		return "<sip:" + proxy + ";transport=" + transport + ";lr>"
	}
	return "<sip:" + proxy + ";lr>"
}
