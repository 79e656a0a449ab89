package callctl

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func sdpBody(fmts string) string {
	return "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP " + fmts +
		"\r\na=rtpmap:101 telephone-event/8000\r\n"
}

// TestTranscoderOnMissingCompatible: with on_missing_compatible a caller
// that offers a codec of callee_codeccaps is not transcoded (its offer and
// answer cross as they are); one that does not gets the transcoder codecs
// in the gateway offer, before its own with prefer_existing_codecs false,
// and in an answer lacking its codecs.
func TestTranscoderOnMissingCompatible(t *testing.T) {
	t.Parallel()
	profile := `profiles:
  - name: p
    media: builtin
    enable_transcoder: on_missing_compatible
    transcoder_codecs: [PCMU, PCMA]
    callee_codeccaps: [PCMU]
    prefer_existing_codecs: false
`
	for _, tc := range []struct {
		name, caller, wantOffer, answer, wantAnswer string
	}{
		{"compatible", "0 101", " RTP/AVP 0 101\r\n", "0 101", " RTP/AVP 0 101\r\n"},
		{"missing", "8 101", " RTP/AVP 0 8 101\r\n", "0 101", " RTP/AVP 0 101 8\r\n"},
	} {
		ch, req := chainFor(t, profile)
		req.SetBody([]byte(sdpBody(tc.caller)))
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		out := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "4930123", Host: "127.0.0.1"})
		out.SetBody([]byte(sdpBody(tc.caller)))
		ch.GatewayInvite(GatewayInvite{Caller: req, Out: out, Origin: netip.MustParseAddr("192.0.2.1")})
		if got := string(out.Body()); !strings.Contains(got, tc.wantOffer) {
			t.Errorf("%s: gateway offer\n%s", tc.name, got)
		}
		res := sip.NewResponseFromRequest(out, 200, "OK", []byte(sdpBody(tc.answer)))
		back := sip.NewResponseFromRequest(req, 200, "OK", []byte(sdpBody(tc.answer)))
		ch.Reply(res, back)
		if got := string(back.Body()); !strings.Contains(got, tc.wantAnswer) {
			t.Errorf("%s: caller's answer\n%s", tc.name, got)
		}
	}
}
