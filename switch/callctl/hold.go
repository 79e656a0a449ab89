package callctl

import (
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// hold is SEMS's hold_alter_b2b_aleg/bleg with hold_activity_* and
// hold_zero_connection_*: a hold offer relayed within the dialog (a
// re-INVITE or UPDATE whose SDP holds every active stream: sendonly,
// inactive or a 0.0.0.0 address) reaches the leg configured with the
// direction, and if asked the 0.0.0.0 address, that leg's peer expects
// of a hold: some gateways answer only an inactive offer, old ones know
// only 0.0.0.0. Other offers, and answers, pass as they are. It runs after
// the other SDP modules, on the body as it will be sent.
type hold struct {
	Base
	aleg, bleg holdAlter
}

// holdAlter is what a hold offer toward one leg becomes; on false leaves
// it as it is.
type holdAlter struct {
	on   bool
	dir  sdpedit.Direction
	zero bool
}

func newHold(p *config.Profile) Module {
	if !p.HoldAlterALeg && !p.HoldAlterBLeg {
		return nil
	}
	return hold{
		aleg: holdAlter{p.HoldAlterALeg, sdpedit.ParseDirection(p.HoldActivityALeg), p.HoldZeroConnectionALeg},
		bleg: holdAlter{p.HoldAlterBLeg, sdpedit.ParseDirection(p.HoldActivityBLeg), p.HoldZeroConnectionBLeg},
	}
}

func (h hold) InDialog(c *Call, r Relayed) {
	req, ok := r.In.(*sip.Request)
	if !ok || (req.Method != sip.INVITE && req.Method != sip.UPDATE) {
		return
	}
	alter := h.bleg
	if r.To == Caller {
		alter = h.aleg
	}
	if !alter.on {
		return
	}
	// Decide on the offer as received: the relay's anchoring has
	// replaced a 0.0.0.0 address with its own.
	in, err := sdpOf(req)
	if in == nil || err != nil || !in.Hold() {
		return
	}
	if err := editSDP(r.Out, func(s *sdpedit.SDP) error { return s.AlterHold(alter.dir, alter.zero) }); err != nil {
		c.Log.Warn("hold offer not altered", "error", err)
	}
}
