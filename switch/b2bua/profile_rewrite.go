package b2bua

import (
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// rewriteModule is SEMS's RURI, RURI_host, From and To options: the
// gateway leg's Request-URI and addresses are built from patterns. The B
// leg's dialog takes the same values, so BYE and re-INVITE agree with the
// INVITE. A value that does not parse leaves the field as it was.
type rewriteModule struct{ baseModule }

func init() {
	registerModule("rewrite", 20, func(p *config.Profile) callModule {
		if p.RURI == nil && p.RURIHost == nil && p.From == nil && p.To == nil {
			return nil
		}
		return rewriteModule{}
	})
}

func (rewriteModule) onGatewayInvite(cc *callChain, b *attemptLeg, inv *sip.Request) {
	p := cc.profile
	if p.RURI != nil {
		var u sip.Uri
		v := p.RURI.Expand(cc.req)
		if err := sip.ParseUri(v, &u); err != nil {
			cc.log().Warn("ruri: not a URI: left as routed", "value", v, "error", err)
		} else {
			inv.Recipient, b.d.target = u, u
		}
	}
	if p.RURIHost != nil {
		if h := p.RURIHost.Expand(cc.req); h != "" {
			inv.Recipient.Host, b.d.target.Host = h, h
		}
	}
	if p.From != nil {
		if u, name, ok := rewriteAddr(cc, "from", p.From.Expand(cc.req)); ok {
			f := inv.From()
			f.Address, f.DisplayName = u, name
			b.d.local, b.d.localName = u, name
		}
	}
	if p.To != nil {
		if u, name, ok := rewriteAddr(cc, "to", p.To.Expand(cc.req)); ok {
			t := inv.To()
			t.Address, t.DisplayName = u, name
			b.d.remote, b.d.remoteNam = u, name
		}
	}
}

// rewriteAddr parses a From or To value; parameters in it (a tag) are
// dropped: the dialog's own tags stay.
func rewriteAddr(cc *callChain, option, v string) (sip.Uri, string, bool) {
	var u sip.Uri
	params := sip.NewParams()
	name, err := sip.ParseAddressValue(v, &u, &params)
	if err != nil {
		cc.log().Warn(option+": not an address: left as it was", "value", v, "error", err)
		return sip.Uri{}, "", false
	}
	return u, name, true
}
