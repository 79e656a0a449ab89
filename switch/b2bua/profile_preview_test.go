package b2bua

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

const previewInvite = "INVITE sip:4930123@127.0.0.1:5060 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bKprev\r\n" +
	"Max-Forwards: 70\r\n" +
	"From: \"Alice\" <sip:alice@10.1.2.3>;tag=a1\r\n" +
	"To: <sip:4930123@127.0.0.1>\r\n" +
	"Call-ID: preview-1\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"X-Customer: acme\r\n" +
	"Content-Type: application/sdp\r\n"

func parsePreview(t *testing.T, src string) *sip.Request {
	t.Helper()
	raw := previewInvite + "Content-Length: " + itoa(len(sdpOffer)) + "\r\n\r\n" + sdpOffer
	msg, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	req := msg.(*sip.Request)
	req.SetSource(src)
	return req
}

func TestPreviewInvite(t *testing.T) {
	cfg, err := config.Parse([]byte(`
routes: [{prefix: "", gateways: [{address: "127.0.0.1:5070"}]}]
profile_select:
  selectors: ["$M($si=>ipmap)", "other"]
  maps: [{name: ipmap, entries: "^10\\.1\\.=>carrier\n"}]
profiles:
  - name: carrier
    ruri: "sip:00$rU@gw.example"
    header_filter: whitelist
    header_list: [X-Customer]
    codec_filter: whitelist
    codecs: [PCMA]
  - {name: other, refuse_with: "403 Who Are You"}
`))
	if err != nil {
		t.Fatal(err)
	}
	pv, err := PreviewInvite(cfg, parsePreview(t, "10.1.2.3:5060"))
	if err != nil {
		t.Fatal(err)
	}
	text := pv.Invite.String()
	if pv.Profile != "carrier" || pv.Invite.Recipient.String() != "sip:004930123@gw.example" ||
		!strings.Contains(text, "X-Customer: acme") || strings.Contains(text, "PCMU") ||
		!strings.Contains(text, "Max-Forwards: 69") || pv.Invite.Destination() != "127.0.0.1:5070" {
		t.Errorf("preview %q:\n%s", pv.Profile, text)
	}
	pv, err = PreviewInvite(cfg, parsePreview(t, "192.0.2.1:5060"))
	if err != nil || pv.Profile != "other" || pv.Refusal == nil || pv.Refusal.Code != 403 || pv.Invite != nil {
		t.Errorf("preview = %+v, %v", pv, err)
	}
}
