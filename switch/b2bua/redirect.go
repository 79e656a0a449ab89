package b2bua

import (
	"cmp"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// A gateway's 3xx either goes to the caller with its Contact (a route's
// redirect: relay, the default: where a call goes stays the operator's or
// the caller's decision) or is followed (redirect: follow): its Contact
// targets become further gateways of the hunt, right after the one that
// redirected, with the route's timers and hunt-stop codes, each an attempt
// of the call's record. A call follows at most max_redirects targets, so
// gateways redirecting to one another cannot loop; past that a 3xx is an
// ordinary failure, relayed with its Contact if it is the one the caller
// gets.

// isRedirect reports whether code is a redirection the switch may follow:
// 300 Multiple Choices, 301 Moved Permanently, 302 Moved Temporarily.
// Others (305 Use Proxy, 380 Alternative Service) are only relayed.
func isRedirect(code int) bool { return code >= 300 && code <= 302 }

// redirectContacts keeps the Contacts of a gateway's 3xx, for the hunt to
// follow or the caller to receive; nil for any other response.
func redirectContacts(res *sip.Response) []sip.ContactHeader {
	if res.StatusCode < 300 || res.StatusCode > 399 {
		return nil
	}
	var out []sip.ContactHeader
	for _, h := range res.GetHeaders("Contact") {
		if ch, ok := h.(*sip.ContactHeader); ok {
			out = append(out, *ch.Clone())
		}
	}
	return out
}

// relayedContacts are the Contact headers of the final response the caller
// gets with code (after the profile's reply translation): the gateway's
// own, when both are redirections.
func (r *attemptResult) relayedContacts(code int) []sip.Header {
	if code < 300 || code > 399 || r.code < 300 || r.code > 399 {
		return nil
	}
	out := make([]sip.Header, 0, len(r.contacts))
	for i := range r.contacts {
		out = append(out, &r.contacts[i])
	}
	return out
}

// stopsOnRedirect reports whether a 3xx ends the hunt: when the route
// relays redirects, the caller is to get it. Called without the lock.
func (c *Call) stopsOnRedirect(r *attemptResult) bool {
	if r.code < 300 || r.code > 399 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.route.Follows()
}

// redirectHops are the hops a followed 3xx adds after h: its Contact
// targets in order of preference (q, then as listed), within what is left
// of the call's max_redirects (followed counts those already added). A
// target that is not a sip: or sips: URI with a host is skipped.
func (c *Call) redirectHops(h hop, r *attemptResult, followed *int) []hop {
	if !isRedirect(r.code) {
		return nil
	}
	c.mu.Lock()
	route := c.route
	c.mu.Unlock()
	if !route.Follows() {
		return nil
	}
	contacts := slices.Clone(r.contacts)
	slices.SortStableFunc(contacts, func(a, b sip.ContactHeader) int { return cmp.Compare(q(b), q(a)) })
	var out []hop
	for i := range contacts {
		if *followed >= route.MaxRedirects {
			c.sw.log.Info("redirect not followed: max_redirects reached", "call", c.ID, "max_redirects", route.MaxRedirects)
			break
		}
		u := contacts[i].Address
		if (u.Scheme != "sip" && u.Scheme != "sips") || u.Host == "" {
			continue
		}
		transport := "udp"
		if t, ok := u.UriParams.Get("transport"); ok && (strings.EqualFold(t, "tcp") || strings.EqualFold(t, "tls")) {
			transport = strings.ToLower(t)
		}
		port := u.Port
		if u.Scheme == "sips" {
			// RFC 3261 26.2: a sips: target is reached over TLS only.
			transport = "tls"
		}
		if port == 0 {
			port = 5060
			if transport == "tls" {
				port = 5061
			}
		}
		target := u
		out = append(out, hop{route: h.route, target: &target,
			gw: config.Gateway{Address: net.JoinHostPort(u.Host, strconv.Itoa(port)), Transport: transport}})
		*followed++
	}
	if len(out) > 0 {
		c.sw.log.Info("following a redirect", "call", c.ID, "code", r.code, "targets", len(out))
	}
	return out
}

// q is a Contact's preference (RFC 3261 20.10), 1 when it gives none.
func q(ch sip.ContactHeader) float64 {
	if v, ok := ch.Params.Get("q"); ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	return 1
}
