package b2bua

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/b2bua/sdpedit"
	"github.com/tollgate/tollgate/config"
)

// codecModule is SEMS's SDP codec filter: the offer sent to the gateway
// keeps only the whitelisted codecs, or loses the blacklisted ones.
type codecModule struct {
	baseModule
	filter sdpedit.CodecFilter
}

func init() {
	registerModule("codec_filter", 40, func(p *config.Profile) callModule {
		switch p.CodecFilter {
		case config.FilterWhitelist:
			return codecModule{filter: sdpedit.CodecFilter{Allow: p.Codecs}}
		case config.FilterBlacklist:
			return codecModule{filter: sdpedit.CodecFilter{Deny: p.Codecs}}
		}
		return nil
	})
}

// onInvite refuses an offer the filter would leave without a codec: no
// gateway could accept it.
func (m codecModule) onInvite(cc *callChain) *config.Reply {
	cc.call.mu.Lock()
	inA := cc.call.inviteA
	cc.call.mu.Unlock()
	if _, err := m.apply(inA); err != nil {
		cc.log().Info("offer refused by the codec filter", "error", err)
		return &config.Reply{Code: 488, Reason: "Not Acceptable Here"}
	}
	return nil
}

func (m codecModule) onGatewayInvite(cc *callChain, _ *attemptLeg, inv *sip.Request) {
	body, err := m.apply(inv)
	if err != nil {
		cc.log().Warn("codec filter not applied to the gateway offer", "error", err)
		return
	}
	if body != nil {
		inv.SetBody(body)
	}
}

// apply returns the message's SDP filtered, or nil when it carries none.
func (m codecModule) apply(msg sip.Message) ([]byte, error) {
	ct := msg.GetHeaders("Content-Type")
	if len(msg.Body()) == 0 || len(ct) == 0 || !strings.EqualFold(strings.TrimSpace(strings.Split(ct[0].Value(), ";")[0]), "application/sdp") {
		return nil, nil
	}
	s, err := sdpedit.Parse(msg.Body())
	if err != nil {
		return nil, err
	}
	if err := s.FilterCodecs(m.filter); err != nil {
		return nil, err
	}
	return s.Bytes(), nil
}
