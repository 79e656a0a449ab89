package b2bua

import (
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// anonymizeModule is SEMS's sdp_anonymize, both ways: the SDP the gateway
// receives and the SDP the caller receives say nothing of who wrote them.
// The o= line gets username "-" and the address of the listener the
// message leaves by, s= becomes "-", and the u=, e=, p= and i= lines go.
// It runs after the codec modules, on the body as it will be sent.
type anonymizeModule struct{ baseModule }

func init() {
	registerModule("sdp_anonymize", 45, func(p *config.Profile) callModule {
		if !p.SDPAnonymize {
			return nil
		}
		return anonymizeModule{}
	})
}

// onGatewayInvite runs with the call's lock held; b's dialog is ours.
func (anonymizeModule) onGatewayInvite(cc *callChain, b *attemptLeg, inv *sip.Request) {
	addr := originAddr(b.d.listener)
	if err := editSDP(inv, func(s *sdpedit.SDP) error {
		s.Anonymize(sdpedit.Anonymization{Addr: addr})
		return nil
	}); err != nil {
		cc.log().Warn("gateway offer not anonymised", "error", err)
	}
}

// onReply runs without the call's lock: the caller's listener is read
// under it.
// onInDialog anonymises re-INVITE and UPDATE SDP both ways: a later offer
// must not give away what the first one hid.
func (anonymizeModule) onInDialog(cc *callChain, _, out sip.Message, toCaller bool) {
	c := cc.call
	c.mu.Lock()
	l := c.a.d.listener
	if !toCaller && c.b != nil {
		l = c.b.d.listener
	}
	addr := originAddr(l)
	c.mu.Unlock()
	if err := editSDP(out, func(s *sdpedit.SDP) error {
		s.Anonymize(sdpedit.Anonymization{Addr: addr})
		return nil
	}); err != nil {
		cc.log().Warn("relayed SDP not anonymised", "error", err)
	}
}

func (anonymizeModule) onReply(cc *callChain, _, out *sip.Response) {
	cc.call.mu.Lock()
	addr := originAddr(cc.call.a.d.listener)
	cc.call.mu.Unlock()
	if err := editSDP(out, func(s *sdpedit.SDP) error {
		s.Anonymize(sdpedit.Anonymization{Addr: addr})
		return nil
	}); err != nil {
		cc.log().Warn("SDP to the caller not anonymised", "code", out.StatusCode, "error", err)
	}
}
