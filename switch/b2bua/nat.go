package b2bua

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// NAT traversal toward the caller (profile nat_handling, SEMS's
// dlg_nat_handling, Sippy's nat_traversal). A caller behind NAT writes
// its private address in Via and Contact; what reaches it is the public
// address and port its messages come from (its flow). sipgo sends a
// response to the Via's port unless the Via asks for rport (RFC 3581), so
// the switch forces rport on the caller's requests and sends every
// response to their source; requests within the dialog go to the flow
// as well, the Request-URI (the Contact) rewritten to it when no proxy
// sits between (a Record-Route). Off, nothing here runs.

// natTx sends the responses of a server transaction to dest, the flow
// the request came from, instead of where sipgo resolved its Via. sipgo's
// own answers within the transaction (487 to a CANCEL) still follow the Via.
// next_hop_for_replies (hops.go) sends the gateway's responses the same way.
type natTx struct {
	sip.ServerTransaction
	dest string
}

func (t natTx) Respond(res *sip.Response) error {
	res.SetDestination(t.dest)
	return t.ServerTransaction.Respond(res)
}

// forceRport adds rport to a request's top Via when it lacks it, so that
// the responses built from it carry received and rport (RFC 3581 4).
func forceRport(req *sip.Request) {
	if v := req.Via(); v != nil && !v.Params.Has("rport") {
		v.Params.Add("rport", "")
	}
}

// natCaller applies NAT handling to the caller's INVITE once the call's
// profile is known: its responses go to its source, and so do the
// requests of its dialog.
func (c *Call) natCaller() {
	if !c.profile().HandlesNAT() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inviteA == nil {
		return
	}
	forceRport(c.inviteA)
	src := c.inviteA.Source()
	c.txA = natTx{c.txA, src}
	c.a.d.pinFlow(src)
}

// natInDialog applies NAT handling, when the call's profile asks for it,
// to a request from the caller within the dialog: its responses go to
// its source, which becomes the flow the caller is reached at (a NAT
// binding may change). It returns the transaction to answer on.
func (c *Call) natInDialog(req *sip.Request, tx sip.ServerTransaction) sip.ServerTransaction {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.profile().HandlesNAT() {
		return tx
	}
	forceRport(req)
	src := req.Source()
	c.a.d.pinFlow(src)
	return natTx{tx, src}
}

// pinFlow sends the dialog's requests to src, and makes src the remote
// target's host and port when no route set leads elsewhere: the peer's
// own Contact is its private address.
func (d *dialog) pinFlow(src string) {
	d.dest = src
	if len(d.routeSet) > 0 {
		return
	}
	host, port := splitHostPort(src)
	if port == 0 {
		return
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // a URI keeps an IPv6 host in brackets
	}
	target := d.target.uri()
	target.Host, target.Port = host, port
	d.target = textOf(target)
}
