package callctl

import (
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// rewrite is SEMS's RURI, RURI_host, From and To options: the gateway
// leg's Request-URI and addresses are built from patterns (the switch
// gives the B leg's dialog the same values, so BYE and re-INVITE agree
// with the INVITE). A value that does not parse leaves the field as it
// was.
type rewrite struct{ Base }

func newRewrite(p *config.Profile) Module {
	if p.RURI == nil && p.RURIHost == nil && p.From == nil && p.To == nil {
		return nil
	}
	return rewrite{}
}

func (rewrite) GatewayInvite(c *Call, g GatewayInvite) {
	p, inv := c.Profile, g.Out
	if p.RURI != nil {
		var u sip.Uri
		v := p.RURI.Expand(c.Request)
		if err := sip.ParseUri(v, &u); err != nil {
			c.Log.Warn("ruri: not a URI: left as routed", "value", v, "error", err)
		} else {
			inv.Recipient = u
		}
	}
	if p.RURIHost != nil {
		if h := p.RURIHost.Expand(c.Request); h != "" {
			inv.Recipient.Host = h
		}
	}
	if p.From != nil {
		if u, name, ok := rewriteAddr(c, "from", p.From.Expand(c.Request)); ok {
			f := inv.From()
			f.Address, f.DisplayName = u, name
		}
	}
	if p.To != nil {
		if u, name, ok := rewriteAddr(c, "to", p.To.Expand(c.Request)); ok {
			t := inv.To()
			t.Address, t.DisplayName = u, name
		}
	}
}

// rewriteAddr parses a From or To value; parameters in it (a tag) are
// dropped: the dialog's own tags stay.
func rewriteAddr(c *Call, option, v string) (sip.Uri, string, bool) {
	var u sip.Uri
	params := sip.NewParams()
	name, err := sip.ParseAddressValue(v, &u, &params)
	if err != nil {
		c.Log.Warn(option+": not an address: left as it was", "value", v, "error", err)
		return sip.Uri{}, "", false
	}
	return u, name, true
}
