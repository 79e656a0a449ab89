package b2bua

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/rtpproxyctl"
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// DTMF interworking, for a gateway that speaks only one way of sending
// digits: a profile's aleg_dtmf_mode and dtmf_mode say which leg's party
// uses RFC 4733 telephone-events and which SIP INFO. The relay does the
// media half (rtpproxyctl: RTPOptions.DTMFNotify, Session.SendDTMF), the
// switch the SIP half:
//
//   - the INFO party's SDP reaches the RFC 4733 party with telephone-event
//     added when it lacks it, so that the RFC 4733 party sends its digits
//     as events; the relay takes them out of its RTP, and each ended event
//     becomes an INFO (application/dtmf-relay) to the INFO party;
//   - an INFO with a digit (application/dtmf-relay or application/dtmf)
//     from the INFO party is answered 200 here and played by the relay to
//     the RFC 4733 party as telephone-events.
//
// Other INFOs cross as any in-dialog request does.

// defaultEventPT is the telephone-event payload type offered to the RFC
// 4733 party when its own SDP has not named one yet: the common choice.
const defaultEventPT = 101

// dtmfMode is how the party of side carries DTMF under the call's profile
// (config.DTMFAsSent without a profile).
func (cc *callChain) dtmfMode(side rtpproxyctl.Side) string {
	if cc == nil || !cc.profile.DTMF.Active() {
		return config.DTMFAsSent
	}
	if side == rtpproxyctl.Caller {
		return cc.profile.DTMF.ALeg
	}
	return cc.profile.DTMF.BLeg
}

// dtmfStreams applies the interworking to an SDP from side from, and the
// streams anchored from it: a stream of the RFC 4733 party has the relay
// tell and remove its events (and records their payload type, which the
// relay's events to that party use); an SDP of the INFO party gains
// telephone-event before it reaches the RFC 4733 party.
func (cc *callChain) dtmfStreams(from rtpproxyctl.Side, sd *sdpedit.SDP, streams []rtpproxyctl.Stream) {
	switch cc.dtmfMode(from) {
	case config.DTMFRFC4733:
		for i := range streams {
			st := &streams[i]
			for _, c := range sd.Codecs(st.Index) {
				if strings.EqualFold(c.Name, "telephone-event") {
					st.Options.EventPT = c.PT
					st.Options.DTMFNotify, st.Options.DTMFFilter = true, true
					cc.eventPT.CompareAndSwap(0, int32(c.PT))
					break
				}
			}
		}
	case config.DTMFInfo:
		pt := int(cc.eventPT.Load())
		if pt == 0 {
			pt = defaultEventPT
		}
		sd.AddTelephoneEvent(pt)
	}
}

// dtmfSender is a media session whose relay can play digits as RFC 4733
// events (rtpproxyctl.Session).
type dtmfSender interface {
	SendDTMF(ctx context.Context, to rtpproxyctl.Side, ev rtpproxyctl.DTMFEvent, pt int) error
}

// dtmfInfo handles an INFO of the INFO party when the call interworks and
// the INFO carries a digit: the relay plays it to the other party, and the
// INFO is answered here. It reports whether it took the INFO; called with
// the lock held, it returns with the lock released when it did.
func (c *Call) dtmfInfo(req *sip.Request, tx sip.ServerTransaction, fromA bool) bool {
	from := sideOf(fromA)
	if c.chain.dtmfMode(from) != config.DTMFInfo {
		return false
	}
	ev, ok := parseDTMFInfo(req)
	if !ok {
		return false
	}
	m := c.media
	pt := int(c.chain.eventPT.Load())
	c.mu.Unlock()
	if pt == 0 {
		pt = defaultEventPT
	}
	var err error
	if snd, ok := m.sender(); ok {
		ctx, cancel := context.WithTimeout(context.Background(), mediaTimeout)
		err = snd.SendDTMF(ctx, from.Other(), ev, pt)
		cancel()
	} else {
		err = errNoDTMFRelay
	}
	if err != nil {
		c.sw.log.Warn("DTMF from INFO not played", "call", c.ID, "digit", string(ev.Digit), "error", err)
		c.sw.reply(req, tx, 500, "DTMF Not Relayed")
		return true
	}
	c.sw.log.Info("DTMF: INFO played as RFC 4733 events", "call", c.ID, "digit", string(ev.Digit), "duration", ev.Duration)
	c.sw.reply(req, tx, 200, "OK")
	return true
}

// errNoDTMFRelay: the call's media is not on a relay that plays digits.
var errNoDTMFRelay = fmt.Errorf("b2bua: the call's media relay cannot play DTMF")

// sender is the call's media session as a dtmfSender, if it is one.
func (m *callMedia) sender() (dtmfSender, bool) {
	if m == nil {
		return nil, false
	}
	s, ok := m.relay.(dtmfSender)
	return s, ok
}

// infoDuration is a digit's duration when an INFO does not tell it
// (application/dtmf has none): what phones send.
const infoDuration = 160 * time.Millisecond

// parseDTMFInfo reads the digit of an INFO: application/dtmf-relay
// ("Signal=5" and "Duration=160" lines, in ms) or application/dtmf (the
// digit alone). ok is false for any other INFO, or one without a digit.
func parseDTMFInfo(req *sip.Request) (rtpproxyctl.DTMFEvent, bool) {
	ct := req.ContentType()
	if ct == nil {
		return rtpproxyctl.DTMFEvent{}, false
	}
	mt, _, _ := strings.Cut(ct.Value(), ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	body := strings.TrimSpace(string(req.Body()))
	ev := rtpproxyctl.DTMFEvent{Duration: infoDuration}
	switch mt {
	case "application/dtmf":
		if len(body) != 1 {
			return ev, false
		}
		ev.Digit = body[0]
	case "application/dtmf-relay":
		for line := range strings.Lines(body) {
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "signal":
				if len(v) != 1 {
					return ev, false
				}
				ev.Digit = v[0]
			case "duration":
				ms, err := strconv.Atoi(v)
				if err != nil || ms <= 0 {
					return ev, false
				}
				ev.Duration = time.Duration(ms) * time.Millisecond
			}
		}
	default:
		return ev, false
	}
	if ev.Digit >= 'a' && ev.Digit <= 'd' {
		ev.Digit -= 'a' - 'A'
	}
	if !strings.ContainsRune("0123456789*#ABCD", rune(ev.Digit)) || ev.Digit == 0 {
		return ev, false
	}
	return ev, true
}

// MediaDTMF is told by a relay that side from sent a digit as RFC 4733
// events (the streams' DTMFNotify): when the other side's party speaks
// INFO, the digit goes to it as an INFO. It must not block (it runs on the
// notification reader); the call's INFOs go one after the other, in the
// digits' order.
func (s *Switch) MediaDTMF(d rtpproxyctl.Dialog, from rtpproxyctl.Side, ev rtpproxyctl.DTMFEvent) {
	c := s.callOfDialog(d)
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.chain.dtmfMode(from.Other()) != config.DTMFInfo || c.over() {
		return
	}
	c.dtmfOut = append(c.dtmfOut, dtmfOut{to: from.Other(), ev: ev})
	if c.dtmfSending == dtmfIdle {
		c.dtmfSending = dtmfBusy
		go c.sendDTMFInfos()
	}
}

// dtmfOut is a digit waiting to go to a party as an INFO.
type dtmfOut struct {
	to rtpproxyctl.Side
	ev rtpproxyctl.DTMFEvent
}

// dtmfSendState is whether a goroutine is sending a call's DTMF INFOs.
type dtmfSendState uint8

const (
	dtmfIdle dtmfSendState = iota
	dtmfBusy
)

// sendDTMFInfos sends the call's waiting digits as INFOs, each after the
// answer to the one before, until none waits.
func (c *Call) sendDTMFInfos() {
	s := c.sw
	for {
		c.mu.Lock()
		if len(c.dtmfOut) == 0 || c.over() || !c.answered() {
			c.dtmfOut, c.dtmfSending = nil, dtmfIdle
			c.mu.Unlock()
			return
		}
		d := c.dtmfOut[0]
		c.dtmfOut = c.dtmfOut[1:]
		l, _ := c.legs(d.to == rtpproxyctl.Caller)
		if !l.state.inDialog() {
			c.mu.Unlock()
			continue
		}
		req := l.d.newRequest(sip.INFO, l.d.localSeq.Add(1))
		c.mu.Unlock()
		req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
		req.SetBody(fmt.Appendf(nil, "Signal=%c\r\nDuration=%d\r\n", d.ev.Digit, d.ev.Duration.Milliseconds()))
		ctx, cancel := context.WithTimeout(context.Background(), 64*sip.T1)
		res, _, err := s.doAuth(ctx, &l.d, req)
		cancel()
		if err != nil || !res.IsSuccess() {
			s.log.Warn("DTMF INFO not accepted", "call", c.ID, "leg", l.name, "digit", string(d.ev.Digit), "response", res, "error", err)
			continue
		}
		s.log.Info("DTMF: RFC 4733 event sent as INFO", "call", c.ID, "leg", l.name, "digit", string(d.ev.Digit), "duration", d.ev.Duration)
	}
}
