package b2bua

import (
	"errors"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// codecModule is SEMS's SDP codec filter, applied as SEMS does to the SDP
// going either way: the offer sent to the gateway keeps only the
// whitelisted codecs, or loses the blacklisted ones, and so does the SDP
// of the gateway's provisional or 2xx relayed to the caller (an answer, or
// the offer of a late-offer call).
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
	s, err := sdpOf(inA)
	if err == nil && s != nil {
		err = s.FilterCodecs(m.filter)
	}
	if err != nil {
		cc.log().Info("offer refused by the codec filter", "error", err)
		return &config.Reply{Code: 488, Reason: "Not Acceptable Here"}
	}
	return nil
}

func (m codecModule) onGatewayInvite(cc *callChain, _ *attemptLeg, inv *sip.Request) {
	if err := editSDP(inv, func(s *sdpedit.SDP) error { return s.FilterCodecs(m.filter) }); err != nil {
		cc.log().Warn("codec filter not applied to the gateway offer", "error", err)
	}
}

// onReply filters the SDP the caller receives but refuses nothing: the
// gateway has already accepted the call, and an answer the filter would
// empty (a gateway ignoring our offer) is better relayed as it is than
// turned into a call without media.
func (m codecModule) onReply(cc *callChain, _, out *sip.Response) {
	m.filterRelayed(cc, out)
}

// onInDialog filters re-INVITE and UPDATE offers and answers both ways,
// refusing nothing, like onReply.
func (m codecModule) onInDialog(cc *callChain, _, out sip.Message, _ bool) {
	m.filterRelayed(cc, out)
}

func (m codecModule) filterRelayed(cc *callChain, out sip.Message) {
	err := editSDP(out, func(s *sdpedit.SDP) error { return s.FilterCodecs(m.filter) })
	switch {
	case errors.Is(err, sdpedit.ErrNoCodec):
		cc.log().Info("SDP relayed unfiltered: the codec filter would leave no codec")
	case err != nil:
		cc.log().Warn("codec filter not applied to a relayed SDP", "error", err)
	}
}
