package callctl

import (
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/switch/sdpedit"
)

// The SDP modules of a profile (codec filter, codec preference,
// anonymisation) edit the body of a message the switch is about to send:
// the gateway's INVITE, or the provisional or 2xx relayed to the caller.
// By then the media relay has anchored the body, so they edit what the
// peer will actually receive.

// sdpOf parses msg's SDP: the body with Content-Type application/sdp, or
// with none (the media relay reads those as SDP too), or the SDP part of
// a multipart/mixed body (SIP-I/SIP-T). It returns nil, nil for a message
// without SDP.
func sdpOf(msg sip.Message) (*sdpedit.SDP, error) {
	s, _, err := parseSDPBody(msg)
	return s, err
}

func parseSDPBody(msg sip.Message) (*sdpedit.SDP, *sdpedit.Body, error) {
	var ct string
	if cts := msg.GetHeaders("Content-Type"); len(cts) > 0 {
		ct = cts[0].Value()
	}
	body, err := sdpedit.FindSDP(ct, msg.Body())
	if body == nil || err != nil {
		return nil, nil, err
	}
	s, err := sdpedit.Parse(body.SDP())
	return s, body, err
}

// editSDP applies edit to msg's SDP, if it has one, and writes the result
// back, in its multipart body if it came in one; on any error the body is
// left as it was.
func editSDP(msg sip.Message, edit func(*sdpedit.SDP) error) error {
	s, body, err := parseSDPBody(msg)
	if s == nil || err != nil {
		return err
	}
	if err := edit(s); err != nil {
		return err
	}
	msg.SetBody(body.With(s.Bytes()))
	return nil
}
