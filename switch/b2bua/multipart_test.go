package b2bua

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// isup is an ISUP IAM as SIP-I carries it: binary, NULs included.
const isup = "\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00\x00\x03\x06\x0d\x03\x80\x90\xa2"

func multipartOffer() string {
	return "--tgb\r\nContent-Type: application/sdp\r\n\r\n" + sdpOffer +
		"\r\n--tgb\r\nContent-Type: application/isup;version=itu-t92+\r\nContent-Disposition: signal;handling=optional\r\n\r\n" +
		isup + "\r\n--tgb--\r\n"
}

// TestMultipartInvite: a SIP-I INVITE (multipart/mixed: SDP and ISUP) is
// switched with the built-in relay anchoring its SDP part, the ISUP part
// crossing byte for byte; with mime_filter blacklisting application/isup
// the gateway gets the anchored SDP alone, as application/sdp.
func TestMultipartInvite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, profile string
		strip         bool
	}{
		{"passed", "", false},
		{"stripped", "profiles:\n  - {name: m, mime_filter: blacklist, mime_filter_list: [application/ISUP]}\nprofile_select:\n  selectors: [m]\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gw := newPeer(t, "gw")
			gw.answer(0, nil)
			sw, _ := startMediaSwitch(t, builtinMedia(t, 20, "")+routeTo(gw)+tc.profile)
			caller := newPeer(t, "caller")
			ctx := within(t, 10*time.Second)
			ds, err := caller.dcc.Invite(ctx, sw.uri("100"), []byte(multipartOffer()),
				sip.NewHeader("Content-Type", "multipart/mixed;boundary=tgb"))
			if err != nil {
				t.Fatal(err)
			}
			if err := ds.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := ds.Ack(ctx); err != nil {
				t.Fatal(err)
			}
			inv := gw.invites()[0]
			body, ct := string(inv.Body()), inv.ContentType().Value()
			if strings.Contains(body, "m=audio 40000 ") || !strings.Contains(body, "m=audio ") {
				t.Errorf("SDP part not anchored:\n%q", body)
			}
			if tc.strip {
				if ct != "application/sdp" || strings.Contains(body, "isup") || !strings.HasPrefix(body, "v=0") {
					t.Errorf("gateway got %s\n%q", ct, body)
				}
			} else if ct != "multipart/mixed;boundary=tgb" || !strings.Contains(body, "Content-Disposition: signal;handling=optional\r\n\r\n"+isup+"\r\n--tgb--") {
				t.Errorf("gateway got %s\n%q", ct, body)
			}
			if err := ds.Bye(ctx); err != nil {
				t.Fatal(err)
			}
			sw.record(t)
		})
	}
}
