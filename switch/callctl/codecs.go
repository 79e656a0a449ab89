package callctl

import (
	"errors"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// codecFilter is SEMS's SDP codec filter, applied as SEMS does to the SDP
// going either way: the offer sent to the gateway keeps only the
// whitelisted codecs, or loses the blacklisted ones, and so does the SDP
// of the gateway's provisional or 2xx relayed to the caller (an answer, or
// the offer of a late-offer call).
type codecFilter struct {
	Base
	filter sdpedit.CodecFilter
}

func newCodecFilter(p *config.Profile) Module {
	switch p.CodecFilter {
	case config.FilterWhitelist:
		return codecFilter{filter: sdpedit.CodecFilter{Allow: p.Codecs}}
	case config.FilterBlacklist:
		return codecFilter{filter: sdpedit.CodecFilter{Deny: p.Codecs}}
	}
	return nil
}

// Invite refuses an offer the filter would leave without a codec: no
// gateway could accept it.
func (m codecFilter) Invite(c *Call, inv *sip.Request) *config.Reply {
	s, err := sdpOf(inv)
	if err == nil && s != nil {
		err = s.FilterCodecs(m.filter)
	}
	if err != nil {
		c.Log.Info("offer refused by the codec filter", "error", err)
		return &config.Reply{Code: 488, Reason: "Not Acceptable Here"}
	}
	return nil
}

func (m codecFilter) GatewayInvite(c *Call, g GatewayInvite) {
	if err := editSDP(g.Out, func(s *sdpedit.SDP) error { return s.FilterCodecs(m.filter) }); err != nil {
		c.Log.Warn("codec filter not applied to the gateway offer", "error", err)
	}
}

// Reply filters the SDP the caller receives but refuses nothing: the
// gateway has already accepted the call, and an answer the filter would
// empty (a gateway ignoring our offer) is better relayed as it is than
// turned into a call without media.
func (m codecFilter) Reply(c *Call, _, out *sip.Response) {
	m.filterRelayed(c, out)
}

// InDialog filters re-INVITE and UPDATE offers and answers both ways,
// refusing nothing, like Reply.
func (m codecFilter) InDialog(c *Call, r Relayed) {
	m.filterRelayed(c, r.Out)
}

func (m codecFilter) filterRelayed(c *Call, out sip.Message) {
	err := editSDP(out, func(s *sdpedit.SDP) error { return s.FilterCodecs(m.filter) })
	switch {
	case errors.Is(err, sdpedit.ErrNoCodec):
		c.Log.Info("SDP relayed unfiltered: the codec filter would leave no codec")
	case err != nil:
		c.Log.Warn("codec filter not applied to a relayed SDP", "error", err)
	}
}
