package b2bua

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
)

// example returns a profile example of examples/profiles as config text.
func example(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/profiles/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// failedCall places a call expected to fail and returns its final response.
func failedCall(t *testing.T, caller *peer, target sip.Uri, hdrs ...sip.Header) *sip.Response {
	t.Helper()
	_, err := caller.call(within(t, 20*time.Second), target, hdrs...)
	var de *sipgo.ErrDialogResponse
	if !errors.As(err, &de) {
		t.Fatalf("call: %v, want a failure response", err)
	}
	return de.Res
}

// gwInvite places a call that the gateway answers, hangs it up and returns
// the INVITE the gateway received.
func gwInvite(t *testing.T, sw *testSwitch, gw, caller *peer, user string, hdrs ...sip.Header) *sip.Request {
	t.Helper()
	inv, _ := gwCall(t, sw, gw, caller, user, hdrs...)
	return inv
}

// gwCall is gwInvite returning the call's record too.
func gwCall(t *testing.T, sw *testSwitch, gw, caller *peer, user string, hdrs ...sip.Header) (*sip.Request, cdr.Record) {
	t.Helper()
	ctx := within(t, 20*time.Second)
	ds, err := caller.call(ctx, sw.uri(user), hdrs...)
	if err != nil {
		t.Fatal(err)
	}
	inv := gw.waitRequest(sip.INVITE, 5*time.Second)
	gw.waitRequest(sip.ACK, 5*time.Second)
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	bye := gw.waitRequest(sip.BYE, 5*time.Second)
	if bye.From().Address.String() != inv.From().Address.String() || bye.To().Address.String() != inv.To().Address.String() {
		t.Errorf("BYE From/To %q/%q differ from the INVITE's %q/%q", bye.From().Address.String(),
			bye.To().Address.String(), inv.From().Address.String(), inv.To().Address.String())
	}
	return inv, sw.record(t)
}

func hdrValue(m sip.Message, name string) string {
	if h := m.GetHeaders(name); len(h) > 0 {
		return h[0].Value()
	}
	return ""
}

func TestProfileSelectionBySourceIPMap(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+`
profile_select:
  selectors: ["$M($si=>ipmap)", "fallback"]
  maps:
    - name: ipmap
      entries: |
        ^10\.=>private
        ^127\.0\.0\.1$=>loopback
profiles:
  - {name: private, append_headers: ["X-Profile: private"]}
  - {name: loopback, append_headers: ["X-Profile: loopback $si"]}
  - {name: fallback, append_headers: ["X-Profile: fallback"]}
`)
	inv := gwInvite(t, sw, gw, newPeer(t, "caller"), "100")
	if got := hdrValue(inv, "X-Profile"); got != "loopback 127.0.0.1" {
		t.Errorf("X-Profile = %q, want the loopback profile", got)
	}
}

func TestProfileSelectionByRURIUserExample(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+example(t, "select"))
	caller := newPeer(t, "caller")
	inv := gwInvite(t, sw, gw, caller, "4930123")
	if got := hdrValue(inv, "X-Profile"); got != "germany" || inv.Recipient.User != "004930123" {
		t.Errorf("X-Profile = %q, R-URI %s: want the germany profile", got, inv.Recipient.String())
	}
	inv = gwInvite(t, sw, gw, caller, "1555", sip.NewHeader("X-Customer", "acme"))
	if got := hdrValue(inv, "X-Profile"); got != "transparent" || hdrValue(inv, "X-Customer") != "acme" {
		t.Errorf("X-Profile = %q, X-Customer %q: want the transparent profile", got, hdrValue(inv, "X-Customer"))
	}
}

func TestProfileRouteNamesProfile(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, fmt.Sprintf(`routes:
  - {prefix: "", profile: tagged, gateways: [{address: %q}]}
profiles:
  - {name: tagged, append_headers: ["X-Called: $rU"]}
`, gw.addr()))
	inv := gwInvite(t, sw, gw, newPeer(t, "caller"), "777")
	if got := hdrValue(inv, "X-Called"); got != "777" {
		t.Errorf("X-Called = %q, want the route's profile applied", got)
	}
}

func TestProfileRewritesRURIFromTo(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+`
profile_select: {selectors: [rewrite]}
profiles:
  - name: rewrite
    ruri: "sip:00$rU@carrier.example;user=phone"
    from: "\"$fU Ltd\" <sip:+$fU@tollgate.example>"
    to: "<sip:$_u(x$rU)@carrier.example>"
`)
	inv := gwInvite(t, sw, gw, newPeer(t, "caller"), "4930")
	if u := inv.Recipient; u.User != "004930" || u.Host != "carrier.example" {
		t.Errorf("R-URI = %s", u.String())
	}
	if f := inv.From(); f.DisplayName != "caller Ltd" || f.Address.User != "+caller" || f.Address.Host != "tollgate.example" {
		t.Errorf("From = %s", f.Value())
	}
	if to := inv.To(); to.Address.User != "X4930" || to.Address.Host != "carrier.example" {
		t.Errorf("To = %s", to.Value())
	}
}

func TestProfileHeaderFilters(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+`
profile_select: {selectors: ["$H(X-Profile)"]}
profiles:
  - {name: white, header_filter: whitelist, header_list: [X-Keep, Call-ID], append_headers: ["X-Added: $fU"]}
  - {name: black, header_filter: blacklist, header_list: [X-Drop]}
  - {name: none}
`)
	caller := newPeer(t, "caller")
	send := func(profile string) *sip.Request {
		return gwInvite(t, sw, gw, caller, "100", sip.NewHeader("X-Profile", profile),
			sip.NewHeader("X-Keep", "k"), sip.NewHeader("X-Drop", "d"), sip.NewHeader("X-Other", "o"))
	}
	inv := send("white")
	if hdrValue(inv, "X-Keep") != "k" || hdrValue(inv, "X-Drop") != "" || hdrValue(inv, "X-Other") != "" || hdrValue(inv, "X-Added") != "caller" {
		t.Errorf("whitelist: gateway got\n%s", inv.String())
	}
	if len(inv.GetHeaders("Call-ID")) != 1 || len(inv.GetHeaders("Via")) != 1 {
		t.Errorf("whitelist let a dialog header cross:\n%s", inv.String())
	}
	inv = send("black")
	if hdrValue(inv, "X-Keep") != "k" || hdrValue(inv, "X-Drop") != "" || hdrValue(inv, "X-Other") != "o" {
		t.Errorf("blacklist: gateway got\n%s", inv.String())
	}
	inv = send("none")
	if hdrValue(inv, "X-Keep") != "" || hdrValue(inv, "X-Other") != "" {
		t.Errorf("no filter: caller headers crossed:\n%s", inv.String())
	}
}

func TestProfileTransparentExample(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+example(t, "transparent"))
	inv := gwInvite(t, sw, gw, newPeer(t, "caller"), "100", sip.NewHeader("P-Charge-Info", "<sip:42@x>"),
		sip.NewHeader("Proxy-Authorization", `Digest username="caller"`))
	if hdrValue(inv, "P-Charge-Info") != "<sip:42@x>" || inv.Recipient.User != "100" || inv.From().Address.User != "caller" ||
		hdrValue(inv, "Proxy-Authorization") != "" {
		t.Errorf("gateway got\n%s", inv.String())
	}
}

func TestProfileReplyTranslateExample(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.reject(603, "Decline")
	sw := startSwitch(t, routeTo(gw)+example(t, "replytranslate"))
	res := failedCall(t, newPeer(t, "caller"), sw.uri("100"))
	if res.StatusCode != 488 || res.Reason != "Not acceptable here" {
		t.Errorf("caller got %d %s, want 488 Not acceptable here", res.StatusCode, res.Reason)
	}
	sw.record(t)
}

func TestProfileRefuseExample(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+example(t, "refuse"))
	res := failedCall(t, newPeer(t, "caller"), sw.uri("100"))
	if res.StatusCode != 403 || res.Reason != "Not Allowed For caller" {
		t.Errorf("caller got %d %s", res.StatusCode, res.Reason)
	}
	if r := sw.record(t); r.SIPCode != 403 || r.DisconnectReason != cdr.ReasonRejected {
		t.Errorf("record = %+v", r)
	}
	if n := len(gw.invites()); n != 0 {
		t.Errorf("gateway got %d INVITEs", n)
	}
}

func TestProfileCallTimerExample(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+example(t, "call_timer"))
	caller := newPeer(t, "caller")
	if _, err := caller.call(within(t, 20*time.Second), sw.uri("100"), sip.NewHeader("P-Call-Timer", "1")); err != nil {
		t.Fatal(err)
	}
	caller.waitRequest(sip.BYE, 10*time.Second)
	gw.waitRequest(sip.BYE, 10*time.Second)
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonMaxDuration || r.ReleasedBy != cdr.ReleasedBySwitch {
		t.Errorf("record = %+v", r)
	}
}

// TestProfileSSTB2BExample: SEMS's sst_b2b asks the gateway for 120 s
// with a floor of 90, gives a caller that asks for nothing 120 s refreshed
// by the switch, and refuses a caller's 60 s with 422.
func TestProfileSSTB2BExample(t *testing.T) {
	t.Parallel()
	gw, caller := newPeer(t, "gw"), newPeer(t, "caller")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+example(t, "sst_b2b"))
	ctx := within(t, 20*time.Second)
	ds, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	if got := hdrValue(ds.InviteResponse, "Session-Expires"); got != "120;refresher=uas" {
		t.Errorf("caller's 200 Session-Expires %q", got)
	}
	inv := gw.waitRequest(sip.INVITE, 5*time.Second)
	if hdrValue(inv, "Session-Expires") != "120" || hdrValue(inv, "Min-SE") != "90" || hdrValue(inv, "Supported") != "timer" {
		t.Errorf("gateway INVITE: Session-Expires %q, Min-SE %q, Supported %q", hdrValue(inv, "Session-Expires"),
			hdrValue(inv, "Min-SE"), hdrValue(inv, "Supported"))
	}
	gw.waitRequest(sip.ACK, 5*time.Second)
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	sw.record(t)
	res := failedCall(t, caller, sw.uri("100"), sip.NewHeader("Session-Expires", "60"))
	if res.StatusCode != 422 || hdrValue(res, "Min-SE") != "90" {
		t.Errorf("60 s asked: %d, Min-SE %q", res.StatusCode, hdrValue(res, "Min-SE"))
	}
}

func TestProfileCodecFilterExample(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+example(t, "codecfilter"))
	inv := gwInvite(t, sw, gw, newPeer(t, "caller"), "100")
	body := string(inv.Body())
	if !strings.Contains(body, "m=audio 40000 RTP/AVP 8 101\r\n") || strings.Contains(body, "PCMU") {
		t.Errorf("gateway offer:\n%s", body)
	}
}

func TestProfileCodecFilterRefusesEmptyOffer(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+`
profile_select: {selectors: [nocodec]}
profiles:
  - {name: nocodec, codec_filter: blacklist, codecs: [PCMU, PCMA]}
`)
	if res := failedCall(t, newPeer(t, "caller"), sw.uri("100")); res.StatusCode != 488 {
		t.Errorf("caller got %d %s, want 488", res.StatusCode, res.Reason)
	}
	sw.record(t)
}

func TestProfileUnknownSelectedIs500(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+`
profile_select: {selectors: ["$rU"]}
profiles: [{name: known}]
`)
	if res := failedCall(t, newPeer(t, "caller"), sw.uri("unknown")); res.StatusCode != 500 {
		t.Errorf("caller got %d %s, want 500", res.StatusCode, res.Reason)
	}
	sw.record(t)
}

// TestProfileReloadNewCallsOnly reloads profiles while a call rings: that
// call keeps its profile, the next one gets the new one.
func TestProfileReloadNewCallsOnly(t *testing.T) {
	gw := newPeer(t, "gw")
	release := make(chan struct{})
	gw.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, 180, "Ringing", nil))
		select {
		case <-release:
		case <-tx.Done():
		}
		tx.Respond(sip.NewResponseFromRequest(req, 603, "Decline", nil))
	})
	profiles := func(version, translate string) string {
		return routeTo(gw) + fmt.Sprintf(`
profile_select: {selectors: [p]}
profiles:
  - {name: p, append_headers: ["X-Version: %s"], reply_translate: %q}
`, version, translate)
	}
	sw := startSwitch(t, profiles("1", ""))
	caller := newPeer(t, "caller")
	first := make(chan *sip.Response, 1)
	ctx := within(t, 20*time.Second)
	go func() {
		_, err := caller.call(ctx, sw.uri("100"))
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			first <- de.Res
		}
		close(first)
	}()
	if v := hdrValue(gw.waitRequest(sip.INVITE, 10*time.Second), "X-Version"); v != "1" {
		t.Fatalf("first call X-Version = %q", v)
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf("sip:\n  listen: [\"udp:127.0.0.1:%d\", \"tcp:127.0.0.1:%d\"]\n%s",
		sw.port, sw.port, profiles("2", "603=>488 Not acceptable here"))))
	if err != nil {
		t.Fatal(err)
	}
	sw.Reload(cfg)
	close(release)
	if res := <-first; res == nil || res.StatusCode != 603 {
		t.Errorf("call started before the reload got %v, want 603 untranslated", res)
	}
	sw.record(t)
	res := failedCall(t, caller, sw.uri("100"))
	invs := gw.invites()
	if v := hdrValue(invs[len(invs)-1], "X-Version"); len(invs) != 2 || v != "2" || res.StatusCode != 488 {
		t.Errorf("call after the reload: X-Version %q, final %d", v, res.StatusCode)
	}
	sw.record(t)
}
