package callctl

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/switch/sdpedit"
)

// The SDP modules of a profile (codec filter, codec preference,
// anonymisation) edit the body of a message the switch is about to send:
// the gateway's INVITE, or the provisional or 2xx relayed to the caller.
// By then the media relay has anchored the body, so they edit what the
// peer will actually receive.

// sdpOf parses msg's body when it is SDP: a body with Content-Type
// application/sdp, or with none (the media relay reads those as SDP too).
// It returns nil, nil for a message without SDP or with another body
// (multipart is left alone).
func sdpOf(msg sip.Message) (*sdpedit.SDP, error) {
	if len(msg.Body()) == 0 {
		return nil, nil
	}
	if ct := msg.GetHeaders("Content-Type"); len(ct) > 0 {
		mt, _, _ := strings.Cut(ct[0].Value(), ";")
		if !strings.EqualFold(strings.TrimSpace(mt), "application/sdp") {
			return nil, nil
		}
	}
	return sdpedit.Parse(msg.Body())
}

// editSDP applies edit to msg's SDP, if it has one, and writes the result
// back; on any error the body is left as it was.
func editSDP(msg sip.Message, edit func(*sdpedit.SDP) error) error {
	s, err := sdpOf(msg)
	if s == nil || err != nil {
		return err
	}
	if err := edit(s); err != nil {
		return err
	}
	msg.SetBody(s.Bytes())
	return nil
}
