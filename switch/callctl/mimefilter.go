package callctl

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// mimeFilter is SEMS's mime_filter: the parts of a multipart body beside
// its SDP (the ISUP of SIP-I/SIP-T) that the whitelist or blacklist
// refuses are dropped from what the other leg receives, the INVITE, its
// answers and every message within the dialog. A body left with its SDP
// alone goes as plain application/sdp, for peers that know no multipart.
type mimeFilter struct {
	Base
	white bool
	list  map[string]bool
}

func newMIMEFilter(p *config.Profile) Module {
	if p.MIMEFilter == "" {
		return nil
	}
	m := mimeFilter{white: p.MIMEFilter == config.FilterWhitelist, list: map[string]bool{}}
	for _, t := range p.MIMEFilterList {
		m.list[t] = true
	}
	return m
}

func (m mimeFilter) keep(mediaType string) bool {
	return m.list[strings.ToLower(mediaType)] == m.white
}

func (m mimeFilter) filter(msg sip.Message) {
	cts := msg.GetHeaders("Content-Type")
	if len(cts) == 0 {
		return
	}
	body, err := sdpedit.FindSDP(cts[0].Value(), msg.Body())
	if body == nil || err != nil || !body.Multipart() {
		return
	}
	body.Keep(m.keep)
	if body.Single() {
		if r, ok := msg.(interface{ ReplaceHeader(sip.Header) }); ok {
			ct := sip.ContentTypeHeader("application/sdp")
			r.ReplaceHeader(&ct)
		}
		msg.SetBody(body.SDP())
		return
	}
	msg.SetBody(body.With(body.SDP()))
}

func (m mimeFilter) GatewayInvite(_ *Call, g GatewayInvite) { m.filter(g.Out) }
func (m mimeFilter) Reply(_ *Call, _, out *sip.Response)    { m.filter(out) }
func (m mimeFilter) InDialog(_ *Call, r Relayed)            { m.filter(r.Out) }
