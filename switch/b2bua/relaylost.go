package b2bua

import (
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/rtpproxyctl"
)

// MediaRelayLost is told by a relay pool that the relay anchoring a call's
// media stopped answering. With media.on_relay_lost end (the default) the
// call ends like any other, both legs hung up, with the reason "media
// relay lost": its parties hear nothing, and a bill for silence is worse
// than a dropped call. The relay is known dead by then, so the teardown's
// delete does not wait for it. With keep the call stays up and only the
// log tells. It must not block (it runs on the pool's health probe).
func (s *Switch) MediaRelayLost(d rtpproxyctl.Dialog) {
	c := s.callOfDialog(d)
	if c == nil {
		return
	}
	if s.Config().Media.OnRelayLost == config.RelayLostKeep {
		s.log.Warn("media relay lost: call kept (on_relay_lost: keep)", "call", c.ID)
		return
	}
	s.log.Warn("media relay lost: hanging up", "call", c.ID)
	go c.kill(cdr.ReasonMediaRelayLost)
}

// callOfDialog is the call a relay names by the dialog it was opened with,
// nil when that call has ended.
func (s *Switch) callOfDialog(d rtpproxyctl.Dialog) *Call {
	c := s.calls.get(keyA(d.CallID, d.CallerTag))
	if c == nil || c.a.d.localTag != d.CalleeTag {
		return nil
	}
	return c
}
