// Package aaa is Tollgate's RADIUS side, speaking as a Cisco voice gateway or
// Sippy B2BUA does: the Cisco VSA dictionary and value formats, a client with
// long-lived sockets, failover and health checks, authorisation (by source IP
// or SIP digest, with Tollgate's own nonces) and per-leg accounting with a
// durable queue for records no server answered. It uses layeh.com/radius for
// the packet codec only.
package aaa
